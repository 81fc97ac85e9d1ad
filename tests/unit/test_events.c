// SPDX-License-Identifier: GPL-2.0-only
/*
 * Request events: the filter grammar, JSON escaping and the exact line, traceparent parsing,
 * and the allow-listed id headers the HTTP/1 framer carries to an exchange, with the request
 * split at every byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "events/filter.h"
#include "events/json.h"
#include "metrics/ctx_labels.h"
#include "proto/http1.h"

/* ---- filter grammar ------------------------------------------------------------------ */

static void test_filter_grammar(void **state)
{
	struct events_filter f;
	char err[128];

	assert_int_equal(events_filter_parse(&f, "all", err, sizeof(err)), 0);
	assert_true(f.all);
	assert_int_equal(events_filter_parse(&f, "error,duration>=250ms,status=404,status=4xx", err,
					     sizeof(err)),
			 0);
	assert_true(f.error && !f.all);
	assert_int_equal(f.min_ns, 250000000);
	assert_int_equal(f.n_status, 2);
	assert_int_equal(f.status[0], 404);
	assert_int_equal(f.status[1], 4);
	assert_int_equal(events_filter_parse(&f, "duration>=1.5s", err, sizeof(err)), 0);
	assert_int_equal(f.min_ns, 1500000000);
	assert_int_equal(events_filter_parse(&f, "duration>=100us,duration>=7ns", err, 128), 0);
	assert_int_equal(f.min_ns, 7);

	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "", "term '': empty filter (use 'all')" },
		{ "all,", "term '': empty term" },
		{ "errors",
		  "term 'errors': not one of all, error, status=C, duration>=D, sample=R" },
		{ "duration>=5", "term 'duration>=5': a duration with unit ns, us, ms or s, e.g. "
				 "250ms" },
		{ "duration>5ms", "term 'duration>5ms': not one of all, error, status=C, "
				  "duration>=D, sample=R" },
		{ "status=6xx", "term 'status=6xx': a status code 100..999 or a class 1xx..5xx" },
		{ "status=20", "term 'status=20': a status code 100..999 or a class 1xx..5xx" },
		{ "sample=1.5", "term 'sample=1.5': a fraction from 0 to 1, e.g. 0.01" },
		{ "sample=-0", "term 'sample=-0': a fraction from 0 to 1, e.g. 0.01" },
		{ "error, all", "term ' all': not one of all, error, status=C, duration>=D, "
				"sample=R" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(events_filter_parse(&f, bad[i].text, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, bad[i].err);
	}
}

static void test_filter_pass(void **state)
{
	struct events_filter f;
	unsigned n = 0;

	assert_int_equal(events_filter_parse(&f, "error,duration>=100ms,status=404", NULL, 0), 0);
	assert_true(events_filter_pass(&f, 100000000, 200, false));
	assert_false(events_filter_pass(&f, 99999999, 200, false));
	assert_true(events_filter_pass(&f, 1, 500, false));
	assert_true(events_filter_pass(&f, 1, 0, true)); /* a database error */
	assert_true(events_filter_pass(&f, 1, 404, false));
	assert_false(events_filter_pass(&f, 1, 403, false));
	assert_int_equal(events_filter_parse(&f, "status=4xx", NULL, 0), 0);
	assert_true(events_filter_pass(&f, 1, 403, false));
	assert_false(events_filter_pass(&f, 1, 0, true));
	assert_int_equal(events_filter_parse(&f, "sample=0", NULL, 0), 0);
	assert_false(events_filter_pass(&f, 1, 200, false));
	assert_int_equal(events_filter_parse(&f, "sample=1", NULL, 0), 0);
	assert_true(events_filter_pass(&f, 1, 200, false));
	/* 1 %: within 4 standard deviations of 1000 in 100,000 */
	assert_int_equal(events_filter_parse(&f, "sample=0.01", NULL, 0), 0);
	for (int i = 0; i < 100000; i++)
		n += events_filter_pass(&f, 1, 200, false);
	assert_in_range(n, 1000 - 126, 1000 + 126);
}

/* ---- JSON ---------------------------------------------------------------------------- */

