// SPDX-License-Identifier: GPL-2.0-only
/* sonde top: quantiles, deltas and rows of two fixed scrapes, the rendered text, options. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "top/top.h"
#include "top/topview.h"

#define NB 16 /* sonde's duration buckets and +Inf */
static const char *const bounds[NB] = { "0",   "0.005", "0.01", "0.025", "0.05", "0.075",
					"0.1", "0.25",	"0.5",	"0.75",	 "1",	 "2.5",
					"5",   "7.5",	"10",	"+Inf" };
#define H TOP_HTTP_FAMILY
#define D TOP_DB_FAMILY
#define TE "service_name=\"trade-engine\""
#define BI "service_name=\"billing\""
#define RD "db_system_name=\"redis\",db_operation_name=\"GET\""
#define PS "db_system_name=\"postgresql\",db_operation_name=\"SELECT\""
#define PI "db_system_name=\"postgresql\",db_operation_name=\"INSERT\""
#define PG_SRV "server_address=\"10.0.0.7\",server_port=\"5432\""

/* A growing text. */
struct text {
	char *s;
	size_t len, cap;
};

static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if ((size_t)n < t->cap - t->len)
			break;
		t->cap = t->cap ? 2 * t->cap : 4096;
		t->s = realloc(t->s, t->cap);
		assert_non_null(t->s);
		t->s[t->len] = '\0';
	}
	t->len += (size_t)n;
}

struct obs {
	int bucket; /* index into bounds */
	int n;	    /* observations in it */
};

/* One histogram series as sonde writes it: cumulative buckets, _sum, _count. */
static void hist(struct text *t, const char *family, const char *labels, const struct obs *o)
{
	double per[NB] = { 0 }, cum = 0;
	int i;

	for (; o && o->n; o++)
		per[o->bucket] += o->n;
	for (i = 0; i < NB; i++) {
		cum += per[i];
		add(t, "%s_bucket{%s,le=\"%s\"} %.0f\n", family, labels, bounds[i], cum);
	}
	add(t, "%s_sum{%s} 1.5\n%s_count{%s} %.0f\n", family, labels, family, labels, cum);
}

static void head(struct text *t, const char *family)
{
	add(t, "# HELP %s Whatever.\n# TYPE %s histogram\n", family, family);
}

#define OBS(...) ((const struct obs[]){ __VA_ARGS__, { 0, 0 } })

/* Families sonde writes that top must leave alone. */
static void noise(struct text *t)
{
	add(t, "# HELP sonde_build_info Build.\n# TYPE sonde_build_info gauge\n"
	       "sonde_build_info{version=\"0.1.0\",abi=\"1\"} 1\n");
	head(t, "http_server_request_body_size_bytes");
	hist(t, "http_server_request_body_size_bytes", TE ",http_route=\"/noise\"",
	     OBS({ 3, 1000 }));
	head(t, "http_client_request_duration_seconds");
	hist(t, "http_client_request_duration_seconds", TE ",http_route=\"/noise\"",
	     OBS({ 3, 1000 }));
}

/*
 * The earlier scrape. Per series, what changes by the later one (dt = 2 s):
 *  A GET  /api/v1/orders/{id} 200  +100 in (0,.005], +100 in (.005,.01]
 *  B GET  /api/v1/orders/{id} 500  +50 in (.01,.025]
 *  C POST /api/v1/orders 201       +40 in (.05,.075]
 *  D GET  /api/v1/orders/{id}/fail 500  +20 in (0,.005]
 *  E billing /api/v1/pay           new: 6 in (.1,.25]
 *  F GET  /healthz                 unchanged
 *  G billing /api/v1/refund        reset: 1000 before, 20 in (.25,.5] after
 *  H GET  /api/v1/slow             new: 2 above 10 s (+Inf)
 *  redis GET ok +400, redis GET ERR new 4; postgresql SELECT +100 (trade-engine) and new
 *  60 (billing); postgresql INSERT ok +18, error 23505 +2.
 */
