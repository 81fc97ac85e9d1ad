/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * SQL statement text -> operation name and table, and a streaming statement splitter.
 * Pure: no I/O, no allocation. Literal values are skipped by the tokenizer and never copied
 * to an output; the only identifiers copied out are the first keyword and a table name.
 */
#ifndef SONDE_PROTO_SQL_H
#define SONDE_PROTO_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of one statement the splitter keeps for naming (comments dropped, runs of blanks
 * folded): enough for "WITH a AS (...) SELECT ... FROM t" in the common case. */
#define SQL_STMT_PREFIX 256
#define SQL_DOLLAR_TAG_MAX 32

/*
 * Names the statement in sql[0..len): op gets the first keyword, uppercased, skipping
 * blanks, comments (-- and nested slash-star) and opening parentheses; for WITH the main
 * verb after the common table expressions when they parse cheaply, else "WITH". table
 * gets the relation of SELECT ... FROM t, INSERT INTO t, UPDATE t, DELETE FROM t,
 * MERGE INTO t, COPY t, TRUNCATE t: schema-qualified as written, double quotes removed,
 * "" when it is a subquery, a function call or does not fit. Both are "" when unknown.
 */
void sql_operation(const char *sql, size_t len, char *op, size_t oplen, char *table,
		   size_t tablelen);

/* Same, for a prefix of a longer statement: a word touching the end may be cut, so it is
 * not used. */
void sql_operation_prefix(const char *sql, size_t len, bool truncated, char *op, size_t oplen,
			  char *table, size_t tablelen);

/* One statement found by the splitter: its first bytes (see SQL_STMT_PREFIX), and whether
 * more of it existed than stmt holds. */
typedef void (*sql_stmt_fn)(void *ctx, const char *stmt, size_t len, bool truncated);

/*
 * Splits text on ';' outside quotes ('', E'', "", $tag$), comments and parentheses, as
 * psql and the server's multi-statement Query do, fed in pieces of any size.
 */
struct sql_splitter {
	uint8_t state;	       /* lexical state (sql.c) */
	uint8_t comment_depth; /* block comments nest in PostgreSQL */
	uint8_t tag_len;       /* dollar-quote tag being read or matched */
	uint8_t tag_match;     /* bytes of the closing tag matched so far */
	uint16_t paren_depth;
	uint16_t word_len; /* length of the identifier just before (E'' detection) */
	char word_first;
	char prev;     /* previous byte outside quotes and comments */
	bool overflow; /* the current statement is longer than buf */
	bool disabled; /* text lost (capture gap): no more statements can be found */
	uint16_t len;
	char tag[SQL_DOLLAR_TAG_MAX];
	char buf[SQL_STMT_PREFIX];
};

void sql_splitter_init(struct sql_splitter *s);
void sql_splitter_feed(struct sql_splitter *s, const char *p, size_t n, sql_stmt_fn fn, void *ctx);
/* End of text. lost: the rest of the text was not seen (the current statement is reported
 * as truncated and the splitter stops reporting). */
void sql_splitter_finish(struct sql_splitter *s, bool lost, sql_stmt_fn fn, void *ctx);

/* Whole-text convenience: calls fn per statement, returns how many. */
size_t sql_split_statements(const char *sql, size_t len, sql_stmt_fn fn, void *ctx);

#endif /* SONDE_PROTO_SQL_H */
