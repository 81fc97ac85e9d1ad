// SPDX-License-Identifier: GPL-2.0-only
/*
 * The framers under hostile input, as tests/integration/test_hostile.py sends it to real
 * servers, answered the way PostgreSQL 15 answers it: binary garbage after the startup, a
 * Query of absurd length. No operation may come of them, and each is a parse error.
 */
/* The helpers this file does not use (pg_conv.h serves test_postgres.c too). */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pg_conv.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_garbage_after_startup),
		cmocka_unit_test(test_gap_then_answer),
		cmocka_unit_test(test_absurd_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
