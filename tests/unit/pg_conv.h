/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Test helper for test_postgres.c: builds PostgreSQL protocol 3 conversations by hand (one
 * function per message type), feeds them to the framer whole, one byte per read, and cut
 * at every byte, and checks the operations emitted. Header-only: one includer.
 */
#ifndef SONDE_TEST_PG_CONV_H
#define SONDE_TEST_PG_CONV_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/postgres.h"

/* ---- conversation builder ---------------------------------------------------------------- */

struct turn {
	enum pg_stream stream;
	uint64_t ts;
	size_t off, cap, len; /* bytes in the arena; only cap of len are captured */
};

static struct {
	struct turn t[128];
	int n;
	size_t used, cur; /* arena bytes of finished turns; of the turn being built */
	uint8_t arena[1 << 20];
} S;

static void s_reset(void)
{
	S.n = 0;
	S.used = S.cur = 0;
}

static void pbytes(const void *p, size_t n)
{
	assert_true(S.used + S.cur + n <= sizeof(S.arena));
	memcpy(S.arena + S.used + S.cur, p, n);
	S.cur += n;
}

static void p8(uint8_t v)
{
	pbytes(&v, 1);
}

static void p16(uint16_t v)
{
	uint8_t b[2] = { v >> 8, v & 0xff };

	pbytes(b, 2);
}

static void p32(uint32_t v)
{
	uint8_t b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };

	pbytes(b, 4);
}

static void pstr(const char *s)
{
	pbytes(s, strlen(s) + 1);
}

/* Opens a typed message; returns where its length goes. */
static size_t mopen(char type)
{
	p8((uint8_t)type);
	p32(0);
	return S.cur - 4;
}

static void mclose(size_t lenpos)
{
	uint32_t len = (uint32_t)(S.cur - lenpos);
	uint8_t *p = S.arena + S.used + lenpos;

	p[0] = len >> 24, p[1] = (len >> 16) & 0xff, p[2] = (len >> 8) & 0xff, p[3] = len & 0xff;
}

/* Ends the turn being built: one read/write of everything built, cap of it captured. */
static void turn_cap(enum pg_stream s, uint64_t ts, size_t cap)
{
	assert_true(S.n < 128 && cap <= S.cur);
	S.t[S.n++] =
		(struct turn){ .stream = s, .ts = ts, .off = S.used, .cap = cap, .len = S.cur };
	S.used += S.cur;
	S.cur = 0;
}

static void turn(enum pg_stream s, uint64_t ts)
{
	turn_cap(s, ts, S.cur);
}

/* Frontend messages. */
static void fe_startup(void)
{
	p32(4 + 4 + 27); /* length, protocol 3.0, "user\0bench\0database\0bench\0\0" */
	p32(196608);
	pstr("user");
	pstr("bench");
	pstr("database");
	pstr("bench");
	p8(0);
}

static void fe_ssl(void)
{
	p32(8);
	p32(80877103);
}

static void Q(const char *sql)
{
	size_t l = mopen('Q');

	pstr(sql);
	mclose(l);
}

static void P(const char *name, const char *sql)
{
	size_t l = mopen('P');

	pstr(name);
	pstr(sql);
	p16(0);
	mclose(l);
}

static void Bv(const char *portal, const char *stmt, const char *value, size_t vlen)
{
	size_t l = mopen('B');

	pstr(portal);
	pstr(stmt);
	p16(0);
	p16(1);
	p32((uint32_t)vlen);
	if (value)
		pbytes(value, vlen);
	else
		S.cur += vlen;
	p16(0);
	mclose(l);
}

static void B(const char *portal, const char *stmt)
{
	Bv(portal, stmt, "42", 2);
}

static void D(char kind, const char *name)
{
	size_t l = mopen('D');

	p8((uint8_t)kind);
	pstr(name);
	mclose(l);
}

static void E(const char *portal, uint32_t maxrows)
{
	size_t l = mopen('E');

	pstr(portal);
	p32(maxrows);
	mclose(l);
}

static void Cl(char kind, const char *name)
{
	size_t l = mopen('C');

	p8((uint8_t)kind);
	pstr(name);
	mclose(l);
}

static void empty(char type)
{
	mclose(mopen(type));
}

static void S_(void)
{
	empty('S');
}

/* Backend messages. */
static void Z(char status)
{
	size_t l = mopen('Z');

	p8((uint8_t)status);
	mclose(l);
}

static void be_startup(void)
{
	size_t l = mopen('R');

	p32(0);
	mclose(l);
	l = mopen('S');
	pstr("server_version");
	pstr("16.2");
	mclose(l);
	l = mopen('K');
	p32(1234);
	p32(5678);
	mclose(l);
	Z('I');
}

static void T(int ncols)
{
	size_t l = mopen('T');

	p16((uint16_t)ncols);
	for (int i = 0; i < ncols; i++) {
		pstr("col");
		p32(0), p16(0), p32(23), p16(4), p32(0xffffffff), p16(0);
	}
	mclose(l);
}

static void DRv(const char *value, size_t vlen)
{
	size_t l = mopen('D');

	p16(1);
	p32((uint32_t)vlen);
	if (value)
		pbytes(value, vlen);
	else
		S.cur += vlen;
	mclose(l);
}

static void DR(const char *value)
{
	DRv(value, strlen(value));
}

static void CC(const char *tag)
{
	size_t l = mopen('C');

	pstr(tag);
	mclose(l);
}

