// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "metrics/exposition.h"
#include "metrics/registry.h"

#define FFFD "\xef\xbf\xbd"

static void check_label(const char *in, size_t inlen, const char *want)
{
	char out[256];
	size_t n = expo_escape_label(in, inlen, out, sizeof(out));

	assert_int_equal(n, strlen(want));
	assert_string_equal(out, want);
}

static void test_escape_label(void **state)
{
	char out[8];

	check_label("plain /x?y=1", 12, "plain /x?y=1");
	check_label("a\\b", 3, "a\\\\b");
	check_label("say \"hi\"", 8, "say \\\"hi\\\"");
	check_label("l1\nl2", 5, "l1\\nl2");
	check_label("tab\tcr\r", 7, "tab\tcr\r"); /* only \ " and newline are escaped */
	check_label("", 0, "");
	/* Valid multi-byte UTF-8 passes: é (2), € (3), U+10FFFF and an emoji (4). */
	check_label("\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\xf0\x9f\x98\x80", 13,
		    "\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\xf0\x9f\x98\x80");
	/* Invalid: a lone 0xff, a lone continuation byte, bytes F5.. */
	check_label("a\xff"
		    "b",
		    3, "a" FFFD "b");
	check_label("\x80", 1, FFFD);
	check_label("\xf5\x80\x80\x80", 4, FFFD FFFD FFFD FFFD);
	/* Truncated 3-byte sequence: one U+FFFD for the maximal subpart, next char kept. */
	check_label("x\xe2\x82y", 4, "x" FFFD "y");
	check_label("x\xe2\x82", 3, "x" FFFD);
	check_label("\xf0\x9f\x98", 3, FFFD);
	/* Overlong "/" (C0 AF): C0 can never start a sequence, AF is a lone continuation. */
	check_label("\xc0\xaf", 2, FFFD FFFD);
	check_label("\xe0\x80\xaf", 3, FFFD FFFD FFFD);
	check_label("\xf0\x8f\xbf\xbf", 4, FFFD FFFD FFFD FFFD);
	/* Surrogate U+D800 (ED A0 80) and code points above U+10FFFF (F4 90 ..). */
	check_label("\xed\xa0\x80", 3, FFFD FFFD FFFD);
	check_label("\xed\x9f\xbf", 3, "\xed\x9f\xbf"); /* U+D7FF, just below: valid */
	check_label("\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD);
	/* An embedded NUL is data, not the end (inlen rules). */
	assert_int_equal(expo_escape_label("a\0\"", 3, out, sizeof(out)), 4);
	assert_memory_equal(out, "a\0\\\"", 5);
}

static void test_escape_truncation(void **state)
{
	char out[5];

	/* snprintf() contract: full length returned, output cut and terminated. */
	assert_int_equal(expo_escape_label("\"\"\"", 3, out, sizeof(out)), 6);
	assert_string_equal(out, "\\\"\\\"");
	assert_int_equal(expo_escape_label("\xff", 1, NULL, 0), 3);
	assert_int_equal(expo_escape_label("abc", 3, out, 1), 3);
	assert_string_equal(out, "");
}

static void test_escape_help(void **state)
{
	char out[64];

	assert_int_equal(expo_escape_help("a \"q\" \\ b\nc\xff", 12, out, sizeof(out)),
			 strlen("a \"q\" \\\\ b\\nc" FFFD));
	assert_string_equal(out, "a \"q\" \\\\ b\\nc" FFFD);
}

static void check_num(double v, const char *want)
{
	char out[EXPO_NUM_MAX];

	assert_int_equal(expo_format_double(v, out), strlen(want));
	assert_string_equal(out, want);
}

static void test_format_double(void **state)
{
	check_num(3, "3");
	check_num(-42, "-42");
	check_num(0, "0");
	check_num(-0.0, "0");
	check_num(0.005, "0.005");
	check_num(7.5, "7.5");
	check_num(1e-7, "1e-07");
	check_num(0.1 + 0.2, "0.30000000000000004"); /* "%.15g" would not read back */
	check_num(1.0 / 3, "0.33333333333333331");
	check_num(18446744073709551616.0, "18446744073709551616");
	check_num(1e21, "1e+21");
	check_num(NAN, "NaN");
	check_num(INFINITY, "+Inf");
	check_num(-INFINITY, "-Inf");
}

/* ---- exact text of a small registry ----------------------------------------------------- */

static const char expected_text[] =
	"# HELP http_requests_total Requests, by path.\\nSecond line: a \\\\ backslash.\n"
	"# TYPE http_requests_total counter\n"
	"http_requests_total{path=\"a\\\\b\\\"c\\nd\",method=\"GET\"} 1\n"
	"http_requests_total{path=\"" FFFD "\",method=\"GET\"} 2\n"
	"http_requests_total{path=\"x" FFFD "y\",method=\"GET\"} 3\n"
	"http_requests_total{path=\"" FFFD FFFD "\",method=\"GET\"} 4\n"
	"http_requests_total{path=\"" FFFD FFFD FFFD "\",method=\"GET\"} 5\n"
	"http_requests_total{path=\"/caf\xc3\xa9\",method=\"\"} 0.5\n"
	"# TYPE temperature gauge\n"
	"temperature 21.25\n"
	"# HELP op_seconds Operation latency.\n"
	"# TYPE op_seconds histogram\n"
	"op_seconds_bucket{op=\"get\",le=\"0.1\"} 1\n"
	"op_seconds_bucket{op=\"get\",le=\"1\"} 2\n"
	"op_seconds_bucket{op=\"get\",le=\"+Inf\"} 3\n"
	"op_seconds_sum{op=\"get\"} 3.6\n"
	"op_seconds_count{op=\"get\"} 3\n"
	"# HELP sonde_series_dropped_total Samples dropped because their metric family "
	"reached its series cap (--max-series).\n"
	"# TYPE sonde_series_dropped_total counter\n"
	"sonde_series_dropped_total{metric=\"http_requests_total\"} 1\n";

static struct registry *small_registry(void)
{
	const char *rl[] = { "path", "method" }, *hl[] = { "op" };
	const char *paths[] = { "a\\b\"c\nd", "\xff", "x\xe2\x82y", "\xc0\xaf", "\xed\xa0\x80" };
	const double bounds[] = { 0.1, 1 };
	const char *v[2], *get[] = { "get" };
	struct registry *r = registry_new();
	struct metric *c, *g, *h;
	size_t i;

	c = registry_add(r, METRIC_COUNTER, "http_requests_total",
			 "Requests, by path.\nSecond line: a \\ backslash.", rl, 2, NULL, 0, 6);
	g = registry_add(r, METRIC_GAUGE, "temperature", NULL, NULL, 0, NULL, 0, 0);
	h = registry_add(r, METRIC_HISTOGRAM, "op_seconds", "Operation latency.", hl, 1, bounds, 2,
			 0);
	assert_non_null(c);
	assert_non_null(g);
	assert_non_null(h);
	v[1] = "GET";
	for (i = 0; i < 5; i++) {
		v[0] = paths[i];
		assert_int_equal(metric_add(c, v, (double)i + 1), 0);
	}
	v[0] = "/caf\xc3\xa9";
	v[1] = "";
	assert_int_equal(metric_add(c, v, 0.5), 0);
	v[0] = "/over-cap";
	assert_int_equal(metric_add(c, v, 1), -ENOSPC);
	assert_int_equal(metric_set(g, NULL, 21.25), 0);
	assert_int_equal(metric_observe(h, get, 0.1), 0);
	assert_int_equal(metric_observe(h, get, 0.5), 0);
	assert_int_equal(metric_observe(h, get, 3), 0);
	return r;
}

static void test_render_exact(void **state)
{
	struct registry *r = small_registry();
	char *text;
	size_t len;

	assert_int_equal(registry_render(r, &text, &len), 0);
	assert_string_equal(text, expected_text);
	assert_int_equal(len, strlen(expected_text));
	free(text);
	assert_int_equal(registry_render(NULL, &text, &len), -EINVAL);
	registry_free(r);
}

/* ---- gzip ------------------------------------------------------------------------------ */

static void inflate_all(const char *gz, size_t gzlen, char *out, size_t cap, size_t *outlen)
{
	z_stream zs;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK); /* gzip wrapper only */
	zs.next_in = (Bytef *)gz;
	zs.avail_in = (uInt)gzlen;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.avail_in, 0);
	*outlen = zs.total_out;
	inflateEnd(&zs);
}

