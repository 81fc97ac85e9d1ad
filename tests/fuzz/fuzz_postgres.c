// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: postgres.c framing/pairing and sql.c naming.
 * Input: events as fuzz_events.h decodes them (bit 0 of a record's ctl: the backend). The
 * whole input is also named as SQL text. Each input runs twice, whole and one byte per
 * read; checked: every operation is well formed, and a run without gaps or lost framing
 * emits the same operations however the bytes are split.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I include -I user \
 *        tests/fuzz/fuzz_postgres.c user/proto/postgres.c user/proto/postgres_batch.c \
 *        user/proto/sql.c
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "fuzz_events.h"
#include "proto/postgres.h"
#include "proto/sql.h"

struct pg_run {
	struct pg_conn *c;
	struct fuzz_ops *ops;
};

static void feed(void *ctx, int dir, uint64_t ts, const uint8_t *data, size_t cap, size_t len)
{
	struct pg_run *r = ctx;

	if (pg_feed(r->c, dir ? PG_BACKEND : PG_FRONTEND, ts, data, cap, len, fuzz_check_op,
		    r->ops) == -EINVAL)
		abort();
}

/* Returns false if the input had gaps, or framing was lost, recovered or inferred (read
 * boundaries then matter by design). */
static bool run(const uint8_t *data, size_t size, bool bytewise, struct fuzz_ops *ops)
{
	static const struct fuzz_target target = { .feed = feed };
	struct pg_run r = { pg_conn_new(), ops };
	const struct pg_stats *st;
	bool clean;

	if (!r.c)
		return false;
	clean = !fuzz_events(data, size, bytewise, &target, &r).gaps;
	st = pg_conn_stats(r.c);
	clean &= st->parse_errors == 0 && st->gap_resyncs == 0 && st->inferred_ends == 0;
	pg_close(r.c);
	pg_conn_free(r.c);
	return clean;
}

static void check_stmt(void *ctx, const char *stmt, size_t len, bool truncated)
{
	char op[32], table[64];

	(void)ctx;
	sql_operation_prefix(stmt, len, truncated, op, sizeof(op), table, sizeof(table));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_ops whole, bytes;
	char op[32], table[64];
	bool clean;

	sql_operation((const char *)data, size, op, sizeof(op), table, sizeof(table));
	sql_split_statements((const char *)data, size, check_stmt, NULL);
	whole.n = bytes.n = 0;
	clean = run(data, size, false, &whole);
	if (run(data, size, true, &bytes) && clean)
		fuzz_ops_same(&whole, &bytes);
	return 0;
}
