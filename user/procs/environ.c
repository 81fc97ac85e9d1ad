// SPDX-License-Identifier: GPL-2.0-only
/* The environment allow-list (environ.h), streamed through a fixed buffer. */
#include "procs/environ.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

enum env_var {
	VAR_SERVICE_NAME,
	VAR_SERVICE_NAMESPACE,
	VAR_RESOURCE_ATTRS,
	VAR_POD_NAME,
	VAR_POD_NAMESPACE,
	VAR_HOSTNAME,
	VAR_CONTAINER_NAME,
	VAR_COUNT
};

#define FOUND(f) offsetof(struct env_found, f), sizeof(((struct env_found *)0)->f)

/* Name, and where a plain value goes (OTEL_RESOURCE_ATTRIBUTES is split into pairs). */
static const struct {
	const char *name;
	size_t off, size;
} env_allowed[VAR_COUNT] = {
	[VAR_SERVICE_NAME] = { "OTEL_SERVICE_NAME", FOUND(svc_name) },
	[VAR_SERVICE_NAMESPACE] = { "OTEL_SERVICE_NAMESPACE", FOUND(svc_ns) },
	[VAR_RESOURCE_ATTRS] = { "OTEL_RESOURCE_ATTRIBUTES", 0, 0 },
	[VAR_POD_NAME] = { "POD_NAME", FOUND(pod_name) },
	[VAR_POD_NAMESPACE] = { "POD_NAMESPACE", FOUND(pod_ns) },
	[VAR_HOSTNAME] = { "HOSTNAME", FOUND(hostname) },
	[VAR_CONTAINER_NAME] = { "CONTAINER_NAME", FOUND(container_name) },
};

enum env_state { ENV_NAME, ENV_VALUE, ENV_SKIP };

/*
 * One pass over "NAME=value\0NAME=value\0...": a name is buffered until its '=' (names
 * longer than any allowed one are skipped at once), and only allowed values are kept.
 * A value of any other variable is never copied out of the read buffer.
 */
struct env_scan {
	enum env_state state;
	enum env_var var;
	bool seen[VAR_COUNT]; /* the first occurrence wins, as with getenv(3) */
	char name[32];
	size_t name_len;
	size_t val_len;
	char pair[512]; /* one "key=value" of OTEL_RESOURCE_ATTRIBUTES */
	size_t pair_len;
	bool pair_over;
	struct env_found *out;
};

static int hex_val(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* OTEL_RESOURCE_ATTRIBUTES values are percent-encoded (W3C Baggage octets). */
static void percent_decode(char *dst, size_t size, const char *src, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < size; i++) {
		int hi, lo;

		if (src[i] == '%' && i + 2 < len && (hi = hex_val(src[i + 1])) >= 0 &&
		    (lo = hex_val(src[i + 2])) >= 0) {
			dst[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			dst[o++] = src[i];
		}
	}
	dst[o] = '\0';
}

static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

static void env_attr_pair_end(struct env_scan *es)
{
	const char *key = es->pair, *val, *eq;
	size_t klen, vlen;
	char *dst = NULL;

	if (es->pair_over)
		goto reset;
	eq = memchr(es->pair, '=', es->pair_len);
	if (!eq)
		goto reset;
	klen = (size_t)(eq - es->pair);
	val = eq + 1;
	vlen = es->pair_len - klen - 1;
	trim(&key, &klen);
	trim(&val, &vlen);
	if (klen == 12 && !memcmp(key, "service.name", 12))
		dst = es->out->attr_name;
	else if (klen == 17 && !memcmp(key, "service.namespace", 17))
		dst = es->out->attr_ns;
	if (dst && !dst[0] && vlen)
		percent_decode(dst, sizeof(es->out->attr_name), val, vlen);
reset:
	es->pair_len = 0;
	es->pair_over = false;
}

static void env_value_byte(struct env_scan *es, char c)
{
	char *dst;

	if (es->var == VAR_RESOURCE_ATTRS) {
		if (c == ',')
			env_attr_pair_end(es);
		else if (es->pair_len < sizeof(es->pair))
			es->pair[es->pair_len++] = c;
		else
			es->pair_over = true;
		return;
	}
	dst = (char *)es->out + env_allowed[es->var].off;
	if (es->val_len + 1 < env_allowed[es->var].size) {
		dst[es->val_len++] = c;
		dst[es->val_len] = '\0';
	}
}

static void env_entry_end(struct env_scan *es)
{
	if (es->state == ENV_VALUE && es->var == VAR_RESOURCE_ATTRS)
		env_attr_pair_end(es);
	es->state = ENV_NAME;
	es->name_len = 0;
}

static void env_name_end(struct env_scan *es)
{
	es->state = ENV_SKIP;
	for (int v = 0; v < VAR_COUNT; v++) {
		if (strlen(env_allowed[v].name) != es->name_len ||
		    memcmp(env_allowed[v].name, es->name, es->name_len) != 0 || es->seen[v])
			continue;
		es->seen[v] = true;
		es->var = (enum env_var)v;
		es->val_len = 0;
		es->state = ENV_VALUE;
		break;
	}
}

static void env_feed(struct env_scan *es, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end) {
		char c = *p;

		if (es->state == ENV_SKIP) {
			/* Not ours: jump to the entry's end without looking at its bytes. */
			p = memchr(p, '\0', (size_t)(end - p));
			if (!p)
				return;
			c = '\0';
		}
		p++;
		if (c == '\0')
			env_entry_end(es);
		else if (es->state == ENV_VALUE)
			env_value_byte(es, c);
		else if (c == '=')
			env_name_end(es);
		else if (es->name_len < sizeof(es->name))
			es->name[es->name_len++] = c;
		else
			es->state = ENV_SKIP;
	}
}

int env_read_allowed(int dirfd, struct env_found *out)
{
	struct env_scan scan = { .state = ENV_NAME, .out = out }, *es = &scan;
	char chunk[4096];
	size_t total = 0;
	int fd, err = 0;

	memset(out, 0, sizeof(*out));
	fd = openat(dirfd, "environ", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (total < ENVIRON_READ_MAX) {
		size_t want = ENVIRON_READ_MAX - total;
		ssize_t r = read(fd, chunk, want < sizeof(chunk) ? want : sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0) {
			/* An unterminated last entry is complete; one cut by our bound is not. */
			env_feed(es, "", 1);
			break;
		}
		env_feed(es, chunk, (size_t)r);
		total += (size_t)r;
	}
	/* These held other variables' bytes, secrets among them: leave no copy. */
	explicit_bzero(chunk, sizeof(chunk));
	explicit_bzero(es->name, sizeof(es->name));
	explicit_bzero(es->pair, sizeof(es->pair));
	close(fd);
	return err;
}
void env_parse(const char *buf, size_t len, struct env_found *out)
{
	struct env_scan es = { .state = ENV_NAME, .out = out };

	memset(out, 0, sizeof(*out));
	env_feed(&es, buf, len);
	env_feed(&es, "", 1);
}
