// SPDX-License-Identifier: GPL-2.0-only
/* Route templating: chi patterns, heuristics, the per-service cap, hostile input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics/route.h"

struct want {
	const char *target;
	const char *route;
};

/* Maps every target through t (one service, cap far away) and checks the exact route. */
static void check_all(struct route_table *t, const struct want *w, size_t n)
{
	char out[ROUTE_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		memset(out, 'X', sizeof(out));
		if (route_template(t, "svc", w[i].target, out, sizeof(out)) != 0)
			fail_msg("target \"%s\" overflowed", w[i].target);
		if (strcmp(out, w[i].route))
			fail_msg("target \"%s\": got \"%s\", want \"%s\"", w[i].target, out,
				 w[i].route);
	}
}

static const char *const orders_patterns[] = {
	"/api/v1/orders/new",
	"/api/v1/orders/{id}",
	"/api/v1/orders/{id}/items/{item:[0-9]+}",
	"/static/*",
	"/files/img*",
	"/{month}-{day}-{year}",
	"/",
};

static void test_patterns(void **state)
{
	static const struct want w[] = {
		{ "/api/v1/orders/new", "/api/v1/orders/new" },
		{ "/api/v1/orders/42", "/api/v1/orders/{id}" },
		{ "/api/v1/orders/42?x=1&y=2", "/api/v1/orders/{id}" },
		{ "/api/v1/orders/42/", "/api/v1/orders/{id}" },
		{ "//api/v1//orders/42", "/api/v1/orders/{id}" },
		{ "/api/v1/orders", ROUTE_UNMATCHED },
		{ "/api/v1/orders/42/items/7", "/api/v1/orders/{id}/items/{item:[0-9]+}" },
		/* the regexp is accepted, not evaluated: any one segment matches */
		{ "/api/v1/orders/42/items/abc", "/api/v1/orders/{id}/items/{item:[0-9]+}" },
		{ "/api/v1/orders/42/items", ROUTE_UNMATCHED },
		{ "/api/v1/orders/42/items/7/x", ROUTE_UNMATCHED },
		{ "/API/v1/orders/42", ROUTE_UNMATCHED },
		{ "/static/css/site.css", "/static/*" },
		{ "/static/a/b/c/d/e/f/g/h/i/j/k/l", "/static/*" },
		{ "/static/", "/static/*" },
		{ "/static", "/static/*" },
		{ "/staticx", ROUTE_UNMATCHED },
		{ "/files/img", "/files/img*" },
		{ "/files/img42/a.png", "/files/img*" },
		{ "/files/im", ROUTE_UNMATCHED },
		{ "/2024-01-31", "/{month}-{day}-{year}" },
		{ "/2024-01", ROUTE_UNMATCHED },
		{ "/--", ROUTE_UNMATCHED },
		{ "/", "/" },
		{ "", "/" },
		{ "//", "/" },
		{ "/?q=1", "/" },
		{ "*", "*" },
		{ "http://shop.example:8080/static/x.js?v=3", "/static/*" },
		{ "/nope/\xff\xfe", ROUTE_UNMATCHED },
	};
	struct route_table *t = route_table_new(orders_patterns, 7, 1000);

	assert_non_null(t);
	check_all(t, w, sizeof(w) / sizeof(w[0]));
	assert_int_equal(route_overflowed(t), 0);
	route_table_free(t);
}

static void test_pattern_precedence(void **state)
{
	static const char *const id_first[] = { "/api/v1/orders/{id}", "/api/v1/orders/new" };
	static const char *const root_rest[] = { "/*" };
	static const struct want w1[] = {
		{ "/api/v1/orders/new", "/api/v1/orders/{id}" },
		{ "/api/v1/orders/9", "/api/v1/orders/{id}" },
	};
	static const struct want w2[] = {
		{ "/", "/*" },
		{ "/a/b/c", "/*" },
		{ "*", "*" },
	};
	struct route_table *t = route_table_new(id_first, 2, 10);

	assert_non_null(t);
	check_all(t, w1, 2);
	route_table_free(t);
	t = route_table_new(root_rest, 1, 10);
	assert_non_null(t);
	check_all(t, w2, 3);
	route_table_free(t);
}

