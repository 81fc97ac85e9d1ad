/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Event driver of the libFuzzer targets (fuzz_http1.c, fuzz_postgres.c, fuzz_redis.c): turns
 * the fuzzer's input into the reads and writes of one connection and feeds them to the
 * target's parser through function pointers, either whole or one captured byte per read.
 *
 * Input: records [ctl][len lo][len hi][len bytes] (len cut to the bytes left), in order.
 *   ctl bit 0     direction: 0 = requests (HTTP/1), frontend (PostgreSQL), commands (Redis);
 *                 1 = responses, backend, replies
 *   ctl bit 1     a capture gap: more bytes moved after the captured ones (cap_len < len),
 *                 ctl bits 2-4 choose how many: 1, 2, 7, 61, 97, 1000, 4096 or 70000, from
 *                 one byte inside a header to a body longer than any capture
 *   ctl bit 5     same timestamp as the previous record (else one nanosecond later)
 *   ctl bits 6-7  target actions before the record (HTTP/1: 1 = assume a message start on
 *                 the stream, 2 = close the connection); ignored by the database targets
 * A record with len 0 is one read/write with nothing captured (EOF when the gap is 0).
 *
 * The database targets also share their checks here: every struct db_op is well formed,
 * and, when nothing was lost, a whole run and a one-byte-per-read run emit the same ones.
 */
#ifndef SONDE_FUZZ_EVENTS_H
#define SONDE_FUZZ_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/db_op.h"

struct fuzz_target {
	/* One read/write at ts: data holds the first cap of len bytes. */
	void (*feed)(void *ctx, int dir, uint64_t ts, const uint8_t *data, size_t cap, size_t len);
	/* ctl bits 6-7 (1..3) before a record; NULL: none. */
	void (*act)(void *ctx, unsigned actions, int dir, uint64_t ts);
};

struct fuzz_run {
	uint64_t ts; /* timestamp of the last record */
	bool gaps;   /* some bytes were not captured */
};

/* Feeds the records of data; bytewise: each captured byte as its own read/write, the gap
 * with the last one. */
static inline struct fuzz_run fuzz_events(const uint8_t *data, size_t size, bool bytewise,
					  const struct fuzz_target *t, void *ctx)
{
	static const size_t gap_sizes[8] = { 1, 2, 7, 61, 97, 1000, 4096, 70000 };
	struct fuzz_run run = { .ts = 1 };

	while (size >= 3) {
		uint8_t ctl = data[0];
		size_t n = (size_t)data[1] | (size_t)data[2] << 8;
		size_t gap = (ctl & 2) ? gap_sizes[ctl >> 2 & 7] : 0;
		int dir = ctl & 1;

		data += 3;
		size -= 3;
		n = n < size ? n : size;
		run.ts += !(ctl & 0x20);
		run.gaps |= gap > 0;
		if ((ctl >> 6) && t->act)
			t->act(ctx, ctl >> 6, dir, run.ts);
		for (size_t i = 0, k; i < n; i += k) {
			k = bytewise ? 1 : n;
			t->feed(ctx, dir, run.ts, data + i, k, k + (i + k == n ? gap : 0));
		}
		if (!n)
			t->feed(ctx, dir, run.ts, data, 0, gap);
		data += n;
		size -= n;
	}
	return run;
}

/* ---- database targets ------------------------------------------------------------------ */

#define FUZZ_OPS_KEEP 64

/* Operations of one run, to compare a whole run with a one-byte-per-read run. */
struct fuzz_ops {
	struct db_op v[FUZZ_OPS_KEEP];
	size_t n;
};

/* db_emit_fn: strings terminated within their arrays, start_ns <= end_ns. */
static inline void fuzz_check_op(void *ctx, const struct db_op *op)
{
	struct fuzz_ops *o = ctx;

	if (strnlen(op->operation, sizeof(op->operation)) == sizeof(op->operation) ||
	    strnlen(op->collection, sizeof(op->collection)) == sizeof(op->collection) ||
	    strnlen(op->error_type, sizeof(op->error_type)) == sizeof(op->error_type) ||
	    op->start_ns > op->end_ns)
		abort();
	if (o->n < FUZZ_OPS_KEEP)
		o->v[o->n] = *op;
	o->n++;
}

/* Two runs of the same input without losses: how the bytes were split changes nothing. */
static inline void fuzz_ops_same(const struct fuzz_ops *a, const struct fuzz_ops *b)
{
	size_t n = a->n < FUZZ_OPS_KEEP ? a->n : FUZZ_OPS_KEEP;

	if (a->n != b->n || memcmp(a->v, b->v, n * sizeof(a->v[0])))
		abort();
}

#endif /* SONDE_FUZZ_EVENTS_H */
