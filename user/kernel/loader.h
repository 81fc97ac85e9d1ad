/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Loads sonde's BPF object, picks the capture path, attaches the programs and gives access
 * to the maps user space drives: the tgid allow bitmap, the ring buffer and the counters.
 */
#ifndef SONDE_LOADER_H
#define SONDE_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "sonde_abi.h"

struct sonde_bpf;
struct ring_buffer;

typedef int (*loader_event_fn)(void *ctx, const void *data, size_t size);

struct loader_opts {
	enum capture_mode capture; /* AUTO probes: socket tracepoints first */
	uint32_t capture_bytes;
	uint32_t ringbuf_bytes; /* power of two, >= page size */
	bool exec_events;	/* report every exec (comm=/exe= rules) */
	bool listen_events;	/* report every listen() (port= rules) */
	loader_event_fn on_event;
	void *ctx;
};

struct loader {
	struct sonde_bpf *skel;
	struct ring_buffer *rb;
	enum capture_mode mode; /* the path in use: CAPTURE_SOCKET or CAPTURE_SYSCALLS */
	uint64_t *allow;	/* mmap of the allow_tgids bitmap */
	size_t allow_size;
	unsigned attached; /* programs attached */
};

/* What --check reports for one capability of this kernel. */
struct probe_result {
	const char *name;
	bool ok;
	char detail[160];
};

/* Returns 0 or -errno, having printed one line saying what failed and what to do. */
int loader_open(struct loader *l, const struct loader_opts *o);
void loader_close(struct loader *l); /* accepts a zeroed loader */

int loader_allow(struct loader *l, uint32_t tgid, bool on);
/* Selects, in the kernel, every process that execs into this comm (cut at 15 bytes). */
int loader_add_comm_rule(struct loader *l, const char *comm);
/* Tells the kernel to stop reporting a connection's reads and writes (its close is still
 * reported). Returns 0 or -errno (the connection may already be gone). */
int loader_ignore_conn(struct loader *l, uint64_t id);
bool loader_allowed(const struct loader *l, uint32_t tgid);
/* Handles ready events, waiting at most timeout_ms; returns events handled or -errno. */
int loader_poll(struct loader *l, int timeout_ms);
/* Sums the per-CPU counters. */
int loader_stats(const struct loader *l, struct sonde_stats *out);

/* Probes this kernel: BTF, ring buffer, each capture path, uprobes. Fills up to max
 * results; returns how many. */
size_t loader_probe(struct probe_result *res, size_t max);

/* Checks that we may load BPF at all (root or CAP_BPF+CAP_PERFMON); prints why not. */
int loader_preflight(void);

#endif