static char *earlier(size_t *len)
{
	struct text t = { 0 };

	noise(&t);
	head(&t, H);
	hist(&t, H,
	     "http_request_method=\"GET\",http_response_status_code=\"200\","
	     "http_route=\"/api/v1/orders/{id}\",url_scheme=\"http\",server_port=\"8080\"," TE,
	     OBS({ 1, 100 }));
	hist(&t, H,
	     "http_request_method=\"GET\",http_response_status_code=\"500\","
	     "http_route=\"/api/v1/orders/{id}\",url_scheme=\"http\",server_port=\"8080\"," TE,
	     OBS({ 3, 10 }));
	hist(&t, H,
	     "http_request_method=\"POST\",http_response_status_code=\"201\","
	     "http_route=\"/api/v1/orders\",url_scheme=\"http\",server_port=\"8080\"," TE,
	     OBS({ 4, 10 }));
	hist(&t, H,
	     "http_request_method=\"GET\",http_response_status_code=\"500\","
	     "http_route=\"/api/v1/orders/{id}/fail\",url_scheme=\"http\",server_port=\"8080\"," TE,
	     OBS({ 1, 5 }));
	hist(&t, H,
	     "http_request_method=\"GET\",http_response_status_code=\"200\","
	     "http_route=\"/healthz\",url_scheme=\"http\",server_port=\"8080\"," TE,
	     OBS({ 1, 7 }));
	hist(&t, H,
	     "http_request_method=\"POST\",http_response_status_code=\"201\","
	     "http_route=\"/api/v1/refund\",url_scheme=\"http\",server_port=\"9090\"," BI,
	     OBS({ 8, 1000 }));
	head(&t, D);
	hist(&t, D, RD ",error_type=\"\",server_address=\"127.0.0.1\",server_port=\"6379\"," TE,
	     OBS({ 1, 1000 }));
	hist(&t, D, PS ",error_type=\"\"," PG_SRV "," TE, OBS({ 2, 50 }));
	hist(&t, D, PI ",error_type=\"\"," PG_SRV "," TE, OBS({ 4, 2 }));
	hist(&t, D, PI ",error_type=\"23505\"," PG_SRV "," TE, OBS({ 4, 1 }));
	*len = t.len;
	return t.s;
}

/* The later scrape; series A's labels come in another order (identity ignores order). */
static char *later(size_t *len)
{
	struct text t = { 0 };

	head(&t, H);
	hist(&t, H,
	     TE ",server_port=\"8080\",url_scheme=\"http\",http_route=\"/api/v1/orders/{id}\","
		"http_response_status_code=\"200\",http_request_method=\"GET\"",
	     OBS({ 1, 200 }, { 2, 100 }));
	hist(&t, H,
	     "http_request_method=\"GET\",http_response_status_code=\"500\","
	     "http_route=\"/api/v1/orders/{id}\",url_scheme=\"http\",server_port=\"8080\"," TE,
	     OBS({ 3, 60 }));
	hist(&t, H,
	     "http_request_method=\"POST\",http_response_status_code=\"201\","
	     "http_route=\"/api/v1/orders\",url_scheme=\"http\",server_port=\"8080\"," TE,
	     OBS({ 4, 10 }, { 5, 40 }));
	hist(&t, H,
	     "http_request_method=\"GET\",http_response_status_code=\"500\","
	     "http_route=\"/api/v1/orders/{id}/fail\",url_scheme=\"http\",server_port=\"8080\"," TE,
	     OBS({ 1, 25 }));
	hist(&t, H,
	     "http_request_method=\"GET\",http_response_status_code=\"200\","
	     "http_route=\"/api/v1/pay\",url_scheme=\"http\",server_port=\"9090\"," BI,
	     OBS({ 7, 6 }));
	hist(&t, H,
	     "http_request_method=\"GET\",http_response_status_code=\"200\","
	     "http_route=\"/healthz\",url_scheme=\"http\",server_port=\"8080\"," TE,
	     OBS({ 1, 7 }));
	hist(&t, H,
	     "http_request_method=\"POST\",http_response_status_code=\"201\","
	     "http_route=\"/api/v1/refund\",url_scheme=\"http\",server_port=\"9090\"," BI,
	     OBS({ 8, 20 }));
	hist(&t, H,
	     "http_request_method=\"GET\",http_response_status_code=\"200\","
	     "http_route=\"/api/v1/slow\",url_scheme=\"http\",server_port=\"8080\"," TE,
	     OBS({ 15, 2 }));
	noise(&t);
	head(&t, D);
	hist(&t, D, RD ",error_type=\"\",server_address=\"127.0.0.1\",server_port=\"6379\"," TE,
	     OBS({ 1, 1400 }));
	hist(&t, D, RD ",error_type=\"ERR\",server_address=\"127.0.0.1\",server_port=\"6379\"," TE,
	     OBS({ 1, 4 }));
	hist(&t, D, PS ",error_type=\"\"," PG_SRV "," TE, OBS({ 2, 150 }));
	hist(&t, D, PS ",error_type=\"\"," PG_SRV "," BI, OBS({ 3, 60 }));
	hist(&t, D, PI ",error_type=\"\"," PG_SRV "," TE, OBS({ 4, 20 }));
	hist(&t, D, PI ",error_type=\"23505\"," PG_SRV "," TE, OBS({ 4, 3 }));
	*len = t.len;
	return t.s;
}