static void check_escape(const char *in, size_t n, const char *want)
{
	char out[256];
	size_t w = json_escape(in, n, out, sizeof(out), sizeof(out));

	out[w] = 0;
	assert_string_equal(out, want);
}

static void test_json_escape(void **state)
{
	char out[16];
	size_t w;

	check_escape("plain", 5, "plain");
	check_escape("a\"b\\c", 5, "a\\\"b\\\\c");
	check_escape("\n\r\t\x01\x1f\x7f", 6, "\\n\\r\\t\\u0001\\u001f\x7f");
	check_escape("caf\xc3\xa9", 5, "caf\xc3\xa9"); /* valid UTF-8 as it is */
	check_escape("\xff\xfe"
		     "a",
		     3, "\\ufffd\\ufffda"); /* one per bad byte */
	check_escape("\xe2\x82"
		     "a",
		     3, "\\ufffda");				  /* a cut sequence: one */
	check_escape("\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd"); /* no surrogates */
	check_escape("a\0b", 3, "a\\u0000b");
	/* the cut never splits an escape or a character */
	w = json_escape("ab\"cd", 5, out, sizeof(out), 3);
	assert_int_equal(w, 2);
	w = json_escape("\xc3\xa9\xc3\xa9", 4, out, sizeof(out), 3);
	assert_int_equal(w, 2);
	w = json_escape("abcdef\"", 7, out, sizeof(out), 4); /* a plain run, cut */
	assert_int_equal(w, 4);
	assert_memory_equal(out, "abcd", 4);
}

static void test_rfc3339(void **state)
{
	char ts[32];

	assert_int_equal(json_rfc3339_ns(1796410358123456789LL, ts), 30);
	assert_string_equal(ts, "2026-12-04T18:52:38.123456789Z");
	json_rfc3339_ns(5, ts);
	assert_string_equal(ts, "1970-01-01T00:00:00.000000005Z");
	json_rfc3339_ns(-1, ts);
	assert_string_equal(ts, "1970-01-01T00:00:00.000000000Z");
}

static void test_render(void **state)
{
	struct ctx_labels none = { 0 };
	struct http1_ids ids = { .request_id = "r-1\"",
				 .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
				 .span_id = "00f067aa0ba902b7" };
	struct event_record r = {
		.kind = "http_server",
		.wall_ns = 1796410358000000001LL,
		.duration_ns = 150000000,
		.service = "trade-engine",
		.method = "GET",
		.route = "/api/v1/orders/{id}",
		.path = "/api/v1/orders/5?token=secret#x",
		.status = 200,
		.has_bodies = EVENT_REQ_BODY | EVENT_RESP_BODY,
		.req_body = 0,
		.resp_body = 84,
		.server_port = "8080",
		.client_address = "127.0.0.1",
		.client_port = "40000",
		.ctx = &none, /* a process outside any container: no field */
		.ids = &ids,
	};
	struct ctx_labels pod = { .container_id = "3f2a",
				  .pod_uid = "0b6c1d2e-1111-2222-3333-444455556666",
				  .pod_name = "svc-7d9f",
				  .pod_namespace = "shop" };
	struct event_record db = {
		.kind = "db_client",
		.wall_ns = 1796410358000000000LL,
		.duration_ns = 42,
		.service = "svc",
		.ctx = &pod,
		.db_system = "postgresql",
		.db_operation = "INSERT",
		.error_type = "23505",
		.server_address = "/run/postgresql/.s.PGSQL.5432",
		.server_port = "",
	};
	char line[EVENT_LINE_MAX];
	size_t n = event_render(&r, line);

	line[n] = 0;
	assert_string_equal(
		line,
		"{\"time\":\"2026-12-04T18:52:38.000000001Z\",\"kind\":\"http_server\","
		"\"service_name\":\"trade-engine\",\"http_request_method\":\"GET\","
		"\"http_route\":\"/api/v1/orders/{id}\",\"url_path\":\"/api/v1/orders/5\","
		"\"http_response_status_code\":200,\"request_body_size\":0,"
		"\"response_body_size\":84,\"duration_ns\":150000000,\"server_port\":8080,"
		"\"client_address\":\"127.0.0.1\",\"client_port\":40000,\"request_id\":\"r-1\\\"\","
		"\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":"
		"\"00f067aa0ba902b7\"}\n");
	/* a request whose head was not all captured: its body size is unknown, not 0 */
	r.has_bodies = EVENT_RESP_BODY;
	n = event_render(&r, line);
	line[n] = 0;
	assert_null(strstr(line, "request_body_size"));
	assert_non_null(strstr(line, "\"response_body_size\":84,"));
	n = event_render(&db, line);
	line[n] = 0;
	assert_string_equal(line,
			    "{\"time\":\"2026-12-04T18:52:38.000000000Z\",\"kind\":"
			    "\"db_client\",\"service_name\":\"svc\",\"container_id\":\"3f2a\","
			    "\"k8s_pod_uid\":\"0b6c1d2e-1111-2222-3333-444455556666\","
			    "\"k8s_pod_name\":\"svc-7d9f\",\"k8s_namespace_name\":\"shop\","
			    "\"db_system_name\":"
			    "\"postgresql\",\"db_operation_name\":\"INSERT\",\"error_type\":"
			    "\"23505\",\"duration_ns\":42,\"server_address\":"
			    "\"/run/postgresql/.s.PGSQL.5432\"}\n");
}

