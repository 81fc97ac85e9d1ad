// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/registry.h"

static char *render(struct registry *r)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(registry_render(r, &text, &len), 0);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

/* The value of the sample line starting with "key " (exact series), or -1 when absent. */
static double sample(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtod(p + klen + 1, NULL);
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return -1;
}

static double bucket(const char *text, const char *name, const char *le)
{
	char key[128];

	snprintf(key, sizeof(key), "%s_bucket{le=\"%s\"}", name, le);
	return sample(text, key);
}

/* Observes one value into a fresh size histogram and checks every cumulative bucket:
 * the value counts in bucket j exactly when value <= bound j. */
static void check_placement(double v, size_t first)
{
	struct registry *r = registry_new();
	struct metric *m;
	char le[32], *text;
	size_t j;

	m = registry_add(r, METRIC_HISTOGRAM, "sz_bytes", "Sizes.", NULL, 0, metric_size_buckets,
			 metric_size_nbuckets, 0);
	assert_non_null(m);
	assert_int_equal(metric_observe(m, NULL, v), 0);
	text = render(r);
	for (j = 0; j < metric_size_nbuckets; j++) {
		snprintf(le, sizeof(le), "%.0f", metric_size_buckets[j]);
		if (bucket(text, "sz_bytes", le) != (j >= first ? 1 : 0))
			fail_msg("value %.17g: bucket le=%s wrong in\n%s", v, le, text);
	}
	assert_true(bucket(text, "sz_bytes", "+Inf") == 1);
	assert_true(sample(text, "sz_bytes_count") == 1);
	assert_true(sample(text, "sz_bytes_sum") == v);
	free(text);
	registry_free(r);
}

static void test_bucket_boundaries(void **state)
{
	size_t i, n = metric_size_nbuckets;

	assert_int_equal(n, 10);
	assert_int_equal(metric_duration_nbuckets, 15);
	for (i = 0; i < n; i++) {
		/* Equal to a bound: that bucket (le is inclusive). */
		check_placement(metric_size_buckets[i], i);
		/* Just above: the next one (or only +Inf after the last). */
		check_placement(nextafter(metric_size_buckets[i], INFINITY), i + 1);
	}
	check_placement(-1, 0);	 /* below the first bound: the first bucket */
	check_placement(1e9, n); /* far above the last: only +Inf */
}

static void test_duration_buckets_exact_text(void **state)
{
	struct registry *r = registry_new();
	struct metric *m;
	char *text;

	m = registry_add(r, METRIC_HISTOGRAM, "d_seconds", "Durations.", NULL, 0,
			 metric_duration_buckets, metric_duration_nbuckets, 0);
	assert_non_null(m);
	assert_int_equal(metric_observe(m, NULL, 0.005), 0); /* exactly the bound */
	assert_int_equal(metric_observe(m, NULL, 0.25), 0);
	assert_int_equal(metric_observe(m, NULL, 10.5), 0); /* only +Inf */
	text = render(r);
	assert_string_equal(
		text, "# HELP d_seconds Durations.\n"
		      "# TYPE d_seconds histogram\n"
		      "d_seconds_bucket{le=\"0\"} 0\n"
		      "d_seconds_bucket{le=\"0.005\"} 1\n"
		      "d_seconds_bucket{le=\"0.01\"} 1\n"
		      "d_seconds_bucket{le=\"0.025\"} 1\n"
		      "d_seconds_bucket{le=\"0.05\"} 1\n"
		      "d_seconds_bucket{le=\"0.075\"} 1\n"
		      "d_seconds_bucket{le=\"0.1\"} 1\n"
		      "d_seconds_bucket{le=\"0.25\"} 2\n"
		      "d_seconds_bucket{le=\"0.5\"} 2\n"
		      "d_seconds_bucket{le=\"0.75\"} 2\n"
		      "d_seconds_bucket{le=\"1\"} 2\n"
		      "d_seconds_bucket{le=\"2.5\"} 2\n"
		      "d_seconds_bucket{le=\"5\"} 2\n"
		      "d_seconds_bucket{le=\"7.5\"} 2\n"
		      "d_seconds_bucket{le=\"10\"} 2\n"
		      "d_seconds_bucket{le=\"+Inf\"} 3\n"
		      "d_seconds_sum 10.755\n"
		      "d_seconds_count 3\n"
		      "# HELP sonde_series_dropped_total Samples dropped because their metric "
		      "family reached its series cap (--max-series).\n"
		      "# TYPE sonde_series_dropped_total counter\n");
	free(text);
	registry_free(r);
}

