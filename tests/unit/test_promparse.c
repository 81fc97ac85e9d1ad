// SPDX-License-Identifier: GPL-2.0-only
/* Prometheus text format 0.0.4 parser: families, samples, labels, escapes, every error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "top/promparse.h"

static const char *const suffixes[] = { "", "_bucket", "_sum", "_count" };

/* A log of every callback, one line each, to compare with an exact expected text. */
struct log {
	char text[8192];
	size_t len;
	int fail_at; /* the sample callback fails on this sample (1-based); 0: never */
	int samples;
};

static void logf_(struct log *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	l->len += (size_t)vsnprintf(l->text + l->len, sizeof(l->text) - l->len, fmt, ap);
	va_end(ap);
	assert_true(l->len < sizeof(l->text));
}

/* Shows newlines and quotes in a decoded value as \n and \". */
static void log_str(struct log *l, const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			logf_(l, "\\n");
		else if (*s == '"')
			logf_(l, "\\\"");
		else
			logf_(l, "%c", *s);
	}
}

static int on_family(const struct prom_family *f, void *ctx)
{
	struct log *l = ctx;

	logf_(l, "F %s %s %zu help=", f->name, prom_type_name(f->type), f->nsamples);
	if (f->help)
		log_str(l, f->help);
	else
		logf_(l, "(none)");
	logf_(l, "\n");
	return 0;
}

static int on_sample(const struct prom_sample *s, void *ctx)
{
	struct log *l = ctx;
	size_t i;

	if (++l->samples == l->fail_at)
		return -ECANCELED;
	logf_(l, "S %zu %s [%s%s] {", s->line, s->name, s->family->name, suffixes[s->suffix]);
	for (i = 0; i < s->nlabels; i++) {
		logf_(l, "%s%s=\"", i ? "," : "", s->labels[i].name);
		log_str(l, s->labels[i].value);
		logf_(l, "\"/%zu", s->labels[i].value_len);
	}
	logf_(l, "} %.17g", s->value);
	if (s->has_timestamp)
		logf_(l, " @%lld", (long long)s->timestamp_ms);
	logf_(l, "\n");
	return 0;
}

/* Parses a copy of text; returns the parse's result, the log in *l. */
static int parse(const char *text, struct log *l, struct prom_error *err)
{
	struct prom_handler h = { on_family, on_sample, l };
	size_t n = strlen(text);
	char *copy = malloc(n + 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, text, n + 1);
	rc = prom_parse(copy, n, &h, err);
	free(copy);
	return rc;
}

static void check_log(const char *text, const char *want)
{
	struct log l = { 0 };
	struct prom_error err = { 0 };
	int rc = parse(text, &l, &err);

	if (rc)
		fail_msg("parse failed: line %zu: %s", err.line, err.reason);
	if (strcmp(l.text, want))
		fail_msg("got:\n%s\nwant:\n%s", l.text, want);
}