struct want_row {
	const char *a, *b;
	double total, errors, rate, error_rate, p50, p99;
};

/* Quantiles are float arithmetic: equal within 1e-12, or both NaN. */
static void check_close(double got, double want, const char *what, const char *row)
{
	if (isnan(want) ? !isnan(got) : !(fabs(got - want) <= 1e-12 * fmax(1, fabs(want))))
		fail_msg("%s %s: got %.17g, want %.17g", row, what, got, want);
}

static void check_rows(const struct top_view *v, enum top_kind k, const struct want_row *w,
		       size_t n)
{
	size_t i;

	assert_int_equal(v->nrows[k], n);
	for (i = 0; i < n; i++) {
		const struct top_row *r = &v->rows[k][i];

		assert_string_equal(r->group[0], w[i].a);
		assert_string_equal(r->group[1], w[i].b);
		if (r->total != w[i].total || r->errors != w[i].errors || r->rate != w[i].rate ||
		    r->error_rate != w[i].error_rate)
			fail_msg("%s: total %g errors %g rate %g error_rate %g", w[i].b, r->total,
				 r->errors, r->rate, r->error_rate);
		check_close(r->p50, w[i].p50, "p50", w[i].b);
		check_close(r->p99, w[i].p99, "p99", w[i].b);
	}
}

static const struct want_row http_rows[] = {
	{ "trade-engine", "/api/v1/orders/{id}", 250, 50, 125, 25, .005 + .005 * (25. / 100),
	  .01 + .015 * (47.5 / 50) },
	{ "trade-engine", "/api/v1/orders", 40, 0, 20, 0, .05 + .025 * (20. / 40),
	  .05 + .025 * (39.6 / 40) },
	/* ties at 10/s: billing before trade-engine */
	{ "billing", "/api/v1/refund", 20, 0, 10, 0, .25 + .25 * (10. / 20),
	  .25 + .25 * (19.8 / 20) },
	{ "trade-engine", "/api/v1/orders/{id}/fail", 20, 20, 10, 10, .005 * (10. / 20),
	  .005 * (19.8 / 20) },
	{ "billing", "/api/v1/pay", 6, 0, 3, 0, .1 + .15 * (3. / 6), .1 + .15 * (5.94 / 6) },
	{ "trade-engine", "/api/v1/slow", 2, 0, 1, 0, 10, 10 }, /* +Inf: the highest bound */
	{ "trade-engine", "/healthz", 0, 0, 0, 0, NAN, NAN },
};