static void test_counter_gauge(void **state)
{
	const char *names[] = { "method" };
	const char *get[] = { "GET" }, *put[] = { "PUT" };
	struct registry *r = registry_new();
	struct metric *c, *g, *h;
	char *text;

	c = registry_add(r, METRIC_COUNTER, "req_total", "Requests.", names, 1, NULL, 0, 10);
	g = registry_add(r, METRIC_GAUGE, "procs", "Processes.", NULL, 0, NULL, 0, 0);
	h = registry_add(r, METRIC_HISTOGRAM, "h", "H.", NULL, 0, metric_size_buckets, 2, 0);
	assert_non_null(c);
	assert_non_null(g);
	assert_non_null(h);
	/* A label-less gauge shows 0 before its first update; labelled families nothing. */
	text = render(r);
	assert_true(sample(text, "procs") == 0);
	assert_null(strstr(text, "req_total{"));
	free(text);

	assert_int_equal(metric_add(c, get, 1), 0);
	assert_int_equal(metric_add(c, get, 2.5), 0);
	assert_int_equal(metric_add(c, put, 4), 0);
	assert_int_equal(metric_add(c, get, -1), -EINVAL);
	assert_int_equal(metric_add(c, get, NAN), -EINVAL);
	assert_int_equal(metric_add(c, get, INFINITY), -EINVAL);
	assert_int_equal(metric_add(c, NULL, 1), -EINVAL);
	assert_int_equal(metric_set(c, get, 1), -EINVAL); /* wrong kind */
	assert_int_equal(metric_observe(c, get, 1), -EINVAL);
	assert_int_equal(metric_set(g, NULL, 7), 0);
	assert_int_equal(metric_set(g, NULL, -2.25), 0);
	assert_int_equal(metric_set(g, NULL, NAN), -EINVAL);
	assert_int_equal(metric_observe(h, NULL, INFINITY), -EINVAL);
	assert_int_equal(metric_add(NULL, NULL, 1), -EINVAL);

	text = render(r);
	assert_non_null(strstr(text, "# TYPE req_total counter\n"
				     "req_total{method=\"GET\"} 3.5\n"
				     "req_total{method=\"PUT\"} 4\n"
				     "# HELP procs Processes.\n"
				     "# TYPE procs gauge\n"
				     "procs -2.25\n"));
	/* The histogram saw nothing: all zero, not absent. */
	assert_non_null(strstr(text, "h_bucket{le=\"0\"} 0\nh_bucket{le=\"32\"} 0\n"
				     "h_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n"));
	free(text);
	registry_free(r);
}

static void test_series_cap(void **state)
{
	const char *names[] = { "path" };
	const char *a[] = { "/a" }, *b[] = { "/b" }, *c[] = { "/c" }, *d[] = { "/d" };
	struct registry *r = registry_new();
	struct metric *m, *other;
	char *text;

	m = registry_add(r, METRIC_COUNTER, "hits_total", "Hits.", names, 1, NULL, 0, 2);
	other = registry_add(r, METRIC_GAUGE, "g", "G.", names, 1, NULL, 0, 1);
	assert_non_null(m);
	assert_int_equal(metric_add(m, a, 1), 0);
	assert_int_equal(metric_add(m, b, 1), 0);
	assert_int_equal(metric_add(m, c, 1), -ENOSPC); /* the (cap+1)th label set */
	assert_int_equal(metric_add(m, a, 1), 0);	/* existing series still update */
	assert_int_equal(metric_add(m, d, 1), -ENOSPC);
	assert_int_equal(metric_add(m, c, 1), -ENOSPC);
	assert_int_equal(metric_dropped(m), 3);
	assert_int_equal(metric_series_count(m), 2);
	assert_int_equal(metric_dropped(other), 0);

	text = render(r);
	assert_true(sample(text, "hits_total{path=\"/a\"}") == 2);
	assert_true(sample(text, "hits_total{path=\"/b\"}") == 1);
	assert_null(strstr(text, "/c"));
	assert_null(strstr(text, "/d"));
	/* The family without drops has no sample in the dropped family. */
	assert_non_null(strstr(text, "# TYPE sonde_series_dropped_total counter\n"
				     "sonde_series_dropped_total{metric=\"hits_total\"} 3\n"));
	assert_null(strstr(text, "metric=\"g\""));
	free(text);
	registry_free(r);
}

