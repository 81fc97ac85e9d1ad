/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where event lines go: a file (appended to) or stdout, written by a thread of its own from
 * a bounded byte ring, so that a slow or blocked reader (a full disk, a FIFO nobody reads, a
 * stalled journal) never blocks capture: the event loop only copies a line into the ring,
 * and a line that does not fit is dropped and counted.
 *
 * One producer (the event loop) and one writer thread share the ring without a lock. The
 * file is opened non-blocking, so the writer can always notice a reopen or a stop.
 * The writer sleeps until woken (at most every 100 ms, at once when the ring is a quarter
 * full) or a second has passed: lines reach the file within about a second.
 * Rotation: sink_reopen_request() (async-signal-safe; SIGUSR1 and SIGHUP call it) makes the
 * writer open the path again; if that fails it logs one error and keeps the old file.
 */
#ifndef SONDE_EVENTS_SINK_H
#define SONDE_EVENTS_SINK_H

#include <stddef.h>
#include <stdint.h>

#define SINK_RING_BYTES (1u << 20)

struct sink;

struct sink_counts {
	uint64_t lines;	       /* lines taken into the ring */
	uint64_t dropped_full; /* lines dropped: the ring was full */
	uint64_t dropped_io;   /* lines lost to write errors (EPIPE, ENOSPC, EIO) */
	uint64_t written;      /* bytes written */
	uint64_t reopens;      /* successful reopens */
};

/* path "-" is stdout. NULL + errno when the file cannot be opened for appending (a FIFO
 * must have a reader: ENXIO) or the thread not started. */
struct sink *sink_open(const char *path);
/* Drains what is queued (at most about a second), stops the thread, closes. NULL ok. */
void sink_close(struct sink *s);

/* Queues one line (the producer thread only). 0, or -ENOSPC when dropped. */
int sink_push(struct sink *s, const char *line, size_t len);

void sink_reopen_request(void);
void sink_counts(const struct sink *s, struct sink_counts *out);

#endif
