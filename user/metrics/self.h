/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sonde's own process metrics: the standard process_* families of Prometheus client
 * libraries (CPU seconds, resident memory, start time, open fds), read from /proc/self.
 * Threads: self_metrics_refresh() on the event loop only.
 */
#ifndef SONDE_METRICS_SELF_H
#define SONDE_METRICS_SELF_H

#include <stdbool.h>

struct registry;
struct metric;

struct self_metrics {
	struct metric *cpu, *rss, *start, *fds;
	double last_cpu_seconds; /* to turn the absolute reading into counter increments */
	int statm_fd;		 /* /proc/self/statm, kept open from the first read on */
	bool statm_open;
	unsigned refreshes;
};

/* Registers the four families in reg and sets the start time; 0 or -errno. */
int self_metrics_init(struct self_metrics *s, struct registry *reg);

/* Reads the CPU time, statm and, every tenth call, the fd count (the agent calls it once a
 * second). */
void self_metrics_refresh(struct self_metrics *s);

/* Closes what refresh keeps open. */
void self_metrics_free(struct self_metrics *s);

#endif
