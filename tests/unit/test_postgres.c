// SPDX-License-Identifier: GPL-2.0-only
/*
 * postgres.c: client-side framing of hand-built protocol 3 conversations that mimic psql,
 * pgbench (-M simple/extended/prepared, pipelines), pgx and lib/pq. Conversations without
 * capture gaps are also fed one byte per read and cut in two at every byte of every read:
 * the operations must not change.
 */
#include "pg_conv.h"

#define FE PG_FRONTEND
#define BE PG_BACKEND
#define OK ""

static const char *const bench_sql[] = {
	"BEGIN;",
	"UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;",
	"SELECT abalance FROM pgbench_accounts WHERE aid = $1;",
	"UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2;",
	"UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2;",
	"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, "
	"CURRENT_TIMESTAMP);",
	"END;",
};

static const char *const bench_tag[] = { "BEGIN",    "UPDATE 1",   "SELECT 1", "UPDATE 1",
					 "UPDATE 1", "INSERT 0 1", "COMMIT" };

static const struct db_want bench_want[] = {
	{ "BEGIN", "", OK, 10, 11 },
	{ "UPDATE", "pgbench_accounts", OK, 12, 13 },
	{ "SELECT", "pgbench_accounts", OK, 14, 15 },
	{ "UPDATE", "pgbench_tellers", OK, 16, 17 },
	{ "UPDATE", "pgbench_branches", OK, 18, 19 },
	{ "INSERT", "pgbench_history", OK, 20, 21 },
	{ "END", "", OK, 22, 23 },
};

/* The rows (or not) a pgbench statement's Execute answers with, then its tag. */
static void bench_answer(int i)
{
	if (i == 2) {
		DR("-4031");
	}
	CC(bench_tag[i]);
}

static void test_psql_simple_query(void **state)
{
	static const struct db_want w[] = { { "SELECT", "users", OK, 10, 12 } };

	startup();
	Q("SELECT * FROM users");
	turn(FE, 10);
	T(2);
	DR("1");
	NOTICE();
	turn(BE, 11);
	DR("2");
	CC("SELECT 2");
	Z('I');
	turn(BE, 12);
	struct pg_conn *c = check_all(w, 1);
	const struct pg_stats *st = pg_conn_stats(c);

	assert_int_equal(st->ops, 1);
	assert_int_equal(st->messages, 1 + 4 + 1 + 6);
	assert_int_equal(st->parse_errors, 0);
	assert_int_equal(st->unsolicited, 0);
	pg_conn_free(c);
}

static void test_pgbench_simple(void **state)
{
	startup();
	for (int i = 0; i < 7; i++) {
		Q(bench_sql[i]);
		turn(FE, 10 + 2 * i);
		if (i == 2)
			T(1);
		bench_answer(i);
		Z(i == 6 ? 'I' : 'T');
		turn(BE, 11 + 2 * i);
	}
	pg_conn_free(check_all(bench_want, 7));
}

static void test_pgbench_extended(void **state)
{
	startup();
	for (int i = 0; i < 7; i++) {
		P("", bench_sql[i]);
		B("", "");
		D('P', "");
		E("", 0);
		S_();
		turn(FE, 10 + 2 * i);
		empty('1');
		empty('2');
		if (i == 2)
			T(1);
		else
			empty('n');
		bench_answer(i);
		Z('T');
		turn(BE, 11 + 2 * i);
	}
	pg_conn_free(check_all(bench_want, 7));
}

/* -M prepared: the first transaction prepares each statement in its own round trip
 * (Parse P_n + Describe + Sync: PREPARE), then Bind/Describe/Execute/Sync it. */
