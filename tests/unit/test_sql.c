// SPDX-License-Identifier: GPL-2.0-only
/* sql.c: operation name and table extraction, statement splitting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/sql.h"

struct op_case {
	const char *sql;
	const char *op;
	const char *table;
};

static const struct op_case op_cases[] = {
	{ "SELECT * FROM users WHERE id = $1", "SELECT", "users" },
	{ "select abalance from pgbench_accounts where aid = 5", "SELECT", "pgbench_accounts" },
	{ "  \n\t-- leading comment\nSELECT 1", "SELECT", "" },
	{ "/* a /* nested */ comment */ UPDATE pgbench_tellers SET tbalance = 1", "UPDATE",
	  "pgbench_tellers" },
	{ "((SELECT a FROM t1) UNION (SELECT b FROM t2))", "SELECT", "t1" },
	{ "INSERT INTO orders (id, note) VALUES (1, 'FROM secret')", "INSERT", "orders" },
	{ "insert into public.\"Order Items\" values (1)", "INSERT", "public.Order Items" },
	{ "DELETE FROM ONLY sessions WHERE expires < now()", "DELETE", "sessions" },
	{ "UPDATE \"we\"\"ird\" SET x = 1", "UPDATE", "we\"ird" },
	{ "SELECT extract(year FROM ts), 'x FROM y' FROM events", "SELECT", "events" },
	{ "SELECT * FROM (SELECT 1) AS s", "SELECT", "" },
	{ "SELECT * FROM generate_series(1, 10)", "SELECT", "" },
	{ "SELECT $$ FROM nowhere $$ AS txt FROM docs", "SELECT", "docs" },
	{ "SELECT E'it\\'s FROM x' FROM quotes", "SELECT", "quotes" },
	{ "WITH recent AS (SELECT * FROM orders WHERE ts > now()) SELECT count(*) FROM recent",
	  "SELECT", "recent" },
	{ "WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n+1 FROM t) SELECT sum(n) FROM t",
	  "SELECT", "t" },
	{ "with moved as (delete from a returning *) insert into b select * from moved", "INSERT",
	  "b" },
	{ "WITH x AS MATERIALIZED (SELECT 1), y AS NOT MATERIALIZED (SELECT 2) "
	  "UPDATE z SET a = 1",
	  "UPDATE", "z" },
	{ "WITH x AS (SELECT 1) SEARCH DEPTH FIRST BY a SET o SELECT 1", "WITH", "" },
	{ "BEGIN", "BEGIN", "" },
	{ "begin isolation level repeatable read", "BEGIN", "" },
	{ "END", "END", "" },
	{ "COMMIT", "COMMIT", "" },
	{ "set search_path = app", "SET", "" },
	{ "SHOW server_version", "SHOW", "" },
	{ "COPY measurements FROM STDIN (FORMAT csv)", "COPY", "measurements" },
	{ "TRUNCATE TABLE ONLY logs", "TRUNCATE", "logs" },
	{ "MERGE INTO stock s USING delivery d ON s.id = d.id WHEN MATCHED THEN DO NOTHING",
	  "MERGE", "stock" },
	{ "CREATE TABLE t (a int)", "CREATE", "" },
	{ "'literal'", "", "" },
	{ "SELECT * FROM U&\"d\\0061ta\"", "SELECT", "" },
	{ "select a from x, y join z on true", "SELECT", "x" },
	{ "UPDATE t1 SET a = t2.a FROM t2", "UPDATE", "t1" },
	{ "DO $$ BEGIN PERFORM 1; END $$", "DO", "" },
	{ "\xc3\x89TAT 1", "", "" },
	{ "select * from \"caf\xc3\xa9\"", "SELECT", "caf\xc3\xa9" },
	{ "", "", "" },
	{ "-- only a comment", "", "" },
};

static void test_operation_table(void **state)
{
	for (size_t i = 0; i < sizeof(op_cases) / sizeof(op_cases[0]); i++) {
		const struct op_case *k = &op_cases[i];
		char op[32], table[64];

		sql_operation(k->sql, strlen(k->sql), op, sizeof(op), table, sizeof(table));
		if (strcmp(op, k->op) || strcmp(table, k->table))
			print_error("case %zu: %s -> [%s] [%s]\n", i, k->sql, op, table);
		assert_string_equal(op, k->op);
		assert_string_equal(table, k->table);
	}
}

static void test_operation_bounds(void **state)
{
	char op[4], table[8];

	/* Names that do not fit are dropped, never cut; the keyword is cut to fit. */
	sql_operation("SELECT * FROM a_long_table_name", 31, op, sizeof(op), table, sizeof(table));
	assert_string_equal(op, "SEL");
	assert_string_equal(table, "");
	sql_operation("SELECT * FROM shorty", 20, op, sizeof(op), table, sizeof(table));
	assert_string_equal(table, "shorty");
	/* Zero-sized outputs are left alone. */
	sql_operation("SELECT 1", 8, NULL, 0, NULL, 0);
}

