// SPDX-License-Identifier: GPL-2.0-only
/* metrics/observe.c: exchanges and operations in, samples out, through the per-connection
 * series cache; and the label vocabulary (method ids, status labels) it relies on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/observe.h"
#include "metrics/route.h"
#include "metrics/telemetry.h"
#include "proto/db_op.h"
#include "proto/http1.h"

struct fixture {
	struct telemetry tel;
	struct route_table *routes;
	struct observer obs;
	struct conn_peer peer[2];
	char *text;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(telemetry_init(&f->tel, 1000, false), 0);
	f->routes = route_table_new(NULL, 0, 100);
	assert_non_null(f->routes);
	f->obs = (struct observer){ .tel = &f->tel, .routes = f->routes };
	for (int i = 0; i < 2; i++) {
		snprintf(f->peer[i].service, sizeof(f->peer[i].service), "svc%d", i);
		snprintf(f->peer[i].address, sizeof(f->peer[i].address), "10.0.0.%d", i);
		snprintf(f->peer[i].local_port, sizeof(f->peer[i].local_port), "80");
		snprintf(f->peer[i].peer_port, sizeof(f->peer[i].peer_port), "5432");
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	route_table_free(f->routes);
	telemetry_free(&f->tel);
	free(f->text);
	free(f);
	return 0;
}

static double sample(struct fixture *f, const char *key)
{
	size_t klen = strlen(key);

	free(f->text);
	assert_int_equal(registry_render(f->tel.reg, &f->text, NULL), 0);
	for (const char *p = strstr(f->text, key); p; p = strstr(p + 1, key))
		if ((p == f->text || p[-1] == '\n') && p[klen] == ' ')
			return strtod(p + klen + 1, NULL);
	return 0;
}

static void http(struct fixture *f, int peer, bool server, const char *method, const char *target,
		 unsigned status)
{
	struct http1_exchange ex = { .status = (uint16_t)status,
				     .resp_first_ns = 1000000,
				     .resp_last_ns = 2000000,
				     .resp_body_bytes = 7 };

	snprintf(ex.method, sizeof(ex.method), "%s", method);
	snprintf(ex.target, sizeof(ex.target), "%s", target);
	observe_http(&f->obs, &f->peer[peer], server, &ex);
}

#define SRV(m, s, r, svc)                                                                  \
	"http_server_request_duration_seconds_count{http_request_method=\"" m              \
	"\",http_response_status_code=\"" s "\",http_route=\"" r "\",url_scheme=\"http\"," \
	"server_port=\"80\",service_name=\"" svc "\"}"

/* More distinct (method, status, route) sets on one connection than it caches, in turn:
 * every exchange still lands in its own series, whichever slot it evicts. */
static void test_http_server_cache(void **state)
{
	struct fixture *f = *state;
	char target[32];

	for (int round = 0; round < 3; round++)
		for (int i = 0; i < OBS_HTTP_SLOTS + 3; i++) {
			snprintf(target, sizeof(target), "/r%d/%d", i, round);
			http(f, 0, true, "GET", target, 200);
		}
	http(f, 0, true, "GET", "/r0/9", 404);
	http(f, 0, true, "PROPFIND", "/r0/9", 207);
	http(f, 0, true, "GET", "/r0/9", 999); /* outside the status table */
	http(f, 1, true, "GET", "/r0/1", 200); /* another connection, another service */
	assert_true(sample(f, SRV("GET", "200", "/r0/{id}", "svc0")) == 3);
	assert_true(sample(f, SRV("GET", "200", "/r10/{id}", "svc0")) == 3);
	assert_true(sample(f, SRV("GET", "404", "/r0/{id}", "svc0")) == 1);
	assert_true(sample(f, SRV("_OTHER", "207", "/r0/{id}", "svc0")) == 1);
	assert_true(sample(f, SRV("GET", "999", "/r0/{id}", "svc0")) == 1);
	assert_true(sample(f, SRV("GET", "200", "/r0/{id}", "svc1")) == 1);
	assert_true(sample(f, "http_server_response_body_size_bytes_sum{"
			      "http_request_method=\"GET\",http_response_status_code=\"200\","
			      "http_route=\"/r3/{id}\",url_scheme=\"http\",server_port=\"80\","
			      "service_name=\"svc0\"}") == 21);
}

/* A service's series removed (its processes gone) while a connection of it still holds
 * their handles: its next exchange makes new series, never touches the freed ones (ASan
 * would say so); the other service's stay. */