static const struct want_row db_rows[] = {
	{ "redis", "GET", 404, 4, 202, 2, .005 * (202. / 404), .005 * (399.96 / 404) },
	{ "postgresql", "SELECT", 160, 0, 80, 0, .005 + .005 * (80. / 100),
	  .01 + .015 * (58.4 / 60) },
	{ "postgresql", "INSERT", 20, 2, 10, 1, .025 + .025 * (10. / 20),
	  .025 + .025 * (19.8 / 20) },
};

struct fixture {
	char *a, *b;
	struct top_snapshot s1, s2;
	struct top_view v;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct prom_error err = { 0 };
	size_t n;

	assert_non_null(f);
	f->a = earlier(&n);
	top_snapshot_init(&f->s1);
	assert_int_equal(top_snapshot_parse(&f->s1, f->a, n, &err), 0);
	f->b = later(&n);
	top_snapshot_init(&f->s2);
	assert_int_equal(top_snapshot_parse(&f->s2, f->b, n, &err), 0);
	assert_int_equal(top_view_build(&f->v, &f->s1, &f->s2, 2.0), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	top_view_free(&f->v);
	top_snapshot_free(&f->s1);
	top_snapshot_free(&f->s2);
	free(f->a);
	free(f->b);
	free(f);
	return 0;
}

static void test_rows(void **state)
{
	struct fixture *f = *state;

	/* Only the two duration families count: 6 + 4 series, then 8 + 6. */
	assert_int_equal(f->s1.n, 10);
	assert_int_equal(f->s2.n, 14);
	check_rows(&f->v, TOP_HTTP, http_rows, sizeof(http_rows) / sizeof(http_rows[0]));
	check_rows(&f->v, TOP_DB, db_rows, sizeof(db_rows) / sizeof(db_rows[0]));
}

static const char plain_frame[] =
	"sonde top  http://127.0.0.1:9464/metrics  rates over 2.000 s\n"
	"p50/p99: linear interpolation inside the bucket, as Prometheus' histogram_quantile()\n"
	"\n"
	"HTTP server: per service and route; errors are 5xx responses\n"
	"SERVICE       ROUTE                       REQ/S     ERR%  P50(ms)  P99(ms)\n"
	"trade-engine  /api/v1/orders/{id}         125.0     20.0     6.25    24.25\n"
	"trade-engine  /api/v1/orders               20.0      0.0    62.50    74.75\n"
	"billing       /api/v1/refund               10.0      0.0   375.00   497.50\n"
	"trade-engine  /api/v1/orders/{id}/fail     10.0    100.0     2.50     4.95\n"
	"billing       /api/v1/pay                   3.0      0.0   175.00   248.50\n"
	"trade-engine  /api/v1/slow                  1.0      0.0 10000.00 10000.00\n"
	"trade-engine  /healthz                      0.0        -        -        -\n"
	"\n"
	"Database client: per system and operation; errors have an error_type\n"
	"SYSTEM        OPERATION                   OPS/S    ERR/S  P50(ms)  P99(ms)\n"
	"redis         GET                         202.0      2.0     2.50     4.95\n"
	"postgresql    SELECT                       80.0      0.0     9.00    24.60\n"
	"postgresql    INSERT                       10.0      1.0    37.50    49.75\n";

static char *render(const struct top_view *v, const struct top_frame *fr)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	top_render(m, v, fr);
	assert_int_equal(fclose(m), 0);
	return buf;
}

static void check_text(char *got, const char *want)
{
	if (strcmp(got, want))
		fail_msg("got:\n%s\nwant:\n%s", got, want);
	free(got);
}

static void test_render_plain(void **state)
{
	struct fixture *f = *state;
	struct top_frame fr = { .url = "http://127.0.0.1:9464/metrics" };

	check_text(render(&f->v, &fr), plain_frame);
}

