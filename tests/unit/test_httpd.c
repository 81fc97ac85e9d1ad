// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "http/httpd.h"
#include "metrics/exposition.h"
#include "metrics/registry.h"
#include "util/version.h"

struct resp {
	char raw[1 << 16];
	size_t len;
	int status;
	char *body; /* into raw */
	size_t body_len;
};

/* Sends a raw request and reads the response until the server closes the connection. */
static void http_raw(int family, uint16_t port, const char *req, struct resp *r)
{
	struct sockaddr_storage ss = { 0 };
	struct timeval tv = { .tv_sec = 5 };
	socklen_t len;
	char *sep;
	ssize_t n;
	int fd;

	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = in6addr_loopback;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*s4);
	}
	fd = socket(family, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	r->len = 0;
	while ((n = read(fd, r->raw + r->len, sizeof(r->raw) - 1 - r->len)) > 0)
		r->len += (size_t)n;
	assert_int_equal(n, 0); /* EOF, not a timeout */
	close(fd);
	r->raw[r->len] = '\0';
	assert_int_equal(sscanf(r->raw, "HTTP/1.1 %d ", &r->status), 1);
	sep = strstr(r->raw, "\r\n\r\n");
	assert_non_null(sep);
	r->body = sep + 4;
	r->body_len = r->len - (size_t)(r->body - r->raw);
}

static void http_get(uint16_t port, const char *path, const char *extra, struct resp *r)
{
	char req[512];

	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n", path,
		 extra ? extra : "");
	http_raw(AF_INET, port, req, r);
}

/* True when the header block has exactly this line (name case as sent by the server). */
static bool has_header(const struct resp *r, const char *line)
{
	char want[256];
	const char *end = r->body - 2, *p;

	snprintf(want, sizeof(want), "\r\n%s\r\n", line);
	p = strstr(r->raw, want);
	return p && p < end;
}

/* ---- fixtures -------------------------------------------------------------------------- */

struct fixture {
	struct registry *reg;
	struct httpd *h;
	uint16_t port;
	struct sonde_status st;
};

