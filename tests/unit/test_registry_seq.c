// SPDX-License-Identifier: GPL-2.0-only
/*
 * The registry's single-writer contract under load: one thread observes as fast as it can
 * (and creates series as it goes) while two threads render; every rendered histogram must
 * be one the writer actually produced: cumulative buckets ending at the count, the number
 * of small values and the sum matching the count.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/registry.h"

#define HOT 64	       /* series the writer updates in turn */
#define ROUNDS 200000  /* passes over the hot series: 12.8 M observations */
#define NEW_EVERY 4000 /* a new (cold) series every NEW_EVERY passes */
#define NBUCKETS 16    /* the duration buckets and +Inf */
#define LE_SMALL 7     /* index of le="0.25" */

struct shared {
	struct registry *reg;
	struct metric *lat, *gauge;
	int started, done;
	long torn; /* inconsistent renders seen by the scrapers */
	long mid;  /* renders taken while the writer ran */
};

/* Each hot series sees 0.25 and 2 in turn: after k observations ceil(k/2) are <= 0.25 and
 * the sum is 0.25 * ceil(k/2) + 2 * floor(k/2), exact in binary floating point. */
static void *writer(void *arg)
{
	struct shared *sh = arg;
	struct series *hot[HOT];
	char name[32];
	const char *vals[1] = { name };

	for (int j = 0; j < HOT; j++) {
		snprintf(name, sizeof(name), "h%d", j);
		hot[j] = metric_series(sh->lat, vals);
		if (!hot[j])
			abort();
	}
	__atomic_store_n(&sh->started, 1, __ATOMIC_RELEASE);
	for (long i = 0; i < ROUNDS; i++) {
		for (int j = 0; j < HOT; j++)
			if (series_observe(sh->lat, hot[j], i & 1 ? 2 : 0.25))
				abort();
		/* the gauge is i or -i: an integer either way, never a blend */
		if (metric_set(sh->gauge, NULL, (double)(i & 1 ? -i : i)))
			abort();
		/* new series now and then, so scrapers walk a list that grows under them */
		if (i % NEW_EVERY == 0) {
			snprintf(name, sizeof(name), "c%ld", i);
			if (metric_observe(sh->lat, vals, 0.001))
				abort();
		}
	}
	__atomic_store_n(&sh->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct hist {
	double bucket[NBUCKETS], sum, count;
	int lines;
};

/* Parses the lines of the hot series h0..h(HOT-1) out of one render. */
static void parse(const char *text, struct hist *h)
{
	memset(h, 0, HOT * sizeof(*h));
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		int j;
		char le[16];
		double v;

		/* a series' lines come in order: its buckets, then _sum, then _count */
		if (sscanf(p, "lat_bucket{op=\"h%d\",le=\"%15[^\"]\"} %lf", &j, le, &v) == 3) {
			if (j >= 0 && j < HOT && h[j].lines < NBUCKETS)
				h[j].bucket[h[j].lines] = v;
		} else if (sscanf(p, "lat_sum{op=\"h%d\"} %lf", &j, &v) == 2) {
			if (j >= 0 && j < HOT)
				h[j].sum = v;
		} else if (sscanf(p, "lat_count{op=\"h%d\"} %lf", &j, &v) == 2) {
			if (j >= 0 && j < HOT)
				h[j].count = v;
		} else {
			continue;
		}
		if (j >= 0 && j < HOT)
			h[j].lines++;
	}
}

/* 0 when every hot series is consistent; the writer's pass count so far in *k. */
static int render_ok(const char *text, double *k)
{
	struct hist h[HOT];
	double g;

	parse(text, h);
	*k = h[0].count;
	for (int j = 0; j < HOT; j++) {
		const struct hist *s = &h[j];
		double small = (double)(((long)s->count + 1) / 2);

		if (s->lines != NBUCKETS + 2)
			return -1;
		for (int b = 1; b < NBUCKETS; b++)
			if (s->bucket[b] < s->bucket[b - 1])
				return -1;
		if (s->bucket[NBUCKETS - 1] != s->count || s->bucket[LE_SMALL] != small ||
		    s->sum != 0.25 * small + 2 * (s->count - small))
			return -1;
	}
	g = strtod(strstr(text, "\nlevel ") + 7, NULL);
	return g == (double)(long)g ? 0 : -1;
}

static void *scraper(void *arg)
{
	struct shared *sh = arg;
	long renders = 0;
	double k;
	char *text;

	while (!__atomic_load_n(&sh->started, __ATOMIC_ACQUIRE))
		sched_yield();
	while (!__atomic_load_n(&sh->done, __ATOMIC_ACQUIRE) || renders < 3) {
		if (registry_render(sh->reg, &text, NULL))
			return (void *)-1L;
		if (render_ok(text, &k) && !__atomic_fetch_add(&sh->torn, 1, __ATOMIC_RELAXED))
			fprintf(stderr, "torn render:\n%.3000s\n", text);
		if (k > 0 && k < ROUNDS)
			__atomic_fetch_add(&sh->mid, 1, __ATOMIC_RELAXED);
		free(text);
		renders++;
	}
	return (void *)renders;
}

static void test_scrape_while_observing(void **state)
{
	const char *names[] = { "op" };
	struct shared sh = { .reg = registry_new() };
	pthread_t w, s[2];
	void *ret;
	long renders = 0;
	char *text;
	double k;

	sh.lat = registry_add(sh.reg, METRIC_HISTOGRAM, "lat", "L.", names, 1,
			      metric_duration_buckets, metric_duration_nbuckets, 0);
	sh.gauge = registry_add(sh.reg, METRIC_GAUGE, "level", "G.", NULL, 0, NULL, 0, 0);
	assert_non_null(sh.lat);
	assert_non_null(sh.gauge);
	assert_int_equal(metric_duration_nbuckets + 1, NBUCKETS);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&s[i], NULL, scraper, &sh), 0);
	assert_int_equal(pthread_create(&w, NULL, writer, &sh), 0);
	pthread_join(w, NULL);
	for (int i = 0; i < 2; i++) {
		pthread_join(s[i], &ret);
		assert_true((long)ret >= 3);
		renders += (long)ret;
	}
	print_message("%ld renders (%ld while the writer ran) during %d observations, %ld torn\n",
		      renders, sh.mid, HOT * ROUNDS, sh.torn);
	assert_int_equal(sh.torn, 0);
	assert_true(sh.mid > 0);
	assert_int_equal(registry_render(sh.reg, &text, NULL), 0);
	assert_int_equal(render_ok(text, &k), 0);
	assert_true(k == ROUNDS);
	assert_int_equal(metric_series_count(sh.lat), HOT + ROUNDS / NEW_EVERY);
	free(text);
	registry_free(sh.reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scrape_while_observing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
