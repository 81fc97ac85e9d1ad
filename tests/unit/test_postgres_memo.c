// SPDX-License-Identifier: GPL-2.0-only
/*
 * postgres.c names a Parse whose text was captured whole from a per-thread memo of recent
 * texts. A hit must give the name the splitter gives: the same text again, on another
 * connection too; texts that differ in one byte, or only by a trailing ";" or a comment,
 * are named on their own; a text cut by a gap is neither looked up nor kept; more
 * distinct texts than the memo holds stay exact. Each conversation is also replayed one
 * byte per read and cut at every byte (pg_conv.h), which takes the splitter's path.
 */
#include <stdint.h>

/* pg_conv.h defines a builder per message type; these tests use a few of them. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pg_conv.h"

#define FE PG_FRONTEND
#define BE PG_BACKEND
#define OK ""

#define DISTINCT_TEXTS 300 /* more than the memo's slots */
#define PER_CONN 60	   /* round trips per conversation: two turns each */

/* Parse + Bind + Execute + Sync of an unnamed statement, answered in one turn. */
static void parse_round_trip(const char *sql, uint64_t ts)
{
	P("", sql), B("", ""), E("", 0), S_();
	turn(FE, ts);
	empty('1'), empty('2'), CC("SELECT 1"), Z('I');
	turn(BE, ts + 1);
}

static void test_same_text_same_name(void **state)
{
	static const char *const sql[] = {
		"SELECT a FROM ta WHERE id = $1", "SELECT a FROM tb WHERE id = $1",
		"SELECT a FROM ta WHERE id = $1", "SELECT a FROM ta WHERE id = $1;",
		"/* x */ DELETE FROM tc",	  "/* y */ DELETE FROM td",
		"SELECT a FROM tb WHERE id = $1",
	};
	static const struct db_want w[] = {
		{ "SELECT", "ta", OK, 10, 11 }, { "SELECT", "tb", OK, 12, 13 },
		{ "SELECT", "ta", OK, 14, 15 }, { "SELECT", "ta", OK, 16, 17 },
		{ "DELETE", "tc", OK, 18, 19 }, { "DELETE", "td", OK, 20, 21 },
		{ "SELECT", "tb", OK, 22, 23 },
	};

	for (int conn = 0; conn < 2; conn++) { /* the second connection finds them kept */
		startup();
		for (int i = 0; i < 7; i++)
			parse_round_trip(sql[i], 10 + 2 * (uint64_t)i);
		pg_conn_free(check_all(w, 7));
	}
}

static void test_cut_text_not_kept(void **state)
{
	static const char sql[] = "UPDATE te SET a = $1 WHERE id = $2";
	static const struct db_want w[] = {
		{ "UPDATE", "", OK, 10, 11 },
		{ "UPDATE", "te", OK, 12, 13 },
		{ "UPDATE", "", OK, 14, 15 },
	};

	startup();
	P("", sql), B("", ""), E("", 0), S_();
	turn_cap(FE, 10, 20); /* 5 header + 1 name + "UPDATE te SET" + 1 */
	empty('1'), empty('2'), CC("UPDATE 1"), Z('I');
	turn(BE, 11);
	parse_round_trip(sql, 12);
	P("", sql), B("", ""), E("", 0), S_();
	turn_cap(FE, 14, 20); /* the whole text was kept: a cut one still is not looked up */
	empty('1'), empty('2'), CC("UPDATE 1"), Z('I');
	turn(BE, 15);
	pg_conn_free(check_whole(w, 3));
}

static void test_more_texts_than_slots(void **state)
{
	static char table[DISTINCT_TEXTS][16];
	struct db_want w[PER_CONN];
	char sql[64];

	for (int pass = 0; pass < 2; pass++) {
		for (int first = 0; first < DISTINCT_TEXTS; first += PER_CONN) {
			startup();
			for (int k = 0; k < PER_CONN; k++) {
				int i = first + k;
				uint64_t ts = 10 + 2 * (uint64_t)k;

				snprintf(table[i], sizeof(table[i]), "t%d", i);
				snprintf(sql, sizeof(sql), "UPDATE t%d SET a = $1", i);
				parse_round_trip(sql, ts);
				w[k] = (struct db_want){ "UPDATE", table[i], OK, ts, ts + 1 };
			}
			pg_conn_free(check_whole(w, PER_CONN));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_text_same_name),
		cmocka_unit_test(test_cut_text_not_kept),
		cmocka_unit_test(test_more_texts_than_slots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