static void test_removed_service(void **state)
{
	struct fixture *f = *state;
	struct db_op op = { .operation = "SELECT", .start_ns = 0, .end_ns = 1000000 };

	http(f, 0, true, "GET", "/a", 200);
	http(f, 1, true, "GET", "/a", 200);
	observe_db(&f->obs, &f->peer[0], "postgresql", &op);
	assert_int_equal(telemetry_remove_service(&f->tel, "svc0", NULL), 4);
	assert_true(sample(f, "sonde_series_removed_total") == 4);
	assert_null(strstr(f->text, "svc0"));
	http(f, 0, true, "GET", "/a", 200);
	http(f, 0, true, "GET", "/a", 200);
	observe_db(&f->obs, &f->peer[0], "postgresql", &op);
	assert_true(sample(f, SRV("GET", "200", "/a", "svc0")) == 2);
	assert_true(sample(f, SRV("GET", "200", "/a", "svc1")) == 1);
	assert_true(sample(f, "db_client_operation_duration_seconds_count{db_system_name="
			      "\"postgresql\",db_operation_name=\"SELECT\",error_type=\"\","
			      "server_address=\"10.0.0.0\",server_port=\"5432\","
			      "service_name=\"svc0\"}") == 1);
}

static void test_http_client(void **state)
{
	struct fixture *f = *state;

	http(f, 1, false, "POST", "/x", 201);
	http(f, 1, false, "POST", "/y", 201); /* no route on the client side: same series */
	http(f, 1, false, "DELETE", "/x", 204);
	assert_true(sample(f, "http_client_request_duration_seconds_count{"
			      "http_request_method=\"POST\",http_response_status_code=\"201\","
			      "server_address=\"10.0.0.1\",server_port=\"5432\","
			      "service_name=\"svc1\"}") == 2);
	assert_true(sample(f, "http_client_request_duration_seconds_count{"
			      "http_request_method=\"DELETE\",http_response_status_code=\"204\","
			      "server_address=\"10.0.0.1\",server_port=\"5432\","
			      "service_name=\"svc1\"}") == 1);
}

#define DB(op, err)                                                                        \
	"db_client_operation_duration_seconds_count{db_system_name=\"postgresql\","        \
	"db_operation_name=\"" op "\",error_type=\"" err "\",server_address=\"10.0.0.0\"," \
	"server_port=\"5432\",service_name=\"svc0\"}"

static void test_db_cache(void **state)
{
	struct fixture *f = *state;
	struct db_op op = { .start_ns = 0, .end_ns = 1000 };

	for (int round = 0; round < 2; round++)
		for (int i = 0; i < OBS_DB_SLOTS + 2; i++) {
			snprintf(op.operation, sizeof(op.operation), "OP%d", i);
			snprintf(op.error_type, sizeof(op.error_type), "%s", i == 1 ? "23505" : "");
			observe_db(&f->obs, &f->peer[0], "postgresql", &op);
		}
	snprintf(op.operation, sizeof(op.operation), "OP1");
	op.error_type[0] = '\0';
	observe_db(&f->obs, &f->peer[0], "postgresql", &op);
	assert_true(sample(f, DB("OP0", "")) == 2);
	assert_true(sample(f, DB("OP1", "23505")) == 2);
	assert_true(sample(f, DB("OP1", "")) == 1);
	assert_true(sample(f, DB("OP9", "")) == 2);
}

static void test_method_ids(void **state)
{
	static const char *const std[] = { "GET",     "HEAD",	 "POST",  "PUT",  "DELETE",
					   "CONNECT", "OPTIONS", "TRACE", "PATCH" };
	static const char *const other[] = { "",       "G",   "GETS",	 "get",	   "PU",
					     "PUTS",   "POS", "P",	 "PATCHY", "PROPFIND",
					     "TRACEX", "Z",   "CONNECTS" };

	for (unsigned i = 0; i < sizeof(std) / sizeof(std[0]); i++) {
		assert_int_equal(http_method_id(std[i]), i);
		assert_string_equal(http_method_name(i), std[i]);
	}
	for (unsigned i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		assert_int_equal(http_method_id(other[i]), HTTP_METHOD_OTHER);
	assert_string_equal(http_method_name(HTTP_METHOD_OTHER), "_OTHER");
	assert_string_equal(http_method_name(1000), "_OTHER");
}

static void test_status_labels(void **state)
{
	char buf[HTTP_STATUS_LEN], want[8];

	for (unsigned s = 100; s <= 599; s++) {
		snprintf(want, sizeof(want), "%u", s);
		assert_string_equal(http_status_label(s, buf), want);
	}
	assert_string_equal(http_status_label(0, buf), "0");
	assert_string_equal(http_status_label(99, buf), "99");
	assert_string_equal(http_status_label(600, buf), "600");
	assert_string_equal(http_status_label(65535, buf), "65535");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_http_server_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_service, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_cache, setup, teardown),
		cmocka_unit_test(test_method_ids),
		cmocka_unit_test(test_status_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