static void test_pgbench_prepared(void **state)
{
	static const struct db_want w[] = {
		{ "PREPARE", "", OK, 10, 11 },
		{ "UPDATE", "pgbench_accounts", OK, 12, 13 },
		{ "PREPARE", "", OK, 14, 15 },
		{ "SELECT", "pgbench_accounts", OK, 16, 17 },
		{ "UPDATE", "pgbench_accounts", OK, 18, 19 },
		{ "SELECT", "pgbench_accounts", OK, 20, 21 },
	};
	static const char *const name[] = { "P_1", "P_2" };

	startup();
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 2; i++) {
			uint64_t ts = round ? 18 + 2 * i : 10 + 4 * i;

			if (!round) {
				P(name[i], bench_sql[i + 1]);
				D('S', name[i]);
				S_();
				turn(FE, ts);
				empty('1');
				PD(2 - i);
				if (i == 1)
					T(1);
				else
					empty('n');
				Z('T');
				turn(BE, ts + 1);
				ts += 2;
			}
			B("", name[i]);
			D('P', "");
			E("", 0);
			S_();
			turn(FE, ts);
			empty('2');
			if (i == 1)
				T(1);
			else
				empty('n');
			bench_answer(i + 1);
			Z('T');
			turn(BE, ts + 1);
		}
	}
	struct pg_conn *c = check_all(w, 6);

	assert_int_equal(pg_conn_stats(c)->prepare_roundtrips, 2);
	pg_conn_free(c);
}

/* pgx reuses statements prepared before sonde attached: no Parse seen, so the name comes
 * from the CommandComplete tag, and the statement keeps it for its failures (no tag). */
static void test_pgx_cached_statement(void **state)
{
	static const struct db_want w[] = {
		{ "SELECT", "", OK, 10, 11 },
		{ "INSERT", "", OK, 12, 13 },
		{ "INSERT", "", "22P02", 14, 15 },
	};

	startup();
	B("", "stmtcache_0f3a9c");
	D('P', "");
	E("", 0);
	S_();
	turn(FE, 10);
	empty('2');
	T(1);
	DR("7");
	CC("SELECT 1");
	Z('I');
	turn(BE, 11);
	B("", "stmtcache_77aa01");
	E("", 0);
	S_();
	turn(FE, 12);
	empty('2');
	CC("INSERT 0 1");
	Z('I');
	turn(BE, 13);
	B("", "stmtcache_77aa01");
	E("", 0);
	S_();
	turn(FE, 14);
	ER("22P02");
	Z('I');
	turn(BE, 15);
	pg_conn_free(check_all(w, 3));
}

/* lib/pq's parameterised query: Parse+Describe+Sync (PREPARE: it needs the parameter
 * types), then Bind+Execute+Sync on the unnamed statement (the operation). */
static void test_libpq_parameterised(void **state)
{
	static const struct db_want w[] = {
		{ "PREPARE", "", OK, 10, 11 },
		{ "SELECT", "accounts", OK, 12, 13 },
	};

	startup();
	P("", "SELECT name FROM accounts WHERE id = $1");
	D('S', "");
	S_();
	turn(FE, 10);
	empty('1');
	PD(1);
	T(1);
	Z('I');
	turn(BE, 11);
	B("", "");
	E("", 0);
	S_();
	turn(FE, 12);
	empty('2');
	DR("alice");
	CC("SELECT 1");
	Z('I');
	turn(BE, 13);
	pg_conn_free(check_all(w, 2));
}

/* 50 Bind/Execute then one Sync: 50 operations timed from the write to ReadyForQuery. */
static size_t batch50(size_t *exec_end, int n_end)
{
	P("ins", "INSERT INTO items (id) VALUES ($1)");
	D('S', "ins");
	P("sel", "SELECT id FROM items WHERE id = $1");
	D('S', "sel");
	S_();
	turn(FE, 10);
	empty('1'), PD(1), empty('n'), empty('1'), PD(1), T(1), Z('I');
	turn(BE, 11);
	for (int i = 0; i < 50; i++) {
		B("", i % 2 ? "sel" : "ins");
		E("", 0);
		if (i < n_end)
			exec_end[i] = S.cur;
	}
	S_();
	return S.cur;
}

