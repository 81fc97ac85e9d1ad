// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: sql.c, the statement naming (sql_operation, sql_operation_prefix) and
 * the streaming splitter, on statement text as a client sends it in Query and Parse.
 * Input: [split seed] then the SQL text. Checked:
 *   - op and table are terminated within the buffers postgres.c hands them (struct db_op);
 *     op holds only A-Z, 0-9 and '_' (a keyword, uppercased: a label value that cannot
 *     carry user data);
 *   - naming a cut prefix with truncated=true never names it otherwise than the whole
 *     text: its op is "", "WITH" (the common table expressions were cut) or the whole
 *     text's op;
 *   - the splitter reports the same statements (text, length, truncated) whether the text
 *     comes whole or in pieces (sizes from the seed, one byte included), as many as
 *     sql_split_statements() counts, each at most SQL_STMT_PREFIX bytes; when the end of
 *     the text is lost, the statements ended by ';' are the same and the one cut, if
 *     reported, is marked truncated.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I include -I user \
 *        tests/fuzz/fuzz_sql.c user/proto/sql.c
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/db_op.h"
#include "proto/sql.h"

#define KEEP 32 /* statements compared one by one; the rest by count */

struct stmt {
	char text[SQL_STMT_PREFIX];
	size_t len;
	bool truncated;
};

struct stmts {
	struct stmt v[KEEP];
	size_t n;
};

static void check_names(const char *op, size_t oplen, const char *table, size_t tablelen)
{
	size_t n = strnlen(op, oplen);

	if (n == oplen || strnlen(table, tablelen) == tablelen)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!((op[i] >= 'A' && op[i] <= 'Z') || (op[i] >= '0' && op[i] <= '9') ||
		      op[i] == '_'))
			abort();
}

static void keep_stmt(void *ctx, const char *text, size_t len, bool truncated)
{
	struct stmts *s = ctx;
	struct db_op op;

	if (len > SQL_STMT_PREFIX || (len && !text))
		abort();
	/* What postgres.c does with each statement. */
	sql_operation_prefix(text, len, truncated, op.operation, sizeof(op.operation),
			     op.collection, sizeof(op.collection));
	check_names(op.operation, sizeof(op.operation), op.collection, sizeof(op.collection));
	if (s->n < KEEP) {
		memcpy(s->v[s->n].text, text, len);
		s->v[s->n].len = len;
		s->v[s->n].truncated = truncated;
	}
	s->n++;
}

static void same_stmts(const struct stmts *a, const struct stmts *b)
{
	if (a->n != b->n)
		abort();
	for (size_t i = 0; i < a->n && i < KEEP; i++)
		if (a->v[i].len != b->v[i].len || a->v[i].truncated != b->v[i].truncated ||
		    memcmp(a->v[i].text, b->v[i].text, a->v[i].len))
			abort();
}

static void check_after_loss(const struct stmts *whole, const struct stmts *lost)
{
	size_t n = lost->n;

	if (n > whole->n || n + 1 < whole->n)
		abort();
	for (size_t i = 0; i + 1 < n && i < KEEP; i++)
		if (lost->v[i].len != whole->v[i].len ||
		    memcmp(lost->v[i].text, whole->v[i].text, lost->v[i].len))
			abort();
	if (n && n <= KEEP && !lost->v[n - 1].truncated &&
	    (lost->v[n - 1].len != whole->v[n - 1].len ||
	     memcmp(lost->v[n - 1].text, whole->v[n - 1].text, lost->v[n - 1].len)))
		abort();
}

/* The whole text's name, then a prefix's (cut where the seed says). */
static void check_naming(const char *sql, size_t len, uint8_t seed)
{
	struct db_op whole, cut;
	size_t k = len ? (seed * 131u) % (len + 1) : 0;

	sql_operation(sql, len, whole.operation, sizeof(whole.operation), whole.collection,
		      sizeof(whole.collection));
	check_names(whole.operation, sizeof(whole.operation), whole.collection,
		    sizeof(whole.collection));
	sql_operation_prefix(sql, k, true, cut.operation, sizeof(cut.operation), cut.collection,
			     sizeof(cut.collection));
	check_names(cut.operation, sizeof(cut.operation), cut.collection, sizeof(cut.collection));
	if (cut.operation[0] && strcmp(cut.operation, "WITH") &&
	    strcmp(cut.operation, whole.operation))
		abort();
}

/* Feeds sql to a splitter in pieces of 1..(seed % 64 + 1) bytes, varying with position. */
static void split_pieces(const char *sql, size_t len, uint8_t seed, bool lost, struct stmts *out)
{
	struct sql_splitter sp;
	size_t i = 0, max = seed % 64 + 1;

	sql_splitter_init(&sp);
	while (i < len) {
		size_t k = (i * 7 + seed) % max + 1;

		if (k > len - i)
			k = len - i;
		sql_splitter_feed(&sp, sql + i, k, keep_stmt, out);
		i += k;
	}
	sql_splitter_finish(&sp, lost, keep_stmt, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct stmts whole, pieces, counted, after_loss;
	struct sql_splitter sp;
	const char *sql;
	size_t len, n;
	uint8_t seed;

	if (size < 1)
		return 0;
	seed = data[0];
	sql = (const char *)data + 1;
	len = size - 1;
	check_naming(sql, len, seed);

	whole.n = pieces.n = counted.n = after_loss.n = 0;
	sql_splitter_init(&sp);
	sql_splitter_feed(&sp, sql, len, keep_stmt, &whole);
	sql_splitter_finish(&sp, false, keep_stmt, &whole);
	split_pieces(sql, len, seed, false, &pieces);
	same_stmts(&whole, &pieces);
	n = sql_split_statements(sql, len, keep_stmt, &counted);
	if (n != whole.n)
		abort();
	same_stmts(&whole, &counted);

	/* A loss at the end: the statements ended by ';' as without it, then the one cut (if
	 * any bytes of it were kept), reported as truncated. */
	split_pieces(sql, len, seed, true, &after_loss);
	check_after_loss(&whole, &after_loss);
	return 0;
}