/* The live frame: clock, key help and status; cut to 60 columns and 16 lines. */
static void test_render_live_cut(void **state)
{
	struct fixture *f = *state;
	struct top_frame fr = { .url = "http://[::1]:9464/metrics",
				.clock = "12:34:56",
				.status = "scrape of x failed: Connection refused",
				.live = true,
				.width = 60,
				.height = 16 };

	/* 16 lines - 9 fixed - 1 status = 6 rows: DB (3) needs at most half, HTTP gets 3,
	 * its last one saying how many more there are. Route column: 60 - 36 - 2 - 12. Every
	 * line is at most 60 columns; 15 lines, so the screen never scrolls. */
	check_text(render(&f->v, &fr),
		   "sonde top  http://[::1]:9464/metrics  rates over 2.000 s  12\n"
		   "p50/p99: linear interpolation inside the bucket, as Promethe\n"
		   "scrape of x failed: Connection refused\n"
		   "\n"
		   "HTTP server: per service and route; errors are 5xx responses\n"
		   "SERVICE       ROUTE         REQ/S     ERR%  P50(ms)  P99(ms)\n"
		   "trade-engine  /api/v1/o~    125.0     20.0     6.25    24.25\n"
		   "trade-engine  /api/v1/o~     20.0      0.0    62.50    74.75\n"
		   "... and 5 more\n"
		   "\n"
		   "Database client: per system and operation; errors have an er\n"
		   "SYSTEM        OPERATION     OPS/S    ERR/S  P50(ms)  P99(ms)\n"
		   "redis         GET           202.0      2.0     2.50     4.95\n"
		   "postgresql    SELECT         80.0      0.0     9.00    24.60\n"
		   "postgresql    INSERT         10.0      1.0    37.50    49.75\n");
}

#define B(le, n)      \
	{             \
		le, n \
	}

static void test_quantile(void **state)
{
	const struct top_bucket one[] = { B(0, 0), B(.005, 30), B(.01, 30), B(INFINITY, 30) };
	const struct top_bucket mid[] = { B(.1, 10), B(.2, 30), B(.5, 40), B(INFINITY, 40) };
	const struct top_bucket inf[] = { B(.1, 0), B(.5, 0), B(INFINITY, 3) };
	const struct top_bucket zero[] = { B(0, 4), B(.5, 4), B(INFINITY, 4) };
	const struct top_bucket neg[] = { B(-1, 2), B(0, 4), B(INFINITY, 4) };
	const struct top_bucket nonmono[] = { B(.1, 5), B(.2, 3), B(INFINITY, 10) };
	const struct top_bucket noinf[] = { B(.1, 5), B(.2, 10) };
	const struct top_bucket empty[] = { B(.1, 0), B(INFINITY, 0) };
	const struct top_bucket only_inf[] = { B(INFINITY, 5) };

	check_close(top_quantile(.5, one, 4), .0025, "p50", "one bucket");
	check_close(top_quantile(.99, one, 4), .00495, "p99", "one bucket");
	check_close(top_quantile(.5, mid, 4), .1 + .1 * (10. / 20), "p50", "mid");
	check_close(top_quantile(.99, mid, 4), .2 + .3 * (9.6 / 10), "p99", "mid");
	check_close(top_quantile(.25, mid, 4), .1 * (10. / 10), "p25", "mid: a bucket's top");
	check_close(top_quantile(.5, inf, 3), .5, "p50", "+Inf: highest finite bound");
	check_close(top_quantile(.5, zero, 3), 0, "p50", "rank in the le=0 bucket");
	check_close(top_quantile(.25, neg, 3), -1, "p25", "negative lowest bound");
	check_close(top_quantile(.75, neg, 3), -1 + 1 * (1. / 2), "p75", "above a negative bound");
	/* Made monotonic first: {5, 5, 10}; rank 5 is the first bucket's top. */
	check_close(top_quantile(.5, nonmono, 3), .1, "p50", "non-monotonic");
	check_close(top_quantile(.5, noinf, 2), NAN, "p50", "no +Inf bucket");
	check_close(top_quantile(.5, empty, 2), NAN, "p50", "no observations");
	check_close(top_quantile(.5, only_inf, 1), NAN, "p50", "a single bucket");
	assert_true(isinf(top_quantile(-.1, mid, 4)) && top_quantile(-.1, mid, 4) < 0);
	assert_true(isinf(top_quantile(1.1, mid, 4)) && top_quantile(1.1, mid, 4) > 0);
	assert_true(isnan(top_quantile(NAN, mid, 4)));
}