static void test_document(void **state)
{
	check_log("# HELP http_x Duration of \"x\".\n"
		  "# TYPE http_x histogram\n"
		  "http_x_bucket{m=\"GET\",le=\"0.5\"} 3\n"
		  "http_x_bucket{m=\"GET\",le=\"+Inf\"} 4\n"
		  "http_x_sum{m=\"GET\"} 1.25\n"
		  "http_x_count{m=\"GET\"} 4\n"
		  "# TYPE reqs_total counter\n"
		  "reqs_total 7 1700000000000\n"
		  "# HELP temp Celsius.\n"
		  "# TYPE temp gauge\n"
		  "temp -3.5\n"
		  "bare_metric 1\n"
		  "bare_metric{a=\"b\"} 2\n"
		  "# TYPE rpc summary\n"
		  "rpc{quantile=\"0.99\"} 0.3\n"
		  "rpc_sum 9\n"
		  "rpc_count 30\n",
		  "S 3 http_x_bucket [http_x_bucket] {m=\"GET\"/3,le=\"0.5\"/3} 3\n"
		  "S 4 http_x_bucket [http_x_bucket] {m=\"GET\"/3,le=\"+Inf\"/4} 4\n"
		  "S 5 http_x_sum [http_x_sum] {m=\"GET\"/3} 1.25\n"
		  "S 6 http_x_count [http_x_count] {m=\"GET\"/3} 4\n"
		  "F http_x histogram 4 help=Duration of \\\"x\\\".\n"
		  "S 8 reqs_total [reqs_total] {} 7 @1700000000000\n"
		  "F reqs_total counter 1 help=(none)\n"
		  "S 11 temp [temp] {} -3.5\n"
		  "F temp gauge 1 help=Celsius.\n"
		  "S 12 bare_metric [bare_metric] {} 1\n"
		  "S 13 bare_metric [bare_metric] {a=\"b\"/1} 2\n"
		  "F bare_metric untyped 2 help=(none)\n"
		  "S 15 rpc [rpc] {quantile=\"0.99\"/4} 0.29999999999999999\n"
		  "S 16 rpc_sum [rpc_sum] {} 9\n"
		  "S 17 rpc_count [rpc_count] {} 30\n"
		  "F rpc summary 3 help=(none)\n");
}

static void test_escapes(void **state)
{
	/* Label values: \\ \" \n; HELP: \\ and \n, a quote stays as is. */
	check_log("# HELP e Back\\\\slash, new\\nline, \"quoted\".\n"
		  "e{path=\"C:\\\\dir\\\\\",q=\"say \\\"hi\\\"\",nl=\"a\\nb\",empty=\"\"} 1\n",
		  "S 2 e [e] {path=\"C:\\dir\\\"/7,q=\"say \\\"hi\\\"\"/8,nl=\"a\\nb\"/3,"
		  "empty=\"\"/0} 1\n"
		  "F e untyped 1 help=Back\\slash, new\\nline, \\\"quoted\\\".\n");
	/* A '}' or ',' or '#' inside a value is data. */
	check_log("x{a=\"}{,#=\"} 1\n", "S 1 x [x] {a=\"}{,#=\"/5} 1\nF x untyped 1 help=(none)\n");
	/* UTF-8 passes untouched. */
	check_log("u{r=\"/caf\xc3\xa9\"} 1\n",
		  "S 1 u [u] {r=\"/caf\xc3\xa9\"/6} 1\nF u untyped 1 help=(none)\n");
}

static void test_blanks_and_comments(void **state)
{
	check_log("\n"
		  "   \t\n"
		  "# a comment\n"
		  "#HELP not_meta is a comment\n"
		  "# HELPER is a comment too\n"
		  "# TYPE\tspaced\t  gauge  \n"
		  "  spaced { a = \"1\" , b=\"2\", } \t 5 \t 42 \n"
		  "spaced{} 6\n"
		  "spaced{a=\"x\"}7\n"
		  "colon:name:x 8",
		  "S 7 spaced [spaced] {a=\"1\"/1,b=\"2\"/1} 5 @42\n"
		  "S 8 spaced [spaced] {} 6\n"
		  "S 9 spaced [spaced] {a=\"x\"/1} 7\n"
		  "F spaced gauge 3 help=(none)\n"
		  "S 10 colon:name:x [colon:name:x] {} 8\n"
		  "F colon:name:x untyped 1 help=(none)\n");
}

static void test_values(void **state)
{
	check_log("v NaN\nv +Inf\nv -Inf\nv 1e-3\nv -0\nv 0x10\nv 12 -5\nv 1.5E+2 0\n",
		  "S 1 v [v] {} nan\n"
		  "S 2 v [v] {} inf\n"
		  "S 3 v [v] {} -inf\n"
		  "S 4 v [v] {} 0.001\n"
		  "S 5 v [v] {} -0\n"
		  "S 6 v [v] {} 16\n"
		  "S 7 v [v] {} 12 @-5\n"
		  "S 8 v [v] {} 150 @0\n"
		  "F v untyped 8 help=(none)\n");
}