static void test_operation_prefix(void **state)
{
	char op[32], table[64];

	/* A word touching the end of a cut text may be cut itself. */
	sql_operation_prefix("SELEC", 5, true, op, sizeof(op), table, sizeof(table));
	assert_string_equal(op, "");
	sql_operation_prefix("SELECT * FROM pgbench_acc", 25, true, op, sizeof(op), table,
			     sizeof(table));
	assert_string_equal(op, "SELECT");
	assert_string_equal(table, "");
	sql_operation_prefix("INSERT INTO t VALUES ('abc", 26, true, op, sizeof(op), table,
			     sizeof(table));
	assert_string_equal(op, "INSERT");
	assert_string_equal(table, "t");
	sql_operation_prefix("WITH a AS (SELECT 1) SEL", 24, true, op, sizeof(op), table,
			     sizeof(table));
	assert_string_equal(op, "WITH");
	/* Cut after "U&": the start of a U&'...' string, not a statement named "U" (fuzz_sql
	 * found it: the whole text "U&'x'" is not named). */
	sql_operation_prefix("U&", 2, true, op, sizeof(op), table, sizeof(table));
	assert_string_equal(op, "");
	sql_operation("U&'x'", 5, op, sizeof(op), table, sizeof(table));
	assert_string_equal(op, "");
	sql_operation("U&", 2, op, sizeof(op), table, sizeof(table));
	assert_string_equal(op, "U");
}

struct collected {
	size_t n;
	char stmt[8][SQL_STMT_PREFIX + 1];
	bool truncated[8];
};

static void collect(void *ctx, const char *stmt, size_t len, bool truncated)
{
	struct collected *c = ctx;

	assert_true(c->n < 8);
	memcpy(c->stmt[c->n], stmt, len);
	c->stmt[c->n][len] = '\0';
	c->truncated[c->n++] = truncated;
}

static const char split_text[] =
	"BEGIN; -- first; not a split\n"
	"UPDATE t SET s = 'a;b''c;' WHERE x = $1;;"
	"/* c; /* d; */ */ INSERT INTO \"x;y\" VALUES (E'\\';', $f$ ; $g$ ; $f$);\n"
	"CREATE RULE r AS ON INSERT TO t DO (DELETE FROM a; DELETE FROM b);"
	"SELECT a-b/c FROM d ;  \n  ";

static const char *const split_want[] = {
	"BEGIN",
	"UPDATE t SET s = 'a;b''c;' WHERE x = $1",
	"INSERT INTO \"x;y\" VALUES (E'\\';', $f$ ; $g$ ; $f$)",
	"CREATE RULE r AS ON INSERT TO t DO (DELETE FROM a; DELETE FROM b)",
	"SELECT a-b/c FROM d",
};

static void check_split(const struct collected *c)
{
	assert_int_equal(c->n, 5);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(c->stmt[i], split_want[i]);
		assert_false(c->truncated[i]);
	}
}

static void test_split_whole(void **state)
{
	struct collected c = { 0 };

	assert_int_equal(sql_split_statements(split_text, strlen(split_text), collect, &c), 5);
	check_split(&c);
	assert_int_equal(sql_split_statements(" ; ;-- x\n", 9, NULL, NULL), 0);
	assert_int_equal(sql_split_statements("SELECT 1", 8, NULL, NULL), 1);
}

/* The same text fed in two pieces split at every position, and one byte at a time. */
static void test_split_streamed(void **state)
{
	size_t len = strlen(split_text);

	for (size_t cut = 0; cut <= len; cut++) {
		struct collected c = { 0 };
		struct sql_splitter s;

		sql_splitter_init(&s);
		sql_splitter_feed(&s, split_text, cut, collect, &c);
		sql_splitter_feed(&s, split_text + cut, len - cut, collect, &c);
		sql_splitter_finish(&s, false, collect, &c);
		check_split(&c);
	}
	struct collected c = { 0 };
	struct sql_splitter s;

	sql_splitter_init(&s);
	for (size_t i = 0; i < len; i++)
		sql_splitter_feed(&s, split_text + i, 1, collect, &c);
	sql_splitter_finish(&s, false, collect, &c);
	check_split(&c);
}

static void test_split_lost_and_long(void **state)
{
	struct collected c = { 0 };
	struct sql_splitter s;
	char big[600];

	sql_splitter_init(&s);
	sql_splitter_feed(&s, "SELECT 1; UPDATE acc", 20, collect, &c);
	sql_splitter_finish(&s, true, collect, &c);
	sql_splitter_feed(&s, "; SELECT 2;", 11, collect, &c); /* disabled after a loss */
	sql_splitter_finish(&s, false, collect, &c);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.stmt[1], "UPDATE acc");
	assert_true(c.truncated[1]);

	/* Longer than the kept prefix: reported truncated; blanks and comments folded. */
	memset(big, ' ', sizeof(big));
	memcpy(big, "INSERT   /* x */  INTO", 22);
	c.n = 0;
	assert_int_equal(sql_split_statements(big, sizeof(big), collect, &c), 1);
	assert_string_equal(c.stmt[0], "INSERT INTO");
	memset(big, 'x', sizeof(big));
	c.n = 0;
	sql_split_statements(big, sizeof(big), collect, &c);
	assert_true(c.truncated[0]);
	assert_int_equal(strlen(c.stmt[0]), SQL_STMT_PREFIX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operation_table),	 cmocka_unit_test(test_operation_bounds),
		cmocka_unit_test(test_operation_prefix), cmocka_unit_test(test_split_whole),
		cmocka_unit_test(test_split_streamed),	 cmocka_unit_test(test_split_lost_and_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