static void batch50_answers(void)
{
	for (int i = 0; i < 50; i++) {
		if (i == 25)
			turn(BE, 21);
		empty('2');
		if (i % 2) {
			DR("3");
			CC("SELECT 1");
		} else {
			CC("INSERT 0 1");
		}
	}
	Z('I');
	turn(BE, 22);
}

static void test_batch_50(void **state)
{
	struct db_want w[51] = { { "PREPARE", "", OK, 10, 11 } };

	startup();
	batch50(NULL, 0);
	turn(FE, 20);
	batch50_answers();
	for (int i = 0; i < 50; i++)
		w[i + 1] = (struct db_want){ i % 2 ? "SELECT" : "INSERT", "items", OK, 20, 22 };
	pg_conn_free(check_all(w, 51));
}

/* The same batch written in one write of which only 1024 bytes are captured: the frontend
 * loses its framing after the Executes it saw; the backend's answers still count all 50,
 * named from the tag past the capture; the next write after ReadyForQuery resyncs. */
static void test_batch_50_capture_gap(void **state)
{
	struct db_want w[52] = { { "PREPARE", "", OK, 10, 11 } };
	size_t exec_end[50];
	int seen = 0;

	startup();
	batch50(exec_end, 50);
	turn_cap(FE, 20, 1024);
	batch50_answers();
	Q("SELECT 1 FROM items");
	turn(FE, 30);
	T(1), DR("1"), CC("SELECT 1"), Z('I');
	turn(BE, 31);
	while (seen < 50 && exec_end[seen] <= 1024)
		seen++;
	assert_true(seen > 5 && seen < 50);
	for (int i = 0; i < 50; i++)
		w[i + 1] = (struct db_want){ i % 2 ? "SELECT" : "INSERT", i < seen ? "items" : "",
					     OK, 20, 22 };
	w[51] = (struct db_want){ "SELECT", "items", OK, 30, 31 };
	struct pg_conn *c = check_whole(w, 52);
	const struct pg_stats *st = pg_conn_stats(c);

	assert_int_equal(st->parse_errors, 1);
	assert_int_equal(st->gap_resyncs, 1);
	assert_int_equal(st->early_emits, 0);
	pg_conn_free(c);
}

/* Statement 3 of 5 fails: 1 and 2 ok, 3 carries the SQLSTATE, 4 and 5 were skipped. */
static void test_error_mid_batch(void **state)
{
	static const struct db_want w[] = {
		{ "INSERT", "t1", OK, 10, 11 },
		{ "INSERT", "t2", OK, 10, 11 },
		{ "INSERT", "t3", "23505", 10, 11 },
		{ "SELECT", "t6", OK, 12, 13 },
	};
	char sql[64];

	startup();
	for (int i = 1; i <= 5; i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO t%d VALUES ($1)", i);
		P("", sql);
		B("", "");
		D('P', "");
		E("", 0);
	}
	S_();
	turn(FE, 10);
	for (int i = 1; i <= 2; i++)
		empty('1'), empty('2'), empty('n'), CC("INSERT 0 1");
	empty('1'), empty('2'), empty('n'), ER("23505"), Z('I');
	turn(BE, 11);
	P("", "SELECT * FROM t6"), B("", ""), E("", 0), S_();
	turn(FE, 12);
	empty('1'), empty('2'), CC("SELECT 0"), Z('I');
	turn(BE, 13);
	struct pg_conn *c = check_all(w, 4);

	assert_int_equal(pg_conn_stats(c)->skipped_after_error, 2);
	pg_conn_free(c);
}

