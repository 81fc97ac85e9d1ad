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

/* A process whose TLS library sonde looked at, as /health lists it. */
#define SONDE_STATUS_MAX_TLS 64

struct sonde_tls_proc {
	unsigned pid;
	unsigned pid_in_ns; /* its pid in its own namespace; 0 or pid: the same */
	char library[12];   /* "openssl", "go", "none" */
	char state[12];	    /* "probed", "failed", "none" */
	char reason[24];    /* why failed: sonde_tls_targets' reason label, "" otherwise */
	char detail[192];   /* the reason in words */
	char path[256];	    /* the library or executable looked at */
};

struct sonde_status {
	char capture_mode[16]; /* "socket", "syscalls", "none" */
	unsigned tracked_processes;
	unsigned attached_programs;
	unsigned long long events_received, events_lost;
	unsigned long long started_unix; /* seconds */
	size_t n_parts;
	struct sonde_part parts[SONDE_STATUS_MAX_PARTS];
	size_t n_tls;	  /* entries in tls, by pid: at most SONDE_STATUS_MAX_TLS */
	size_t tls_total; /* processes looked at in all (more than n_tls: the list is cut) */
	struct sonde_tls_proc tls[SONDE_STATUS_MAX_TLS];
};

/*
 * Fills *out (zeroed by the caller). Called from httpd threads while the main loop runs, so
 * the callee takes whatever lock guards the data it copies.
 */
typedef void (*sonde_status_fn)(void *ctx, struct sonde_status *out);

#endif