static void test_gzip_roundtrip(void **state)
{
	static char big[200000], back[200001];
	char *gz;
	size_t gzlen, n, i;

	for (i = 0; i < sizeof(big); i++) /* compressible, but not trivially */
		big[i] = "metric_total{a=\"b\"} 123\n"[i % 25] + (char)(i / 25 % 3);
	assert_int_equal(expo_gzip(big, sizeof(big), &gz, &gzlen), 0);
	/* gzip magic, deflate method */
	assert_true(gzlen > 18 && (unsigned char)gz[0] == 0x1f && (unsigned char)gz[1] == 0x8b);
	assert_int_equal(gz[2], 8);
	assert_true(gzlen < sizeof(big) / 4);
	inflate_all(gz, gzlen, back, sizeof(back), &n);
	assert_int_equal(n, sizeof(big));
	assert_memory_equal(back, big, sizeof(big));
	free(gz);

	assert_int_equal(expo_gzip(expected_text, strlen(expected_text), &gz, &gzlen), 0);
	inflate_all(gz, gzlen, back, sizeof(back), &n);
	assert_int_equal(n, strlen(expected_text));
	assert_memory_equal(back, expected_text, n);
	free(gz);

	assert_int_equal(expo_gzip("", 0, &gz, &gzlen), 0);
	inflate_all(gz, gzlen, back, sizeof(back), &n);
	assert_int_equal(n, 0);
	free(gz);
}