static void test_registration_errors(void **state)
{
	const char *le[] = { "le" }, *reserved[] = { "__x" }, *dup[] = { "a", "a" };
	const char *bad[] = { "a-b" },
		   *many[METRIC_MAX_LABELS + 1] = { "a", "b", "c", "d", "e", "f", "g",
						    "h", "i", "j", "k", "l", "m" };
	const double unsorted[] = { 1, 0.5 }, inf[] = { 1, INFINITY };
	struct registry *r = registry_new();

	assert_non_null(registry_add(r, METRIC_COUNTER, "x_total", NULL, NULL, 0, NULL, 0, 0));
#define REFUSED(err, ...)                                  \
	do {                                               \
		errno = 0;                                 \
		assert_null(registry_add(r, __VA_ARGS__)); \
		assert_int_equal(errno, err);              \
	} while (0)
	REFUSED(EEXIST, METRIC_GAUGE, "x_total", "", NULL, 0, NULL, 0, 0);
	REFUSED(EEXIST, METRIC_COUNTER, "sonde_series_dropped_total", "", NULL, 0, NULL, 0, 0);
	REFUSED(EINVAL, METRIC_COUNTER, "1x", "", NULL, 0, NULL, 0, 0);
	REFUSED(EINVAL, METRIC_COUNTER, "", "", NULL, 0, NULL, 0, 0);
	REFUSED(EINVAL, METRIC_COUNTER, NULL, "", NULL, 0, NULL, 0, 0);
	REFUSED(EINVAL, METRIC_COUNTER, "y", "", bad, 1, NULL, 0, 0);
	REFUSED(EINVAL, METRIC_COUNTER, "y", "", reserved, 1, NULL, 0, 0);
	REFUSED(EINVAL, METRIC_COUNTER, "y", "", dup, 2, NULL, 0, 0);
	REFUSED(EINVAL, METRIC_COUNTER, "y", "", many, METRIC_MAX_LABELS + 1, NULL, 0, 0);
	REFUSED(EINVAL, METRIC_COUNTER, "y", "", NULL, 1, NULL, 0, 0);
	REFUSED(EINVAL, METRIC_HISTOGRAM, "y", "", le, 1, metric_size_buckets, 2, 0);
	REFUSED(EINVAL, METRIC_HISTOGRAM, "y", "", NULL, 0, unsorted, 2, 0);
	REFUSED(EINVAL, METRIC_HISTOGRAM, "y", "", NULL, 0, inf, 2, 0);
	REFUSED(EINVAL, METRIC_HISTOGRAM, "y", "", NULL, 0, NULL, 2, 0);
	REFUSED(EINVAL, (enum metric_kind)7, "y", "", NULL, 0, NULL, 0, 0);
#undef REFUSED
	/* "le" is fine outside histograms; colons are fine in metric names. */
	assert_non_null(registry_add(r, METRIC_GAUGE, "ns:y", "", le, 1, NULL, 0, 0));
	assert_non_null(
		registry_add(r, METRIC_GAUGE, "z", "", many, METRIC_MAX_LABELS, NULL, 0, 0));
	registry_free(r);
	registry_free(NULL);
}

