/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Inspecting TLS library and executable files off the event loop. What a file offers the
 * probes (a libssl's function offsets; a Go executable's functions, RETs and offsets) takes
 * 0.3 ms for a libssl, 15-18 ms for a Go executable and ~70 ms more when its DWARF is read:
 * time in which the consumer would not drain the ring. One thread does it, a file at a time,
 * in the order asked; the event loop takes the results and attaches the probes.
 * In: files (an open fd each) from uprobes.c. Out: the same struct tls_file, filled.
 */
#ifndef SONDE_KERNEL_TLS_INSPECT_H
#define SONDE_KERNEL_TLS_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/tls_go.h"
#include "kernel/uprobes.h"

#define TLS_SSL_FNS 7 /* the OpenSSL functions probed (uprobes.c's table) */

/* What one library or executable file offers, computed once per (device, inode). */
struct tls_file {
	uint64_t dev, ino;
	enum tls_library asked; /* what it was inspected as: OPENSSL (a libssl), GO (an exe) */
	enum tls_library lib;	/* what it is: NONE for an executable that is not Go TLS */
	enum tls_reason reason; /* TLS_REASON_NONE: probe it */
	char detail[TLS_DETAIL_LEN];
	uint64_t ssl_off[TLS_SSL_FNS]; /* OpenSSL: file offsets, 0 = absent */
	struct go_tls_probes go;       /* Go: entries, RETs, addresses and offsets */
	double took_ms;		       /* the inspection's wall time */
};

/* Fills tf (dev, ino and asked are set) from the file at path. */
typedef void (*tls_inspect_fn)(struct tls_file *tf, const char *path);

struct inspector;

/* Starts the thread; NULL with errno when it cannot (the caller inspects inline). */
struct inspector *inspector_start(tls_inspect_fn fn);
/* Queues tf to be inspected from fd, which the inspector closes. False (nothing taken) when
 * in is NULL or out of memory. */
bool inspector_queue(struct inspector *in, struct tls_file *tf, int fd);
/* Takes up to n files whose inspection is done, oldest first; returns how many. */
size_t inspector_done(struct inspector *in, struct tls_file **out, size_t n);
/* Stops the thread (after the file in hand); frees the files and fds never returned. */
void inspector_stop(struct inspector *in);

#endif