/* Rendered through the gzip window: the same bytes as the plain render, across many fills
 * of the window and with a label value longer than the window itself. */
static void test_gzip_streamed(void **state)
{
	static const char *names[] = { "route", "method" };
	static char longval[EXPO_WINDOW + 100], back[4 << 20];
	struct registry *r = registry_new();
	struct metric *h;
	struct expo_buf b = { 0 };
	struct expo_gzip g;
	const char *v[2];
	char route[32], *text, *gz;
	size_t len, gzlen, n, i;
	int om;

	h = registry_add(r, METRIC_HISTOGRAM, "req_seconds", "Requests.", names, 2,
			 metric_duration_buckets, metric_duration_nbuckets, 0);
	assert_non_null(h);
	v[0] = route;
	v[1] = "GET";
	for (i = 0; i < 2000; i++) {
		snprintf(route, sizeof(route), "/r/%zu", i);
		assert_int_equal(metric_observe(h, v, (double)i / 1000), 0);
	}
	memset(longval, 'x', sizeof(longval) - 1);
	v[0] = longval;
	assert_int_equal(metric_observe(h, v, 1), 0);
	for (om = 0; om <= 1; om++) {
		assert_int_equal(registry_render_format(r, om, &text, &len), 0);
		assert_true(len > 4 * EXPO_WINDOW && len < sizeof(back));
		assert_int_equal(expo_gzip_begin(&g, &b), 0);
		assert_int_equal(registry_render_into(r, om, &b), 0);
		assert_int_equal(expo_gzip_end(&g, &b, &gz, &gzlen), 0);
		assert_null(b.p);
		inflate_all(gz, gzlen, back, sizeof(back), &n);
		assert_int_equal(n, len);
		assert_memory_equal(back, text, len);
		free(gz);
		free(text);
	}
	registry_free(r);
}

