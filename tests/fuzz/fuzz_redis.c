// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: redis.c / redis_reply.c.
 * Input: a sequence of events, each [ctl][len lo][len hi][len bytes]: ctl bit 0 = replies,
 * bit 1 = a capture gap of ctl >> 2 times 97 bytes after the captured ones, ts advances by
 * ctl >> 4. Invariants checked on every operation: strings terminated within their
 * arrays, start_ns <= end_ns.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I include -I user \
 *        tests/fuzz/fuzz_redis.c user/proto/redis.c user/proto/redis_reply.c
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/redis.h"

/* Operations of one run, to compare a whole-read run with a one-byte-per-read run. */
struct ops {
	struct db_op v[64];
	size_t n;
};

static void check_op(void *ctx, const struct db_op *op)
{
	struct ops *o = ctx;

	if (strnlen(op->operation, sizeof(op->operation)) == sizeof(op->operation) ||
	    strnlen(op->collection, sizeof(op->collection)) == sizeof(op->collection) ||
	    strnlen(op->error_type, sizeof(op->error_type)) == sizeof(op->error_type) ||
	    op->start_ns > op->end_ns)
		abort();
	if (o->n < 64)
		o->v[o->n] = *op;
	o->n++;
}

/* Feeds the events; bytewise: each captured byte as its own read. Returns false if the
 * input had gaps, or framing was lost, recovered or inferred (read boundaries then
 * matter by design). */
static bool run(const uint8_t *data, size_t size, bool bytewise, struct ops *o)
{
	struct redis_conn *c = redis_conn_new();
	uint64_t ts = 1;
	bool clean = true;

	if (!c)
		return false;
	while (size >= 3) {
		uint8_t ctl = data[0];
		size_t n = (size_t)data[1] | (size_t)data[2] << 8;
		size_t gap = (ctl & 2) ? (size_t)(ctl >> 2) * 97 : 0;
		int s = (ctl & 1) ? REDIS_REPLIES : REDIS_REQUESTS;

		data += 3;
		size -= 3;
		if (n > size)
			n = size;
		ts += ctl >> 4;
		clean &= gap == 0;
		for (size_t i = 0; i < n;) {
			size_t k = bytewise ? 1 : n;

			if (redis_feed(c, s, ts, data + i, k, k + (i + k == n ? gap : 0), check_op,
				       o) == -EINVAL)
				abort();
			i += k;
		}
		if (!n && redis_feed(c, s, ts, data, 0, gap, check_op, o) == -EINVAL)
			abort();
		data += n;
		size -= n;
	}
	clean &= redis_conn_stats(c)->parse_errors == 0 && redis_conn_stats(c)->gap_resyncs == 0 &&
		 redis_conn_stats(c)->inferred_ends == 0 && redis_conn_stats(c)->unnamed_ops == 0;
	redis_close(c);
	redis_conn_free(c);
	return clean;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ops whole, bytes;
	whole.n = bytes.n = 0;
	bool clean = run(data, size, false, &whole);

	/* Without gaps or lost framing, how bytes are split into reads changes nothing. */
	if (run(data, size, true, &bytes) && clean &&
	    (whole.n != bytes.n ||
	     memcmp(whole.v, bytes.v, sizeof(whole.v[0]) * (whole.n < 64 ? whole.n : 64))))
		abort();
	return 0;
}