/* Many series: the hash table grows and every lookup still finds its own series. */
static void test_many_series_order(void **state)
{
	const char *names[] = { "a", "b" };
	struct registry *r = registry_new();
	struct metric *m;
	char va[16], vb[16], key[64], *text, *p, *q;
	const char *vals[2] = { va, vb };
	int i, round;

	m = registry_add(r, METRIC_COUNTER, "n_total", "N.", names, 2, NULL, 0, 5000);
	assert_non_null(m);
	for (round = 1; round <= 3; round++) {
		for (i = 0; i < 3000; i++) {
			/* ("1","23") and ("12","3") must be different series. */
			snprintf(va, sizeof(va), "%d", i / 10);
			snprintf(vb, sizeof(vb), "%d", i % 10);
			assert_int_equal(metric_add(m, vals, i), 0);
		}
	}
	assert_int_equal(metric_series_count(m), 3000);
	text = render(r);
	for (i = 0; i < 3000; i += 7) {
		snprintf(key, sizeof(key), "n_total{a=\"%d\",b=\"%d\"}", i / 10, i % 10);
		assert_true(sample(text, key) == 3.0 * i);
	}
	/* Creation order. */
	p = strstr(text, "n_total{a=\"0\",b=\"9\"}");
	q = strstr(text, "n_total{a=\"1\",b=\"0\"}");
	assert_non_null(p);
	assert_non_null(q);
	assert_true(p < q);
	free(text);
	registry_free(r);
}

/* ---- concurrency ------------------------------------------------------------------------ */

#define WRITES 200000
#define NVALS 16

struct shared {
	struct registry *reg;
	struct metric *hist, *ctr;
	int done;
};

static void *writer(void *arg)
{
	struct shared *sh = arg;
	char v[NVALS][16];
	const char *vals[1];
	int i;

	for (i = 0; i < NVALS; i++)
		snprintf(v[i], sizeof(v[i]), "s%d", i);
	for (i = 0; i < WRITES; i++) {
		vals[0] = v[i % NVALS];
		if (metric_observe(sh->hist, vals, (i % 100) / 1000.0) ||
		    metric_add(sh->ctr, NULL, 1))
			abort();
	}
	__atomic_store_n(&sh->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Within one render every series is self-consistent: its +Inf bucket equals its count,
 * and no count goes backwards between renders. */
static int check_consistent(const char *text, double *last)
{
	char key[64];
	double inf, count;
	int i;

	for (i = 0; i < NVALS; i++) {
		snprintf(key, sizeof(key), "lat_bucket{op=\"s%d\",le=\"+Inf\"}", i);
		inf = sample(text, key);
		snprintf(key, sizeof(key), "lat_count{op=\"s%d\"}", i);
		count = sample(text, key);
		if (inf != count || count < last[i]) {
			fprintf(stderr, "s%d: +Inf %g count %g last %g\n", i, inf, count, last[i]);
			return -1;
		}
		last[i] = count;
	}
	return 0;
}

static void *scraper(void *arg)
{
	struct shared *sh = arg;
	double last[NVALS];
	long renders = 0;
	int i;

	for (i = 0; i < NVALS; i++)
		last[i] = -1; /* sample() of a series not created yet */
	char *text;
	size_t len;

	while (!__atomic_load_n(&sh->done, __ATOMIC_ACQUIRE) || renders < 3) {
		if (registry_render(sh->reg, &text, &len) || check_consistent(text, last))
			return (void *)-1L;
		free(text);
		renders++;
	}
	return (void *)renders;
}

static void test_concurrent_render(void **state)
{
	const char *names[] = { "op" };
	struct shared sh = { .reg = registry_new() };
	pthread_t w, s[2];
	void *ret;
	double total = 0;
	char key[64], *text;
	int i;

	sh.hist = registry_add(sh.reg, METRIC_HISTOGRAM, "lat", "L.", names, 1,
			       metric_duration_buckets, metric_duration_nbuckets, 0);
	sh.ctr = registry_add(sh.reg, METRIC_COUNTER, "ops_total", "O.", NULL, 0, NULL, 0, 0);
	assert_non_null(sh.hist);
	assert_non_null(sh.ctr);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&s[i], NULL, scraper, &sh), 0);
	assert_int_equal(pthread_create(&w, NULL, writer, &sh), 0);
	pthread_join(w, NULL);
	for (i = 0; i < 2; i++) {
		pthread_join(s[i], &ret);
		assert_true((long)ret >= 3);
	}
	text = render(sh.reg);
	for (i = 0; i < NVALS; i++) {
		snprintf(key, sizeof(key), "lat_count{op=\"s%d\"}", i);
		assert_true(sample(text, key) == WRITES / NVALS);
		total += sample(text, key);
	}
	assert_true(total == WRITES);
	assert_true(sample(text, "ops_total") == WRITES);
	/* Series s0 saw value 0 (in le="0") for every i that is a multiple of 16 and 100. */
	assert_true(sample(text, "lat_bucket{op=\"s0\",le=\"0\"}") == WRITES / 400);
	free(text);
	registry_free(sh.reg);
}

