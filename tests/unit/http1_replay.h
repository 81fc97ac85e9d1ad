/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Scenarios of the HTTP/1 framer tests (test_http1.c, test_http1_loss.c), replayed by
 * replay.h.
 *
 * A scenario is a causal sequence of "pieces" (one write on one of the two streams,
 * optionally followed by bytes that were not captured: a struct replay_turn) and the exact
 * exchanges and counters it must produce. replay_all() plays it with each piece whole, with
 * each piece split in two at every position, and one byte per read/write (replay_splits());
 * each read/write gets the next timestamp, and expected timestamps are looked up from the
 * read/write that carried the byte in question, so one expectation holds for every split.
 * Functions are static inline: each test file uses a subset.
 */
#ifndef SONDE_TEST_HTTP1_REPLAY_H
#define SONDE_TEST_HTTP1_REPLAY_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http1.h"
#include "replay.h"

#define MAXP 256
#define MAXW 128

struct want {
	const char *method, *target;
	uint16_t status;
	uint8_t vminor;
	uint16_t flags;
	uint64_t req_body, resp_body;
	uint64_t rq_first, rq_last, rs_first, rs_last; /* byte offsets in their stream */
	bool rs_at_close; /* no response: its timestamps are the close's */
};

struct scn {
	const char *name;
	struct replay_turn p[MAXP]; /* ts unused: each read/write gets the next */
	size_t np;
	struct want w[MAXW];
	size_t nw;
	uint64_t off[2];
	bool close;
	bool close_server;     /* end with http1_close_server() (instead of http1_close()) */
	bool assume_start;     /* the request stream is known to start with a request */
	struct http1_stats st; /* expected counters; exchanges = nw */
	char *owned[MAXP];
	size_t nowned;
};

struct ev {
	enum http1_stream s;
	uint64_t start, end, ts;
};

struct run {
	const struct scn *sc;
	struct http1_conn *c;
	struct ev *ev;
	size_t nev, cap;
	struct http1_exchange got[MAXW];
	size_t ngot;
	uint64_t off[2], ts;
	char mode[64];
};

/* ---- building scenarios ---------------------------------------------------------------- */

static inline struct scn *scn_new(const char *name)
{
	struct scn *sc = calloc(1, sizeof(*sc));

	assert_non_null(sc);
	sc->name = name;
	return sc;
}

static inline void scn_free(struct scn *sc)
{
	size_t i;

	for (i = 0; i < sc->nowned; i++)
		free(sc->owned[i]);
	free(sc);
}

/* Returns the stream offset of the piece's first byte. */
static inline uint64_t add(struct scn *sc, enum http1_stream s, const char *data, size_t len,
			   size_t gap)
{
	uint64_t at = sc->off[s];

	assert_true(sc->np < MAXP);
	sc->p[sc->np++] = (struct replay_turn){
		.dir = s, .data = (const uint8_t *)data, .cap = len, .len = len + gap
	};
	sc->off[s] += len + gap;
	return at;
}

static inline uint64_t adds(struct scn *sc, enum http1_stream s, const char *str)
{
	return add(sc, s, str, strlen(str), 0);
}

/* str is captured, then `gap` more bytes are moved without being captured */
static inline uint64_t addg(struct scn *sc, enum http1_stream s, const char *str, size_t gap)
{
	return add(sc, s, str, strlen(str), gap);
}

/* A piece built at run time; the scenario frees it. */
static inline uint64_t addf(struct scn *sc, enum http1_stream s, const char *fmt, ...)
{
	va_list ap;
	char *buf;

	va_start(ap, fmt);
	assert_true(vasprintf(&buf, fmt, ap) >= 0);
	va_end(ap);
	sc->owned[sc->nowned++] = buf;
	return adds(sc, s, buf);
}

static inline struct want *expect(struct scn *sc, const char *method, const char *target,
				  uint16_t status, uint64_t req_body, uint64_t resp_body)
{
	struct want *w = &sc->w[sc->nw++];

	assert_true(sc->nw <= MAXW);
	*w = (struct want){ .method = method,
			    .target = target,
			    .status = status,
			    .vminor = 1,
			    .req_body = req_body,
			    .resp_body = resp_body };
	return w;
}

static inline struct want *span(struct want *w, uint64_t rq_first, uint64_t rq_last,
				uint64_t rs_first, uint64_t rs_last)
{
	w->rq_first = rq_first;
	w->rq_last = rq_last;
	w->rs_first = rs_first;
	w->rs_last = rs_last;
	return w;
}

/* ---- replaying -------------------------------------------------------------------------- */

static inline void emit_cb(void *ctx, const struct http1_exchange *ex)
{
	struct run *r = ctx;

	if (r->ngot < MAXW)
		r->got[r->ngot] = *ex;
	r->ngot++;
}

static inline void feed(void *ctx, const struct replay_turn *t, const uint8_t *d, size_t cap,
			size_t len)
{
	struct run *r = ctx;
	enum http1_stream s = (enum http1_stream)t->dir;

	if (r->nev == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->ev = realloc(r->ev, r->cap * sizeof(*r->ev));
		assert_non_null(r->ev);
	}
	r->ts += 10;
	r->ev[r->nev++] = (struct ev){ s, r->off[s], r->off[s] + len, r->ts };
	r->off[s] += len;
	assert_int_equal(http1_feed(r->c, s, r->ts, d, cap, len, emit_cb, r), 0);
}

static inline uint64_t ts_of(const struct run *r, enum http1_stream s, uint64_t off)
{
	size_t i;

	for (i = 0; i < r->nev; i++)
		if (r->ev[i].s == s && off >= r->ev[i].start && off < r->ev[i].end)
			return r->ev[i].ts;
	return 0;
}