static void test_multi_statement_query_error(void **state)
{
	static const struct db_want w[] = {
		{ "BEGIN", "", OK, 10, 11 },	    { "INSERT", "t", OK, 10, 11 },
		{ "INSERT", "t", "23505", 10, 11 }, { "ROLLBACK", "", OK, 12, 13 },
		{ "SELECT", "a", OK, 14, 15 },	    { "SELECT", "b", OK, 14, 15 },
	};

	startup();
	Q("BEGIN; INSERT INTO t VALUES (1);\n-- dup;\nINSERT INTO t VALUES (1); COMMIT");
	turn(FE, 10);
	CC("BEGIN"), CC("INSERT 0 1"), ER("23505"), Z('E');
	turn(BE, 11);
	Q("ROLLBACK");
	turn(FE, 12);
	CC("ROLLBACK"), Z('I');
	turn(BE, 13);
	Q("select x from a; select ';' from b;");
	turn(FE, 14);
	T(1), DR("1"), CC("SELECT 1"), T(1), DR(";"), CC("SELECT 1"), Z('I');
	turn(BE, 15);
	struct pg_conn *c = check_all(w, 6);

	assert_int_equal(pg_conn_stats(c)->skipped_after_error, 1);
	pg_conn_free(c);
}

/* Two Syncs in one write before any answer, a third batch in another write. */
static void test_pipeline(void **state)
{
	static const struct db_want w[] = {
		{ "SELECT", "a", OK, 10, 12 },
		{ "UPDATE", "b", OK, 10, 13 },
		{ "SHOW", "", OK, 11, 13 },
	};

	startup();
	P("", "SELECT 1 FROM a"), B("", ""), E("", 0), S_();
	P("", "UPDATE b SET x = 1"), B("", ""), E("", 0), S_();
	turn(FE, 10);
	Q("SHOW work_mem");
	turn(FE, 11);
	empty('1'), empty('2'), DR("1"), CC("SELECT 1"), Z('I');
	turn(BE, 12);
	empty('1'), empty('2'), CC("UPDATE 1"), Z('I');
	PSTATUS(), NOTIFY(), T(1), DR("4MB"), CC("SHOW"), Z('I');
	turn(BE, 13);
	pg_conn_free(check_all(w, 3));
}

static void test_ssl_refused_then_startup(void **state)
{
	static const struct db_want w[] = { { "SELECT", "", OK, 5, 6 } };

	s_reset();
	fe_ssl();
	turn(FE, 1);
	p8('N');
	turn(BE, 2);
	fe_startup();
	turn(FE, 3);
	be_startup();
	turn(BE, 4);
	Q("SELECT now()");
	turn(FE, 5);
	T(1), DR("x"), CC("SELECT 1"), Z('I');
	turn(BE, 6);
	struct pg_conn *c = check_all(w, 1);

	assert_int_equal(pg_conn_stats(c)->tls, 0);
	pg_conn_free(c);
}

static void test_ssl_accepted(void **state)
{
	s_reset();
	fe_ssl();
	turn(FE, 1);
	p8('S');
	turn(BE, 2);
	raw("\x16\x03\x01\x02\x00", 5); /* TLS ClientHello: not parsed */
	turn(FE, 3);
	Q("SELECT 1");
	turn(FE, 4);
	struct pg_conn *c = check_all(NULL, 0);

	assert_int_equal(pg_conn_stats(c)->tls, 1);
	assert_int_equal(pg_conn_stats(c)->parse_errors, 0);
	pg_conn_free(c);
}

/* A 100 kB column read in one read of which 300 bytes are captured: the gap lies inside
 * the DataRow body, skipped by length; framing and counts are unaffected. */
static void test_gap_inside_datarow(void **state)
{
	static const struct db_want w[] = { { "SELECT", "docs", OK, 10, 12 } };

	startup();
	Q("SELECT body FROM docs");
	turn(FE, 10);
	T(1);
	DRv(NULL, 100000);
	turn_cap(BE, 11, 300);
	CC("SELECT 1"), Z('I');
	turn(BE, 12);
	struct pg_conn *c = check_all(w, 1);

	assert_int_equal(pg_conn_stats(c)->parse_errors, 0);
	pg_conn_free(c);
}

/* 200 rows read at once, 200 bytes captured: the gap covers row headers, CommandComplete
 * and ReadyForQuery. The client's next request proves the answer was read: the operation
 * ends at that last read, and the next answer is framed again. */