static struct top_view view_of(const char *t1, const char *t2, double dt, struct top_snapshot s[2],
			       char *bufs[2])
{
	struct top_view v;
	const char *t[2] = { t1, t2 };
	int i;

	for (i = 0; i < 2; i++) {
		bufs[i] = strdup(t[i]);
		top_snapshot_init(&s[i]);
		assert_int_equal(top_snapshot_parse(&s[i], bufs[i], strlen(bufs[i]), NULL), 0);
	}
	assert_int_equal(top_view_build(&v, &s[0], &s[1], dt), 0);
	return v;
}

static void free_view(struct top_view *v, struct top_snapshot s[2], char *bufs[2])
{
	top_view_free(v);
	top_snapshot_free(&s[0]);
	top_snapshot_free(&s[1]);
	free(bufs[0]);
	free(bufs[1]);
}

/* New bucket bounds count from zero; a series with a bad le or a bound twice is left out;
 * buckets in any order; _count missing: +Inf stands for it; untyped families are not read. */
static void test_odd_series(void **state)
{
	struct top_snapshot s[2];
	char *bufs[2];
	struct top_view v;

	v = view_of("# TYPE " H " histogram\n" H "_bucket{service_name=\"s\",http_route=\"/a\","
		    "le=\"1\"} 3\n" H
		    "_bucket{service_name=\"s\",http_route=\"/a\",le=\"+Inf\"} 3\n" H
		    "_count{service_name=\"s\",http_route=\"/a\"} 3\n",
		    "# TYPE " H " histogram\n" H
		    "_bucket{service_name=\"s\",http_route=\"/a\",le=\"+Inf\"} 5\n" H
		    "_bucket{service_name=\"s\",http_route=\"/a\",le=\"2\"} 4\n" H
		    "_bucket{service_name=\"s\",http_route=\"/b\",le=\"x\"} 4\n" H
		    "_bucket{service_name=\"s\",http_route=\"/c\",le=\"1\"} 1\n" H
		    "_bucket{service_name=\"s\",http_route=\"/c\",le=\"1.0\"} 1\n" H
		    "_bucket{service_name=\"s\",http_route=\"/c\",le=\"+Inf\"} 1\n"
		    "# TYPE " D " untyped\n" D "{db_system_name=\"redis\"} 1\n",
		    0.5, s, bufs);
	assert_int_equal(v.nrows[TOP_HTTP], 1);
	assert_int_equal(v.nrows[TOP_DB], 0);
	assert_string_equal(v.rows[TOP_HTTP][0].group[1], "/a");
	assert_true(v.rows[TOP_HTTP][0].total == 5 && v.rows[TOP_HTTP][0].rate == 10);
	check_close(v.rows[TOP_HTTP][0].p50, 2 * (2.5 / 4), "p50", "new bounds");
	free_view(&v, s, bufs);
}

/* A negative count (-Inf too) is no histogram's: the series is left out, never a negative
 * total (found by fuzz_promparse: a +Inf bucket of -Inf gave a row total of -Inf). */
static void test_negative_counts(void **state)
{
	struct top_snapshot s[2];
	char *bufs[2];
	struct top_view v;

	v = view_of("",
		    "# TYPE " H " histogram\n" H
		    "_bucket{service_name=\"s\",http_route=\"/a\",le=\"+Inf\"} -Inf\n" H
		    "_bucket{service_name=\"s\",http_route=\"/b\",le=\"1\"} -2\n" H
		    "_bucket{service_name=\"s\",http_route=\"/b\",le=\"+Inf\"} 3\n" H
		    "_count{service_name=\"s\",http_route=\"/c\"} -1\n" H
		    "_bucket{service_name=\"s\",http_route=\"/d\",le=\"+Inf\"} 2\n",
		    1, s, bufs);
	assert_int_equal(v.nrows[TOP_HTTP], 1);
	assert_string_equal(v.rows[TOP_HTTP][0].group[1], "/d");
	assert_true(v.rows[TOP_HTTP][0].total == 2);
	free_view(&v, s, bufs);
}

