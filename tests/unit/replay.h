/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Replay harness of the framer unit tests.
 *
 * A conversation is a list of turns, each one socket read or write: direction, timestamp,
 * and len bytes moved of which the first cap were captured. replay_splits() feeds it to a
 * parser through function pointers every way its bytes can reach the framer: each turn
 * whole, each turn in turn cut in two at every captured byte, and one byte per read
 * (uncaptured bytes stay at the end of their turn). A framer must find the same things
 * however its bytes are split.
 *
 * The database framers (test_postgres.c, test_redis.c) also build their conversations here
 * (S, raw(), turn()), hand their parser over as a struct replay_db, and check the struct
 * db_op it emits against a list of struct db_want (replay_db_all(), replay_db_whole()).
 * The HTTP/1 tests replay their own pieces and expectations (http1_replay.h).
 * Header-only, static inline: each test program includes it once and uses a subset.
 */
#ifndef SONDE_TEST_REPLAY_H
#define SONDE_TEST_REPLAY_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto/db_op.h"

/* ---- feeding a conversation -------------------------------------------------------------- */

struct replay_turn {
	int dir; /* the parser's stream: enum pg_stream, redis_stream or http1_stream */
	uint64_t ts;
	const uint8_t *data; /* the captured bytes */
	size_t cap, len;     /* cap of the len bytes moved were captured */
};

enum replay_split {
	REPLAY_WHOLE,	 /* each turn one read/write */
	REPLAY_CUT,	 /* turn cut_turn as two, cut after cut bytes */
	REPLAY_BYTEWISE, /* each captured byte one read/write, the last one with the gap */
};

/* The parser under test, fed from a fresh start by each replay of the conversation. */
struct replay_ops {
	void (*begin)(void *ctx, const char *mode); /* mode names the replay in failures */
	/* One read/write: p holds the first cap of len bytes of turn t. */
	void (*feed)(void *ctx, const struct replay_turn *t, const uint8_t *p, size_t cap,
		     size_t len);
	void (*end)(void *ctx, enum replay_split how); /* check what was emitted */
};

static inline void replay_turns(const struct replay_turn *t, size_t n, enum replay_split how,
				size_t cut_turn, size_t cut, const struct replay_ops *ops,
				void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		const struct replay_turn *u = &t[i];

		if (how == REPLAY_BYTEWISE && u->cap > 1) {
			for (size_t k = 0; k < u->cap; k++)
				ops->feed(ctx, u, u->data + k, 1, k + 1 == u->cap ? u->len - k : 1);
		} else if (how == REPLAY_CUT && i == cut_turn) {
			ops->feed(ctx, u, u->data, cut, cut);
			ops->feed(ctx, u, u->data + cut, u->cap - cut, u->len - cut);
		} else {
			ops->feed(ctx, u, u->data, u->cap, u->len);
		}
	}
}

static inline void replay_one(const struct replay_turn *t, size_t n, enum replay_split how,
			      size_t cut_turn, size_t cut, const char *mode,
			      const struct replay_ops *ops, void *ctx)
{
	ops->begin(ctx, mode);
	replay_turns(t, n, how, cut_turn, cut, ops, ctx);
	ops->end(ctx, how);
}

/* Whole, every turn cut at every captured byte, one byte per read. */
static inline void replay_splits(const struct replay_turn *t, size_t n,
				 const struct replay_ops *ops, void *ctx)
{
	char mode[64];

	replay_one(t, n, REPLAY_WHOLE, 0, 0, "whole", ops, ctx);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 1; k < t[i].cap; k++) {
			snprintf(mode, sizeof(mode), "turn %zu cut at %zu", i, k);
			replay_one(t, n, REPLAY_CUT, i, k, mode, ops, ctx);
		}
	}
	replay_one(t, n, REPLAY_BYTEWISE, 0, 0, "one byte per read", ops, ctx);
}

/* ---- building a conversation ------------------------------------------------------------- */

#define REPLAY_TURNS_MAX 128

/* The conversation being built: finished turns, then the bytes of the next one. */
static struct {
	struct replay_turn t[REPLAY_TURNS_MAX];
	size_t n;
	size_t used, cur; /* arena bytes of finished turns; of the turn being built */
	uint8_t arena[1 << 20];
} S __attribute__((unused)); /* the HTTP/1 tests build theirs apart */

static inline void s_reset(void)
{
	S.n = 0;
	S.used = S.cur = 0;
}

static inline void raw(const void *p, size_t n)
{
	assert_true(S.used + S.cur + n <= sizeof(S.arena));
	memcpy(S.arena + S.used + S.cur, p, n);
	S.cur += n;
}