#define CHECKU(what, got, exp)                                                                  \
	do {                                                                                    \
		uint64_t g_ = (got), e_ = (exp);                                                \
		if (g_ != e_)                                                                   \
			fail_msg("%s [%s] %s: got %llu, want %llu", r->sc->name, r->mode, what, \
				 (unsigned long long)g_, (unsigned long long)e_);               \
	} while (0)

#define CHECKS(what, got, exp)                                                                \
	do {                                                                                  \
		if (strcmp((got), (exp)))                                                     \
			fail_msg("%s [%s] %s: got \"%s\", want \"%s\"", r->sc->name, r->mode, \
				 what, (got), (exp));                                         \
	} while (0)

static inline void check_exchange(const struct run *r, size_t i)
{
	const struct want *w = &r->sc->w[i];
	const struct http1_exchange *g = &r->got[i];
	char what[32];

	snprintf(what, sizeof(what), "#%zu method", i);
	CHECKS(what, g->method, w->method);
	snprintf(what, sizeof(what), "#%zu target", i);
	CHECKS(what, g->target, w->target);
	snprintf(what, sizeof(what), "#%zu status", i);
	CHECKU(what, g->status, w->status);
	snprintf(what, sizeof(what), "#%zu version", i);
	CHECKU(what, g->version_minor, w->vminor);
	snprintf(what, sizeof(what), "#%zu flags", i);
	CHECKU(what, g->flags, w->flags);
	snprintf(what, sizeof(what), "#%zu req_body", i);
	CHECKU(what, g->req_body_bytes, w->req_body);
	snprintf(what, sizeof(what), "#%zu resp_body", i);
	CHECKU(what, g->resp_body_bytes, w->resp_body);
	snprintf(what, sizeof(what), "#%zu req_first", i);
	CHECKU(what, g->req_first_ns, ts_of(r, HTTP1_REQUESTS, w->rq_first));
	snprintf(what, sizeof(what), "#%zu req_last", i);
	CHECKU(what, g->req_last_ns, ts_of(r, HTTP1_REQUESTS, w->rq_last));
	snprintf(what, sizeof(what), "#%zu resp_first", i);
	CHECKU(what, g->resp_first_ns,
	       w->rs_at_close ? r->ts : ts_of(r, HTTP1_RESPONSES, w->rs_first));
	snprintf(what, sizeof(what), "#%zu resp_last", i);
	CHECKU(what, g->resp_last_ns,
	       w->rs_at_close ? r->ts : ts_of(r, HTTP1_RESPONSES, w->rs_last));
}

static inline void check_run(const struct run *r, const struct http1_conn *c)
{
	const struct http1_stats *g = http1_conn_stats(c), *e = &r->sc->st;
	size_t i;

	CHECKU("exchanges emitted", r->ngot, r->sc->nw);
	for (i = 0; i < r->ngot; i++)
		check_exchange(r, i);
	CHECKU("stats.exchanges", g->exchanges, r->sc->nw - e->closed);
	CHECKU("stats.closed", g->closed, e->closed);
	CHECKU("stats.cut", g->cut, e->cut);
	CHECKU("stats.parse_errors", g->parse_errors, e->parse_errors);
	CHECKU("stats.head_gaps", g->head_gaps, e->head_gaps);
	CHECKU("stats.resyncs", g->resyncs, e->resyncs);
	CHECKU("stats.gap_bytes", g->gap_bytes, e->gap_bytes);
	CHECKU("stats.unanswered", g->unanswered, e->unanswered);
	CHECKU("stats.unsolicited", g->unsolicited, e->unsolicited);
	CHECKU("stats.dropped_requests", g->dropped_requests, e->dropped_requests);
	CHECKU("stats.dropped_responses", g->dropped_responses, e->dropped_responses);
	CHECKU("stats.upgrades", g->upgrades, e->upgrades);
}

static inline void begin(void *ctx, const char *mode)
{
	struct run *r = ctx;

	snprintf(r->mode, sizeof(r->mode), "%s", mode);
	r->c = http1_conn_new();
	assert_non_null(r->c);
	if (r->sc->assume_start)
		assert_int_equal(http1_assume_start(r->c, HTTP1_REQUESTS), 0);
	r->nev = r->ngot = 0;
	r->off[0] = r->off[1] = 0;
	r->ts = 1000;
}

static inline void end(void *ctx, enum replay_split how)
{
	struct run *r = ctx;

	if (r->sc->close || r->sc->close_server) {
		r->ts += 10;
		if (r->sc->close_server)
			http1_close_server(r->c, r->ts, emit_cb, r);
		else
			http1_close(r->c, r->ts, emit_cb, r);
	}
	check_run(r, r->c);
	http1_conn_free(r->c);
	r->c = NULL;
}

static inline void replay_all(struct scn *sc)
{
	const struct replay_ops ops = { begin, feed, end };
	struct run r = { .sc = sc };

	replay_splits(sc->p, sc->np, &ops, &r);
	free(r.ev);
	scn_free(sc);
}

/* One request piece and one response piece, answered in order: the common case. */
static inline struct want *exchange(struct scn *sc, const char *method, const char *target,
				    const char *req, const char *resp, uint16_t status,
				    uint64_t req_body, uint64_t resp_body)
{
	uint64_t q = adds(sc, HTTP1_REQUESTS, req), s = adds(sc, HTTP1_RESPONSES, resp);
	struct want *w = expect(sc, method, target, status, req_body, resp_body);

	span(w, q, q + strlen(req) - 1, s, s + strlen(resp) - 1);
	return w;
}

#endif /* SONDE_TEST_HTTP1_REPLAY_H */
