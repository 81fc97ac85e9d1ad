// SPDX-License-Identifier: GPL-2.0-only
/*
 * HTTP/1 framer: joining mid-stream, bytes not captured, garbage, framing errors and what
 * is left unpaired; exact counters and no mispairing after a loss (see http1_replay.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "proto/http1.h"
#include "http1_replay.h"

static void test_mid_stream_join(void **state)
{
	struct scn *sc = scn_new("joined mid-stream");

	adds(sc, HTTP1_RESPONSES, "tail of an earlier response body 0123456789\r\n");
	adds(sc, HTTP1_REQUESTS, "middle of an upload body 0123456789 abcdef\"}");
	/* answers the upload, whose request we never saw */
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
	exchange(sc, "GET", "/next", "GET /next HTTP/1.1\r\nHost: h\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, 0, 2);
	sc->st.resyncs = 2;
	sc->st.dropped_responses = 1;
	sc->close = true;
	replay_all(sc);
}

static void test_gap_in_body(void **state)
{
	struct scn *sc = scn_new("bytes not captured inside bodies");
	uint64_t q, s;
	struct want *w;

	q = addg(sc, HTTP1_REQUESTS, "POST /up HTTP/1.1\r\nContent-Length: 10000\r\n\r\n0123456789",
		 4900);
	add(sc, HTTP1_REQUESTS, "", 0, 10000 - 10 - 4900); /* e.g. sendfile: nothing captured */
	s = addg(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n01234",
		 20000 - 5);
	w = expect(sc, "POST", "/up", 200, 10000, 20000);
	span(w, q, sc->off[0] - 1, s, sc->off[1] - 1);
	w->flags = HTTP1_BODY_GAP;
	/* a chunk whose data ends exactly where the capture resumes */
	q = adds(sc, HTTP1_REQUESTS, "GET /ch HTTP/1.1\r\n\r\n");
	s = addg(sc, HTTP1_RESPONSES,
		 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n0123456789",
		 4096 - 10);
	adds(sc, HTTP1_RESPONSES, "\r\n0\r\n\r\n");
	w = expect(sc, "GET", "/ch", 200, 0, 4096);
	span(w, q, sc->off[0] - 1, s, sc->off[1] - 1);
	w->flags = HTTP1_BODY_GAP;
	exchange(sc, "GET", "/after", "GET /after HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 204 No Content\r\n\r\n", 204, 0, 0);
	sc->st.gap_bytes = 10000 - 10 + 20000 - 5 + 4096 - 10;
	replay_all(sc);

	/* the gap runs past the body into the next (pipelined) response: that one is lost */
	sc = scn_new("gap past the end of a body");
	q = adds(sc, HTTP1_REQUESTS, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
	s = addg(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
		 90 + 39);
	span(expect(sc, "GET", "/a", 200, 0, 100), q, q + 18, s, s + 41 + 99)->flags =
		HTTP1_BODY_GAP;
	exchange(sc, "GET", "/c", "GET /c HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc", 200, 0, 1);
	sc->st = (struct http1_stats){
		.parse_errors = 1, .resyncs = 1, .gap_bytes = 129, .dropped_requests = 1
	};
	replay_all(sc);
}

static void test_gap_in_headers(void **state)
{
	struct scn *sc = scn_new("request headers not captured");
	uint64_t q, s;

	exchange(sc, "GET", "/1", "GET /1 HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1", 200, 0, 1);
	/* kept: answered by the next response, its body unknown */
	q = addg(sc, HTTP1_REQUESTS, "GET /2 HTTP/1.1\r\nHost: h\r\nX-Lo", 500);
	s = adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2");
	span(expect(sc, "GET", "/2", 200, 0, 1), q, sc->off[0] - 1, s, sc->off[1] - 1)->flags =
		HTTP1_HEAD_GAP;
	exchange(sc, "GET", "/3", "GET /3 HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3", 200, 0, 1);
	sc->st = (struct http1_stats){ .head_gaps = 1, .resyncs = 1, .gap_bytes = 500 };
	replay_all(sc);

	/* a gap in a chunked body's trailer section still loses the framing */
	sc = scn_new("request trailer not captured");
	addg(sc, HTTP1_REQUESTS,
	     "POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T", 50);
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nt");
	exchange(sc, "GET", "/u", "GET /u HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nu", 200, 0, 1);
	sc->st = (struct http1_stats){
		.parse_errors = 1, .resyncs = 1, .gap_bytes = 50, .dropped_responses = 1
	};
	replay_all(sc);

	sc = scn_new("response headers not captured");
	adds(sc, HTTP1_REQUESTS, "GET /4 HTTP/1.1\r\n\r\n");
	addg(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nCont", 300);
	exchange(sc, "GET", "/5", "GET /5 HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n5", 200, 0, 1);
	sc->st = (struct http1_stats){
		.parse_errors = 1, .resyncs = 1, .gap_bytes = 300, .dropped_requests = 1
	};
	replay_all(sc);

	/* captured: /6 and the start of /7's head; not: the rest of /7 and all of /8, whose
	 * answer the marker after /7 swallows */
	sc = scn_new("pipelined requests not captured");
	add(sc, HTTP1_REQUESTS,
	    "GET /6 HTTP/1.1\r\n\r\nGET /7 HTTP/1.1\r\nHost: h\r\n\r\nGET /8 HTTP/1.1\r\n\r\n", 40,
	    66 - 40);
	span(expect(sc, "GET", "/6", 200, 0, 1), 0, 18, 0, 38);
	span(expect(sc, "GET", "/7", 200, 0, 1), 19, 39, 39, 77)->flags = HTTP1_HEAD_GAP;
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n6");
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n7");
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n8");
	exchange(sc, "GET", "/9", "GET /9 HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n9", 200, 0, 1);
	sc->st = (struct http1_stats){
		.head_gaps = 1, .resyncs = 1, .gap_bytes = 26, .dropped_responses = 1
	};
	replay_all(sc);

	/* the answer to the lost request began before the next request did, ended after */
	sc = scn_new("answer to a lost request straddles the next request");
	exchange(sc, "GET", "/1", "GET /1 HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1", 200, 0, 1);
	addg(sc, HTTP1_REQUESTS, "GET /2", 100);
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 500 Oops\r\n");
	q = adds(sc, HTTP1_REQUESTS, "GET /3 HTTP/1.1\r\n\r\n");
	adds(sc, HTTP1_RESPONSES, "Content-Length: 1\r\n\r\n2");
	s = adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3");
	span(expect(sc, "GET", "/3", 200, 0, 1), q, sc->off[0] - 1, s, sc->off[1] - 1);
	sc->st = (struct http1_stats){
		.parse_errors = 1, .resyncs = 1, .gap_bytes = 100, .dropped_responses = 1
	};
	replay_all(sc);
}

/* A head longer than the capture of its read: the request is kept, answers still pair. */
static void test_gap_in_request_head(void **state)
{
	struct scn *sc;
	struct want *w;
	uint64_t q, s;

	/* the rest of a long head, and a body, come in later reads: skipped, not requests */
	sc = scn_new("request head and body past the capture");
	q = addg(sc, HTTP1_REQUESTS, "POST /up HTTP/1.1\r\nCookie: 0123456789", 1000);
	w = span(expect(sc, "POST", "/up", 201, 0, 0), q, sc->off[0] - 1, 0, 0);
	w->flags = HTTP1_HEAD_GAP;
	adds(sc, HTTP1_REQUESTS, "abcdef\r\nContent-Length: 5\r\n\r\nhello");
	w->rs_first =
		adds(sc, HTTP1_RESPONSES, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
	w->rs_last = sc->off[1] - 1;
	exchange(sc, "GET", "/next", "GET /next HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nn", 200, 0, 1);
	sc->st = (struct http1_stats){ .head_gaps = 1, .resyncs = 1, .gap_bytes = 1000 };
	replay_all(sc);

	/* as "answer to a lost request straddles the next request", with the gap in /2's
	 * headers: /2 is kept and gets the answer that began before /3 did; /3 its own */
	sc = scn_new("answer to a gapped head straddles the next request");
	exchange(sc, "GET", "/1", "GET /1 HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1", 200, 0, 1);
	q = addg(sc, HTTP1_REQUESTS, "GET /2 HTTP/1.1\r\nHo", 100);
	w = span(expect(sc, "GET", "/2", 500, 0, 1), q, sc->off[0] - 1, 0, 0);
	w->flags = HTTP1_HEAD_GAP;
	w->rs_first = adds(sc, HTTP1_RESPONSES, "HTTP/1.1 500 Oops\r\n");
	q = adds(sc, HTTP1_REQUESTS, "GET /3 HTTP/1.1\r\n\r\n");
	adds(sc, HTTP1_RESPONSES, "Content-Length: 1\r\n\r\n2");
	w->rs_last = sc->off[1] - 1;
	s = adds(sc, HTTP1_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3");
	span(expect(sc, "GET", "/3", 200, 0, 1), q, sc->off[0] - 1, s, sc->off[1] - 1);
	sc->st = (struct http1_stats){ .head_gaps = 1, .resyncs = 1, .gap_bytes = 100 };
	replay_all(sc);
}

static void test_garbage(void **state)
{
	static const char junk[] = "\x16\x03\x01\x00\xc8\x01POST\x01\xff"
				   "GET /x HTTP/2.0\r\n\r\n\x00\x00 HTTP/1.1 200";
	struct scn *sc = scn_new("garbage on a fresh connection");

	add(sc, HTTP1_REQUESTS, junk, sizeof(junk) - 1, 0);
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 2x\r\n\xff\xfe");
	add(sc, HTTP1_REQUESTS, junk, sizeof(junk) - 1, 100);
	/* out of sync, "P" may start POST, but "POSTAL" is no standard method */
	adds(sc, HTTP1_REQUESTS, "P");
	adds(sc, HTTP1_REQUESTS, "OSTAL /x HTTP/1.1\r\n\r\n");
	sc->st.gap_bytes = 100;
	sc->close = true;
	replay_all(sc);

	sc = scn_new("garbage after sync");
	exchange(sc, "GET", "/ok1", "GET /ok1 HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, 0, 0);
	adds(sc, HTTP1_REQUESTS, "BAD\x01REQUEST\r\n\r\n");
	adds(sc, HTTP1_RESPONSES,
	     "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	exchange(sc, "GET", "/ok2", "GET /ok2 HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, 0, 0);
	adds(sc, HTTP1_REQUESTS, "GET /x HTTP/1.1\r\n\r\n");
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n");
	exchange(sc, "GET", "/y", "GET /y HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, 0, 0);
	/* a CR must be followed by LF */
	adds(sc, HTTP1_REQUESTS, "GET /cr HTTP/1.1\r\r\n\r\n");
	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
	sc->st = (struct http1_stats){
		.parse_errors = 3, .resyncs = 2, .dropped_requests = 1, .dropped_responses = 2
	};
	replay_all(sc);
}

static void test_framing_rules(void **state)
{
	struct scn *sc = scn_new("framing rules");

	/* RFC 9112 §6.3: Transfer-Encoding overrides Content-Length */
	exchange(sc, "POST", "/te",
		 "POST /te HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "3\r\nabc\r\n0\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", 200, 3, 2);
	/* differing Content-Length values: the message cannot be framed */
	adds(sc, HTTP1_REQUESTS,
	     "POST /bad HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx");
	adds(sc, HTTP1_RESPONSES,
	     "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	/* bare LF line ends (RFC 9112 §2.2), no reason phrase */
	exchange(sc, "GET", "/lf", "GET /lf HTTP/1.1\nHost: h\n\n",
		 "HTTP/1.1 200\nContent-Length: 2\n\nok", 200, 0, 2);
	/* an extension method, absolute-form target, obs-fold, HTTP/1.0 with a length */
	exchange(sc, "PROPFIND", "http://h/dav?depth=1",
		 "PROPFIND http://h/dav?depth=1 HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n",
		 "HTTP/1.0 207 Multi-Status\r\nContent-Length: 4\r\n\r\n<ok>", 207, 0, 4)
		->vminor = 0;
	/* final coding not chunked: the response runs until close (RFC 9112 §6.3 item 3) */
	exchange(sc, "GET", "/gz", "GET /gz HTTP/1.1\r\n\r\n",
		 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		 200, 0, 13)
		->flags = HTTP1_CLOSE_DELIMITED;
	sc->close = true;
	sc->st = (struct http1_stats){ .parse_errors = 1, .resyncs = 1, .dropped_responses = 1 };
	replay_all(sc);
}

static void test_unsolicited_unanswered(void **state)
{
	struct scn *sc = scn_new("unsolicited and unanswered");

	adds(sc, HTTP1_RESPONSES, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n");
	adds(sc, HTTP1_REQUESTS, "GET /u1 HTTP/1.1\r\n\r\nGET /u2 HTTP/1.1\r\n\r\n");
	adds(sc, HTTP1_REQUESTS, "POST /u3 HTTP/1.1\r\nContent-Length: 9\r\n\r\n1234");
	sc->st = (struct http1_stats){ .unsolicited = 1, .unanswered = 3 };
	sc->close = true;
	replay_all(sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mid_stream_join),
		cmocka_unit_test(test_gap_in_body),
		cmocka_unit_test(test_gap_in_headers),
		cmocka_unit_test(test_gap_in_request_head),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_framing_rules),
		cmocka_unit_test(test_unsolicited_unanswered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