/* Every string at its longest, all of it escaped 6 bytes per byte: still one bounded line. */
static void test_render_bound(void **state)
{
	static char s[EVENT_LINE_MAX];
	struct ctx_labels ctx;
	struct http1_ids ids;
	struct event_record r;
	char line[EVENT_LINE_MAX];
	size_t n;

	memset(s, 1, sizeof(s) - 1);
	memset(&ctx, 1, sizeof(ctx));
	ctx.container_id[sizeof(ctx.container_id) - 1] = 0;
	ctx.container_name[sizeof(ctx.container_name) - 1] = 0;
	ctx.pod_uid[sizeof(ctx.pod_uid) - 1] = 0;
	ctx.pod_name[sizeof(ctx.pod_name) - 1] = 0;
	ctx.pod_namespace[sizeof(ctx.pod_namespace) - 1] = 0;
	memset(&ids, 1, sizeof(ids));
	ids.request_id[HTTP1_ID_MAX] = ids.correlation_id[HTTP1_ID_MAX] = 0;
	ids.trace_id[32] = ids.span_id[16] = 0;
	r = (struct event_record){ .kind = s,
				   .service = s,
				   .ctx = &ctx,
				   .method = s,
				   .route = s,
				   .path = s,
				   .status = 999,
				   .has_bodies = EVENT_REQ_BODY | EVENT_RESP_BODY,
				   .req_body = ~0ULL,
				   .resp_body = ~0ULL,
				   .db_system = s,
				   .db_operation = s,
				   .error_type = s,
				   .server_address = s,
				   .client_address = s,
				   .ids = &ids,
				   .duration_ns = ~0ULL };
	n = event_render(&r, line);
	assert_true(n < EVENT_LINE_MAX);
	assert_int_equal(line[n - 1], '\n');
	assert_null(memchr(line, '\n', n - 1));
}

/* ---- traceparent and the id headers -------------------------------------------------- */

static void test_traceparent(void **state)
{
	static const char *const good[] = {
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future",
	};
	static const char *const bad[] = {
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", /* 00 has 4 fields */
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
		"",
	};
	struct http1_ids ids;

	for (size_t i = 0; i < 2; i++) {
		memset(&ids, 0, sizeof(ids));
		assert_int_equal(http1_traceparent_parse(good[i], strlen(good[i]), &ids), 0);
		assert_string_equal(ids.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
		assert_string_equal(ids.span_id, "00f067aa0ba902b7");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&ids, 0, sizeof(ids));
		assert_int_equal(http1_traceparent_parse(bad[i], strlen(bad[i]), &ids), -EINVAL);
		assert_string_equal(ids.trace_id, "");
	}
}

static struct http1_exchange got;
static int n_got;

static void on_exchange(void *ctx, const struct http1_exchange *ex)
{
	got = *ex;
	n_got++;
}

