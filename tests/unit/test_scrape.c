// SPDX-License-Identifier: GPL-2.0-only
/* sonde top's HTTP GET: URLs, response decoding at every split, loopback servers. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "top/scrape.h"
#include "util/version.h"

struct url_case {
	const char *url;
	int rc;
	const char *host, *port, *authority, *path;
};

static const struct url_case urls[] = {
	{ "http://127.0.0.1:9464/metrics", 0, "127.0.0.1", "9464", "127.0.0.1:9464", "/metrics" },
	{ "http://[::1]:9000/m?x=1#frag", 0, "::1", "9000", "[::1]:9000", "/m?x=1" },
	{ "HTTP://node-7.example", 0, "node-7.example", "80", "node-7.example", "/metrics" },
	{ "http://h?q=1", 0, "h", "80", "h", "/?q=1" },
	{ "h:9464", 0, "h", "9464", "h:9464", "/metrics" },
	{ "http://[fe80::1]/", 0, "fe80::1", "80", "[fe80::1]", "/" },
	{ "https://h/metrics", 0, "h", "443", "h", "/metrics" },
	{ "HTTPS://[::1]:9464", 0, "::1", "9464", "[::1]:9464", "/metrics" },
	{ .url = "ftp://h/", .rc = -ENOTSUP },
	{ .url = "http://", .rc = -EINVAL },
	{ .url = "http:///metrics", .rc = -EINVAL },
	{ .url = "http://user:pw@h/", .rc = -EINVAL },
	{ .url = "http://[::1/", .rc = -EINVAL },
	{ .url = "http://[::1]x/", .rc = -EINVAL },
	{ .url = "http://h:0/", .rc = -EINVAL },
	{ .url = "http://h:/", .rc = -EINVAL },
	{ .url = "http://h:65536/", .rc = -EINVAL },
	{ .url = "http://h:12a/", .rc = -EINVAL },
};

static void test_url(void **state)
{
	struct scrape_url u;
	const char *why;
	char longhost[400];
	size_t i;

	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		const struct url_case *c = &urls[i];
		int rc = scrape_url_parse(c->url, &u, &why);

		if (rc != c->rc)
			fail_msg("%s: rc %d, want %d", c->url, rc, c->rc);
		if (rc) {
			assert_non_null(why);
			continue;
		}
		assert_string_equal(u.host, c->host);
		assert_string_equal(u.port, c->port);
		assert_string_equal(u.authority, c->authority);
		assert_string_equal(u.path, c->path);
	}
	memset(longhost, 'a', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = '\0';
	assert_int_equal(scrape_url_parse(longhost, &u, &why), -ENAMETOOLONG);
}

/* Decodes a copy of the first n bytes of raw. */
static int decode(const char *raw, size_t n, bool eof, struct scrape_response *r, char **copy)
{
	*copy = malloc(n + 1);
	assert_non_null(*copy);
	memcpy(*copy, raw, n);
	memset(r, 0, sizeof(*r));
	return scrape_decode(*copy, n, eof, r);
}

/* Every cut short of the whole needs more bytes (or fails at EOF); the whole decodes. */
static void check_complete(const char *raw, int status, const char *body)
{
	struct scrape_response r;
	size_t n = strlen(raw), i;
	char *copy;
	int rc;

	for (i = 0; i < n; i++) {
		rc = decode(raw, i, false, &r, &copy);
		free(copy);
		if (rc != -EAGAIN)
			fail_msg("cut at %zu of \"%s\": %d, want -EAGAIN", i, raw, rc);
		rc = decode(raw, i, true, &r, &copy);
		free(copy);
		if (rc != -EPROTO || !r.reason)
			fail_msg("cut at %zu then EOF: %d, want -EPROTO", i, rc);
	}
	for (i = 0; i < 2; i++) {
		rc = decode(raw, n, i, &r, &copy);
		if (rc)
			fail_msg("\"%s\": %d (%s)", raw, rc, r.reason);
		assert_int_equal(r.status, status);
		assert_int_equal(r.body_len, strlen(body));
		assert_string_equal(r.body, body);
		free(copy);
	}
}