static void test_target_forms(void **state)
{
	static const struct want w[] = {
		{ "/orders/5?id=7", "/orders/{id}" },
		{ "/orders?5", "/orders" },
		{ "/orders#5", "/orders" },
		{ "/orders/5#x?y", "/orders/{id}" },
		{ "?only=query", "/" },
		{ "", "/" },
		{ NULL, "/" },
		{ "*", "*" },
		{ "http://example.com/users/42", "/users/{id}" },
		{ "http://example.com:8080/users/42?x=1", "/users/{id}" },
		{ "HTTPS://example.com/a", "/a" },
		{ "http://example.com", "/" },
		{ "http://example.com?q=1", "/" },
		{ "http://user@h:1/a#f", "/a" },
		{ "http:/x", "/http:/x" },
		{ "orders/5", "/orders/{id}" },
	};
	struct route_table *t = route_table_new(NULL, 0, 1000);

	assert_non_null(t);
	check_all(t, w, sizeof(w) / sizeof(w[0]));
	route_table_free(t);
}

static void test_heuristics(void **state)
{
	static const struct want w[] = {
		{ "/", "/" },
		{ "/healthz", "/healthz" },
		{ "/api/v1/orders", "/api/v1/orders" },
		{ "/api/v1/orders/5", "/api/v1/orders/{id}" },
		{ "/api/v1/orders/5/", "/api/v1/orders/{id}" },
		{ "//api///v1//orders", "/api/v1/orders" },
		{ "/users/123/posts/0", "/users/{id}/posts/{id}" },
		{ "/v2/api-docs", "/v2/api-docs" },
		{ "/static/app.min.js", "/static/app.min.js" },
		{ "/2fa", "/2fa" },
		{ "/orders/-5", "/orders/-5" },
		{ "/i/550e8400-e29b-41d4-a716-446655440000", "/i/{uuid}" },
		{ "/i/550E8400-E29B-41D4-A716-446655440000", "/i/{uuid}" },
		{ "/i/550e8400-e29b-41d4-a716-44665544000", "/i/{token}" },
		{ "/c/0123456789abcdef0123456789abcdef01234567", "/c/{hex}" },
		{ "/c/deadbeefdeadbeef", "/c/{hex}" },
		{ "/c/deadbeef", "/c/deadbeef" },
		{ "/c/facade", "/c/facade" },
		{ "/c/cafe1234", "/c/{hex}" },
		{ "/c/CAFE1234", "/c/{hex}" },
		{ "/c/cafe123", "/c/cafe123" },
		{ "/t/eyJhbGciOiJIUzI1NiIsInR5cCI6", "/t/{token}" },
		{ "/t/aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=", "/t/{token}" },
		{ "/t/abc_def-ghi_jkl-mno_pqr1", "/t/{token}" },
		{ "/t/abcdefghijklmnopqrstuvwxyz", "/t/abcdefghijklmnopqrstuvwxyz" },
		{ "/t/abc.def.ghi.jkl.mno.pqr.1", "/t/abc.def.ghi.jkl.mno.pqr.1" },
		{ "/search/hello%20world", "/search/{seg}" },
		{ "/a/\xff", "/a/{seg}" },
		{ "/a/caf\xc3\xa9", "/a/caf\xc3\xa9" },
		{ "/a/caf\xc3", "/a/{seg}" },
		{ "/a/\xc0\xaf", "/a/{seg}" },
		{ "/a/\xed\xa0\x80", "/a/{seg}" },
		{ "/a/\xc2\x85", "/a/{seg}" },
		{ "/a/b\x01c", "/a/{seg}" },
		{ "/a/b\x7f", "/a/{seg}" },
		{ "/a/b c", "/a/b c" },
		{ "/a/b/c/d/e/f/g/h/i/j", "/a/b/c/d/e/f/g/h/i/j" },
		{ "/1/2/3/4/5/6/7/8/9/10/11/12",
		  "/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/*" },
	};
	struct route_table *t = route_table_new(NULL, 0, 1000);

	assert_non_null(t);
	check_all(t, w, sizeof(w) / sizeof(w[0]));
	route_table_free(t);
}

/* ROUTE_WORD_MAX is the longest kept word; one byte more is {seg}. */
static void test_word_length(void **state)
{
	char target[2 + ROUTE_WORD_MAX + 2], want[sizeof(target)], out[ROUTE_MAX];
	struct route_table *t = route_table_new(NULL, 0, 10);

	assert_non_null(t);
	target[0] = '/';
	memset(target + 1, 'w', ROUTE_WORD_MAX);
	target[1 + ROUTE_WORD_MAX] = '\0';
	memcpy(want, target, sizeof(target));
	assert_int_equal(route_template(t, "s", target, out, sizeof(out)), 0);
	assert_string_equal(out, want);
	target[1 + ROUTE_WORD_MAX] = 'w';
	target[2 + ROUTE_WORD_MAX] = '\0';
	assert_int_equal(route_template(t, "s", target, out, sizeof(out)), 0);
	assert_string_equal(out, "/{seg}");
	route_table_free(t);
}

