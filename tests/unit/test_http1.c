// SPDX-License-Identifier: GPL-2.0-only
/*
 * HTTP/1 framer: framing and pairing of well-formed traffic, every scenario replayed whole,
 * split at every byte and one byte per read/write (see http1_replay.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "proto/http1.h"
#include "proto/http1_scan.h"
#include "http1_replay.h"

static void test_keepalive(void **state)
{
	struct scn *sc = scn_new("keep-alive x3");

	exchange(sc, "GET", "/a", "GET /a HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
		 200, 0, 5);
	exchange(sc, "GET", "/b?x=1", "GET /b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
		 "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 404, 0, 0);
	exchange(sc, "DELETE", "/c", "DELETE /c HTTP/1.1\r\nHost: example.com\r\n\r\n",
		 "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 3\r\nConnection: close\r\n"
		 "\r\nerr",
		 500, 0, 3)
		->flags = HTTP1_CONN_CLOSE;
	sc->close = true;
	replay_all(sc);
}

/* n pipelined GETs in one write; the responses in one write or one each. */
static void pipelined(const char *name, int n, bool one_write)
{
	struct scn *sc = scn_new(name);
	char *reqs = NULL, *resps = NULL, body[128];
	uint64_t rq[MAXW + 1], rs[MAXW + 1];
	size_t qlen = 0, slen = 0;
	FILE *fq = open_memstream(&reqs, &qlen), *fs = open_memstream(&resps, &slen);
	int i;

	assert_true(n <= MAXW && fq && fs);
	for (i = 0; i < n; i++) {
		rq[i] = ftell(fq);
		fprintf(fq, "GET /p%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
		memset(body, 'a' + i % 26, sizeof(body));
		rs[i] = ftell(fs);
		fprintf(fs, "HTTP/1.1 %d OK\r\nContent-Length: %d\r\n\r\n%.*s", i % 2 ? 201 : 200,
			i % 100, i % 100, body);
	}
	rq[n] = ftell(fq);
	rs[n] = ftell(fs);
	fclose(fq);
	fclose(fs);
	sc->owned[sc->nowned++] = reqs;
	sc->owned[sc->nowned++] = resps;
	add(sc, HTTP1_REQUESTS, reqs, qlen, 0);
	for (i = 0; i < n; i++) {
		char *target;
		struct want *w;

		assert_true(asprintf(&target, "/p%d", i) > 0);
		sc->owned[sc->nowned++] = target;
		w = expect(sc, "GET", target, i % 2 ? 201 : 200, 0, i % 100);
		span(w, rq[i], rq[i + 1] - 1, rs[i], rs[i + 1] - 1);
		if (!one_write)
			add(sc, HTTP1_RESPONSES, resps + rs[i], rs[i + 1] - rs[i], 0);
	}
	if (one_write)
		add(sc, HTTP1_RESPONSES, resps, slen, 0);
	replay_all(sc);
}

static void test_pipelined(void **state)
{
	pipelined("10 pipelined, responses in one write", 10, true);
	pipelined("10 pipelined, responses in 10 writes", 10, false);
	pipelined("100 pipelined (queue growth)", 100, true);
}

static void test_post_body_across_reads(void **state)
{
	struct scn *sc = scn_new("POST Content-Length across reads");
	uint64_t q, s;

	q = adds(sc, HTTP1_REQUESTS,
		 "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 26\r\n\r\n");
	adds(sc, HTTP1_REQUESTS, "abcdefghijklm");
	adds(sc, HTTP1_REQUESTS, "nopqrstuvwxyz");
	s = adds(sc, HTTP1_RESPONSES, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
	span(expect(sc, "POST", "/upload", 201, 26, 2), q, sc->off[0] - 1, s, sc->off[1] - 1);
	exchange(sc, "GET", "/next", "\r\nGET /next HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!", 200, 0, 1)
		->rq_first += 2; /* the stray CRLF after a body is not the request (§2.2) */
	replay_all(sc);
}

static void test_chunked_request(void **state)
{
	struct scn *sc = scn_new("chunked request body");

	exchange(sc, "POST", "/c",
		 "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "5\r\nhello\r\n6;ext=1\r\n world\r\nA\r\n0123456789\r\n0\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, 21, 0);
	exchange(sc, "GET", "/after", "GET /after HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 204 No Content\r\n\r\n", 204, 0, 0);
	replay_all(sc);
}

static void test_chunked_response(void **state)
{
	struct scn *sc = scn_new("chunked response, extensions and trailers");

	exchange(sc, "GET", "/stream", "GET /stream HTTP/1.1\r\nTE: trailers\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nTrailer: X-Sum\r\n\r\n"
		 "1a;name=\"v a\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
		 "10 ; q=1\r\n0123456789abcdef\r\n"
		 "0;last\r\nX-Sum: 42\r\nX-Other: y\r\n\r\n",
		 200, 0, 42);
	exchange(sc, "GET", "/next", "GET /next HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n000\r\n\r\n", 200, 0, 0);
	replay_all(sc);
}

static void test_head_204_304(void **state)
{
	struct scn *sc = scn_new("HEAD, 204, 304: no body");
	const char *q1 = "HEAD /h2 HTTP/1.1\r\n\r\n", *q2 = "GET /g2 HTTP/1.1\r\n\r\n";
	const char *s1 = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
	const char *s2 = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
	uint64_t q, s;

	exchange(sc, "HEAD", "/h", "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", 200, 0, 0);
	exchange(sc, "GET", "/n", "GET /n HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n", 204, 0, 0);
	exchange(sc, "GET", "/m", "GET /m HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n",
		 "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\nETag: \"x\"\r\n\r\n", 304, 0,
		 0);
	/* the same, pipelined: body-less responses must not eat the next one */
	q = addf(sc, HTTP1_REQUESTS, "%s%s", q1, q2);
	s = addf(sc, HTTP1_RESPONSES, "%s%s", s1, s2);
	span(expect(sc, "HEAD", "/h2", 200, 0, 0), q, q + strlen(q1) - 1, s, s + strlen(s1) - 1);
	span(expect(sc, "GET", "/g2", 200, 0, 3), q + strlen(q1), sc->off[0] - 1, s + strlen(s1),
	     sc->off[1] - 1);
	replay_all(sc);
}

static void test_expect_continue(void **state)
{
	struct scn *sc = scn_new("Expect: 100-continue");
	uint64_t q, s;

	q = adds(sc, HTTP1_REQUESTS,
		 "PUT /obj HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: "
		 "100-continue\r\n\r\n");
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 100 Continue\r\n\r\n");
	adds(sc, HTTP1_REQUESTS, "hello");
	s = adds(sc, HTTP1_RESPONSES, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
	span(expect(sc, "PUT", "/obj", 201, 5, 0), q, sc->off[0] - 1, s, sc->off[1] - 1)->flags =
		HTTP1_INTERIM;
	replay_all(sc);
}

static void test_early_response(void **state)
{
	struct scn *sc = scn_new("response before the request body ends");
	uint64_t q, s;

	q = adds(sc, HTTP1_REQUESTS, "POST /early HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
	s = adds(
		sc, HTTP1_RESPONSES,
		"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	span(expect(sc, "POST", "/early", 413, 3, 0), q, sc->off[0] - 1, s, sc->off[1] - 1)->flags =
		HTTP1_REQ_INCOMPLETE | HTTP1_CONN_CLOSE;
	adds(sc, HTTP1_REQUESTS, "defghij");
	sc->close = true;
	replay_all(sc);
}

static void test_upgrade(void **state)
{
	struct scn *sc = scn_new("101 Switching Protocols, CONNECT tunnel");
	const char *sw = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\n\r\n";
	uint64_t q, s;

	q = adds(
		sc, HTTP1_REQUESTS,
		"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
	s = addf(sc, HTTP1_RESPONSES, "%s\x81\x05hello", sw); /* a frame in the same write */
	span(expect(sc, "GET", "/ws", 101, 0, 0), q, sc->off[0] - 1, s, s + strlen(sw) - 1)->flags =
		HTTP1_UPGRADED;
	add(sc, HTTP1_REQUESTS,
	    "\x81\x85\x01\x02\x03\x04"
	    "abcde",
	    11, 0);
	adds(sc, HTTP1_REQUESTS, "GET / HTTP/1.1\r\n\r\n"); /* websocket payload now */
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	sc->st.upgrades = 1;
	sc->close = true;
	replay_all(sc);

	sc = scn_new("CONNECT tunnel");
	exchange(sc, "CONNECT", "example.com:443",
		 "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
		 "HTTP/1.1 200 Connection Established\r\n\r\n", 200, 0, 0)
		->flags = HTTP1_UPGRADED;
	add(sc, HTTP1_REQUESTS, "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", 10, 0);
	add(sc, HTTP1_RESPONSES, "\x16\x03\x03\x00\x01\x02", 6, 0);
	sc->st.upgrades = 1;
	replay_all(sc);
}

static void test_http10_close_delimited(void **state)
{
	struct scn *sc = scn_new("HTTP/1.0 response ended by close");
	struct want *w;
	uint64_t q, s;

	q = adds(sc, HTTP1_REQUESTS, "GET /old HTTP/1.0\r\nHost: h\r\n\r\n");
	s = adds(sc, HTTP1_RESPONSES, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n");
	adds(sc, HTTP1_RESPONSES, "hello ");
	adds(sc, HTTP1_RESPONSES, "world");
	w = expect(sc, "GET", "/old", 200, 0, 11);
	span(w, q, sc->off[0] - 1, s, sc->off[1] - 1);
	w->vminor = 0;
	w->flags = HTTP1_CLOSE_DELIMITED;
	sc->close = true;
	replay_all(sc);
}

/* ~61 KiB of header lines, a long target (cut at 255) and a body after them. */
static void test_large_headers(void **state)
{
	struct scn *sc = scn_new("60 KiB headers");
	size_t big = 40 * 1024, tlen = 300, i;
	char *req = malloc(64 * 1024), *p = req, target[256];
	struct want *w;
	uint64_t q, s;

	assert_non_null(req);
	p += sprintf(p, "POST /big?q=");
	memset(p, 'q', tlen - 8);
	p += tlen - 8;
	p += sprintf(p, " HTTP/1.1\r\nHost: h\r\nCookie: ");
	memset(p, 'c', big);
	p += big;
	p += sprintf(p, "\r\n");
	for (i = 0; i < 200; i++)
		p += sprintf(p, "X-Header-%03zu: value-%zu\r\n", i, i);
	p += sprintf(p, "X-Long: ");
	memset(p, 'l', 16 * 1024);
	p += 16 * 1024;
	p += sprintf(p, "\r\nContent-Length: 3\r\n\r\nabc");
	assert_true(p - req > 60 * 1024 && p - req < 64 * 1024);
	sc->owned[sc->nowned++] = req;
	q = add(sc, HTTP1_REQUESTS, req, p - req, 0);
	s = adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	memcpy(target, req + 5, 255); /* after "POST " */
	target[255] = 0;
	sc->owned[sc->nowned++] = strdup(target);
	w = expect(sc, "POST", sc->owned[sc->nowned - 1], 200, 3, 0);
	span(w, q, sc->off[0] - 1, s, sc->off[1] - 1);
	w->flags = HTTP1_TARGET_TRUNCATED;
	exchange(sc, "GET", "/small", "GET /small HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, 0, 0);
	replay_all(sc);
}

/* Go's server reads one byte in the background while a handler runs. */
static void test_go_one_byte_read(void **state)
{
	struct scn *sc = scn_new("Go: \"G\" then \"ET /x\"");
	uint64_t q, s;

	exchange(sc, "GET", "/first", "GET /first HTTP/1.1\r\nHost: h\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1", 200, 0, 1);
	q = adds(sc, HTTP1_REQUESTS, "G");
	adds(sc, HTTP1_REQUESTS, "ET /x HTTP/1.1\r\nHost: h\r\n\r\n");
	s = adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2");
	span(expect(sc, "GET", "/x", 200, 0, 1), q, sc->off[0] - 1, s, sc->off[1] - 1);
	/* pipelined: the "G" arrives before the previous response is written */
	adds(sc, HTTP1_REQUESTS, "GET /y HTTP/1.1\r\n\r\n");
	q = adds(sc, HTTP1_REQUESTS, "G");
	s = adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3");
	span(expect(sc, "GET", "/y", 200, 0, 1), q - 19, q - 1, s, sc->off[1] - 1);
	adds(sc, HTTP1_REQUESTS, "ET /z HTTP/1.1\r\n\r\n");
	s = adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n4");
	span(expect(sc, "GET", "/z", 200, 0, 1), q, sc->off[0] - 1, s, sc->off[1] - 1);
	replay_all(sc);

	sc = scn_new("Go: \"G\" as the first read observed");
	q = adds(sc, HTTP1_REQUESTS, "G");
	adds(sc, HTTP1_REQUESTS, "ET /x HTTP/1.1\r\n\r\n");
	s = adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2");
	span(expect(sc, "GET", "/x", 200, 0, 1), q, sc->off[0] - 1, s, sc->off[1] - 1);
	replay_all(sc);
}

/* Extension methods never start sync; told that the stream starts a request, they parse. */
static void test_assume_start(void **state)
{
	struct scn *sc = scn_new("extension method first, start assumed");
	struct http1_conn *c;

	exchange(sc, "PURGE", "/cache/x", "PURGE /cache/x HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, 0, 0);
	exchange(sc, "GET", "/x", "GET /x HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, 0, 0);
	sc->assume_start = true;
	replay_all(sc);

	sc = scn_new("extension method first, out of sync");
	adds(sc, HTTP1_REQUESTS, "PURGE /cache/x HTTP/1.1\r\n\r\n");
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	exchange(sc, "GET", "/x", "GET /x HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, 0, 0);
	sc->st = (struct http1_stats){ .resyncs = 1, .dropped_responses = 1 };
	replay_all(sc);

	c = http1_conn_new();
	assert_non_null(c);
	assert_int_equal(http1_assume_start(NULL, HTTP1_REQUESTS), -EINVAL);
	assert_int_equal(http1_assume_start(c, 2), -EINVAL);
	assert_int_equal(http1_assume_start(c, HTTP1_RESPONSES), 0);
	assert_int_equal(http1_assume_start(c, HTTP1_RESPONSES), -EBUSY);
	http1_conn_free(c);
}

/* A request the server's connection ended without answering: 499 at the close. */
static struct want *closed(struct scn *sc, const char *method, const char *target, uint64_t q,
			   uint64_t q_last, uint64_t req_body)
{
	struct want *w = expect(sc, method, target, HTTP1_STATUS_CLOSED, req_body, 0);

	span(w, q, q_last, 0, 0);
	w->rs_at_close = true;
	w->vminor = 0;
	w->flags = HTTP1_NO_RESPONSE;
	sc->st.closed++;
	sc->close_server = true;
	return w;
}

/* The client closes (or resets) while the handler runs: no byte of a response. */
static void test_server_close_before_response(void **state)
{
	static const char slow[] = "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char three[] = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
				    "GET /c HTTP/1.1\r\n\r\n";
	struct scn *sc = scn_new("closed while the handler ran");
	uint64_t q;

	exchange(sc, "GET", "/fast", "GET /fast HTTP/1.1\r\nHost: h\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, 0, 2);
	q = adds(sc, HTTP1_REQUESTS, slow);
	closed(sc, "GET", "/slow", q, q + strlen(slow) - 1, 0);
	replay_all(sc);

	sc = scn_new("three pipelined, one answered");
	q = adds(sc, HTTP1_REQUESTS, three);
	span(expect(sc, "GET", "/a", 200, 0, 0), q, q + 18, 0, 37);
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	closed(sc, "GET", "/b", q + 19, q + 37, 0);
	closed(sc, "GET", "/c", q + 38, q + 56, 0);
	replay_all(sc);

	/* the client gave up inside its own body: the request was not even whole */
	sc = scn_new("closed inside the request body");
	q = adds(sc, HTTP1_REQUESTS, "POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123");
	closed(sc, "POST", "/up", q, sc->off[0] - 1, 4)->flags |= HTTP1_REQ_INCOMPLETE;
	replay_all(sc);

	/* an interim response is not the answer */
	sc = scn_new("closed after 100 Continue");
	q = adds(sc, HTTP1_REQUESTS,
		 "PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 100 Continue\r\n\r\n");
	closed(sc, "PUT", "/f", q, sc->off[0] - 1, 0)->flags |= HTTP1_REQ_INCOMPLETE;
	replay_all(sc);

	/* a status line never finished: no status was written */
	sc = scn_new("closed inside the status line");
	q = adds(sc, HTTP1_REQUESTS, slow);
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 20");
	closed(sc, "GET", "/slow", q, q + strlen(slow) - 1, 0);
	replay_all(sc);
}

/* The server's response was cut short: counted with the status it was written with. */
static void test_server_close_inside_response(void **state)
{
	struct scn *sc = scn_new("closed inside a response body");
	uint64_t q, s;
	struct want *w;

	q = adds(sc, HTTP1_REQUESTS, "GET /big HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
	s = adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
	adds(sc, HTTP1_RESPONSES, "0123456789");
	w = expect(sc, "GET", "/big", 200, 0, 10);
	span(w, q, q + 20, s, sc->off[1] - 1);
	w->flags = HTTP1_RESP_CUT;
	sc->st.cut = 1;
	closed(sc, "GET", "/next", q + 21, sc->off[0] - 1, 0);
	replay_all(sc);

	sc = scn_new("closed inside the response headers");
	q = adds(sc, HTTP1_REQUESTS, "GET /busy HTTP/1.1\r\n\r\n");
	s = adds(sc, HTTP1_RESPONSES, "HTTP/1.1 503 Service Unavailable\r\nRetry-Af");
	w = expect(sc, "GET", "/busy", 503, 0, 0);
	span(w, q, sc->off[0] - 1, s, sc->off[1] - 1);
	w->flags = HTTP1_RESP_CUT;
	sc->st.cut = 1;
	sc->close_server = true;
	replay_all(sc);

	/* a body delimited by the close is whole, not cut */
	sc = scn_new("close-delimited response, server side");
	q = adds(sc, HTTP1_REQUESTS, "GET /old HTTP/1.0\r\n\r\n");
	s = adds(sc, HTTP1_RESPONSES, "HTTP/1.0 200 OK\r\n\r\nhello");
	w = expect(sc, "GET", "/old", 200, 0, 5);
	span(w, q, sc->off[0] - 1, s, sc->off[1] - 1);
	w->vminor = 0;
	w->flags = HTTP1_CLOSE_DELIMITED;
	sc->close_server = true;
	replay_all(sc);
}

/* Responses lost on the way may have answered the pending request: unanswered, not 499. */
static void test_server_close_out_of_sync(void **state)
{
	struct scn *sc = scn_new("closed while the responses were out of sync");

	exchange(sc, "GET", "/1", "GET /1 HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1", 200, 0, 1);
	adds(sc, HTTP1_REQUESTS, "GET /2 HTTP/1.1\r\n\r\n");
	addg(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nCont", 300);
	adds(sc, HTTP1_REQUESTS, "GET /3 HTTP/1.1\r\n\r\n");
	sc->st = (struct http1_stats){
		.parse_errors = 1, .gap_bytes = 300, .dropped_requests = 1, .unanswered = 1
	};
	sc->close_server = true;
	replay_all(sc);
}

static void test_api(void **state)
{
	struct http1_conn *c = http1_conn_new();
	const uint8_t b[4] = "GET ";

	assert_non_null(c);
	assert_int_equal(http1_feed(NULL, HTTP1_REQUESTS, 1, b, 4, 4, NULL, NULL), -EINVAL);
	assert_int_equal(http1_feed(c, 2, 1, b, 4, 4, NULL, NULL), -EINVAL);
	assert_int_equal(http1_feed(c, HTTP1_REQUESTS, 1, b, 5, 4, NULL, NULL), -EINVAL);
	assert_int_equal(http1_feed(c, HTTP1_REQUESTS, 1, NULL, 4, 4, NULL, NULL), -EINVAL);
	assert_int_equal(http1_feed(c, HTTP1_REQUESTS, 1, NULL, 0, 0, NULL, NULL), 0);
	assert_int_equal(http1_feed(c, HTTP1_REQUESTS, 1, b, 4, 4, NULL, NULL), 0);
	assert_false(http1_pending(c));
	assert_int_equal(http1_feed(c, HTTP1_REQUESTS, 1, (const uint8_t *)"/ HTTP/1.1\r\n", 12, 12,
				    NULL, NULL),
			 0);
	assert_true(http1_pending(c));
	http1_close(c, 2, NULL, NULL);
	assert_int_equal(http1_conn_stats(c)->unanswered, 1);
	assert_false(http1_pending(c));
	assert_false(http1_pending(NULL));
	http1_close_server(NULL, 0, NULL, NULL);
	assert_null(http1_conn_stats(NULL));
	http1_close(NULL, 0, NULL, NULL);
	http1_conn_free(NULL);
	http1_conn_free(c);
}

static void test_probes(void **state)
{
	static const struct {
		const char *s;
		bool any;
		enum http1_probe want;
	} rq[] = {
		{ "", false, HTTP1_PROBE_MAYBE },
		{ "G", false, HTTP1_PROBE_MAYBE },
		{ "GET /x HTTP/1.1\r\n", false, HTTP1_PROBE_YES },
		{ "GET /x HTTP/1.1\n", false, HTTP1_PROBE_YES },
		{ "GET /x HTTP/1.1\r", false, HTTP1_PROBE_MAYBE },
		{ "GET /x HTTP/1.1\rX", false, HTTP1_PROBE_NO },
		{ "GET /x HTTP/2.0\r\n", false, HTTP1_PROBE_NO },
		{ "GET x HTTP/1.1\r\n", false, HTTP1_PROBE_NO },
		{ "OPTIONS * HTTP/1.1\r\n", false, HTTP1_PROBE_YES },
		{ "GET https://a/b HTTP/1.0\r\n", false, HTTP1_PROBE_YES },
		{ "CONNECT a.b:443 HTTP/1.1\r\n", false, HTTP1_PROBE_YES },
		{ "PROPFIND /d HTTP/1.1\r\n", false, HTTP1_PROBE_NO },
		{ "PROPFIND /d HTTP/1.1\r\n", true, HTTP1_PROBE_YES },
		{ "ET /x HTTP/1.1\r\n", false, HTTP1_PROBE_NO },
		{ "GETX /x HTTP/1.1\r\n", false, HTTP1_PROBE_NO },
		{ "GET  /x HTTP/1.1\r\n", false, HTTP1_PROBE_NO },
		{ "GET /x\x01 HTTP/1.1\r\n", false, HTTP1_PROBE_NO },
		{ "PRI * HTTP/2.0\r\n", true, HTTP1_PROBE_NO },
	};
	static const struct {
		const char *s;
		enum http1_probe want;
	} rs[] = {
		{ "HTTP/1.1 200 OK\r\n", HTTP1_PROBE_YES }, { "HTTP/1.0 404\r\n", HTTP1_PROBE_YES },
		{ "HTTP/1.1 20", HTTP1_PROBE_MAYBE },	    { "HTTP/1.1 600 X", HTTP1_PROBE_NO },
		{ "HTTP/2 200 OK", HTTP1_PROBE_NO },	    { "http/1.1 200", HTTP1_PROBE_NO },
		{ "HTTP/1.1 2000", HTTP1_PROBE_NO },
	};
	size_t i;

	for (i = 0; i < sizeof(rq) / sizeof(rq[0]); i++)
		if (http1_probe_request((const uint8_t *)rq[i].s, strlen(rq[i].s), rq[i].any) !=
		    rq[i].want)
			fail_msg("probe_request(\"%s\", %d)", rq[i].s, rq[i].any);
	for (i = 0; i < sizeof(rs) / sizeof(rs[0]); i++)
		assert_int_equal(http1_probe_response((const uint8_t *)rs[i].s, strlen(rs[i].s)),
				 rs[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_post_body_across_reads),
		cmocka_unit_test(test_chunked_request),
		cmocka_unit_test(test_chunked_response),
		cmocka_unit_test(test_head_204_304),
		cmocka_unit_test(test_expect_continue),
		cmocka_unit_test(test_early_response),
		cmocka_unit_test(test_upgrade),
		cmocka_unit_test(test_http10_close_delimited),
		cmocka_unit_test(test_large_headers),
		cmocka_unit_test(test_go_one_byte_read),
		cmocka_unit_test(test_server_close_before_response),
		cmocka_unit_test(test_server_close_inside_response),
		cmocka_unit_test(test_server_close_out_of_sync),
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_assume_start),
		cmocka_unit_test(test_probes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