static void test_decode_lengths(void **state)
{
	check_complete("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length:  5 \r\n"
		       "\r\nhello",
		       200, "hello");
	check_complete("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		       "5;ext=1\r\nhello\r\nA\r\n, world!\r\n\r\n0\r\nTrailer: x\r\n\r\n",
		       200, "hello, world!\r\n");
	/* Bare LF line ends, upper-case hex, an empty chunked body. */
	check_complete("HTTP/1.1 200 OK\nTransfer-Encoding: Chunked\n\n1F\n"
		       "0123456789abcdef0123456789abcde\n0\n\n",
		       200, "0123456789abcdef0123456789abcde");
	check_complete("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200, "");
	/* Interim 100 Continue, then the response; 204 has no body. */
	check_complete("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n"
		       "Content-Length: 2\r\n\r\nno",
		       404, "no");
	check_complete("HTTP/1.1 204 No Content\r\n\r\n", 204, "");
	check_complete("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Encoding: identity\r\n\r\n",
		       200, "");
}

static void test_decode_close_delimited(void **state)
{
	static const char raw[] = "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nabc";
	struct scrape_response r;
	char *copy;

	assert_int_equal(decode(raw, sizeof(raw) - 1, false, &r, &copy), -EAGAIN);
	free(copy);
	assert_int_equal(decode(raw, sizeof(raw) - 1, true, &r, &copy), 0);
	assert_string_equal(r.body, "abc");
	free(copy);
}

struct bad_resp {
	const char *raw;
	int rc;
	const char *reason;
};

static const struct bad_resp bad[] = {
	{ "HTTP/2 200 OK\r\n\r\n", -EPROTO, "not an HTTP/1.x response" },
	{ "SSH-2.0-OpenSSH\r\n\r\n", -EPROTO, "not an HTTP/1.x response" },
	{ "HTTP/1.1 2x0 OK\r\n\r\n", -EPROTO, "not an HTTP/1.x response" },
	{ "HTTP/1.1 200OK\r\n\r\n", -EPROTO, "not an HTTP/1.x response" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", -EPROTO, "bad Content-Length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", -EPROTO, "bad Content-Length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", -EPROTO,
	  "bad Content-Length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", -EFBIG,
	  "response larger than 64 MiB" },
	{ "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n", -ENOTSUP,
	  "compressed response (no Accept-Encoding was sent)" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -ENOTSUP,
	  "unsupported Transfer-Encoding (only chunked)" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", -EPROTO,
	  "malformed chunked body" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\n\r\n", -EPROTO,
	  "malformed chunked body" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", -EPROTO,
	  "malformed chunked body" },
};

static void test_decode_errors(void **state)
{
	struct scrape_response r;
	char *copy, noline[9000];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = decode(bad[i].raw, strlen(bad[i].raw), false, &r, &copy);
		free(copy);
		if (rc != bad[i].rc || !r.reason || strcmp(r.reason, bad[i].reason))
			fail_msg("\"%s\": %d \"%s\", want %d \"%s\"", bad[i].raw, rc,
				 r.reason ? r.reason : "(null)", bad[i].rc, bad[i].reason);
	}
	memset(noline, 'x', sizeof(noline));
	assert_int_equal(decode(noline, sizeof(noline), false, &r, &copy), -EPROTO);
	assert_string_equal(r.reason, "no status line");
	free(copy);
}

/* ---- loopback servers ------------------------------------------------------------------ */

struct server {
	int lfd;
	unsigned short port;
	const char *response; /* NULL: answer nothing */
	size_t piece;	      /* write the response in pieces this long */
	bool keep_open;	      /* do not close after the response */
	char request[1024];
	pthread_t thread;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	size_t got = 0, n, off;
	int fd = accept(s->lfd, NULL, NULL);
	struct timespec pause = { 0, 2000000 };
	char drain[64];
	ssize_t r;

	if (fd < 0)
		return NULL;
	while (got < sizeof(s->request) - 1 && !strstr(s->request, "\r\n\r\n")) {
		r = read(fd, s->request + got, sizeof(s->request) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	for (off = 0; s->response && s->response[off]; off += n) {
		n = strlen(s->response + off);
		n = n < s->piece ? n : s->piece;
		if (write(fd, s->response + off, n) != (ssize_t)n)
			break;
		nanosleep(&pause, NULL);
	}
	if (s->keep_open || !s->response)
		while (read(fd, drain, sizeof(drain)) > 0) /* until the client closes */
			;
	close(fd);
	return NULL;
}

static void server_start(struct server *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 4), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

static void url_of(struct server *s, struct scrape_url *u)
{
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", s->port);
	assert_int_equal(scrape_url_parse(url, u, NULL), 0);
}

static void test_get_chunked_in_pieces(void **state)
{
	struct server s = { .response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
					"4\r\nup 1\r\n1\r\n\n\r\n0\r\n\r\n",
			    .piece = 3 };
	struct scrape_response r;
	struct scrape_url u;
	char want[256];

	server_start(&s);
	url_of(&s, &u);
	assert_int_equal(scrape_get(&u, 5000, &r), 0);
	server_stop(&s);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "up 1\n");
	/* The exact request: no Accept-Encoding, so no compressed body can come back. */
	snprintf(want, sizeof(want),
		 "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUser-Agent: sonde-top/%s\r\n"
		 "Accept: text/plain;version=0.0.4\r\nConnection: close\r\n\r\n",
		 s.port, sonde_version());
	assert_string_equal(s.request, want);
	scrape_response_free(&r);
	scrape_response_free(&r); /* idempotent */
}

/* A server that keeps the connection open: Content-Length ends the read. */
static void test_get_length_keep_open(void **state)
{
	struct server s = { .response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nup 1\n",
			    .piece = 1000,
			    .keep_open = true };
	struct scrape_response r;
	struct scrape_url u;

	server_start(&s);
	url_of(&s, &u);
	assert_int_equal(scrape_get(&u, 5000, &r), 0);
	server_stop(&s);
	assert_string_equal(r.body, "up 1\n");
	scrape_response_free(&r);
}

static void test_get_timeout_and_refused(void **state)
{
	struct server s = { .response = NULL };
	struct scrape_response r;
	struct scrape_url u;

	server_start(&s);
	url_of(&s, &u);
	assert_int_equal(scrape_get(&u, 200, &r), -ETIMEDOUT);
	scrape_response_free(&r);
	server_stop(&s); /* the listening socket is closed: nobody is there any more */
	assert_int_equal(scrape_get(&u, 2000, &r), -ECONNREFUSED);
	scrape_response_free(&r);
	assert_int_equal(scrape_url_parse("http://no-such-host.invalid/", &u, NULL), 0);
	assert_int_equal(scrape_get(&u, 2000, &r), -EHOSTUNREACH);
	assert_string_equal(r.reason, "cannot resolve the URL's host");
	scrape_response_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_decode_lengths),
		cmocka_unit_test(test_decode_close_delimited),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_get_chunked_in_pieces),
		cmocka_unit_test(test_get_length_keep_open),
		cmocka_unit_test(test_get_timeout_and_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