static void test_gap_over_headers(void **state)
{
	static const struct db_want w[] = {
		{ "SELECT", "docs", OK, 10, 11 },
		{ "SELECT", "x", OK, 20, 21 },
	};

	startup();
	Q("SELECT body FROM docs");
	turn(FE, 10);
	T(1);
	for (int i = 0; i < 200; i++)
		DR("some row value");
	CC("SELECT 200"), Z('I');
	turn_cap(BE, 11, 200);
	Q("SELECT 2 FROM x");
	turn(FE, 20);
	T(1), DR("2"), CC("SELECT 1"), Z('I');
	turn(BE, 21);
	struct pg_conn *c = check_whole(w, 2);
	const struct pg_stats *st = pg_conn_stats(c);

	assert_int_equal(st->parse_errors, 1);
	assert_int_equal(st->gap_resyncs, 1);
	assert_int_equal(st->inferred_ends, 1);
	pg_conn_free(c);
}

/* Lost in the rows; a read starting mid-row is ignored; a read starting with a whole
 * ReadyForQuery resyncs and closes the operation. */
static void test_resync_on_ready(void **state)
{
	static const struct db_want w[] = {
		{ "SELECT", "big", OK, 10, 13 },
		{ "DELETE", "big", OK, 14, 15 },
	};

	startup();
	Q("SELECT * FROM big");
	turn(FE, 10);
	T(1);
	for (int i = 0; i < 100; i++)
		DR("0123456789");
	turn_cap(BE, 11, 100);
	raw("456789\0\0\0\0", 10);
	DR("0123456789"), CC("SELECT 101");
	turn(BE, 12);
	Z('I');
	turn(BE, 13);
	Q("DELETE FROM big");
	turn(FE, 14);
	CC("DELETE 101"), Z('I');
	turn(BE, 15);
	struct pg_conn *c = check_whole(w, 2);

	assert_int_equal(pg_conn_stats(c)->gap_resyncs, 1);
	pg_conn_free(c);
}

static void test_copy_from_stdin(void **state)
{
	static const struct db_want w[] = {
		{ "COPY", "measurements", OK, 10, 13 },
		{ "SELECT", "measurements", OK, 14, 15 },
	};

	startup();
	Q("COPY measurements FROM STDIN");
	turn(FE, 10);
	COPYIN();
	turn(BE, 11);
	COPYDATA("1\t2\n");
	COPYDATA("3\t4\n");
	empty('c');
	turn(FE, 12);
	NOTICE(), CC("COPY 2"), PSTATUS(), Z('I');
	turn(BE, 13);
	Q("SELECT count(*) FROM measurements");
	turn(FE, 14);
	NOTIFY(), T(1), DR("2"), CC("SELECT 1"), Z('I');
	turn(BE, 15);
	pg_conn_free(check_all(w, 2));
}

/* sonde attached to an established connection: the first write is a typed message. */
static void test_attach_mid_connection(void **state)
{
	static const struct db_want w[] = { { "UPDATE", "t", OK, 10, 11 } };

	s_reset();
	DR("tail of an earlier answer"), CC("SELECT 1");
	turn(BE, 5);
	P("", "UPDATE t SET a = $1"), B("", ""), E("", 0), S_();
	turn(FE, 10);
	empty('1'), empty('2'), CC("UPDATE 3"), Z('I');
	turn(BE, 11);
	struct pg_conn *c = check_whole(w, 1);

	assert_int_equal(pg_conn_stats(c)->parse_errors, 0);
	pg_conn_free(c);
}

/* An empty query is answered but is no operation; an Execute with a row limit ends with
 * PortalSuspended (one operation) and the next Execute of the portal is another. */