/* Feeds req split at cut (0: whole), then a response; one exchange must come out. */
static void feed_split(const char *req, size_t cut)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nX-Request-ID: resp\r\n"
				   "Content-Length: 0\r\n\r\n";
	struct http1_conn *c = http1_conn_new();
	size_t n = strlen(req);

	n_got = 0;
	memset(&got, 0, sizeof(got));
	if (cut) {
		http1_feed(c, HTTP1_REQUESTS, 1, (const uint8_t *)req, cut, cut, NULL, NULL);
		http1_feed(c, HTTP1_REQUESTS, 2, (const uint8_t *)req + cut, n - cut, n - cut, NULL,
			   NULL);
	} else {
		http1_feed(c, HTTP1_REQUESTS, 1, (const uint8_t *)req, n, n, NULL, NULL);
	}
	http1_feed(c, HTTP1_RESPONSES, 3, (const uint8_t *)resp, sizeof(resp) - 1, sizeof(resp) - 1,
		   on_exchange, NULL);
	http1_conn_free(c);
	assert_int_equal(n_got, 1);
}

static void test_id_headers(void **state)
{
	static const char req[] =
		"GET /a HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer s3cret\r\n"
		"x-request-id:  \t abc-123 \t\r\nX-Correlation-ID: corr,with,commas\r\n"
		"X-Request-ID: second\r\n"
		"TraceParent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n";

	for (size_t cut = 0; cut < sizeof(req) - 1; cut++) {
		feed_split(req, cut);
		assert_string_equal(got.ids.request_id, "abc-123");
		assert_string_equal(got.ids.correlation_id, "corr,with,commas");
		assert_string_equal(got.ids.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
		assert_string_equal(got.ids.span_id, "00f067aa0ba902b7");
		assert_int_equal(got.ids.flags, 0);
	}
}

static void test_id_headers_cut_and_bad(void **state)
{
	char req[512], id[101];

	memset(id, 'x', 100);
	id[100] = 0;
	snprintf(req, sizeof(req),
		 "GET /a HTTP/1.1\r\nX-Request-ID: %s\r\ntraceparent: 00-zz\r\n"
		 "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n",
		 id);
	feed_split(req, 0);
	assert_int_equal(strlen(got.ids.request_id), HTTP1_ID_MAX);
	assert_int_equal(got.ids.flags, HTTP1_ID_REQUEST_CUT | HTTP1_ID_TRACE_BAD);
	/* the well-formed second traceparent is taken: the first was no trace context */
	assert_string_equal(got.ids.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	/* no id header: all empty; the response's X-Request-ID is not the request's */
	feed_split("GET /b HTTP/1.1\r\nHost: h\r\n\r\n", 5);
	assert_string_equal(got.ids.request_id, "");
	assert_string_equal(got.ids.trace_id, "");
	assert_int_equal(got.ids.flags, 0);
}

/* The head goes on past the capture of its read (cap of n bytes captured): the request is
 * kept with the id headers whose lines were captured whole, and flagged. */
static void test_id_headers_past_the_capture(void **state)
{
	static const char req[] = "GET /a HTTP/1.1\r\nX-Correlation-ID: corr-1\r\n"
				  "X-Pad: 0123456789\r\nX-Request-ID: req-1\r\n\r\n";
	static const char resp[] = "HTTP/1.1 204 No Content\r\n\r\n";
	const size_t n = sizeof(req) - 1, corr_end = strstr(req, "X-Pad") - req, rid_end = n - 2,
		     head = strlen("GET /a HTTP/1.1\r\n");

	for (size_t cap = head; cap < n; cap++) {
		struct http1_conn *c = http1_conn_new();

		n_got = 0;
		memset(&got, 0, sizeof(got));
		http1_feed(c, HTTP1_REQUESTS, 1, (const uint8_t *)req, cap, n, NULL, NULL);
		http1_feed(c, HTTP1_RESPONSES, 2, (const uint8_t *)resp, sizeof(resp) - 1,
			   sizeof(resp) - 1, on_exchange, NULL);
		assert_int_equal(n_got, 1);
		assert_int_equal(got.status, 204);
		assert_string_equal(got.target, "/a");
		assert_string_equal(got.ids.correlation_id, cap >= corr_end ? "corr-1" : "");
		assert_string_equal(got.ids.request_id, cap >= rid_end ? "req-1" : "");
		assert_true(got.flags & HTTP1_HEAD_GAP);
		assert_int_equal(got.ids.flags, HTTP1_ID_UNSEEN);
		assert_int_equal(http1_conn_stats(c)->head_gaps, 1);
		assert_int_equal(http1_conn_stats(c)->parse_errors, 0);
		http1_conn_free(c);
	}
}

#define KA_REQS 8

static struct http1_exchange seen[KA_REQS];

static void on_seen(void *ctx, const struct http1_exchange *ex)
{
	if (n_got < KA_REQS)
		seen[n_got] = *ex;
	n_got++;
}

/* One keep-alive connection, requests with and without id headers, pipelined (all sent
 * before any answer) or one at a time: each exchange has its own request's ids and no
 * other's, though the stream's state is reused and, one at a time, request i + 4 takes
 * the queue slot of request i (4 inline slots): an id-less request where one with ids was. */
static void test_id_headers_keep_alive(void **state)
{
	static const struct {
		const char *req, *rid, *corr, *trace;
	} ka[KA_REQS] = {
		{ "GET /0 HTTP/1.1\r\nX-Request-ID: zero\r\n"
		  "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n",
		  "zero", "", "4bf92f3577b34da6a3ce929d0e0e4736" },
		{ "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n", "", "", "" },
		{ "GET /2 HTTP/1.1\r\nX-Correlation-ID: two\r\n\r\n", "", "two", "" },
		{ "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n", "", "", "" },
		{ "GET /4 HTTP/1.1\r\nHost: h\r\n\r\n", "", "", "" },
		{ "GET /5 HTTP/1.1\r\nX-Request-ID: five\r\n\r\n", "five", "", "" },
		{ "GET /6 HTTP/1.1\r\nHost: h\r\n\r\n", "", "", "" },
		{ "GET /7 HTTP/1.1\r\nHost: h\r\n\r\n", "", "", "" },
	};
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	for (int pipelined = 0; pipelined < 2; pipelined++) {
		struct http1_conn *c = http1_conn_new();
		uint64_t ts = 1;

		n_got = 0;
		memset(seen, 0, sizeof(seen));
		for (int i = 0; i < KA_REQS; i++) {
			int from = pipelined ? (i == 0 ? 0 : KA_REQS) : i;
			int to = pipelined ? KA_REQS : i + 1;

			for (int k = from; k < to; k++)
				http1_feed(c, HTTP1_REQUESTS, ts++, (const uint8_t *)ka[k].req,
					   strlen(ka[k].req), strlen(ka[k].req), NULL, NULL);
			http1_feed(c, HTTP1_RESPONSES, ts++, (const uint8_t *)resp,
				   sizeof(resp) - 1, sizeof(resp) - 1, on_seen, NULL);
		}
		assert_int_equal(n_got, KA_REQS);
		for (int i = 0; i < KA_REQS; i++) {
			char target[8];

			snprintf(target, sizeof(target), "/%d", i);
			assert_string_equal(seen[i].target, target);
			assert_string_equal(seen[i].ids.request_id, ka[i].rid);
			assert_string_equal(seen[i].ids.correlation_id, ka[i].corr);
			assert_string_equal(seen[i].ids.trace_id, ka[i].trace);
			assert_string_equal(seen[i].ids.span_id,
					    ka[i].trace[0] ? "00f067aa0ba902b7" : "");
			assert_int_equal(seen[i].ids.flags, 0);
			assert_int_equal(seen[i].status, 200);
		}
		assert_int_equal(http1_conn_stats(c)->parse_errors, 0);
		http1_conn_free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_grammar),
		cmocka_unit_test(test_filter_pass),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_bound),
		cmocka_unit_test(test_traceparent),
		cmocka_unit_test(test_id_headers),
		cmocka_unit_test(test_id_headers_cut_and_bad),
		cmocka_unit_test(test_id_headers_past_the_capture),
		cmocka_unit_test(test_id_headers_keep_alive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
