/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The cgroups a cgroup= rule names, by id, for the kernel's selection (bpf/process.bpf.c):
 * every directory of every cgroup (v1) and cgroup2 mount whose path within its hierarchy
 * (as /proc/PID/cgroup shows it) matches the glob. A cgroup's id is its kernfs node id,
 * which is the inode number of its directory.
 */
#ifndef SONDE_PROCS_CGROUP_IDS_H
#define SONDE_PROCS_CGROUP_IDS_H

#include <stdbool.h>
#include <stdint.h>

/* One cgroup mount from a mountinfo line. */
struct cgroup_mount {
	char point[512]; /* where it is mounted (octal escapes undone) */
	char root[512];	 /* the hierarchy path of the mounted directory, "/" usually */
	bool v2;	 /* cgroup2 */
};

/* 0 and *out for a cgroup or cgroup2 mount, -ENOENT for any other, -EINVAL if malformed. */
int cgroup_mount_parse(const char *line, struct cgroup_mount *out);

/* Called per matching cgroup; a nonzero return stops the walk and is returned. */
typedef int (*cgroup_id_fn)(void *ctx, uint64_t id, const char *path);

/* Walks every cgroup mount of mountinfo (a path: "/proc/self/mountinfo") and calls fn for
 * each directory whose hierarchy path matches glob with fnmatch(3), flags 0, as
 * selection_match does. Returns the number of matches or -errno. */
int cgroup_ids_match(const char *mountinfo, const char *glob, cgroup_id_fn fn, void *ctx);

/* Whether the kernel can match glob at cgroup mkdir (include/sonde_glob.h): it fits and
 * has no bracket expression. Other globs still select the cgroups that exist at start. */
bool cgroup_glob_kernel_ok(const char *glob);

#endif