static void test_empty_query_and_suspended_portal(void **state)
{
	static const struct db_want w[] = {
		{ "SELECT", "big", OK, 12, 15 },
		{ "SELECT", "big", OK, 12, 15 },
	};

	startup();
	Q("");
	turn(FE, 10);
	empty('I'), Z('I');
	turn(BE, 11);
	P("", "SELECT id FROM big"), B("", ""), E("", 2), empty('H');
	turn(FE, 12);
	empty('1'), empty('2'), DR("1"), DR("2"), empty('s');
	turn(BE, 13);
	E("", 0), S_();
	turn(FE, 14);
	DR("3"), CC("SELECT 1"), Z('I');
	turn(BE, 15);
	struct pg_conn *c = check_all(w, 2);

	assert_int_equal(pg_conn_stats(c)->empty_queries, 1);
	pg_conn_free(c);
}

/* A failing Parse round trip is a failed PREPARE; Close+Sync alone is no operation. */
static void test_prepare_error_and_close(void **state)
{
	static const struct db_want w[] = { { "PREPARE", "", "42601", 10, 11 } };

	startup();
	P("s1", "SELEC 1"), D('S', "s1"), S_();
	turn(FE, 10);
	ER("42601"), Z('I');
	turn(BE, 11);
	Cl('S', "s0"), S_();
	turn(FE, 12);
	empty('3'), Z('I');
	turn(BE, 13);
	struct pg_conn *c = check_all(w, 1);

	assert_int_equal(pg_conn_stats(c)->prepare_roundtrips, 1);
	pg_conn_free(c);
}

/* The session is terminated mid-query: FATAL ends the batch, no ReadyForQuery follows;
 * a FATAL authentication failure is no operation. */
static void test_fatal_error(void **state)
{
	static const struct db_want w[] = { { "SELECT", "", "57P01", 10, 11 } };

	startup();
	Q("SELECT pg_sleep(10)");
	turn(FE, 10);
	FATAL("57P01");
	turn(BE, 11);
	struct pg_conn *c = check_all(w, 1);

	pg_close(c);
	assert_int_equal(pg_conn_stats(c)->unanswered, 0);
	pg_conn_free(c);

	s_reset();
	fe_startup();
	turn(FE, 1);
	FATAL("28P01");
	turn(BE, 2);
	c = check_all(NULL, 0);
	assert_int_equal(pg_conn_stats(c)->unsolicited, 0);
	pg_conn_free(c);
}

/* 300 named statements: the cache keeps the 256 most recently used; a Bind to an evicted
 * one is named from the tag (no table). */
static void test_statement_cache_lru(void **state)
{
	static const struct db_want w[] = {
		{ "PREPARE", "", OK, 10, 11 },
		{ "UPDATE", "", OK, 12, 13 },
		{ "UPDATE", "t299", OK, 12, 13 },
	};
	char name[16], sql[64];

	startup();
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		snprintf(sql, sizeof(sql), "UPDATE t%d SET a = 1", i);
		P(name, sql);
	}
	S_();
	turn(FE, 10);
	for (int i = 0; i < 300; i++)
		empty('1');
	Z('I');
	turn(BE, 11);
	B("", "s0"), E("", 0), B("", "s299"), E("", 0), S_();
	turn(FE, 12);
	empty('2'), CC("UPDATE 1"), empty('2'), CC("UPDATE 1"), Z('I');
	turn(BE, 13);
	pg_conn_free(check_whole(w, 3));
}

static void count_ops(void *ctx, const struct db_op *op)
{
	(*(size_t *)ctx)++;
}

/* 9000 Executes before one Sync: past the per-connection record cap the answers are
 * emitted as they come (named from the tag) instead of at ReadyForQuery; none is lost. */