/* Empty scrapes and a first view without an earlier scrape: everything counts. */
static void test_empty_and_first(void **state)
{
	struct top_snapshot s[2];
	char *bufs[2];
	struct top_view v;
	struct top_frame fr = { .url = "u" };

	v = view_of("", "", 1, s, bufs);
	assert_int_equal(v.nrows[TOP_HTTP] + v.nrows[TOP_DB], 0);
	check_text(render(&v, &fr),
		   "sonde top  u  rates over 1.000 s\n"
		   "p50/p99: linear interpolation inside the bucket, as Prometheus' "
		   "histogram_quantile()\n\n"
		   "HTTP server: per service and route; errors are 5xx responses\n"
		   "SERVICE  ROUTE        REQ/S     ERR%  P50(ms)  P99(ms)\n"
		   "(none seen)\n\n"
		   "Database client: per system and operation; errors have an error_type\n"
		   "SYSTEM   OPERATION    OPS/S    ERR/S  P50(ms)  P99(ms)\n"
		   "(none seen)\n");
	/* Before the second scrape there is no view yet. */
	check_text(render(NULL, &fr),
		   "sonde top  u\n"
		   "p50/p99: linear interpolation inside the bucket, as Prometheus' "
		   "histogram_quantile()\n\n"
		   "HTTP server: per service and route; errors are 5xx responses\n"
		   "SERVICE  ROUTE        REQ/S     ERR%  P50(ms)  P99(ms)\n"
		   "(waiting for the second scrape)\n\n"
		   "Database client: per system and operation; errors have an error_type\n"
		   "SYSTEM   OPERATION    OPS/S    ERR/S  P50(ms)  P99(ms)\n"
		   "(waiting for the second scrape)\n");
	top_view_free(&v);
	assert_int_equal(top_view_build(&v, NULL, &s[1], 1), 0);
	free_view(&v, s, bufs);
}

/* Label values cannot drive the terminal (control bytes become '?'); empty ones show as "". */
static void test_render_sanitized(void **state)
{
	struct top_snapshot s[2];
	char *bufs[2];
	struct top_view v;
	struct top_frame fr = { .url = "u" };
	char *out;

	v = view_of("",
		    "# TYPE " D " histogram\n" D
		    "_bucket{db_system_name=\"re\\ndis\",db_operation_name=\"\",le=\"+Inf\"} 1\n" D
		    "_count{db_system_name=\"re\\ndis\",db_operation_name=\"\"} 1\n",
		    1, s, bufs);
	out = render(&v, &fr);
	/* A lone +Inf bucket has no quantile (histogram_quantile wants two buckets). */
	assert_non_null(
		strstr(out, "\nre?dis   \"\"             1.0      0.0        -        -\n"));
	free(out);
	free_view(&v, s, bufs);
}

static int args(struct top_opts *o, char *err, size_t errsz, ...)
{
	char *argv[16], *outbuf = NULL, *errbuf = NULL;
	size_t outlen = 0, errlen = 0;
	FILE *out = open_memstream(&outbuf, &outlen), *e = open_memstream(&errbuf, &errlen);
	va_list ap;
	int argc = 0, rc;

	va_start(ap, errsz);
	argv[argc++] = "top";
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	rc = top_parse_args(argc, argv, o, out, e);
	fclose(out);
	fclose(e);
	snprintf(err, errsz, "%s", rc > 0 ? outbuf : errbuf);
	free(outbuf);
	free(errbuf);
	return rc;
}