static inline void str(const char *s)
{
	raw(s, strlen(s));
}

/* Ends the turn being built: one read/write of everything built, cap of it captured. */
static inline void turn_cap(int dir, uint64_t ts, size_t cap)
{
	assert_true(S.n < REPLAY_TURNS_MAX && cap <= S.cur);
	S.t[S.n++] = (struct replay_turn){
		.dir = dir, .ts = ts, .data = S.arena + S.used, .cap = cap, .len = S.cur
	};
	S.used += S.cur;
	S.cur = 0;
}

static inline void turn(int dir, uint64_t ts)
{
	turn_cap(dir, ts, S.cur);
}

/* ---- database framers: operations emitted --------------------------------------------- */

/* A database framer behind function pointers: each test wraps its own. */
struct replay_db {
	void *(*conn_new)(void);
	int (*feed)(void *conn, int dir, uint64_t ts, const uint8_t *data, size_t cap, size_t len,
		    db_emit_fn emit, void *ctx);
	void (*conn_free)(void *conn);
};

struct db_want {
	const char *op, *table, *err;
	uint64_t start, end;
};

#define REPLAY_OPS_MAX 256

struct db_run {
	const struct replay_db *db;
	const struct db_want *w;
	int nw;
	void *conn;  /* parser of the current replay */
	void *whole; /* parser of the whole replay, kept for its stats */
	const char *mode;
	struct db_op got[REPLAY_OPS_MAX];
	int ngot;
};

static inline void db_collect(void *ctx, const struct db_op *op)
{
	struct db_run *r = ctx;

	assert_true(r->ngot < REPLAY_OPS_MAX);
	r->got[r->ngot++] = *op;
}

static inline void db_begin(void *ctx, const char *mode)
{
	struct db_run *r = ctx;

	r->conn = r->db->conn_new();
	assert_non_null(r->conn);
	r->mode = mode;
	r->ngot = 0;
}

static inline void db_feed(void *ctx, const struct replay_turn *t, const uint8_t *p, size_t cap,
			   size_t len)
{
	struct db_run *r = ctx;

	assert_int_equal(r->db->feed(r->conn, t->dir, t->ts, p, cap, len, db_collect, r), 0);
}

static inline void db_check(const struct db_run *r)
{
	if (r->ngot != r->nw)
		print_error("%s: %d ops, want %d\n", r->mode, r->ngot, r->nw);
	assert_int_equal(r->ngot, r->nw);
	for (int i = 0; i < r->nw; i++) {
		const struct db_op *o = &r->got[i];
		const struct db_want *w = &r->w[i];

		if (strcmp(o->operation, w->op) || strcmp(o->collection, w->table) ||
		    strcmp(o->error_type, w->err) || o->start_ns != w->start || o->end_ns != w->end)
			print_error("%s: op %d = %s/%s/%s %lu-%lu\n", r->mode, i, o->operation,
				    o->collection, o->error_type, (unsigned long)o->start_ns,
				    (unsigned long)o->end_ns);
		assert_string_equal(o->operation, w->op);
		assert_string_equal(o->collection, w->table);
		assert_string_equal(o->error_type, w->err);
		assert_int_equal(o->start_ns, w->start);
		assert_int_equal(o->end_ns, w->end);
	}
}

static inline void db_end(void *ctx, enum replay_split how)
{
	struct db_run *r = ctx;

	db_check(r);
	if (how == REPLAY_WHOLE)
		r->whole = r->conn;
	else
		r->db->conn_free(r->conn);
	r->conn = NULL;
}

/* Every split of the conversation S emits exactly w[0..n); returns the parser of the
 * whole replay for its stats (the caller frees it). */
static inline void *replay_db_all(const struct replay_db *db, const struct db_want *w, int n)
{
	const struct replay_ops ops = { db_begin, db_feed, db_end };
	struct db_run r = { .db = db, .w = w, .nw = n };

	replay_splits(S.t, S.n, &ops, &r);
	return r.whole;
}

/* Only whole reads emit w[0..n): capture gaps make read boundaries matter by design. */
static inline void *replay_db_whole(const struct replay_db *db, const struct db_want *w, int n)
{
	const struct replay_ops ops = { db_begin, db_feed, db_end };
	struct db_run r = { .db = db, .w = w, .nw = n };

	replay_one(S.t, S.n, REPLAY_WHOLE, 0, 0, "whole", &ops, &r);
	return r.whole;
}

#endif /* SONDE_TEST_REPLAY_H */
