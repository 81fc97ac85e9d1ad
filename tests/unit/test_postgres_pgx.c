// SPDX-License-Identifier: GPL-2.0-only
/*
 * postgres.c with a pgx v4 pool whose connections prepare a named statement when they
 * connect (AfterConnect), then run it as "INSERT ... RETURNING", which a CHECK constraint
 * rejects now and then (SQLSTATE 23514): the case of issue 15. A connection seen from its
 * StartupMessage names every operation from the Parse, however its bytes are split. One
 * that existed before sonde saw the process (pgxpool opens its first connection before
 * the service listens: a port= rule selects it later) never shows the Parse: a failure
 * carries no CommandComplete tag, so the statement's name is learned from its first
 * success and kept for the failures after it.
 */
#include <stdbool.h>

/* pg_conv.h defines a builder per message type; these tests use a few of them. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pg_conv.h"

#define FE PG_FRONTEND
#define BE PG_BACKEND
#define OK ""

static const char insert_sql[] = "INSERT INTO orders (qty) VALUES ($1) RETURNING id";

/* pgx's Prepare: Parse + Describe statement + Sync, answered by ParseComplete,
 * ParameterDescription, RowDescription, ReadyForQuery. */
static void prepare(uint64_t ts)
{
	P("insert_order", insert_sql), D('S', "insert_order"), S_();
	turn(FE, ts);
	empty('1'), PD(1), T(1), Z('I');
	turn(BE, ts + 1);
}

/* pgx's ExecPrepared: Bind + Describe portal + Execute + Sync in one write; the answer
 * is BindComplete, RowDescription, then the row and its tag, or the error. */
static void insert(uint64_t ts, bool fails)
{
	B("", "insert_order"), D('P', ""), E("", 0), S_();
	turn(FE, ts);
	empty('2'), T(1);
	if (fails) {
		ER("23514");
	} else {
		DR("17");
		CC("INSERT 0 1");
	}
	Z('I');
	turn(BE, ts + 1);
}

static void test_pool_conn_seen_from_start(void **state)
{
	static const struct db_want w[] = {
		{ "PREPARE", "", OK, 10, 11 },		 { "INSERT", "orders", OK, 12, 13 },
		{ "INSERT", "orders", "23514", 14, 15 }, { "INSERT", "orders", "23514", 16, 17 },
		{ "INSERT", "orders", OK, 18, 19 },
	};

	startup();
	prepare(10);
	insert(12, false);
	insert(14, true);
	insert(16, true);
	insert(18, false);
	pg_conn_free(check_all(w, 5));
}

/* A connection older than sonde: the first failure has no name to be had (its statement's
 * text was never seen, an ErrorResponse has no tag); the first success names the statement,
 * and the failures after it are named. A Parse seen later wins over a learned name. */
static void test_pool_conn_older_than_sonde(void **state)
{
	static const struct db_want w[] = {
		{ "", "", "23514", 10, 11 },	   { "INSERT", "", OK, 12, 13 },
		{ "INSERT", "", "23514", 14, 15 }, { "INSERT", "", OK, 16, 17 },
		{ "PREPARE", "", OK, 20, 21 },	   { "SELECT", "t", OK, 22, 23 },
	};

	s_reset();
	insert(10, true);
	insert(12, false);
	insert(14, true);
	insert(16, false);
	Cl('S', "insert_order"), S_();
	turn(FE, 18);
	empty('3'), Z('I');
	turn(BE, 19);
	P("insert_order", "SELECT k FROM t"), D('S', "insert_order"), S_();
	turn(FE, 20);
	empty('1'), PD(1), T(1), Z('I');
	turn(BE, 21);
	B("", "insert_order"), D('P', ""), E("", 0), S_();
	turn(FE, 22);
	empty('2'), T(1), DR("1"), CC("SELECT 1"), Z('I');
	turn(BE, 23);
	struct pg_conn *c = check_whole(w, 6);

	assert_int_equal(pg_conn_stats(c)->names_learned, 1);
	assert_int_equal(pg_conn_stats(c)->parse_errors, 0);
	pg_conn_free(c);
}

/* A portal bound before its statement was learned takes the name at its next Execute. */
static void test_portal_bound_before_learning(void **state)
{
	static const struct db_want w[] = {
		{ "UPDATE", "", OK, 10, 11 },
		{ "UPDATE", "", "23514", 12, 13 },
	};

	s_reset();
	B("cur", "upd"), E("cur", 0), S_();
	turn(FE, 10);
	empty('2'), CC("UPDATE 1"), Z('T');
	turn(BE, 11);
	E("cur", 0), S_();
	turn(FE, 12);
	ER("23514"), Z('E');
	turn(BE, 13);
	pg_conn_free(check_whole(w, 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_conn_seen_from_start),
		cmocka_unit_test(test_pool_conn_older_than_sonde),
		cmocka_unit_test(test_portal_bound_before_learning),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
