// SPDX-License-Identifier: GPL-2.0-only
/*
 * OpenMetrics exposition: exact text with exemplars (which id, how it is escaped, value and
 * timestamp), counter family names, "# EOF", and Accept negotiation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "metrics/exemplar.h"
#include "metrics/registry.h"
#include "proto/http1.h"

static const double bounds[] = { 0.1, 1 };

static char *render(struct registry *r, bool om)
{
	char *text;
	size_t len;

	assert_int_equal(registry_render_format(r, om, &text, &len), 0);
	return text;
}

static void test_exemplars(void **state)
{
	struct registry *r = registry_new();
	static const char *const names[] = { "route" };
	const char *v[] = { "/a" };
	struct metric *h = registry_add(r, METRIC_HISTOGRAM, "d_seconds", "Durations.", names, 1,
					bounds, 2, 0);
	struct metric *c =
		registry_add(r, METRIC_COUNTER, "req_total", "Requests.", NULL, 0, NULL, 0, 0);
	struct metric *c2 = registry_add(r, METRIC_COUNTER, "hits", "Hits.", NULL, 0, NULL, 0, 0);
	struct series *s = metric_series(h, v);
	struct http1_ids trace = { .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
				   .span_id = "00f067aa0ba902b7",
				   .request_id = "ignored-when-traced" };
	struct http1_ids req = { .request_id = "r\"1\xff" }, corr = { .correlation_id = "c-9" };
	struct http1_ids none = { 0 };
	char *text;

	assert_non_null(s);
	series_observe(h, s, 0.05);
	assert_int_equal(series_exemplar(h, s, 0.05, &trace, 1796410358123456789LL), 0);
	series_observe(h, s, 0.5);
	series_exemplar(h, s, 0.5, &corr, 1796410358000000001LL);
	series_observe(h, s, 0.7); /* a later request in the same bucket replaces it */
	series_exemplar(h, s, 0.7, &req, 1796410359000000000LL);
	series_observe(h, s, 3);
	series_exemplar(h, s, 3, &none, 1); /* no id: the bucket keeps no exemplar */
	metric_add(c, NULL, 2);
	metric_add(c2, NULL, 1);
	text = render(r, true);
	assert_string_equal(text, "# HELP d_seconds Durations.\n"
				  "# TYPE d_seconds histogram\n"
				  "d_seconds_bucket{route=\"/a\",le=\"0.1\"} 1 # "
				  "{trace_id=\"4bf92f3577b34da6a3ce929d0e0e"
				  "4736\",span_id=\"00f067aa0ba902b7\"} 0.05 1796410358.123456789\n"
				  "d_seconds_bucket{route=\"/a\",le=\"1\"} 3 # "
				  "{request_id=\"r\\\"1\xef\xbf\xbd\"} 0.7 "
				  "1796410359.000000000\n"
				  "d_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
				  "d_seconds_sum{route=\"/a\"} 4.25\n"
				  "d_seconds_count{route=\"/a\"} 4\n"
				  "# HELP req Requests.\n"
				  "# TYPE req counter\n"
				  "req_total 2\n"
				  "# HELP hits Hits.\n"
				  "# TYPE hits counter\n"
				  "hits_total 1\n"
				  "# HELP sonde_series_dropped Samples dropped because their "
				  "metric family reached its "
				  "series cap (--max-series).\n"
				  "# TYPE sonde_series_dropped counter\n"
				  "# EOF\n");
	free(text);
	/* 0.0.4 is unchanged: no exemplar, no EOF */
	text = render(r, false);
	assert_null(strstr(text, "# {"));
	assert_null(strstr(text, "# EOF"));
	assert_non_null(strstr(text, "# TYPE req_total counter\nreq_total 2\n"));
	assert_non_null(strstr(text, "# TYPE hits counter\nhits 1\n"));
	free(text);
	registry_free(r);
}

static void test_negotiation(void **state)
{
	/* what Prometheus 2.42 sends */
	assert_true(expo_accepts_openmetrics(
		"application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
		"version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"));
	assert_true(expo_accepts_openmetrics("Application/OpenMetrics-Text; version=1.0.0"));
	assert_true(expo_accepts_openmetrics("text/plain, application/openmetrics-text; q=0.2"));
	assert_false(expo_accepts_openmetrics("application/openmetrics-text; q=0"));
	assert_false(expo_accepts_openmetrics("text/plain;version=0.0.4"));
	assert_false(expo_accepts_openmetrics("*/*"));
	assert_false(expo_accepts_openmetrics("application/openmetrics-textx"));
	assert_false(expo_accepts_openmetrics(""));
	assert_false(expo_accepts_openmetrics(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exemplars),
		cmocka_unit_test(test_negotiation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