/* The mapped text grows past several mappings' worth and keeps every byte in order. */
static void test_map(void **state)
{
	struct expo_map m = { 0 };
	static char chunk[300000];
	size_t i, k;

	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)('a' + i % 23);
	assert_int_equal(expo_map_put(&m, "", 0), 0);
	for (k = 0; k < 20; k++)
		assert_int_equal(expo_map_put(&m, chunk + k, sizeof(chunk) - k), 0);
	assert_true(m.cap >= m.len && m.cap > (4u << 20));
	for (i = 0, k = 0; k < 20; i += sizeof(chunk) - k, k++)
		assert_memory_equal(m.p + i, chunk + k, sizeof(chunk) - k);
	assert_int_equal(i, m.len);
	expo_map_free(&m);
	assert_null(m.p);
	expo_map_free(&m);
}

/* ---- Accept-Encoding ------------------------------------------------------------------- */

static void test_accepts_gzip(void **state)
{
	static const struct {
		const char *h;
		bool want;
	} cases[] = {
		{ NULL, false },
		{ "", false },
		{ "gzip", true },
		{ "GZip", true },
		{ "x-gzip", true },
		{ "gzip, deflate, br", true },
		{ "deflate,gzip", true },
		{ "br;q=1.0, gzip;q=0.8, *;q=0.1", true },
		{ "  gzip ; q=0.5 , br", true },
		{ "gzip;q=0.001", true },
		{ "gzip;Q=1", true },
		{ "gzip;q=1.000", true },
		{ "gzip;level=9", true }, /* unknown parameter: ignored */
		{ "gzip;foo=\"a;b,c\"", true },
		{ "*", true },
		{ "identity", false },
		{ "deflate, br", false },
		{ "gzipx", false },
		{ "xgzip", false },
		{ "gzip;q=0", false },
		{ "gzip; q=0.0", false },
		{ "gzip;q=0.000", false },
		{ "*;q=0", false },
		{ "*, gzip;q=0", false }, /* explicit beats the wildcard */
		{ "gzip;q=0, *", false },
		{ "*;q=0, gzip", true },
		{ "gzip;q=2", false }, /* malformed q: the element is ignored */
		{ "gzip;q=1.5", false },
		{ "gzip;q=0.0001", false },
		{ "gzip;q=.5", false },
		{ "gzip;q=", false },
		{ "gzip;q=abc", false },
		{ "gzip;q=\"1\"", false },
		{ "gzip;q=1.5, deflate", false },
		{ "gzip;q=2, *", true }, /* the bad element goes, the wildcard stays */
		{ "gzip garbage", false },
		{ ", ,gzip,,", true },
		{ "identity;q=1, gzip;q=0.5", true },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (expo_accepts_gzip(cases[i].h) != cases[i].want)
			fail_msg("Accept-Encoding \"%s\": expected %d",
				 cases[i].h ? cases[i].h : "(null)", cases[i].want);
}

/* ---- buffer ---------------------------------------------------------------------------- */

static void test_buf(void **state)
{
	struct expo_buf b = { 0 };
	char *out, big[5000];
	size_t len;

	memset(big, 'x', sizeof(big));
	expo_buf_puts(&b, "a");
	expo_buf_printf(&b, "%d-%s", 42, "z");
	expo_buf_double(&b, 0.25);
	expo_buf_label_value(&b, "\"\xff", 2);
	expo_buf_put(&b, big, sizeof(big)); /* crosses the first 4 KiB allocation */
	assert_int_equal(expo_buf_take(&b, &out, &len), 0);
	assert_int_equal(len, 14 + sizeof(big));
	assert_memory_equal(out, "a42-z0.25\\\"" FFFD, 14);
	assert_int_equal(out[len], '\0');
	free(out);
	assert_null(b.p);

	/* An empty buffer still yields a valid empty string. */
	assert_int_equal(expo_buf_take(&b, &out, &len), 0);
	assert_string_equal(out, "");
	assert_int_equal(len, 0);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_label),  cmocka_unit_test(test_escape_truncation),
		cmocka_unit_test(test_escape_help),   cmocka_unit_test(test_format_double),
		cmocka_unit_test(test_render_exact),  cmocka_unit_test(test_gzip_roundtrip),
		cmocka_unit_test(test_gzip_streamed), cmocka_unit_test(test_map),
		cmocka_unit_test(test_accepts_gzip),  cmocka_unit_test(test_buf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
