/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Loads sonde's BPF object, picks the capture path, attaches the programs and gives access
 * to the maps user space drives: the tgid allow bitmap, the ring buffer and the counters.
 * In: the configuration. Out: ring-buffer records to a callback (loader_poll), and a
 * kernel_ctl for the stages that steer the kernel.
 */
#ifndef SONDE_LOADER_H
#define SONDE_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "kernel/ctl.h"
#include "sonde_abi.h"

struct sonde_bpf;
struct ring_buffer;
struct uprobes;

typedef int (*loader_event_fn)(void *ctx, const void *data, size_t size);

struct loader_opts {
	enum capture_mode capture; /* AUTO probes: socket tracepoints first */
	uint32_t capture_bytes;
	uint32_t ringbuf_bytes; /* power of two, >= page size */
	bool listen_events;	/* report every listen() (port= rules) */
	bool tcp_health;	/* attach the TCP health programs (bpf/tcp.bpf.c) */
	bool cgroup_rules;	/* select by cgroup in the kernel (loader_set_cgroup_rules) */
	loader_event_fn on_event;
	void *ctx;
};

struct loader {
	struct sonde_bpf *skel;
	struct ring_buffer *rb;
	enum capture_mode mode; /* the path in use: CAPTURE_SOCKET or CAPTURE_SYSCALLS */
	uint64_t *allow;	/* mmap of the allow_tgids bitmap */
	size_t allow_size;
	uint64_t *hints;     /* mmap of the conn_hints array (SONDE_HINT_SLOTS) */
	unsigned attached;   /* programs attached */
	struct uprobes *tls; /* TLS library probes (kernel/uprobes.h) */
	uint32_t cgroup_gen; /* generation of the cgroup= rules in the kernel */
};

/* Returns 0 or -errno, having printed one line saying what failed and what to do. */
int loader_open(struct loader *l, const struct loader_opts *o);
void loader_close(struct loader *l); /* accepts a zeroed loader */

/* The kernel_ctl through which procs/ and consumer/ reach this loader's maps. */
struct kernel_ctl loader_ctl(struct loader *l);
/* Selects, in the kernel, every process that execs into this comm (cut at 15 bytes). */
int loader_add_comm_rule(struct loader *l, const char *comm);
/*
 * Makes globs (n of them; none removes every rule) the cgroup= rules the kernel selects
 * by: every process in (forked into, exec'ing in, moved into) a cgroup whose path matches
 * one, the cgroups of every hierarchy listed in mountinfo now and, matched by the kernel,
 * those made later. Needs opts.cgroup_rules. Globs the kernel cannot match at mkdir
 * (cgroup_glob_kernel_ok false, or beyond the first SONDE_CGROUP_GLOBS that can) select
 * the cgroups that exist now only. When it returns, the old rules select nothing more and
 * their last records are in the ring. 0, -ENOSPC (the id map is full) or -errno.
 */
/* Whether the kernel reports every exec (SONDE_EV_PROC_EXEC), or only those of selected
 * processes; at any time (a SIGHUP may change the rules). */
void loader_set_exec_events(struct loader *l, bool all);

int loader_set_cgroup_rules(struct loader *l, const char *const *globs, size_t n,
			    const char *mountinfo);
/* Stops doing so (a SIGHUP removed the rule); 0 also when there was no such rule. */
int loader_del_comm_rule(struct loader *l, const char *comm);
/* Handles ready events, waiting at most timeout_ms; returns events handled or -errno. */
int loader_poll(struct loader *l, int timeout_ms);
/* Looks again for the TLS library of selected processes that had none (once a second). */
void loader_tls_rescan(struct loader *l);
/* The TLS files inspected off the event loop since the last call: probes attached. */
void loader_tls_collect(struct loader *l);
/* Whether a TLS file is being inspected: poll again soon for its result. */
bool loader_tls_pending(const struct loader *l);
/* Waits (at most timeout_ms) until no TLS file is being inspected: start-up. */
void loader_tls_settle(struct loader *l, unsigned timeout_ms);
/* Sums the per-CPU counters; adds the programs' recursion misses as lost. */
int loader_stats(const struct loader *l, struct sonde_stats *out);

#endif
