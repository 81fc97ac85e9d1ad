// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: redis.c / redis_reply.c.
 * Input: events as fuzz_events.h decodes them (bit 0 of a record's ctl: replies). Each
 * input runs twice, whole and one byte per read; checked: every operation is well formed,
 * and a run without gaps or lost framing emits the same operations however the bytes are
 * split.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I include -I user \
 *        tests/fuzz/fuzz_redis.c user/proto/redis.c user/proto/redis_reply.c
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "fuzz_events.h"
#include "proto/redis.h"

struct redis_run {
	struct redis_conn *c;
	struct fuzz_ops *ops;
};

static void feed(void *ctx, int dir, uint64_t ts, const uint8_t *data, size_t cap, size_t len)
{
	struct redis_run *r = ctx;

	if (redis_feed(r->c, dir ? REDIS_REPLIES : REDIS_REQUESTS, ts, data, cap, len,
		       fuzz_check_op, r->ops) == -EINVAL)
		abort();
}

/* Returns false if the input had gaps, or framing was lost, recovered or inferred (read
 * boundaries then matter by design). */
static bool run(const uint8_t *data, size_t size, bool bytewise, struct fuzz_ops *ops)
{
	static const struct fuzz_target target = { .feed = feed };
	struct redis_run r = { redis_conn_new(), ops };
	const struct redis_stats *st;
	bool clean;

	if (!r.c)
		return false;
	clean = !fuzz_events(data, size, bytewise, &target, &r).gaps;
	st = redis_conn_stats(r.c);
	clean &= st->parse_errors == 0 && st->gap_resyncs == 0 && st->inferred_ends == 0 &&
		 st->unnamed_ops == 0;
	redis_close(r.c);
	redis_conn_free(r.c);
	return clean;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_ops whole, bytes;
	bool clean;

	whole.n = bytes.n = 0;
	clean = run(data, size, false, &whole);
	if (run(data, size, true, &bytes) && clean)
		fuzz_ops_same(&whole, &bytes);
	return 0;
}
