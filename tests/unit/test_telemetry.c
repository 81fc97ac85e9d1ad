// SPDX-License-Identifier: GPL-2.0-only
/* metrics/telemetry.c's family table and metrics/self.c's process_* families. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/telemetry.h"

static char *render(struct telemetry *t)
{
	char *text = NULL;

	assert_int_equal(registry_render(t->reg, &text, NULL), 0);
	return text;
}

/* The value of the sample line "key value", or -1 when absent. */
static double sample(const char *text, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtod(p + klen + 1, NULL);
	return -1;
}

/* Every family of the table is registered, with its kind, in the table's order. */
static void test_families(void **state)
{
	static const char *const want[] = {
		"# TYPE http_server_request_duration_seconds histogram",
		"# TYPE http_server_request_body_size_bytes histogram",
		"# TYPE http_server_response_body_size_bytes histogram",
		"# TYPE http_client_request_duration_seconds histogram",
		"# TYPE http_client_request_body_size_bytes histogram",
		"# TYPE http_client_response_body_size_bytes histogram",
		"# TYPE db_client_operation_duration_seconds histogram",
		"# TYPE sonde_build_info gauge",
		"# TYPE sonde_capture_mode gauge",
		"# TYPE sonde_events_received_total counter",
		"# TYPE sonde_events_lost_total counter",
		"# TYPE sonde_tracked_processes gauge",
		"# TYPE sonde_attached_programs gauge",
		"# TYPE sonde_parse_errors_total counter",
		"# TYPE sonde_unsupported_connections_total counter",
		"# TYPE sonde_http_routes_overflowed_total counter",
		"# TYPE sonde_payload_truncated_total counter",
		"# TYPE sonde_payload_unavailable_total counter",
		"# TYPE sonde_requests_unanswered_total counter",
		"# TYPE process_cpu_seconds_total counter",
		"# TYPE process_resident_memory_bytes gauge",
		"# TYPE process_start_time_seconds gauge",
		"# TYPE process_open_fds gauge",
		"# TYPE sonde_series_dropped_total counter",
	};
	struct telemetry t;
	const char *at;
	char *text;

	assert_int_equal(telemetry_init(&t, 100, false), 0);
	text = render(&t);
	at = text;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *p = strstr(at, want[i]);

		if (!p)
			fail_msg("missing or out of order: %s", want[i]);
		at = p;
	}
	free(text);
	telemetry_free(&t);
}

/* Known label values scrape as 0; unanswered requests only exist for HTTP. */
static void test_zero_series(void **state)
{
	struct telemetry t;
	char *text;

	assert_int_equal(telemetry_init(&t, 100, false), 0);
	text = render(&t);
	assert_true(sample(text, "sonde_events_lost_total{reason=\"ringbuf_full\"}") == 0);
	assert_true(sample(text, "sonde_parse_errors_total{protocol=\"redis\"}") == 0);
	assert_true(sample(text, "sonde_unsupported_connections_total{protocol=\"http2\"}") == 0);
	assert_true(sample(text, "sonde_requests_unanswered_total{protocol=\"http\"}") == 0);
	assert_null(strstr(text, "sonde_requests_unanswered_total{protocol=\"postgresql\"}"));
	assert_null(strstr(text, "sonde_requests_unanswered_total{protocol=\"redis\"}"));
	assert_true(sample(text, "process_start_time_seconds") > 1.6e9);
	free(text);
	telemetry_unanswered(&t, "http", 2);
	text = render(&t);
	assert_true(sample(text, "sonde_requests_unanswered_total{protocol=\"http\"}") == 2);
	free(text);
	telemetry_free(&t);
}

/* /proc/self readings: this test has stdin, stdout and stderr open at least. */
static void test_self_refresh(void **state)
{
	struct telemetry t;
	char *text;

	assert_int_equal(telemetry_init(&t, 100, false), 0);
	self_metrics_refresh(&t.self);
	text = render(&t);
	assert_true(sample(text, "process_open_fds") >= 3);
	assert_true(sample(text, "process_resident_memory_bytes") > 0);
	assert_true(sample(text, "process_cpu_seconds_total") >= 0);
	free(text);
	telemetry_free(&t);
}

/* --k8s-labels: the families of services end with the container and pod labels, the
 * self-metrics do not; a series without a context has them empty. */
static void test_ctx_labels(void **state)
{
	static const struct ctx_labels ctx = { .container_id = "c0ffee",
					       .pod_uid = "1b9d6b2e-3c4f-4a5b-9c8d-7e6f5a4b3c2d",
					       .pod_name = "api-7d9f",
					       .pod_namespace = "shop" };
	struct http_labels hl = { .method = "GET",
				  .status = "200",
				  .route = "/x",
				  .server_port = "8080",
				  .service = "api",
				  .ctx = &ctx };
	struct db_labels dl = { "redis", "GET", "", "127.0.0.1", "6379", "api", NULL };
	struct series *s[TEL_HTTP_FAMILIES], *d;
	struct telemetry t;
	char *text;

	assert_int_equal(telemetry_init(&t, 100, true), 0);
	assert_true(telemetry_http_series(&t, true, &hl, s));
	telemetry_http_observe(&t, true, s, 0.001, 0, 2);
	assert_true(telemetry_db_series(&t, &dl, &d));
	telemetry_db_observe(&t, d, 0.002);
	text = render(&t);
	assert_true(sample(text, "http_server_request_duration_seconds_count{"
				 "http_request_method=\"GET\",http_response_status_code=\"200\","
				 "http_route=\"/x\",url_scheme=\"http\",server_port=\"8080\","
				 "service_name=\"api\",container_id=\"c0ffee\",container_name=\"\","
				 "k8s_pod_uid=\"1b9d6b2e-3c4f-4a5b-9c8d-7e6f5a4b3c2d\","
				 "k8s_pod_name=\"api-7d9f\",k8s_namespace_name=\"shop\"}") == 1);
	assert_true(sample(text,
			   "db_client_operation_duration_seconds_count{"
			   "db_system_name=\"redis\",db_operation_name=\"GET\",error_type=\"\","
			   "server_address=\"127.0.0.1\",server_port=\"6379\","
			   "service_name=\"api\",container_id=\"\",container_name=\"\","
			   "k8s_pod_uid=\"\",k8s_pod_name=\"\",k8s_namespace_name=\"\"}") == 1);
	assert_true(sample(text, "sonde_parse_errors_total{protocol=\"http\"}") == 0);
	free(text);
	telemetry_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_zero_series),
		cmocka_unit_test(test_self_refresh),
		cmocka_unit_test(test_ctx_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
