// SPDX-License-Identifier: GPL-2.0-only
/*
 * cgroup= rules resolved to cgroup ids for the kernel: see cgroup_ids.h. The kernel then
 * decides at fork, exec and cgroup attach with one hash lookup per hierarchy, and matches
 * cgroups made later itself (bpf/process.bpf.c).
 */
#include "procs/cgroup_ids.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sonde_abi.h"

/* Deeper trees are not walked: kubepods nest four or five levels. */
#define CGROUP_DEPTH_MAX 32

/* Copies one space-separated mountinfo field, undoing the \ooo escapes of fs/proc_namespace.c
 * (space, tab, newline, backslash). Returns the rest of the line or NULL. */
static const char *field_copy(const char *s, char *out, size_t size)
{
	size_t n = 0;

	while (*s == ' ')
		s++;
	if (!*s || *s == '\n')
		return NULL;
	for (; *s && *s != ' ' && *s != '\n'; s++) {
		char c = *s;

		if (c == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			c = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		}
		if (n + 1 >= size)
			return NULL;
		out[n++] = c;
	}
	out[n] = '\0';
	return s;
}

int cgroup_mount_parse(const char *line, struct cgroup_mount *out)
{
	char skip[64], fstype[32];
	const char *s = line, *dash;

	/* "ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS" */
	for (int i = 0; i < 3; i++)
		if (!(s = field_copy(s, skip, sizeof(skip))))
			return -EINVAL;
	if (!(s = field_copy(s, out->root, sizeof(out->root))) ||
	    !(s = field_copy(s, out->point, sizeof(out->point))))
		return -EINVAL;
	dash = strstr(s, " - ");
	if (!dash || !field_copy(dash + 3, fstype, sizeof(fstype)))
		return -EINVAL;
	if (strcmp(fstype, "cgroup") && strcmp(fstype, "cgroup2"))
		return -ENOENT;
	out->v2 = !strcmp(fstype, "cgroup2");
	return 0;
}

struct walk {
	const char *glob;
	cgroup_id_fn fn;
	void *ctx;
	int matches;
	char dir[4096];	 /* the directory being looked at */
	char path[4096]; /* its hierarchy path */
};

/* dir and path hold the directory; visits it and its subdirectories. */
static int walk_dir(struct walk *w, int depth)
{
	size_t dlen = strlen(w->dir), plen = strlen(w->path);
	struct stat st;
	struct dirent *e;
	DIR *d;
	int err = 0;

	if (stat(w->dir, &st) || !S_ISDIR(st.st_mode))
		return 0; /* removed meanwhile */
	if (!fnmatch(w->glob, w->path, 0)) {
		w->matches++;
		if ((err = w->fn(w->ctx, (uint64_t)st.st_ino, w->path)))
			return err;
	}
	if (depth >= CGROUP_DEPTH_MAX || !(d = opendir(w->dir)))
		return 0;
	while (!err && (e = readdir(d))) {
		const char *sep = plen > 1 ? "/" : "";

		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (dlen + strlen(e->d_name) + 2 >= sizeof(w->dir) ||
		    plen + strlen(e->d_name) + 2 >= sizeof(w->path))
			continue;
		snprintf(w->dir + dlen, sizeof(w->dir) - dlen, "/%s", e->d_name);
		snprintf(w->path + plen, sizeof(w->path) - plen, "%s%s", sep, e->d_name);
		err = walk_dir(w, depth + 1);
		w->dir[dlen] = '\0';
		w->path[plen] = '\0';
	}
	closedir(d);
	return err;
}

int cgroup_ids_match(const char *mountinfo, const char *glob, cgroup_id_fn fn, void *ctx)
{
	struct walk *w = calloc(1, sizeof(*w));
	struct cgroup_mount m;
	char line[2048];
	FILE *f;
	int err = 0;

	if (!w)
		return -ENOMEM;
	if (!(f = fopen(mountinfo, "re"))) {
		err = -errno;
		goto cleanup;
	}
	*w = (struct walk){ .glob = glob, .fn = fn, .ctx = ctx };
	while (!err && fgets(line, sizeof(line), f)) {
		if (cgroup_mount_parse(line, &m))
			continue;
		snprintf(w->dir, sizeof(w->dir), "%s", m.point);
		snprintf(w->path, sizeof(w->path), "%s", m.root);
		err = walk_dir(w, 0);
	}
	fclose(f);
	err = err ? err : w->matches;
cleanup:
	free(w);
	return err;
}

bool cgroup_glob_kernel_ok(const char *glob)
{
	return strlen(glob) < SONDE_CGROUP_GLOB_LEN && !strchr(glob, '[');
}