/* Series of one service go from every family that has its labels, the rest stay in their
 * order; the families without those labels are untouched; the cap counts the rest only. */
static void test_remove_where(void **state)
{
	static const char *const sv[] = { "service_name", "route" }, *s1[] = { "service_name" };
	static const char *const other[] = { "protocol" }, *key[] = { "service_name" };
	struct registry *r = registry_new();
	struct metric *a = registry_add(r, METRIC_COUNTER, "a_total", "", sv, 2, NULL, 0, 3);
	struct metric *h = registry_add(r, METRIC_HISTOGRAM, "h_seconds", "", s1, 1,
					metric_duration_buckets, metric_duration_nbuckets, 0);
	struct metric *o = registry_add(r, METRIC_COUNTER, "o_total", "", other, 1, NULL, 0, 0);
	struct series *hs;
	char *text;

	assert_int_equal(metric_add(a, (const char *const[]){ "api", "/x" }, 1), 0);
	assert_int_equal(metric_add(a, (const char *const[]){ "web", "/x" }, 2), 0);
	assert_int_equal(metric_add(a, (const char *const[]){ "api", "/y" }, 3), 0);
	assert_int_equal(metric_add(a, (const char *const[]){ "db", "/z" }, 4), -ENOSPC); /* cap */
	hs = metric_series(h, (const char *const[]){ "api" });
	assert_int_equal(series_observe(h, hs, 0.01), 0);
	assert_int_equal(metric_observe(h, (const char *const[]){ "web" }, 0.02), 0);
	assert_int_equal(metric_add(o, (const char *const[]){ "api" }, 5), 0);

	assert_int_equal(registry_remove_where(r, key, (const char *const[]){ "api" }, 1), 3);
	assert_int_equal(registry_remove_where(r, key, (const char *const[]){ "api" }, 1), 0);
	assert_int_equal(metric_series_count(a), 1);
	assert_int_equal(metric_series_count(h), 1);
	assert_int_equal(metric_series_count(o), 1);
	text = render(r);
	assert_null(strstr(text, "service_name=\"api\""));
	assert_true(sample(text, "a_total{service_name=\"web\",route=\"/x\"}") == 2);
	assert_true(sample(text, "h_seconds_count{service_name=\"web\"}") == 1);
	assert_true(sample(text, "o_total{protocol=\"api\"}") == 5);
	free(text);
	/* the cap has room again, and the index finds both old and new series */
	assert_int_equal(metric_add(a, (const char *const[]){ "db", "/z" }, 4), 0);
	assert_int_equal(metric_add(a, (const char *const[]){ "web", "/x" }, 1), 0);
	assert_int_equal(metric_add(a, (const char *const[]){ "api", "/x" }, 7), 0);
	text = render(r);
	assert_true(sample(text, "a_total{service_name=\"web\",route=\"/x\"}") == 3);
	assert_true(sample(text, "a_total{service_name=\"db\",route=\"/z\"}") == 4);
	assert_true(sample(text, "a_total{service_name=\"api\",route=\"/x\"}") == 7);
	assert_int_equal(metric_series_count(a), 3);
	free(text);
	assert_int_equal(registry_remove_where(r, key, (const char *const[]){ "x" }, 0), 0);
	registry_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_boundaries),
		cmocka_unit_test(test_duration_buckets_exact_text),
		cmocka_unit_test(test_counter_gauge),
		cmocka_unit_test(test_series_cap),
		cmocka_unit_test(test_registration_errors),
		cmocka_unit_test(test_many_series_order),
		cmocka_unit_test(test_remove_where),
		cmocka_unit_test(test_concurrent_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