static void test_args(void **state)
{
	struct top_opts o;
	char msg[4096];

	assert_int_equal(args(&o, msg, sizeof(msg), NULL), 0);
	assert_string_equal(o.url, "http://127.0.0.1:9464/metrics");
	assert_true(o.interval == 1 && !o.once);
	assert_int_equal(args(&o, msg, sizeof(msg), "--url", "http://[::1]:9000/m", "--interval",
			      "0.5", "--once", NULL),
			 0);
	assert_true(!strcmp(o.url, "http://[::1]:9000/m") && o.interval == .5 && o.once);
	assert_int_equal(args(&o, msg, sizeof(msg), "-u", "h:1", "-i", "3600", "-1", NULL), 0);
	assert_true(!strcmp(o.url, "h:1") && o.interval == 3600 && o.once);
	assert_int_equal(args(&o, msg, sizeof(msg), "--interval=2", NULL), 0);
	assert_true(o.interval == 2);
	assert_int_equal(args(&o, msg, sizeof(msg), "--help", NULL), 1);
	assert_true(
		!strncmp(msg, "Usage: sonde top [--url URL] [--interval SECONDS] [--once]\n", 58));
	assert_int_equal(args(&o, msg, sizeof(msg), "--interval", "0.05", NULL), -EINVAL);
	assert_string_equal(msg, "sonde top: --interval wants seconds from 0.1 to 3600, not "
				 "\"0.05\"\n");
	assert_int_equal(args(&o, msg, sizeof(msg), "--interval", "1s", NULL), -EINVAL);
	assert_int_equal(args(&o, msg, sizeof(msg), "--interval", "nan", NULL), -EINVAL);
	assert_int_equal(args(&o, msg, sizeof(msg), "--interval", NULL), -EINVAL);
	assert_string_equal(msg, "sonde top: --interval needs a value (see sonde top --help)\n");
	assert_int_equal(args(&o, msg, sizeof(msg), "--nope", NULL), -EINVAL);
	assert_string_equal(msg, "sonde top: unknown option --nope (see sonde top --help)\n");
	assert_int_equal(args(&o, msg, sizeof(msg), "extra", NULL), -EINVAL);
	assert_string_equal(msg,
			    "sonde top: unexpected argument \"extra\" (see sonde top --help)\n");
	assert_int_equal(args(&o, msg, sizeof(msg), "--url", "ftp://h/metrics", NULL), -EINVAL);
	assert_string_equal(msg, "sonde top: --url \"ftp://h/metrics\": only http:// and https:// "
				 "URLs are supported\n");
	assert_int_equal(args(&o, msg, sizeof(msg), "--url", "https://h/", "--ca-file", "x",
			      "--insecure", NULL),
			 -EINVAL);
	assert_string_equal(msg, "sonde top: --ca-file and --insecure exclude each other\n");
	unsetenv("SONDE_TOP_PASSWORD");
	assert_int_equal(args(&o, msg, sizeof(msg), "--user", "u", NULL), -EINVAL);
	assert_string_equal(msg, "sonde top: --user needs a password: --password-file FILE or "
				 "SONDE_TOP_PASSWORD\n");
	assert_int_equal(args(&o, msg, sizeof(msg), "--password-file", "/x", NULL), -EINVAL);
	assert_string_equal(msg, "sonde top: --password-file needs --user\n");
	setenv("SONDE_TOP_PASSWORD", "pw", 1);
	assert_int_equal(args(&o, msg, sizeof(msg), "--user", "u", NULL), 0);
	assert_string_equal(o.password, "pw");
	unsetenv("SONDE_TOP_PASSWORD");
	assert_int_equal(args(&o, msg, sizeof(msg), "--url", "http://h:99999/", NULL), -EINVAL);
	assert_string_equal(msg, "sonde top: --url \"http://h:99999/\": the URL's port is not a "
				 "number 1-65535\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantile),
		cmocka_unit_test_setup_teardown(test_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_live_cut, setup, teardown),
		cmocka_unit_test(test_odd_series),
		cmocka_unit_test(test_negative_counts),
		cmocka_unit_test(test_empty_and_first),
		cmocka_unit_test(test_render_sanitized),
		cmocka_unit_test(test_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
