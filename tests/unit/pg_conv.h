/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Test helper for test_postgres.c: builds PostgreSQL protocol 3 conversations by hand (one
 * function per message type) and replays them through replay.h: whole, one byte per read,
 * and cut at every byte, checking the operations emitted. Header-only: one includer.
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
#include "replay.h"

/* ---- messages ---------------------------------------------------------------------------- */

static void p8(uint8_t v)
{
	raw(&v, 1);
}

static void p16(uint16_t v)
{
	uint8_t b[2] = { v >> 8, v & 0xff };

	raw(b, 2);
}

static void p32(uint32_t v)
{
	uint8_t b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };

	raw(b, 4);
}

static void pstr(const char *s)
{
	raw(s, strlen(s) + 1);
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
		raw(value, vlen);
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
		raw(value, vlen);
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

	raw(row, strlen(row));
	mclose(l);
}

/* ---- running ------------------------------------------------------------------------------ */

static void *conn_new(void)
{
	return pg_conn_new();
}

static int conn_feed(void *c, int dir, uint64_t ts, const uint8_t *data, size_t cap, size_t len,
		     db_emit_fn emit, void *ctx)
{
	return pg_feed(c, (enum pg_stream)dir, ts, data, cap, len, emit, ctx);
}

static void conn_free(void *c)
{
	pg_conn_free(c);
}

static const struct replay_db pg_db = { conn_new, conn_feed, conn_free };

/* Whole reads, one byte per read, and every read cut at every byte: same operations. The
 * connection of the whole run is returned for its stats. */
static struct pg_conn *check_all(const struct db_want *w, int n)
{
	return replay_db_all(&pg_db, w, n);
}

static struct pg_conn *check_whole(const struct db_want *w, int n)
{
	return replay_db_whole(&pg_db, w, n);
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