/* Which family a sample joins: by the family's type and the name's suffix. */
static void test_membership(void **state)
{
	check_log("# TYPE h histogram\n"
		  "h_bucket{le=\"1\"} 1\n"
		  "h_total 1\n" /* not a histogram part: a family of its own */
		  "h_count 2\n" /* and h's _count after it is yet another one */
		  "# TYPE c_total counter\n"
		  "c_total 1\n"
		  "c_total_created 5\n"
		  "# TYPE g gauge\n"
		  "g_sum 1\n"
		  "# HELP only_help Help, no type, no samples.\n"
		  "# TYPE s summary\n"
		  "s_count 1\n",
		  "S 2 h_bucket [h_bucket] {le=\"1\"/1} 1\n"
		  "F h histogram 1 help=(none)\n"
		  "S 3 h_total [h_total] {} 1\n"
		  "F h_total untyped 1 help=(none)\n"
		  "S 4 h_count [h_count] {} 2\n"
		  "F h_count untyped 1 help=(none)\n"
		  "S 6 c_total [c_total] {} 1\n"
		  "F c_total counter 1 help=(none)\n"
		  "S 7 c_total_created [c_total_created] {} 5\n"
		  "F c_total_created untyped 1 help=(none)\n"
		  "F g gauge 0 help=(none)\n"
		  "S 9 g_sum [g_sum] {} 1\n"
		  "F g_sum untyped 1 help=(none)\n"
		  "F only_help untyped 0 help=Help, no type, no samples.\n"
		  "S 12 s_count [s_count] {} 1\n"
		  "F s summary 1 help=(none)\n");
}

struct bad {
	const char *text;
	size_t line;
	const char *reason;
};

static const struct bad bad_texts[] = {
	{ "x{a=\"b} 1\n", 1, "unterminated label value" },
	{ "x{a=\"\\q\"} 1\n", 1, "invalid escape in label value (\\\\, \\\" or \\n)" },
	{ "x{a=\"1\",a=\"2\"} 1\n", 1, "label name repeated in a sample" },
	{ "x{1a=\"b\"} 1\n", 1, "invalid label name" },
	{ "x{,} 1\n", 1, "invalid label name" },
	{ "x{a:b=\"c\"} 1\n", 1, "expected '=' after a label name" },
	{ "x{a b=\"c\"} 1\n", 1, "expected '=' after a label name" },
	{ "x{a=b} 1\n", 1, "label value not quoted" },
	{ "x{a=\"b\" c=\"d\"} 1\n", 1, "expected ',' or '}' after a label value" },
	{ "x{a=\"b\"\n", 1, "expected ',' or '}' after a label value" },
	{ "x\n", 1, "sample without a value" },
	{ "x   \n", 1, "sample without a value" },
	{ "x{a=\"b\"}\n", 1, "sample without a value" },
	{ "x abc\n", 1, "invalid sample value" },
	{ "x 1\r\n", 1, "invalid sample value" },
	{ "x 1 1.5\n", 1, "invalid timestamp" },
	{ "x 1 99999999999999999999\n", 1, "invalid timestamp" },
	{ "x 1 2 3\n", 1, "text after the timestamp" },
	{ "1x 1\n", 1, "invalid metric name" },
	{ "x-y 1\n", 1, "invalid character in a metric name" },
	{ "ok 1\nok 2\n# TYPE t foo\n", 3,
	  "unknown TYPE (counter, gauge, histogram, summary, untyped)" },
	{ "# TYPE t counter extra\n", 1, "text after the TYPE" },
	{ "# TYPE t counter\n# TYPE t gauge\n", 2, "second TYPE line for a family" },
	{ "t 1\n# TYPE t counter\n", 2, "TYPE line after the family's samples" },
	{ "# HELP t a\n# HELP t b\n", 2, "second HELP line for a family" },
	{ "# HELP t tab\\t\n", 1, "invalid escape in HELP (only \\\\ and \\n)" },
	{ "# TYPE 1t counter\n", 1, "invalid metric name in TYPE" },
	{ "# HELP\n", 1, "invalid metric name in HELP" },
	{ "# TYPE h histogram\nh_bucket{x=\"1\"} 1\n", 2,
	  "histogram bucket without an \"le\" label" },
	{ "# TYPE s summary\ns 1\n", 2, "summary sample without a \"quantile\" label" },
};