static void fill_status(void *ctx, struct sonde_status *out)
{
	*out = ((struct fixture *)ctx)->st;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static int setup(void **state)
{
	const char *names[] = { "path" }, *v[] = { "/a\"b" };
	struct fixture *f = calloc(1, sizeof(*f));
	struct metric *m;
	int i;

	f->reg = registry_new();
	m = registry_add(f->reg, METRIC_COUNTER, "reqs_total", "Requests.", names, 1, NULL, 0, 0);
	if (!m || metric_add(m, v, 7))
		return -1;
	/* Enough series that gzip visibly pays off. */
	for (i = 0; i < 200; i++) {
		char p[32];
		const char *pv[] = { p };

		snprintf(p, sizeof(p), "/items/%d", i);
		metric_add(m, pv, i);
	}
	strcpy(f->st.capture_mode, "socket");
	f->st.tracked_processes = 3;
	f->st.attached_programs = 12;
	f->st.started_unix = (unsigned long long)time(NULL) - 100;
	f->h = httpd_start("127.0.0.1", 0, f->reg, fill_status, f);
	if (!f->h)
		return -1;
	f->port = httpd_port(f->h);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	httpd_stop(f->h);
	registry_free(f->reg);
	free(f);
	return 0;
}

/* ---- endpoints ------------------------------------------------------------------------- */

static void test_metrics_plain(void **state)
{
	struct fixture *f = *state;
	static struct resp r;
	char *text;
	size_t len;

	assert_true(f->port != 0);
	http_get(f->port, "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
	assert_false(has_header(&r, "Content-Encoding: gzip"));
	assert_int_equal(registry_render(f->reg, &text, &len), 0);
	assert_int_equal(r.body_len, len);
	assert_memory_equal(r.body, text, len);
	assert_non_null(strstr(text, "reqs_total{path=\"/a\\\"b\"} 7\n"));
	free(text);

	/* The query string does not change the route. */
	http_get(f->port, "/metrics?name[]=x", NULL, &r);
	assert_int_equal(r.status, 200);
}

static void test_metrics_gzip(void **state)
{
	struct fixture *f = *state;
	static struct resp r;
	static char plain[1 << 17];
	char *text;
	size_t len;
	z_stream zs;

	http_get(f->port, "/metrics", "Accept-Encoding: deflate, gzip;q=0.5\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "Content-Encoding: gzip"));
	assert_true(has_header(&r, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
	assert_true(has_header(&r, "Vary: Accept, Accept-Encoding"));
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (Bytef *)r.body;
	zs.avail_in = (uInt)r.body_len;
	zs.next_out = (Bytef *)plain;
	zs.avail_out = sizeof(plain);
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	inflateEnd(&zs);
	assert_int_equal(registry_render(f->reg, &text, &len), 0);
	assert_int_equal(zs.total_out, len);
	assert_memory_equal(plain, text, len);
	assert_true(r.body_len < len / 2);
	free(text);

	/* q=0 refuses it. */
	http_get(f->port, "/metrics", "Accept-Encoding: gzip;q=0, identity\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_false(has_header(&r, "Content-Encoding: gzip"));
	/* Two header lines combine: the second one allows gzip. */
	http_get(f->port, "/metrics", "Accept-Encoding: br\r\nAccept-Encoding: gzip\r\n", &r);
	assert_true(has_header(&r, "Content-Encoding: gzip"));
}

static void test_healthz_404_405(void **state)
{
	struct fixture *f = *state;
	static struct resp r;

	http_get(f->port, "/healthz", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "Content-Type: text/plain; charset=utf-8"));
	assert_int_equal(r.body_len, 3);
	assert_memory_equal(r.body, "ok\n", 3);

	http_get(f->port, "/nope", NULL, &r);
	assert_int_equal(r.status, 404);
	http_get(f->port, "/metrics/", NULL, &r);
	assert_int_equal(r.status, 404);

	http_raw(AF_INET, f->port,
		 "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
		 "Connection: close\r\n\r\nabc",
		 &r);
	assert_int_equal(r.status, 405);
	assert_true(has_header(&r, "Allow: GET, HEAD"));
	http_raw(AF_INET, f->port, "DELETE /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		 &r);
	assert_int_equal(r.status, 405);

	/* HEAD: headers of the GET, no body. */
	http_raw(AF_INET, f->port, "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		 &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
}

static void test_health_json(void **state)
{
	struct fixture *f = *state;
	static struct resp r;
	char want[512];
	unsigned y, mo, d, hh, mm, ss;
	unsigned long long up;
	const char *p;

	f->st.n_parts = 2;
	strcpy(f->st.parts[0].name, "bpf");
	f->st.parts[0].ok = 1;
	strcpy(f->st.parts[0].detail, "12 programs");
	strcpy(f->st.parts[1].name, "ringbuf");
	f->st.parts[1].ok = 1;
	http_get(f->port, "/health", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "Content-Type: application/json"));
	assert_true(r.body_len > 0 && r.body[r.body_len - 1] == '\n');
	assert_int_equal(strncmp(r.body, "{\"status\":\"ok\",\"timestamp\":\"", 28), 0);
	/* RFC 3339 UTC, then the rest in a fixed order. */
	assert_int_equal(
		sscanf(r.body + 28, "%4u-%2u-%2uT%2u:%2u:%2uZ\"", &y, &mo, &d, &hh, &mm, &ss), 6);
	assert_true(y >= 2024 && mo >= 1 && mo <= 12 && r.body[28 + 19] == 'Z');
	p = strstr(r.body, ",\"version\":");
	assert_non_null(p);
	snprintf(want, sizeof(want), ",\"version\":\"%s\",\"uptime_seconds\":", sonde_version());
	assert_int_equal(strncmp(p, want, strlen(want)), 0);
	up = strtoull(p + strlen(want), NULL, 10);
	assert_true(up >= 100 && up <= 105);
	assert_non_null(strstr(r.body,
			       ",\"checks\":{\"bpf\":{\"status\":\"ok\",\"detail\":\"12 "
			       "programs\"},\"ringbuf\":{\"status\":\"ok\",\"detail\":\"\"}},"
			       "\"tls_targets\":[],\"tls_targets_total\":0}\n"));

	/* One failing part: degraded, 503, and details escaped as JSON strings. */
	f->st.parts[1].ok = 0;
	strcpy(f->st.parts[1].detail, "lost \"5\" \\ events\n\x01\xff");
	http_get(f->port, "/health", NULL, &r);
	assert_int_equal(r.status, 503);
	assert_int_equal(strncmp(r.body, "{\"status\":\"degraded\",", 21), 0);
	assert_non_null(strstr(r.body, "\"ringbuf\":{\"status\":\"fail\",\"detail\":"
				       "\"lost \\\"5\\\" \\\\ events\\n\\u0001\\ufffd\"}},"));
	f->st.n_parts = 0;
}

/* /health lists the processes sonde looked at for TLS: each field a JSON string or
 * number, a pid the same in its namespace shown as itself, the total beside a cut list. */
static void test_health_tls_targets(void **state)
{
	struct fixture *f = *state;
	static struct resp r;

	f->st.n_tls = 2;
	f->st.tls_total = 70;
	f->st.tls[0] = (struct sonde_tls_proc){
		.pid = 41, .library = "go", .state = "probed", .path = "/srv/trade-engine"
	};
	f->st.tls[1] = (struct sonde_tls_proc){ .pid = 42,
						.pid_in_ns = 7,
						.library = "openssl",
						.state = "failed",
						.reason = "attach_failed",
						.detail = "needs \"CAP_SYS_ADMIN\"",
						.path = "/usr/lib/libssl.so.3" };
	http_get(f->port, "/health", NULL, &r);
	f->st.n_tls = 0;
	f->st.tls_total = 0;
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(
		r.body,
		"\"tls_targets\":[{\"pid\":41,\"pid_in_namespace\":41,\"library\":\"go\","
		"\"state\":\"probed\",\"reason\":\"\",\"detail\":\"\",\"path\":\"/srv/"
		"trade-engine\"},"
		"{\"pid\":42,\"pid_in_namespace\":7,\"library\":\"openssl\",\"state\":\"failed\","
		"\"reason\":\"attach_failed\",\"detail\":\"needs \\\"CAP_SYS_ADMIN\\\"\","
		"\"path\":\"/usr/lib/libssl.so.3\"}],\"tls_targets_total\":70}\n"));
}

static void test_index_html(void **state)
{
	struct fixture *f = *state;
	static struct resp r;

	strcpy(f->st.capture_mode, "<b>&'x\"");
	http_get(f->port, "/", NULL, &r);
	strcpy(f->st.capture_mode, "socket");
	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "Content-Type: text/html; charset=utf-8"));
	assert_non_null(strstr(r.body, "<title>sonde</title>"));
	assert_non_null(strstr(r.body, sonde_version()));
	assert_non_null(strstr(r.body, "<td>&lt;b&gt;&amp;&#39;x&quot;</td>"));
	assert_non_null(strstr(r.body, "<th>tracked processes</th><td>3</td>"));
	assert_non_null(strstr(r.body, "<th>attached programs</th><td>12</td>"));
	assert_non_null(strstr(r.body, "<a href=\"/metrics\">"));
	assert_non_null(strstr(r.body, "<a href=\"/health\">"));
	assert_non_null(strstr(r.body, "<a href=\"/healthz\">"));
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void test_start_errors(void **state)
{
	struct fixture *f = *state;
	struct httpd *h;

	errno = 0;
	assert_null(httpd_start("127.0.0.1", f->port, f->reg, NULL, NULL));
	assert_int_equal(errno, EADDRINUSE);
	errno = 0;
	assert_null(httpd_start("not-an-ip", 0, f->reg, NULL, NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(httpd_start("", 0, f->reg, NULL, NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(httpd_start("127.0.0.1", 0, NULL, NULL, NULL));
	assert_int_equal(errno, EINVAL);
	/* 192.0.2.1 (TEST-NET-1) is not ours. */
	errno = 0;
	assert_null(httpd_start("192.0.2.1", 0, f->reg, NULL, NULL));
	assert_int_equal(errno, EADDRNOTAVAIL);
	httpd_stop(NULL);

	/* No status callback: healthy with no checks. */
	h = httpd_start("0.0.0.0", 0, f->reg, NULL, NULL);
	assert_non_null(h);
	assert_true(httpd_port(h) != 0 && httpd_port(h) != f->port);
	httpd_stop(h);
}

static void test_ipv6(void **state)
{
	struct fixture *f = *state;
	static struct resp r;
	struct httpd *h;

	h = httpd_start("[::1]", 0, f->reg, NULL, NULL);
	if (!h && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT))
		skip(); /* no IPv6 loopback here */
	assert_non_null(h);
	http_raw(AF_INET6, httpd_port(h),
		 "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"status\":\"ok\""));
	assert_non_null(strstr(r.body, "\"checks\":{},\"tls_targets\":[]"));
	httpd_stop(h);

	/* "::" is dual-stack: IPv4 clients get in too. */
	h = httpd_start("::", 0, f->reg, NULL, NULL);
	assert_non_null(h);
	http_raw(AF_INET, httpd_port(h),
		 "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	httpd_stop(h);
}

/* Start and stop leave no descriptor behind (MHD owns and closes the listen socket). */
static void test_no_fd_leak(void **state)
{
	struct fixture *f = *state;
	static struct resp r;
	int before = count_fds(), i;
	struct httpd *h;

	for (i = 0; i < 5; i++) {
		h = httpd_start("127.0.0.1", 0, f->reg, NULL, NULL);
		assert_non_null(h);
		http_get(httpd_port(h), "/metrics", NULL, &r);
		assert_int_equal(r.status, 200);
		httpd_stop(h);
	}
	assert_null(httpd_start("127.0.0.1", f->port, f->reg, NULL, NULL));
	assert_int_equal(count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_plain),	   cmocka_unit_test(test_metrics_gzip),
		cmocka_unit_test(test_healthz_404_405),	   cmocka_unit_test(test_health_json),
		cmocka_unit_test(test_health_tls_targets), cmocka_unit_test(test_index_html),
		cmocka_unit_test(test_start_errors),	   cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_no_fd_leak),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