static void ER(const char *sqlstate)
{
	size_t l = mopen('E');

	p8('S'), pstr("ERROR"), p8('V'), pstr("ERROR");
	p8('C'), pstr(sqlstate);
	p8('M'), pstr("duplicate key value violates unique constraint \"x_pkey\"");
	p8(0);
	mclose(l);
}

static void FATAL(const char *sqlstate)
{
	size_t l = mopen('E');

	p8('S'), pstr("FATAL"), p8('V'), pstr("FATAL"), p8('C'), pstr(sqlstate);
	p8('M'), pstr("terminating connection due to administrator command"), p8(0);
	mclose(l);
}

static void NOTICE(void)
{
	size_t l = mopen('N');

	p8('S'), pstr("NOTICE"), p8('C'), pstr("00000"), p8('M'), pstr("hello"), p8(0);
	mclose(l);
}

static void NOTIFY(void)
{
	size_t l = mopen('A');

	p32(99), pstr("chan"), pstr("payload");
	mclose(l);
}

static void PSTATUS(void)
{
	size_t l = mopen('S');

	pstr("TimeZone"), pstr("UTC");
	mclose(l);
}

static void PD(int nparams)
{
	size_t l = mopen('t');

	p16((uint16_t)nparams);
	for (int i = 0; i < nparams; i++)
		p32(23);
	mclose(l);
}

static void COPYIN(void)
{
	size_t l = mopen('G');

	p8(0), p16(2), p16(0), p16(0);
	mclose(l);
}

static void COPYDATA(const char *row)
{
	size_t l = mopen('d');

	pbytes(row, strlen(row));
	mclose(l);
}

/* ---- running ------------------------------------------------------------------------------ */

struct got {
	struct db_op v[256];
	int n;
};

static void collect(void *ctx, const struct db_op *op)
{
	struct got *g = ctx;

	assert_true(g->n < 256);
	g->v[g->n++] = *op;
}

static void feed(struct pg_conn *c, const struct turn *t, size_t off, size_t cap, size_t len,
		 struct got *g)
{
	assert_int_equal(pg_feed(c, t->stream, t->ts, S.arena + t->off + off, cap, len, collect, g),
			 0);
}

enum mode { WHOLE, BYTEWISE, CUT };

/* Feeds the conversation; in CUT mode turn cut_turn is two reads split at cut. */
static struct pg_conn *run(enum mode mode, int cut_turn, size_t cut, struct got *g)
{
	struct pg_conn *c = pg_conn_new();

	assert_non_null(c);
	g->n = 0;
	for (int i = 0; i < S.n; i++) {
		const struct turn *t = &S.t[i];

		if (mode == BYTEWISE && t->cap > 1) {
			for (size_t k = 0; k < t->cap; k++)
				feed(c, t, k, 1, k + 1 == t->cap ? t->len - k : 1, g);
		} else if (mode == CUT && i == cut_turn) {
			feed(c, t, 0, cut, cut, g);
			feed(c, t, cut, t->cap - cut, t->len - cut, g);
		} else {
			feed(c, t, 0, t->cap, t->len, g);
		}
	}
	return c;
}

struct want {
	const char *op, *table, *err;
	uint64_t start, end;
};

static void check(const struct got *g, const struct want *w, int n, const char *how)
{
	if (g->n != n)
		print_error("%s: %d ops, want %d\n", how, g->n, n);
	assert_int_equal(g->n, n);
	for (int i = 0; i < n; i++) {
		const struct db_op *o = &g->v[i];

		if (strcmp(o->operation, w[i].op) || strcmp(o->collection, w[i].table) ||
		    strcmp(o->error_type, w[i].err) || o->start_ns != w[i].start ||
		    o->end_ns != w[i].end)
			print_error("%s: op %d = %s/%s/%s %lu-%lu\n", how, i, o->operation,
				    o->collection, o->error_type, (unsigned long)o->start_ns,
				    (unsigned long)o->end_ns);
		assert_string_equal(o->operation, w[i].op);
		assert_string_equal(o->collection, w[i].table);
		assert_string_equal(o->error_type, w[i].err);
		assert_int_equal(o->start_ns, w[i].start);
		assert_int_equal(o->end_ns, w[i].end);
	}
}

/* Whole reads, one byte per read, and every read cut at every byte: same operations. The
 * connection of the whole run is returned for its stats. */
static struct pg_conn *check_all(const struct want *w, int n)
{
	static struct got g;
	struct pg_conn *c;

	c = run(BYTEWISE, 0, 0, &g);
	check(&g, w, n, "bytewise");
	pg_conn_free(c);
	for (int i = 0; i < S.n; i++) {
		for (size_t k = 1; k < S.t[i].cap; k++) {
			c = run(CUT, i, k, &g);
			check(&g, w, n, "cut");
			pg_conn_free(c);
		}
	}
	c = run(WHOLE, 0, 0, &g);
	check(&g, w, n, "whole");
	return c;
}

static struct pg_conn *check_whole(const struct want *w, int n)
{
	static struct got g;
	struct pg_conn *c = run(WHOLE, 0, 0, &g);

	check(&g, w, n, "whole");
	return c;
}

static void startup(void)
{
	s_reset();
	fe_startup();
	turn(PG_FRONTEND, 1);
	be_startup();
	turn(PG_BACKEND, 2);
}

#endif /* SONDE_TEST_PG_CONV_H */