static void test_errors(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(bad_texts) / sizeof(bad_texts[0]); i++) {
		const struct bad *b = &bad_texts[i];
		struct log l = { 0 };
		struct prom_error err = { 0 };
		int rc = parse(b->text, &l, &err);

		if (rc != -EINVAL || err.line != b->line || strcmp(err.reason, b->reason))
			fail_msg("text %zu \"%s\": rc %d line %zu \"%s\", want line %zu \"%s\"", i,
				 b->text, rc, err.line, err.reason ? err.reason : "(null)", b->line,
				 b->reason);
	}
}

static void test_nul_and_label_cap(void **state)
{
	char text[] = "a 1\nb{x=\"\0\"} 1\n", many[2048];
	struct prom_error err = { 0 };
	struct log l = { 0 };
	struct prom_handler h = { on_family, on_sample, &l };
	size_t n = 0;
	int i;

	assert_int_equal(prom_parse(text, sizeof(text) - 1, &h, &err), -EINVAL);
	assert_int_equal(err.line, 2);
	assert_string_equal(err.reason, "NUL byte in the text");
	for (i = 0; i <= PROM_MAX_LABELS; i++) {
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%sl%d=\"v\"", i ? "," : "m{", i);
		if (i == PROM_MAX_LABELS - 1) { /* exactly the cap parses */
			memcpy(many + n, "} 1", 4);
			memset(&l, 0, sizeof(l));
			assert_int_equal(parse(many, &l, &err), 0);
		}
	}
	memcpy(many + n, "} 1", 4);
	assert_int_equal(parse(many, &l, &err), -EINVAL);
	assert_string_equal(err.reason, "too many labels");
}

static void test_callback_error_and_null_handlers(void **state)
{
	struct log l = { .fail_at = 2 };
	struct prom_error err = { 0 };
	char text[] = "a 1\nb 2\nc 3\n";

	/* The second sample's callback fails: the parse stops there with its error. */
	assert_int_equal(parse("a 1\nb 2\nc 3\n", &l, &err), -ECANCELED);
	assert_string_equal(l.text, "S 1 a [a] {} 1\nF a untyped 1 help=(none)\n");
	/* No handler at all: a syntax check. */
	assert_int_equal(prom_parse(text, sizeof(text) - 1, NULL, NULL), 0);
	assert_int_equal(prom_parse((char[]){ "x{" }, 2, NULL, NULL), -EINVAL);
	assert_int_equal(prom_parse((char[]){ "" }, 0, NULL, NULL), 0);
}

static void test_label_lookup(void **state)
{
	struct prom_sample s = { .nlabels = 2 };

	s.labels[0] = (struct prom_label){ "a", "1", 1 };
	s.labels[1] = (struct prom_label){ "le", "0.5", 3 };
	assert_string_equal(prom_label(&s, "le"), "0.5");
	assert_string_equal(prom_label(&s, "a"), "1");
	assert_null(prom_label(&s, "l"));
	assert_string_equal(prom_type_name(PROM_COUNTER), "counter");
	assert_string_equal(prom_type_name(PROM_GAUGE), "gauge");
	assert_string_equal(prom_type_name(PROM_HISTOGRAM), "histogram");
	assert_string_equal(prom_type_name(PROM_SUMMARY), "summary");
	assert_string_equal(prom_type_name(PROM_UNTYPED), "untyped");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_blanks_and_comments),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_membership),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_nul_and_label_cap),
		cmocka_unit_test(test_callback_error_and_null_handlers),
		cmocka_unit_test(test_label_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