static void test_record_cap(void **state)
{
	struct pg_conn *c = pg_conn_new();
	size_t ops = 0;

	startup();
	for (int i = 0; i < 9000; i++)
		B("", ""), E("", 0);
	S_();
	turn(FE, 10);
	for (int i = 0; i < 9000; i++)
		empty('2'), CC("INSERT 0 1");
	Z('I');
	turn(BE, 11);
	for (size_t i = 0; i < S.n; i++)
		assert_int_equal(pg_feed(c, S.t[i].dir, S.t[i].ts, S.t[i].data, S.t[i].cap,
					 S.t[i].len, count_ops, &ops),
				 0);
	assert_int_equal(ops, 9000);
	assert_int_equal(pg_conn_stats(c)->early_emits, 9000 - 8192);
	assert_int_equal(pg_conn_stats(c)->queue_drops, 9000 - 8192);
	pg_conn_free(c);
}

/* A Parse longer than the capture: the frontend loses framing inside it, but its header
 * was seen, so an answer without CommandComplete is still a PREPARE. When the answer is
 * cut too, nothing tells whether an Execute was sent: no operation, lost_batches. */
static void test_parse_cut_by_gap(void **state)
{
	static const struct db_want w[] = {
		{ "PREPARE", "", OK, 10, 11 },
		{ "UPDATE", "", OK, 12, 13 },
		{ "SELECT", "", OK, 30, 31 },
	};
	char sql[400];

	memset(sql, 'x', sizeof(sql));
	memcpy(sql, "UPDATE t SET a = '", 18);
	strcpy(sql + sizeof(sql) - 3, "'");
	startup();
	P("P_1", sql), D('S', "P_1"), S_();
	turn_cap(FE, 10, 20);
	empty('1'), PD(0), empty('n'), Z('I');
	turn(BE, 11);
	B("", "P_1"), E("", 0), S_();
	turn(FE, 12);
	empty('2'), CC("UPDATE 1"), Z('I');
	turn(BE, 13);
	P("", sql), B("", ""), E("", 0), S_();
	turn_cap(FE, 20, 20);
	empty('1'), empty('2'), T(1), DR("1"), CC("SELECT 1"), Z('I');
	turn_cap(BE, 21, 12);
	Q("SELECT 1");
	turn(FE, 30);
	T(1), DR("1"), CC("SELECT 1"), Z('I');
	turn(BE, 31);
	struct pg_conn *c = check_whole(w, 3);
	const struct pg_stats *st = pg_conn_stats(c);

	assert_int_equal(st->prepare_roundtrips, 1);
	assert_int_equal(st->lost_batches, 1);
	assert_int_equal(st->parse_errors, 3);
	pg_conn_free(c);
}

static void test_startup_no_ops(void **state)
{
	startup();
	struct pg_conn *c = check_all(NULL, 0);

	assert_int_equal(pg_conn_stats(c)->ops, 0);
	assert_int_equal(pg_conn_stats(c)->unsolicited, 0);
	pg_conn_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_psql_simple_query),
		cmocka_unit_test(test_pgbench_simple),
		cmocka_unit_test(test_pgbench_extended),
		cmocka_unit_test(test_pgbench_prepared),
		cmocka_unit_test(test_pgx_cached_statement),
		cmocka_unit_test(test_libpq_parameterised),
		cmocka_unit_test(test_batch_50),
		cmocka_unit_test(test_batch_50_capture_gap),
		cmocka_unit_test(test_error_mid_batch),
		cmocka_unit_test(test_multi_statement_query_error),
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_ssl_refused_then_startup),
		cmocka_unit_test(test_ssl_accepted),
		cmocka_unit_test(test_gap_inside_datarow),
		cmocka_unit_test(test_gap_over_headers),
		cmocka_unit_test(test_resync_on_ready),
		cmocka_unit_test(test_copy_from_stdin),
		cmocka_unit_test(test_attach_mid_connection),
		cmocka_unit_test(test_empty_query_and_suspended_portal),
		cmocka_unit_test(test_prepare_error_and_close),
		cmocka_unit_test(test_fatal_error),
		cmocka_unit_test(test_statement_cache_lru),
		cmocka_unit_test(test_record_cap),
		cmocka_unit_test(test_parse_cut_by_gap),
		cmocka_unit_test(test_startup_no_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
