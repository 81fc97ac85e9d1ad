// SPDX-License-Identifier: GPL-2.0-only
/*
 * redis.c / redis_reply.c: client-side pairing of RESP2/RESP3 commands and replies.
 * Conversations without capture gaps are also fed one byte per read and cut in two at
 * every byte of every read: the operations must not change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto/redis.h"
#include "replay.h"

#define RQ REDIS_REQUESTS
#define RP REDIS_REPLIES
#define OK ""

/* ---- conversations ---------------------------------------------------------------------- */

/* A command as RESP array of bulk strings: words separated by single blanks. */
static void cmd(const char *words)
{
	char buf[64];
	const char *w[8];
	size_t wl[8];
	int n = 0;

	for (const char *p = words; *p; n++) {
		const char *e = strchr(p, ' ');

		w[n] = p;
		wl[n] = e ? (size_t)(e - p) : strlen(p);
		p = e ? e + 1 : p + wl[n];
	}
	snprintf(buf, sizeof(buf), "*%d\r\n", n);
	str(buf);
	for (int i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "$%zu\r\n", wl[i]);
		str(buf);
		raw(w[i], wl[i]);
		str("\r\n");
	}
}

static void *conn_new(void)
{
	return redis_conn_new();
}

static int conn_feed(void *c, int dir, uint64_t ts, const uint8_t *data, size_t cap, size_t len,
		     db_emit_fn emit, void *ctx)
{
	return redis_feed(c, (enum redis_stream)dir, ts, data, cap, len, emit, ctx);
}

static void conn_free(void *c)
{
	redis_conn_free(c);
}

static const struct replay_db redis_db = { conn_new, conn_feed, conn_free };

/* Whole reads, one byte per read, and every read cut at every byte: same operations. The
 * connection of the whole run is returned for its stats. */
static struct redis_conn *check_all(const struct db_want *w, int n)
{
	return replay_db_all(&redis_db, w, n);
}

static struct redis_conn *check_whole(const struct db_want *w, int n)
{
	return replay_db_whole(&redis_db, w, n);
}

/* ---- cases ------------------------------------------------------------------------------ */

static void test_get_set(void **state)
{
	static const struct db_want w[] = {
		{ "SET", "", OK, 10, 11 },
		{ "GET", "", OK, 12, 13 },
		{ "GET", "", OK, 14, 16 },
	};

	s_reset();
	cmd("SET key value");
	turn(RQ, 10);
	str("+OK\r\n");
	turn(RP, 11);
	cmd("get key");
	turn(RQ, 12);
	str("$5\r\nvalue\r\n");
	turn(RP, 13);
	cmd("GET missing");
	turn(RQ, 14);
	str("$-");
	turn(RP, 15);
	str("1\r\n");
	turn(RP, 16);
	struct redis_conn *c = check_all(w, 3);
	const struct redis_stats *st = redis_conn_stats(c);

	assert_int_equal(st->commands, 3);
	assert_int_equal(st->replies, 3);
	assert_int_equal(st->parse_errors, 0);
	redis_conn_free(c);
}

/* 16 commands in one write; replies in three reads cut inside replies 6 and 13. */
static void test_pipeline_16(void **state)
{
	struct db_want w[16];
	char buf[16];

	s_reset();
	for (int i = 0; i < 16; i++)
		cmd("INCR counter");
	turn(RQ, 20);
	for (int i = 1; i <= 16; i++) {
		snprintf(buf, sizeof(buf), ":%d\r\n", i);
		if (i == 6 || i == 13) {
			raw(buf, 2);
			turn(RP, i == 6 ? 21 : 22);
			str(buf + 2);
		} else {
			str(buf);
		}
		w[i - 1] = (struct db_want){ "INCR", "", OK, 20, i < 6 ? 21 : i < 13 ? 22 : 23 };
	}
	turn(RP, 23);
	redis_conn_free(check_all(w, 16));
}

/* 40 mixed commands, the 17th answered by WRONGTYPE; replies in one read. */
static void test_pipeline_40_wrongtype(void **state)
{
	static const char *const cmds[] = { "SET k v", "GET k", "LPUSH l a", "HGET h f" };
	static const char *const names[] = { "SET", "GET", "LPUSH", "HGET" };
	static const char *const replies[] = { "+OK\r\n", "$1\r\nv\r\n", ":3\r\n", "$-1\r\n" };
	struct db_want w[40];

	s_reset();
	for (int i = 0; i < 40; i++)
		cmd(i == 16 ? "LPUSH k x" : cmds[i % 4]);
	turn(RQ, 30);
	for (int i = 0; i < 40; i++) {
		if (i == 16)
			str("-WRONGTYPE Operation against a key holding the wrong kind of "
			    "value\r\n");
		else
			str(replies[i % 4]);
		w[i] = (struct db_want){ i == 16 ? "LPUSH" : names[i % 4], "",
					 i == 16 ? "WRONGTYPE" : OK, 30, 31 };
	}
	turn(RP, 31);
	redis_conn_free(check_all(w, 40));
}