static void test_cap_per_service(void **state)
{
	char out[ROUTE_MAX];
	struct route_table *t = route_table_new(NULL, 0, 3);

	assert_non_null(t);
	assert_int_equal(route_template(t, "a", "/x", out, sizeof(out)), 0);
	assert_int_equal(route_template(t, "a", "/users/1", out, sizeof(out)), 0);
	assert_string_equal(out, "/users/{id}");
	/* same template, not a new route */
	assert_int_equal(route_template(t, "a", "/users/2", out, sizeof(out)), 0);
	assert_int_equal(route_template(t, "a", "/z?q", out, sizeof(out)), 0);
	assert_string_equal(out, "/z");
	assert_int_equal(route_overflowed(t), 0);

	assert_int_equal(route_template(t, "a", "/new", out, sizeof(out)), 1);
	assert_string_equal(out, ROUTE_OVERFLOW);
	assert_int_equal(route_overflowed(t), 1);

	/* known routes keep mapping */
	assert_int_equal(route_template(t, "a", "/users/77", out, sizeof(out)), 0);
	assert_string_equal(out, "/users/{id}");
	assert_int_equal(route_template(t, "a", "/x", out, sizeof(out)), 0);
	assert_string_equal(out, "/x");

	/* another service has its own set */
	assert_int_equal(route_template(t, "b", "/new", out, sizeof(out)), 0);
	assert_string_equal(out, "/new");
	assert_int_equal(route_overflowed(t), 1);

	/* every overflowed request counts */
	assert_int_equal(route_template(t, "a", "/new", out, sizeof(out)), 1);
	assert_string_equal(out, ROUTE_OVERFLOW);
	assert_int_equal(route_overflowed(t), 2);

	/* NULL service is the service "" */
	assert_int_equal(route_template(t, NULL, "/q", out, sizeof(out)), 0);
	assert_int_equal(route_template(t, "", "/q", out, sizeof(out)), 0);
	assert_string_equal(out, "/q");
	route_table_free(t);
}

/* The unmatched route is one route: a scanner cannot push real ones past the cap. */
static void test_cap_with_patterns(void **state)
{
	static const char *const pats[] = { "/a", "/b/{id}" };
	char out[ROUTE_MAX], target[32];
	struct route_table *t = route_table_new(pats, 2, 3);
	int i;

	assert_non_null(t);
	for (i = 0; i < 500; i++) {
		snprintf(target, sizeof(target), "/wp-admin/%d.php", i);
		assert_int_equal(route_template(t, "s", target, out, sizeof(out)), 0);
		assert_string_equal(out, ROUTE_UNMATCHED);
	}
	assert_int_equal(route_template(t, "s", "/a", out, sizeof(out)), 0);
	assert_int_equal(route_template(t, "s", "/b/5", out, sizeof(out)), 0);
	assert_string_equal(out, "/b/{id}");
	assert_int_equal(route_overflowed(t), 0);
	route_table_free(t);
}

/* Many services and routes: the tables grow and every route is still found. */
static void test_growth(void **state)
{
	char out[ROUTE_MAX], target[32], want[32], svc[16];
	struct route_table *t = route_table_new(NULL, 0, 1000);
	int s, i, pass;

	assert_non_null(t);
	for (pass = 0; pass < 2; pass++) {
		for (s = 0; s < 40; s++) {
			snprintf(svc, sizeof(svc), "svc%d", s);
			for (i = 0; i < 1000; i++) {
				snprintf(target, sizeof(target), "/r%d/%d", i, s);
				snprintf(want, sizeof(want), "/r%d/{id}", i);
				assert_int_equal(route_template(t, svc, target, out, sizeof(out)),
						 0);
				assert_string_equal(out, want);
			}
			assert_int_equal(route_template(t, svc, "/one-more", out, sizeof(out)), 1);
		}
	}
	assert_int_equal(route_overflowed(t), 80);
	route_table_free(t);
}

