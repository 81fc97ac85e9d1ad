/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reads what the selection rules need from /proc: one process's identity, environment
 * allow-list and cgroup (proc_read_info), its listening ports, every process (proc_scan). Every function takes the proc root ("/proc" in
 * production, a fixture tree in tests), so nothing here needs root to be tested.
 */
#ifndef SONDE_DISCOVERY_H
#define SONDE_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "metrics/ctx_labels.h"

/* Enough for any sane server; proc_listening_ports() drops ports beyond its max. */
#define PROC_PORTS_MAX 256

struct proc_info {
	uint32_t tgid, ppid;
	char comm[16];	 /* /proc/PID/comm without its newline (may hold spaces, '\n', bad UTF-8) */
	char exe[4096];	 /* readlink /proc/PID/exe; "" if unreadable (kernel threads, zombies) */
	uint32_t nstgid; /* its number in its own pid namespace (NStgid); = tgid on
					the host's */
	char cgroup[512];    /* cgroup v2 path from the "0::/path" line; "" if none */
	char cgroup_v1[512]; /* the v1 path naming a container, else the first one other than
				"/"; "" if none */
	/* Every v1 path other than "/", each NUL-terminated, an empty one after the last:
	 * cgroup= rules match any hierarchy, as the kernel's selection does. Paths that do
	 * not fit are left out. */
	char cgroup_v1_all[1024];
	char service_name[128];	     /* OTEL_SERVICE_NAME, else service.name of
				   OTEL_RESOURCE_ATTRIBUTES, else basename(exe), else comm */
	char service_namespace[128]; /* OTEL_SERVICE_NAMESPACE, else service.namespace of
					OTEL_RESOURCE_ATTRIBUTES, else "" */
	struct ctx_labels ctx;	     /* container and pod (procs/container.h, environ.h) */
};

/*
 * Fills out for one process. Of the environment only the allow-list of environ.h is looked
 * at (environments hold secrets: nothing else is copied or kept), and only its first
 * 256 KiB. The pod's name is POD_NAME, else HOSTNAME when the process is in a pod and has
 * a UTS namespace of its own.
 * Returns 0, -ENOENT when no process has this tgid (gone, never existed, or tgid names a
 * thread that is not a group leader), or another -errno.
 */
int proc_read_info(const char *proc_root, uint32_t tgid, struct proc_info *out);

/*
 * The TCP ports (IPv4 and IPv6) this process has a socket listening on: its socket fds
 * matched against the LISTEN rows of its network namespace's net/tcp and net/tcp6.
 * Stores at most max distinct ports, ascending, in ports and their number in *n.
 * Returns 0, -ENOENT when the process is gone, or another -errno (-EACCES: not ours).
 */
int proc_listening_ports(const char *proc_root, uint32_t tgid, uint16_t *ports, size_t max,
			 size_t *n);

/* The inode number of the process's network namespace (what the kernel calls ns.inum). */
int proc_netns(const char *proc_root, uint32_t tgid, uint32_t *ino);

/*
 * Calls fn for every process (numeric entry of proc_root) whose info could be read, in
 * ascending tgid order; processes that vanish meanwhile are skipped. Skips the caller
 * itself when skip_self. Returns 0, the first non-zero value fn returned (the scan stops
 * there), or -errno when proc_root cannot be listed.
 */
typedef int (*proc_scan_fn)(void *ctx, const struct proc_info *p);
int proc_scan(const char *proc_root, bool skip_self, proc_scan_fn fn, void *ctx);

#endif
