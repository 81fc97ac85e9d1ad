/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the main loop reports about itself to the HTTP endpoints (/health, /). A plain struct
 * so the httpd needs no knowledge of the loader, the ring buffer or discovery.
 */
#ifndef SONDE_STATUS_H
#define SONDE_STATUS_H

#include <stddef.h>

#define SONDE_STATUS_MAX_PARTS 8

/* One component's health, e.g. "bpf", "ringbuf", "capture", "discovery". */
struct sonde_part {
	char name[24];
	int ok;		 /* nonzero when healthy */
	char detail[96]; /* one human-readable line, "" when nothing to say */
};

struct sonde_status {
	char capture_mode[16]; /* "socket", "syscalls", "none" */
	unsigned tracked_processes;
	unsigned attached_programs;
	unsigned long long events_received, events_lost;
	unsigned long long started_unix; /* seconds */
	size_t n_parts;
	struct sonde_part parts[SONDE_STATUS_MAX_PARTS];
};

/*
 * Fills *out (zeroed by the caller). Called from httpd threads while the main loop runs, so
 * the callee takes whatever lock guards the data it copies.
 */
typedef void (*sonde_status_fn)(void *ctx, struct sonde_status *out);

#endif