/* Ids: one per (service, route), stable, the overflow one shared; text round-trips. */
static void test_ids(void **state)
{
	struct route_table *t = route_table_new(NULL, 0, 2);
	uint32_t a, b, a1, a2, b1;

	assert_non_null(t);
	a = route_service(t, "a");
	b = route_service(t, "b");
	assert_int_not_equal(a, b);
	assert_int_equal(route_service(t, "a"), a);
	assert_int_equal(route_service(t, NULL), route_service(t, ""));
	a1 = route_id(t, a, "/users/1");
	assert_int_not_equal(a1, ROUTE_ID_OVERFLOW);
	assert_int_equal(route_id(t, a, "/users/2?x=1"), a1); /* same template */
	assert_string_equal(route_text(t, a1), "/users/{id}");
	b1 = route_id(t, b, "/users/3");
	assert_int_not_equal(b1, a1); /* same text, another service */
	assert_string_equal(route_text(t, b1), "/users/{id}");
	a2 = route_id(t, a, "/x");
	assert_int_not_equal(a2, a1);
	/* a's cap of 2 is reached: a new route overflows, counted, known ones still map */
	assert_int_equal(route_id(t, a, "/y"), ROUTE_ID_OVERFLOW);
	assert_int_equal(route_overflowed(t), 1);
	assert_string_equal(route_text(t, ROUTE_ID_OVERFLOW), ROUTE_OVERFLOW);
	assert_int_equal(route_id(t, a, "/x/"), a2);
	/* an id never handed out, an unknown service, no table */
	assert_string_equal(route_text(t, 1000), ROUTE_OVERFLOW);
	assert_int_equal(route_id(t, 1000, "/x"), ROUTE_ID_OVERFLOW);
	assert_int_equal(route_overflowed(t), 2);
	assert_int_equal(route_service(NULL, "a"), ROUTE_SVC_NONE);
	assert_int_equal(route_id(NULL, 0, "/x"), ROUTE_ID_OVERFLOW);
	assert_string_equal(route_text(NULL, a1), ROUTE_OVERFLOW);
	route_table_free(t);
}

static void check_invalid(const char *pattern, const char *reason)
{
	char why[256] = "";

	if (route_pattern_valid(pattern, why, sizeof(why)))
		fail_msg("pattern \"%s\" accepted", pattern ? pattern : "(null)");
	if (strcmp(why, reason))
		fail_msg("pattern \"%s\": got \"%s\", want \"%s\"", pattern ? pattern : "(null)",
			 why, reason);
}

