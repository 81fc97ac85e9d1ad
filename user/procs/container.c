// SPDX-License-Identifier: GPL-2.0-only
#include "procs/container.h"

#include <string.h>

#define ID_LEN 64

static const char *const runtime_names[] = {
	[CTR_NONE] = "",	 [CTR_CONTAINERD] = "containerd", [CTR_CRIO] = "cri-o",
	[CTR_DOCKER] = "docker", [CTR_PODMAN] = "podman",	  [CTR_UNNAMED] = "unnamed",
};

const char *ctr_runtime_name(enum ctr_runtime r)
{
	return (unsigned)r < sizeof(runtime_names) / sizeof(runtime_names[0]) ? runtime_names[r]
									      : "";
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool has_prefix(const char *s, size_t n, const char *p, size_t *plen)
{
	*plen = strlen(p);
	return n >= *plen && !memcmp(s, p, *plen);
}

/* Prefixed container segments, after ".scope" is cut off; conmon's own scope
 * (crio-conmon-<id>) holds CRI-O's monitor, not the container, and is no match. */
static const struct {
	const char *prefix;
	enum ctr_runtime runtime;
} prefixes[] = {
	{ "cri-containerd-", CTR_CONTAINERD },
	{ "crio-", CTR_CRIO },
	{ "docker-", CTR_DOCKER },
	{ "libpod-", CTR_PODMAN },
};

/* The container a path segment names, from its prefix or (parent decides) a bare id. */
static enum ctr_runtime segment_id(const char *s, size_t n, bool under_kube, bool under_docker,
				   const char **id)
{
	const char *colon = memchr(s, ':', n);
	size_t plen;

	/* "<pod slice>:cri-containerd:<id>": containerd's systemd driver on cgroup v1 */
	if (colon && n > ID_LEN + 1 && s[n - ID_LEN - 1] == ':' && is_hex(s + n - ID_LEN, ID_LEN)) {
		*id = s + n - ID_LEN;
		return memmem(s, n, ":cri-containerd:", 16) ? CTR_CONTAINERD : CTR_UNNAMED;
	}
	if (n > 6 && !memcmp(s + n - 6, ".scope", 6))
		n -= 6;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (has_prefix(s, n, prefixes[i].prefix, &plen) && n - plen == ID_LEN &&
		    is_hex(s + plen, ID_LEN)) {
			*id = s + plen;
			return prefixes[i].runtime;
		}
	}
	if (n == ID_LEN && is_hex(s, n) && (under_kube || under_docker)) {
		*id = s;
		return under_docker ? CTR_DOCKER : CTR_UNNAMED;
	}
	return CTR_NONE;
}

/* A pod UID: 8-4-4-4-12 hex digits ('-' or, in systemd slice names, '_'), or the 32 hex
 * digits of a static pod's config hash. Copied with '-'. */
static bool pod_uid(const char *s, size_t n, char out[37])
{
	if (n == 32 && is_hex(s, n)) {
		memcpy(out, s, n);
		out[n] = '\0';
		return true;
	}
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' && s[i] != '_' : !is_hex(s + i, 1))
			return false;
		out[i] = dash ? '-' : s[i];
	}
	out[n] = '\0';
	return true;
}

/* "pod<uid>" (cgroupfs) or "kubepods[-qos]-pod<uid>.slice" (systemd, also before ':'). */
static bool segment_pod(const char *s, size_t n, char out[37])
{
	const char *colon = memchr(s, ':', n), *p;
	size_t plen;

	if (colon)
		n = (size_t)(colon - s);
	if (has_prefix(s, n, "pod", &plen))
		return pod_uid(s + plen, n - plen, out);
	if (!has_prefix(s, n, "kubepods", &plen) || n < 6 || memcmp(s + n - 6, ".slice", 6))
		return false;
	n -= 6;
	p = memmem(s, n, "-pod", 4);
	return p && pod_uid(p + 4, n - (size_t)(p + 4 - s), out);
}

bool cgroup_container(const char *path, struct ctr_ref *out)
{
	bool under_kube = false, under_docker = false;
	const char *s = path;

	memset(out, 0, sizeof(*out));
	while (s && *s) {
		const char *end = strchr(s, '/'), *id = NULL;
		size_t n;
		enum ctr_runtime r;

		if (!end)
			end = s + strlen(s);
		n = (size_t)(end - s);
		if (n >= 8 && !memcmp(s, "kubepods", 8))
			under_kube = true;
		if (under_kube && n)
			segment_pod(s, n, out->pod_uid);
		/* the innermost container wins: later segments overwrite earlier ones */
		if (n && (r = segment_id(s, n, under_kube, under_docker, &id)) != CTR_NONE) {
			out->runtime = r;
			memcpy(out->id, id, ID_LEN);
			out->id[ID_LEN] = '\0';
		}
		under_docker = n == 6 && !memcmp(s, "docker", 6);
		s = *end ? end + 1 : NULL;
	}
	return out->id[0] != '\0';
}