/* RESP3: HELLO's map, an attribute before a reply (top level and nested), pushes between
 * replies, sets, maps, every scalar type, blob errors, streamed string and aggregate. */
static void test_resp3(void **state)
{
	static const struct db_want w[] = {
		{ "HELLO", "", OK, 1, 2 },	{ "GET", "", OK, 3, 4 },
		{ "SMEMBERS", "", OK, 3, 4 },	{ "HGETALL", "", OK, 3, 4 },
		{ "LRANGE", "", OK, 3, 5 },	{ "EXISTS", "", OK, 3, 5 },
		{ "GET", "", OK, 3, 5 },	{ "INCRBYFLOAT", "", OK, 3, 5 },
		{ "DEBUG", "", OK, 3, 5 },	{ "LOLWUT", "", OK, 3, 5 },
		{ "XADD", "", "SYNTAX", 3, 5 }, { "GETRANGE", "", OK, 3, 5 },
		{ "SCAN", "", OK, 3, 5 },	{ "PING", "", OK, 7, 8 },
	};

	s_reset();
	cmd("HELLO 3");
	turn(RQ, 1);
	str("%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n");
	turn(RP, 2);
	cmd("GET k"), cmd("SMEMBERS s"), cmd("HGETALL h"), cmd("LRANGE l 0 -1"), cmd("EXISTS k");
	cmd("GET nil"), cmd("INCRBYFLOAT f 1.5"), cmd("DEBUG BIGNUM"), cmd("LOLWUT");
	cmd("XADD x"), cmd("GETRANGE s 0 10"), cmd("SCAN 0");
	turn(RQ, 3);
	str("|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.19\r\n$1\r\nb\r\n,0.01\r\n");
	str("$5\r\nvalue\r\n");
	str(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
	str("~2\r\n+a\r\n+b\r\n");
	str("%1\r\n+f\r\n:1\r\n");
	turn(RP, 4);
	str("*2\r\n|1\r\n+ttl\r\n:7\r\n:1\r\n:2\r\n");
	str("#t\r\n");
	str("_\r\n");
	str(",3.14\r\n");
	str("(3492890328409238509324850943850943825024385\r\n");
	str("=15\r\ntxt:Some string\r\n");
	str("!21\r\nSYNTAX invalid syntax\r\n");
	str("$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;0\r\n");
	str("*?\r\n:1\r\n*?\r\n.\r\n%?\r\n+a\r\n:1\r\n.\r\n.\r\n");
	turn(RP, 5);
	cmd("SUBSCRIBE news");
	turn(RQ, 6);
	str(">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
	str(">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
	turn(RP, 6);
	cmd("PING");
	turn(RQ, 7);
	str(">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nho\r\n+PONG\r\n");
	turn(RP, 8);
	struct redis_conn *c = check_all(w, 14);
	const struct redis_stats *st = redis_conn_stats(c);

	assert_int_equal(st->pushes, 4);
	assert_int_equal(st->attributes, 2);
	assert_int_equal(st->unsolicited, 0);
	assert_int_equal(st->stopped, 0);
	redis_conn_free(c);
}

static void test_nested_arrays(void **state)
{
	static const struct db_want w[] = {
		{ "MULTI", "", OK, 1, 2 }, { "SET", "", OK, 1, 2 },  { "LRANGE", "", OK, 1, 2 },
		{ "EXEC", "", OK, 1, 3 },  { "EVAL", "", OK, 4, 5 },
	};

	s_reset();
	cmd("MULTI"), cmd("SET a 1"), cmd("LRANGE l 0 -1"), cmd("EXEC");
	turn(RQ, 1);
	str("+OK\r\n+QUEUED\r\n+QUEUED\r\n");
	turn(RP, 2);
	str("*2\r\n+OK\r\n*3\r\n$1\r\na\r\n*1\r\n*1\r\n:5\r\n$-1\r\n");
	turn(RP, 3);
	cmd("EVAL x 0");
	turn(RQ, 4);
	for (int i = 0; i < 32; i++)
		str("*1\r\n");
	str("*0\r\n");
	turn(RP, 5);
	redis_conn_free(check_all(w, 5));
}

static void test_too_deep(void **state)
{
	s_reset();
	cmd("EVAL x 0");
	turn(RQ, 1);
	for (int i = 0; i < 33; i++)
		str("*1\r\n");
	str(":1\r\n");
	turn(RP, 2);
	struct redis_conn *c = check_whole(NULL, 0);

	assert_int_equal(redis_conn_stats(c)->parse_errors, 1);
	redis_conn_free(c);
}

/* A 100 kB value read at once, 4096 bytes captured: skipped by length, framing kept. */
static void test_large_bulk_gap(void **state)
{
	static const struct db_want w[] = {
		{ "GET", "", OK, 1, 2 },
		{ "GET", "", OK, 3, 4 },
	};

	s_reset();
	cmd("GET big");
	turn(RQ, 1);
	str("$100000\r\n");
	S.cur += 100000;
	str("\r\n");
	turn_cap(RP, 2, 4096);
	cmd("GET small");
	turn(RQ, 3);
	str("$1\r\nx\r\n");
	turn(RP, 4);
	struct redis_conn *c = check_all(w, 2);

	assert_int_equal(redis_conn_stats(c)->parse_errors, 0);
	redis_conn_free(c);
}

static void test_inline(void **state)
{
	static const struct db_want w[] = {
		{ "PING", "", OK, 1, 2 },
		{ "SET", "", OK, 3, 4 },
	};

	s_reset();
	str("PING\r\n");
	turn(RQ, 1);
	str("+PONG\r\n");
	turn(RP, 2);
	str("\r\nset  k v\r\n");
	turn(RQ, 3);
	str("+OK\r\n");
	turn(RP, 4);
	redis_conn_free(check_all(w, 2));
}

/* RESP2 SUBSCRIBE: its first confirmation is its reply; messages are arrays like replies,
 * so pairing stops. MONITOR likewise. */
static void test_subscribe_and_monitor_stop(void **state)
{
	static const struct db_want w[] = {
		{ "GET", "", OK, 1, 2 },
		{ "SUBSCRIBE", "", OK, 1, 2 },
	};

	s_reset();
	cmd("GET a"), cmd("SUBSCRIBE news weather");
	turn(RQ, 1);
	str("$-1\r\n*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
	str("*3\r\n$9\r\nsubscribe\r\n$7\r\nweather\r\n:2\r\n");
	turn(RP, 2);
	cmd("PING");
	turn(RQ, 3);
	str("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n");
	turn(RP, 4);
	struct redis_conn *c = check_all(w, 2);

	assert_int_equal(redis_conn_stats(c)->stopped, 1);
	redis_conn_free(c);

	static const struct db_want m[] = { { "MONITOR", "", OK, 1, 2 } };

	s_reset();
	cmd("MONITOR");
	turn(RQ, 1);
	str("+OK\r\n+1700000000.1 [0 127.0.0.1:5] \"GET\" \"a\"\r\n");
	turn(RP, 2);
	redis_conn_free(check_all(m, 1));
}

/* Commands framed whole in one pass (a whole command in one read) and byte by byte (the
 * same bytes cut anywhere) must agree, on the forms the one-pass framer leaves to the byte
 * path too: an empty array, a 10-digit length, a name longer than a label keeps, and the
 * arguments only CLIENT REPLY needs (OFF: nothing is answered from there on). */
static void test_whole_and_split_commands_agree(void **state)
{
	static const struct db_want w[] = {
		{ "GET", "", OK, 1, 2 },       { "SET", "", OK, 1, 2 }, { "APPEND", "", OK, 1, 2 },
		{ "_OTHER", "", "ERR", 1, 2 }, { "GET", "", OK, 3, 4 },
	};

	s_reset();
	cmd("get a"), str("*0\r\n"), cmd("SET b c");
	str("*2\r\n$6\r\nappend\r\n$0000000001\r\nx\r\n");
	cmd("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGH k");
	turn(RQ, 1);
	str("$-1\r\n+OK\r\n:1\r\n-ERR unknown command\r\n");
	turn(RP, 2);
	cmd("GET z"), cmd("client reply off"), cmd("SET x y");
	turn(RQ, 3);
	str("$1\r\nq\r\n");
	turn(RP, 4);
	struct redis_conn *c = check_all(w, 5);

	assert_int_equal(redis_conn_stats(c)->commands, 7);
	assert_int_equal(redis_conn_stats(c)->stopped, 1);
	assert_int_equal(redis_conn_stats(c)->parse_errors, 0);
	redis_conn_free(c);
}

/* Labels stay valid and few: free-text errors and junk command names become _OTHER. */
static void test_odd_names(void **state)
{
	static const struct db_want w[] = {
		{ "FT.SEARCH", "", "_OTHER", 1, 2 },
		{ "_OTHER", "", "ERR", 1, 2 },
		{ "JSON.GET", "", "NOSCRIPT", 1, 2 },
	};

	s_reset();
	cmd("ft.search idx q"), cmd("\x01\xff"), cmd("JSON.GET k");
	turn(RQ, 1);
	str("-Unknown Index name\r\n-ERR unknown command\r\n-NOSCRIPT No matching script\r\n");
	turn(RP, 2);
	redis_conn_free(check_all(w, 3));
}

static void test_unsolicited(void **state)
{
	s_reset();
	str("+OK\r\n");
	turn(RP, 1);
	struct redis_conn *c = check_all(NULL, 0);

	assert_int_equal(redis_conn_stats(c)->unsolicited, 1);
	redis_conn_free(c);
}

/* 16 SETs of 1000-byte values in one write, 4096 bytes captured: commands after the gap
 * are unknown; their replies are still operations (unnamed), from the lost write. */
static void test_request_gap_over_headers(void **state)
{
	char value[1000];
	char buf[1100];
	struct db_want w[17];
	size_t first_len = 0;

	memset(value, 'v', sizeof(value));
	s_reset();
	for (int i = 0; i < 16; i++) {
		snprintf(buf, sizeof(buf), "*3\r\n$3\r\nSET\r\n$2\r\nk%x\r\n$1000\r\n", i);
		str(buf);
		raw(value, sizeof(value));
		str("\r\n");
		if (i == 0)
			first_len = S.cur;
	}
	turn_cap(RQ, 10, 4096);
	for (int i = 0; i < 16; i++)
		str("+OK\r\n");
	turn(RP, 11);
	cmd("GET k1");
	turn(RQ, 12);
	str("$-1\r\n");
	turn(RP, 13);
	/* Commands 1-3 were read whole; the 4th's name was read before the gap hit. */
	assert_int_equal(4096 / first_len, 3);
	for (int i = 0; i < 16; i++)
		w[i] = (struct db_want){ i < 4 ? "SET" : "", "", OK, 10, 11 };
	w[16] = (struct db_want){ "GET", "", OK, 12, 13 };
	struct redis_conn *c = check_whole(w, 17);
	const struct redis_stats *st = redis_conn_stats(c);

	assert_int_equal(st->parse_errors, 1);
	assert_int_equal(st->unnamed_ops, 12);
	assert_int_equal(st->gap_resyncs, 1);
	redis_conn_free(c);
}

/* A 1000-element reply read at once, 4096 bytes captured: the gap covers element headers.
 * The next command proves the reply was read: LRANGE ends at that read. */
static void test_reply_gap_over_headers(void **state)
{
	static const struct db_want w[] = {
		{ "LRANGE", "", OK, 10, 11 },
		{ "GET", "", OK, 20, 21 },
	};

	s_reset();
	cmd("LRANGE l 0 -1");
	turn(RQ, 10);
	str("*1000\r\n");
	for (int i = 0; i < 1000; i++)
		str("$5\r\nvalue\r\n");
	turn_cap(RP, 11, 4096);
	cmd("GET k");
	turn(RQ, 20);
	str("$1\r\nx\r\n");
	turn(RP, 21);
	struct redis_conn *c = check_whole(w, 2);
	const struct redis_stats *st = redis_conn_stats(c);

	assert_int_equal(st->parse_errors, 1);
	assert_int_equal(st->inferred_ends, 1);
	assert_int_equal(st->gap_resyncs, 1);
	redis_conn_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_set),
		cmocka_unit_test(test_pipeline_16),
		cmocka_unit_test(test_pipeline_40_wrongtype),
		cmocka_unit_test(test_resp3),
		cmocka_unit_test(test_nested_arrays),
		cmocka_unit_test(test_too_deep),
		cmocka_unit_test(test_large_bulk_gap),
		cmocka_unit_test(test_inline),
		cmocka_unit_test(test_subscribe_and_monitor_stop),
		cmocka_unit_test(test_whole_and_split_commands_agree),
		cmocka_unit_test(test_odd_names),
		cmocka_unit_test(test_unsolicited),
		cmocka_unit_test(test_request_gap_over_headers),
		cmocka_unit_test(test_reply_gap_over_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