static void test_invalid_patterns(void **state)
{
	char long_pat[ROUTE_MAX + 1];
	const char *two[] = { "/ok", "bad" };

	check_invalid(NULL, "no pattern");
	check_invalid("", "empty pattern: a route starts with '/'");
	check_invalid("api/v1", "must start with '/'");
	check_invalid("/a/*/b", "'*' at offset 3: chi's wildcard only ends a pattern; use {name} "
				"for one segment");
	check_invalid("/a/{id", "'{' at offset 3 is never closed");
	check_invalid("/a/id}", "'}' at offset 5 has no '{'");
	check_invalid("/a/{}", "empty parameter name at offset 3");
	check_invalid("/a/{id:}", "empty regexp after ':' at offset 6");
	check_invalid("/a/{na-me}", "parameter name at offset 3: letters, digits and '_' only");
	check_invalid("/a/{id}/{id}", "parameter {id} appears twice");
	check_invalid("/a/{p:a/b}",
		      "'/' at offset 7 inside '{...}': a parameter spans one segment");
	check_invalid("/a//b", "empty segment ('//') at offset 2");
	check_invalid("/a?x=1", "'?' at offset 2: a route is a path; queries and fragments never "
				"reach it");
	check_invalid("/a#top", "'#' at offset 2: a route is a path; queries and fragments never "
				"reach it");
	check_invalid("/a b", "byte 0x20 at offset 2: printable ASCII only, no spaces; write "
			      "other bytes percent-encoded as they are sent");
	check_invalid("/a\xff", "byte 0xff at offset 2: printable ASCII only, no spaces; write "
				"other bytes percent-encoded as they are sent");
	memset(long_pat, 'a', sizeof(long_pat));
	long_pat[0] = '/';
	long_pat[ROUTE_MAX] = '\0';
	check_invalid(long_pat, "longer than 255 bytes");
	long_pat[ROUTE_MAX - 1] = '\0';
	assert_true(route_pattern_valid(long_pat, NULL, 0));

	assert_true(route_pattern_valid("/", NULL, 0));
	assert_true(route_pattern_valid("/*", NULL, 0));
	assert_true(route_pattern_valid("/a/", NULL, 0));
	assert_true(route_pattern_valid("/y/{year:[0-9]{4}}/{slug}", NULL, 0));
	assert_true(route_pattern_valid("/{month}-{day}", NULL, 0));
	assert_false(route_pattern_valid("/a/*/b", NULL, 0));
	assert_false(route_pattern_valid("/a/*/b", long_pat, 1));
	assert_string_equal(long_pat, "");

	errno = 0;
	assert_null(route_table_new(two, 2, 10));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(route_table_new(two, 1, 0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(route_table_new(NULL, 1, 10));
	assert_int_equal(errno, EINVAL);
	route_table_free(NULL);
	assert_int_equal(route_overflowed(NULL), 0);
}

/* Output cut to a short buffer never splits a UTF-8 sequence. */
static void test_short_output(void **state)
{
	char out[16];
	struct route_table *t = route_table_new(NULL, 0, 10);

	assert_non_null(t);
	assert_int_equal(route_template(t, "s", "/a/caf\xc3\xa9", out, 9), 0);
	assert_string_equal(out, "/a/caf\xc3\xa9");
	assert_int_equal(route_template(t, "s", "/a/caf\xc3\xa9", out, 8), 0);
	assert_string_equal(out, "/a/caf");
	assert_int_equal(route_template(t, "s", "/a/caf\xc3\xa9", out, 1), 0);
	assert_string_equal(out, "");
	memcpy(out, "untouched", 10);
	assert_int_equal(route_template(t, "s", "/a/caf\xc3\xa9", out, 0), 0);
	assert_string_equal(out, "untouched");
	assert_int_equal(route_template(t, "s", "/a", NULL, 0), 0);
	assert_int_equal(route_template(NULL, "s", "/a", out, sizeof(out)), 1);
	assert_string_equal(out, ROUTE_OVERFLOW);
	route_table_free(t);
}

static void test_garbage(void **state)
{
	enum { BIG = 10 * 1024 };
	char *target = malloc(BIG + 1), out[ROUTE_MAX], want[ROUTE_MAX];
	struct route_table *t = route_table_new(NULL, 0, 100);
	struct route_table *tp = route_table_new(orders_patterns, 7, 100);
	int i;

	assert_non_null(target);
	assert_non_null(t);
	assert_non_null(tp);

	for (i = 0; i < BIG; i += 2)
		memcpy(target + i, "/a", 2);
	target[BIG] = '\0';
	assert_int_equal(route_template(t, "s", target, out, sizeof(out)), 0);
	assert_string_equal(out, "/a/a/a/a/a/a/a/a/a/a/*");
	assert_int_equal(route_template(tp, "s", target, out, sizeof(out)), 0);
	assert_string_equal(out, ROUTE_UNMATCHED);
	memcpy(target, "/static/", 8);
	assert_int_equal(route_template(tp, "s", target, out, sizeof(out)), 0);
	assert_string_equal(out, "/static/*");

	target[0] = '/';
	memset(target + 1, 'q', BIG - 1);
	assert_int_equal(route_template(t, "s", target, out, sizeof(out)), 0);
	assert_string_equal(out, "/{seg}");
	memset(target + 1, '7', BIG - 1);
	assert_int_equal(route_template(t, "s", target, out, sizeof(out)), 0);
	assert_string_equal(out, "/{id}");
	memset(target, '\xff', BIG);
	assert_int_equal(route_template(t, "s", target, out, sizeof(out)), 0);
	assert_string_equal(out, "/{seg}");
	assert_int_equal(route_template(tp, "s", target, out, sizeof(out)), 0);
	assert_string_equal(out, ROUTE_UNMATCHED);
	memset(target, '/', BIG);
	assert_int_equal(route_template(t, "s", target, out, sizeof(out)), 0);
	assert_string_equal(out, "/");

	/* words of 60 bytes: four fit in ROUTE_MAX - 1 with room for ROUTE_REST, a fifth does not */
	for (i = 0; i < 10; i++) {
		target[i * 61] = '/';
		memset(target + i * 61 + 1, 'x', 60);
	}
	target[610] = '\0';
	memcpy(want, target, 244);
	memcpy(want + 244, "/*", 3);
	assert_int_equal(route_template(t, "s", target, out, sizeof(out)), 0);
	assert_string_equal(out, want);
	assert_int_equal(strlen(out), 246);

	/* every byte value once: '#' (0x23) ends the path inside the first, control, segment */
	for (i = 0; i < 255; i++)
		target[i] = (char)(i + 1);
	target[255] = '\0';
	assert_int_equal(route_template(t, "s", target, out, sizeof(out)), 0);
	assert_string_equal(out, "/{seg}");
	free(target);
	route_table_free(t);
	route_table_free(tp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patterns),	  cmocka_unit_test(test_pattern_precedence),
		cmocka_unit_test(test_target_forms),	  cmocka_unit_test(test_heuristics),
		cmocka_unit_test(test_word_length),	  cmocka_unit_test(test_cap_per_service),
		cmocka_unit_test(test_cap_with_patterns), cmocka_unit_test(test_growth),
		cmocka_unit_test(test_invalid_patterns),  cmocka_unit_test(test_short_output),
		cmocka_unit_test(test_garbage),		  cmocka_unit_test(test_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
