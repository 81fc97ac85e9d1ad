// SPDX-License-Identifier: GPL-2.0-only
/*
 * The framers under hostile input, as tests/integration/test_hostile.py sends it to real
 * servers, answered the way PostgreSQL 15 and Redis 7 answer it: binary garbage after the
 * startup, a Query whose length promises more than comes, a Query of absurd length; a RESP
 * array missing an element, a bulk length Redis refuses; an HTTP request-line cut short.
 * No operation may come of them, and each is counted: a parse error, or a request the
 * close came inside of (stats.incomplete, sonde_requests_incomplete_total).
 */
/* The helpers this file does not use (pg_conv.h serves test_postgres.c too). */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pg_conv.h"
#include "proto/http1.h"
#include "proto/redis.h"

#define OK ""

/* The integration test's garbage: no NUL, no newline, first byte 0x07 (no message type). */
static void garbage(void)
{
	for (int i = 0; i < 256; i++) {
		uint8_t b = (uint8_t)((i * 151 + 7) % 256);

		raw(b == '\n' || b == 0 ? "\x01" : (const char *)&b, 1);
	}
}

/* Garbage after the startup: the backend answers FATAL 08P01 and closes. */
static void test_garbage_after_startup(void **state)
{
	startup();
	garbage();
	turn(PG_FRONTEND, 10);
	FATAL("08P01");
	turn(PG_BACKEND, 11);
	struct pg_conn *c = check_all(NULL, 0);

	/* the server's FATAL answers garbage, no operation: before the fix it was emitted as
	 * an operation "" with error 08P01, as if a request had hidden in a capture gap */
	assert_int_equal(pg_conn_stats(c)->parse_errors, 1);
	assert_int_equal(pg_conn_stats(c)->unsolicited, 2); /* the FATAL, and the end it is */
	pg_close(c);
	assert_int_equal(pg_conn_stats(c)->incomplete, 0);
	pg_conn_free(c);
}

/* A capture gap over a header is not garbage: the answer still counts, unnamed. */
static void test_gap_then_answer(void **state)
{
	static const struct db_want w[] = { { "", "", "42P01", 10, 11 } };

	startup();
	Q("SELECT * FROM missing");
	turn_cap(PG_FRONTEND, 10, 0);
	ER("42P01");
	Z('I');
	turn(PG_BACKEND, 11);
	struct pg_conn *c = check_whole(w, 1);

	assert_int_equal(pg_conn_stats(c)->parse_errors, 1);
	pg_conn_free(c);
}

/* A Query of 2 GiB - 16 bytes: more than the server's limit; it answers FATAL 08P01. */
static void test_absurd_length(void **state)
{
	startup();
	p8('Q');
	p32(0x7ffffff0);
	pstr("SELECT 1");
	turn(PG_FRONTEND, 10);
	FATAL("08P01");
	turn(PG_BACKEND, 11);
	struct pg_conn *c = check_all(NULL, 0);

	assert_int_equal(pg_conn_stats(c)->parse_errors, 1);
	assert_int_equal(pg_conn_stats(c)->unsolicited, 2); /* the FATAL, and the end it is */
	pg_conn_free(c);
}

/* A Query promising 1000 bytes, 30 sent, then the client closes: no answer. */
static void test_truncated_query(void **state)
{
	startup();
	p8('Q');
	p32(1000);
	raw("SELECT 'never finished' -- ..", 30);
	turn(PG_FRONTEND, 10);
	struct pg_conn *c = check_all(NULL, 0);

	assert_int_equal(pg_conn_stats(c)->parse_errors, 0);
	assert_int_equal(pg_conn_stats(c)->incomplete, 0);
	pg_close(c);
	assert_int_equal(pg_conn_stats(c)->incomplete, 1);
	pg_conn_free(c);

	/* a whole Query, answered, then the close: nothing incomplete */
	startup();
	Q("SELECT 1");
	turn(PG_FRONTEND, 10);
	CC("SELECT 1");
	Z('I');
	turn(PG_BACKEND, 11);
	c = check_whole((const struct db_want[]){ { "SELECT", "", OK, 10, 11 } }, 1);
	pg_close(c);
	assert_int_equal(pg_conn_stats(c)->incomplete, 0);
	pg_conn_free(c);
}

static int redis_ops;

static void count_op(void *ctx, const struct db_op *op)
{
	redis_ops++;
}

/* Feeds a Redis conversation: requests, then replies; returns the closed connection. */
static struct redis_conn *redis_run(const char *req, size_t req_len, const char *rep)
{
	struct redis_conn *c = redis_conn_new();

	assert_non_null(c);
	redis_ops = 0;
	assert_int_equal(redis_feed(c, REDIS_REQUESTS, 10, (const uint8_t *)req, req_len, req_len,
				    count_op, NULL),
			 0);
	if (rep)
		assert_int_equal(redis_feed(c, REDIS_REPLIES, 11, (const uint8_t *)rep, strlen(rep),
					    strlen(rep), count_op, NULL),
				 0);
	redis_close(c);
	return c;
}

/* PING, then an array missing its value (close); PING, then a bulk of 2 GiB, which Redis
 * refuses with a protocol error (and closes): one PING each, one incomplete command. */
static void test_redis_incomplete(void **state)
{
	static const char trunc[] = "*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n";
	static const char absurd[] = "*1\r\n$4\r\nPING\r\n*1\r\n$2147483648\r\n";
	static const char whole[] = "*1\r\n$4\r\nPING\r\n";
	struct redis_conn *c;

	c = redis_run(trunc, sizeof(trunc) - 1, "+PONG\r\n");
	assert_int_equal(redis_ops, 1);
	assert_int_equal(redis_conn_stats(c)->incomplete, 1);
	redis_conn_free(c);
	c = redis_run(absurd, sizeof(absurd) - 1,
		      "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
	assert_int_equal(redis_ops, 1);
	assert_int_equal(redis_conn_stats(c)->incomplete, 1);
	assert_int_equal(redis_conn_stats(c)->unsolicited, 1);
	redis_conn_free(c);
	c = redis_run(whole, sizeof(whole) - 1, "+PONG\r\n");
	assert_int_equal(redis_conn_stats(c)->incomplete, 0);
	redis_conn_free(c);
}

static int http_exchanges;

static void count_exchange(void *ctx, const struct http1_exchange *ex)
{
	http_exchanges++;
}

/* A server's connection closed inside a request-line: an incomplete request, no exchange;
 * inside the headers, the request is queued and emitted (499): not incomplete. */
static void test_http_request_line_cut(void **state)
{
	static const char *const cases[] = { "GET /api/v1/ord", "GET /a HTTP/1.1\r\nHost: x" };

	for (int i = 0; i < 2; i++) {
		struct http1_conn *c = http1_conn_new();

		assert_non_null(c);
		http_exchanges = 0;
		assert_int_equal(http1_assume_start(c, HTTP1_REQUESTS), 0);
		assert_int_equal(http1_feed(c, HTTP1_REQUESTS, 10, (const uint8_t *)cases[i],
					    strlen(cases[i]), strlen(cases[i]), count_exchange,
					    NULL),
				 0);
		http1_close_server(c, 11, count_exchange, NULL);
		assert_int_equal(http1_conn_stats(c)->incomplete, i == 0);
		assert_int_equal(http_exchanges, i == 1);
		http1_conn_free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_garbage_after_startup),
		cmocka_unit_test(test_gap_then_answer),
		cmocka_unit_test(test_absurd_length),
		cmocka_unit_test(test_truncated_query),
		cmocka_unit_test(test_redis_incomplete),
		cmocka_unit_test(test_http_request_line_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
