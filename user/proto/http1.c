// SPDX-License-Identifier: GPL-2.0-only
/*
 * HTTP/1.x framer: drives one state machine per direction over reads/writes of any size
 * (the byte scanners are in http1_scan.c), counts bodies without touching them, keeps the
 * queue of pending requests and pairs responses with them. The pairing rules and the
 * handling of losses are explained in http1.h.
 */
#include "proto/http1.h"
#include "proto/http1_scan.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define H1_QUEUE_INLINE 4
#define H1_QUEUE_MAX 1024 /* pending requests; a power of two */

enum h1_method { M_OTHER, M_HEAD, M_CONNECT };

struct h1_pending {
	struct http1_exchange ex;
	uint64_t seq;
	bool lost; /* marker: an unknown number of requests whose framing was lost */
	bool done; /* the whole request was received */
	uint8_t method;
};

struct http1_conn {
	struct h1_stream st[2];
	struct h1_pending *q; /* ring of pending requests, oldest at q_head */
	uint32_t q_cap, q_head, q_len;
	uint64_t q_seq;
	bool cur_live; /* the queue's tail is the request being received */
	bool bound;    /* the response being received answers the entry bound_seq */
	bool interim;  /* a 1xx came before the response being received */
	bool dead;
	uint8_t bound_method;
	uint64_t bound_seq;
	struct http1_stats stats;
	struct h1_pending q_inline[H1_QUEUE_INLINE];
};

struct h1_ctx {
	struct http1_conn *c;
	struct h1_stream *st;
	enum http1_stream s;
	uint64_t ts;
	http1_emit_fn emit;
	void *ctx;
};

/* ---- the queue of pending requests --------------------------------------------------- */

static struct h1_pending *q_at(const struct http1_conn *c, uint32_t i)
{
	return &c->q[(c->q_head + i) & (c->q_cap - 1)];
}

static int q_grow(struct http1_conn *c)
{
	uint32_t cap = c->q_cap * 2, i;
	struct h1_pending *q;

	if (cap > H1_QUEUE_MAX)
		return -ENOSPC;
	q = malloc(cap * sizeof(*q));
	if (!q)
		return -ENOMEM;
	for (i = 0; i < c->q_len; i++)
		q[i] = *q_at(c, i);
	if (c->q != c->q_inline)
		free(c->q);
	c->q = q;
	c->q_cap = cap;
	c->q_head = 0;
	return 0;
}

/* No id: each string empty (its first byte; nothing reads past the NUL), no flag. */
static void ids_clear(struct http1_ids *ids)
{
	ids->request_id[0] = ids->correlation_id[0] = '\0';
	ids->trace_id[0] = ids->span_id[0] = '\0';
	ids->flags = 0;
}

/* *dst = *src, the ~300 bytes copied only when src holds an id (most requests carry none). */
static void ids_copy(struct http1_ids *dst, const struct http1_ids *src)
{
	if (src->request_id[0] || src->correlation_id[0] || src->trace_id[0] || src->span_id[0] ||
	    src->flags)
		*dst = *src;
	else
		ids_clear(dst);
}

/* An empty exchange: the scalars zeroed, the strings (~600 bytes) emptied by their first
 * byte. Per request, so not a memset of the whole. It relies on the layout: the two
 * strings first, then the scalars from status on, then ids, the last member. */
_Static_assert(offsetof(struct http1_exchange, target) +
			       sizeof(((struct http1_exchange *)0)->target) <=
		       offsetof(struct http1_exchange, status),
	       "method and target come before the scalars");
_Static_assert(sizeof(struct http1_exchange) - offsetof(struct http1_exchange, ids) <
		       sizeof(struct http1_ids) + 8,
	       "ids is the last member of struct http1_exchange");
static void exchange_clear(struct http1_exchange *ex)
{
	ex->method[0] = ex->target[0] = '\0';
	memset(&ex->status, 0,
	       offsetof(struct http1_exchange, ids) - offsetof(struct http1_exchange, status));
	ids_clear(&ex->ids);
}

/* A request always leaves one slot free, so that a marker can follow it. */
static struct h1_pending *q_push(struct http1_conn *c, bool lost)
{
	struct h1_pending *e;

	if (c->q_len + (lost ? 1 : 2) > c->q_cap && q_grow(c))
		return NULL;
	e = q_at(c, c->q_len++);
	exchange_clear(&e->ex);
	e->done = false;
	e->method = 0;
	e->seq = ++c->q_seq;
	e->lost = lost;
	return e;
}

static void q_pop(struct http1_conn *c)
{
	if (c->q_len == 1)
		c->cur_live = false; /* the tail is gone too */
	c->q_head = (c->q_head + 1) & (c->q_cap - 1);
	c->q_len--;
}

/* Markers never sit next to each other: one stands for any number of lost requests. */
static void push_marker(struct http1_conn *c)
{
	if (!c->q_len || !q_at(c, c->q_len - 1)->lost)
		q_push(c, true);
}

/* ---- losses and sync ---------------------------------------------------------------- */

static void request_lost(struct http1_conn *c)
{
	if (!c->cur_live) {
		push_marker(c);
		return;
	}
	c->cur_live = false;
	q_at(c, c->q_len - 1)->lost = true;
	if (c->q_len >= 2 && q_at(c, c->q_len - 2)->lost)
		c->q_len--;
}

static void responses_lost(struct http1_conn *c)
{
	uint32_t i;

	for (i = 0; i < c->q_len; i++)
		if (!q_at(c, i)->lost)
			c->stats.dropped_requests++;
	c->q_len = 0;
	c->q_head = 0;
	c->cur_live = false;
	c->bound = false;
	c->interim = false;
	push_marker(c);
}

/* Bytes of this stream are ignored: requests may have gone by unseen. */
static void skip(struct h1_ctx *x, uint64_t n)
{
	x->c->stats.skipped_bytes += n;
	x->st->skipped = true;
	x->st->state = S_HUNT;
	x->st->tentative = false;
	if (x->s == HTTP1_REQUESTS)
		push_marker(x->c);
}

/* The message being parsed is malformed or its framing was not captured. */
static void fail(struct h1_ctx *x)
{
	if (x->st->tentative) {
		skip(x, x->st->head_bytes);
		return;
	}
	x->c->stats.parse_errors++;
	x->st->state = S_HUNT;
	x->st->skipped = true;
	if (x->s == HTTP1_REQUESTS)
		request_lost(x->c);
	else
		responses_lost(x->c);
}

static void sync_done(struct h1_ctx *x)
{
	if (x->st->skipped)
		x->c->stats.resyncs++;
	x->st->skipped = false;
	x->st->tentative = false;
}

static void go_dead(struct http1_conn *c)
{
	c->dead = true;
	c->st[HTTP1_REQUESTS].state = S_DEAD;
	c->st[HTTP1_RESPONSES].state = S_DEAD;
	c->stats.upgrades++;
}

/* ---- message boundaries ----------------------------------------------------------------- */

static void begin_message(struct h1_stream *st, uint64_t ts)
{
	bool tentative = st->tentative, skipped = st->skipped;

	/* the scalars, not the buffers (~600 bytes): see struct h1_stream */
	memset(st, 0, offsetof(struct h1_stream, name));
	ids_clear(&st->ids);
	st->tentative = tentative;
	st->skipped = skipped;
	st->state = S_LINE;
	st->first_ts = st->last_ts = ts;
}

static void enter_chunked(struct h1_stream *st)
{
	st->state = S_CHUNK_SIZE;
	st->sub = CS_DIGITS;
	st->left = 0;
	st->pos = 0;
}

/* Copy what the request stream knows into the queue entry of the request being received. */
static void req_sync(struct http1_conn *c, bool done)
{
	const struct h1_stream *st = &c->st[HTTP1_REQUESTS];
	struct h1_pending *t;

	if (!c->cur_live)
		return;
	t = q_at(c, c->q_len - 1);
	t->ex.req_last_ns = st->last_ts;
	t->ex.req_body_bytes = st->body_bytes;
	t->ex.flags |= st->flags;
	t->done = done;
}

static void finish_request(struct h1_ctx *x)
{
	req_sync(x->c, true);
	x->c->cur_live = false;
	x->st->state = S_START;
}

/* The response being received is complete (more: flags it gets besides the stream's). */
static void emit_response(struct h1_ctx *x, uint16_t more)
{
	struct http1_conn *c = x->c;
	const struct h1_stream *st = x->st;
	struct h1_pending *h = c->q_len ? q_at(c, 0) : NULL;

	if (c->bound && h && h->seq == c->bound_seq && !h->lost) {
		/* completed in its queue slot, emitted from there (emit never calls back into
		 * this connection), then popped */
		struct http1_exchange *ex = &h->ex;

		if (c->cur_live && c->q_len == 1)
			req_sync(c, false); /* answered while still arriving */
		if (!h->done)
			ex->flags |= HTTP1_REQ_INCOMPLETE;
		ex->flags |= st->flags | more | (c->interim ? HTTP1_INTERIM : 0);
		ex->status = st->status;
		ex->version_minor = st->version_minor;
		ex->resp_first_ns = st->first_ts;
		ex->resp_last_ns = st->last_ts;
		ex->resp_body_bytes = st->body_bytes;
		c->stats.exchanges++;
		if (x->emit)
			x->emit(x->ctx, ex);
		q_pop(c);
	} else if (c->bound) {
		c->stats.dropped_responses++; /* its request was lost meanwhile */
	}
	c->bound = false;
	c->interim = false;
	x->st->state = S_START;
}

static void finish_response(struct h1_ctx *x)
{
	emit_response(x, 0);
}

static void finish_message(struct h1_ctx *x)
{
	if (x->s == HTTP1_REQUESTS)
		finish_request(x);
	else
		finish_response(x);
}

/* Which queue entry does the final response that began at first_ts answer? */
static void bind_response(struct http1_conn *c, uint64_t first_ts)
{
	struct h1_pending *h;

	c->bound = false;
	c->bound_method = M_OTHER;
	while (c->q_len) {
		h = q_at(c, 0);
		if (!h->lost) {
			c->bound = true;
			c->bound_seq = h->seq;
			c->bound_method = h->method;
			return;
		}
		/* A response is written after its request is read (read after it is written):
		 * one that began before the next known request began answers a lost one. */
		if (c->q_len < 2 || q_at(c, 1)->ex.req_first_ns > first_ts) {
			c->stats.dropped_responses++;
			return;
		}
		q_pop(c);
	}
	c->stats.unsolicited++;
}

static int request_line_done(struct h1_ctx *x)
{
	struct http1_conn *c = x->c;
	struct h1_stream *st = x->st;
	struct h1_pending *e;

	sync_done(x);
	st->state = S_HDR;
	st->sub = HL_START;
	c->cur_live = false;
	e = q_push(c, false);
	if (!e) {
		c->stats.dropped_requests++; /* more pipelined than we keep: never mispair */
		push_marker(c);
		return 0;
	}
	/* NUL-terminated at the end of their tokens; e was cleared (exchange_clear) */
	memcpy(e->ex.method, st->method, strlen(st->method) + 1);
	memcpy(e->ex.target, st->target, (size_t)st->tlen + 1);
	e->ex.flags = st->flags;
	e->ex.req_first_ns = st->first_ts;
	e->ex.req_last_ns = st->last_ts;
	if (st->mlen == 4 && !memcmp(st->method, "HEAD", 4))
		e->method = M_HEAD;
	else if (st->mlen == 7 && !memcmp(st->method, "CONNECT", 7))
		e->method = M_CONNECT;
	c->cur_live = true;
	return 0;
}

static int request_head_done(struct h1_ctx *x)
{
	struct h1_stream *st = x->st;

	if (x->c->cur_live)
		ids_copy(&q_at(x->c, x->c->q_len - 1)->ex.ids, &st->ids);
	if (st->conn_close)
		st->flags |= HTTP1_CONN_CLOSE;
	if (st->has_te) {
		/* RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing; §6.3: a
		 * request whose final coding is not chunked cannot be delimited (400). */
		if (!st->chunked || st->version_minor == 0)
			return -EBADMSG;
		enter_chunked(st);
	} else if (st->has_cl && st->cl) {
		st->state = S_BODY;
		st->left = st->cl;
	} else {
		finish_request(x); /* RFC 9112 §6.3: neither header, no body */
	}
	return 0;
}

static int response_head_done(struct h1_ctx *x)
{
	struct http1_conn *c = x->c;
	struct h1_stream *st = x->st;
	uint16_t code = st->status;

	if (st->conn_close)
		st->flags |= HTTP1_CONN_CLOSE;
	if (code < 200 && code != 101) {
		c->interim = true; /* RFC 9110 §15.2: no body; the final response follows */
		st->state = S_START;
		return 0;
	}
	bind_response(c, st->first_ts);
	if (code == 101 || (c->bound_method == M_CONNECT && code / 100 == 2)) {
		/* RFC 9110 §15.2.2, §9.3.6: the bytes after this are another protocol */
		st->flags |= HTTP1_UPGRADED;
		finish_response(x);
		go_dead(c);
	} else if (c->bound_method == M_HEAD || code == 204 || code == 304) {
		finish_response(x); /* RFC 9112 §6.3 item 1 */
	} else if (st->has_te && st->chunked && st->version_minor) {
		enter_chunked(st);
	} else if (st->has_te || !st->has_cl) {
		/* RFC 9112 §6.3 items 3 and 8 (and §6.1 for TE in HTTP/1.0): until close */
		st->state = S_UNTIL_CLOSE;
		st->flags |= HTTP1_CLOSE_DELIMITED;
	} else if (st->cl) {
		st->state = S_BODY;
		st->left = st->cl;
	} else {
		finish_response(x);
	}
	return 0;
}

/* ---- the per-event driver ------------------------------------------------------------- */

static void body_take(struct h1_ctx *x, uint64_t k)
{
	struct h1_stream *st = x->st;

	st->body_bytes += k;
	if (st->state == S_UNTIL_CLOSE)
		return;
	st->left -= k;
	if (st->left)
		return;
	if (st->state == S_BODY) {
		finish_message(x);
	} else {
		st->state = S_CHUNK_END;
		st->sub = CE_CR;
	}
}

static int step_body(struct h1_ctx *x, const uint8_t *p, size_t n, size_t *used)
{
	uint64_t k = n;

	(void)p;
	if (x->st->state != S_UNTIL_CLOSE && k > x->st->left)
		k = x->st->left;
	*used = k;
	body_take(x, k);
	return 0;
}

static int step_start(struct h1_ctx *x, const uint8_t *p, size_t n, size_t *used)
{
	size_t i = 0;

	/* RFC 9112 §2.2: empty lines before a request-line are ignored */
	while (i < n && (p[i] == '\r' || p[i] == '\n'))
		i++;
	*used = i;
	if (i < n)
		begin_message(x->st, x->ts);
	return 0;
}

static int step(struct h1_ctx *x, const uint8_t *p, size_t n, size_t *used)
{
	struct h1_stream *st = x->st;
	uint8_t state = st->state;
	bool end = false;
	int err;

	if (state == S_START)
		return step_start(x, p, n, used);
	st->last_ts = x->ts;
	if (state == S_LINE && x->s == HTTP1_REQUESTS)
		err = http1_scan_request_line(st, p, n, used, &end);
	else if (state == S_LINE)
		err = http1_scan_status_line(st, p, n, used, &end);
	else if (state == S_HDR)
		err = http1_scan_header(st, p, n, used, &end);
	else if (state == S_CHUNK_SIZE)
		err = http1_scan_chunk_size(st, p, n, used, &end);
	else if (state == S_CHUNK_END)
		err = http1_scan_chunk_end(st, p, n, used, &end);
	else
		return step_body(x, p, n, used);
	if (err)
		return err;
	if (state == S_LINE || state == S_HDR) {
		st->head_bytes += *used;
		if (st->head_bytes > H1_HEAD_MAX)
			return -E2BIG;
	}
	if (!end)
		return 0;
	if (state == S_CHUNK_SIZE) {
		if (st->left) {
			st->state = S_CHUNK_DATA;
		} else { /* last-chunk: the trailer section follows (§7.1.2) */
			st->state = S_HDR;
			st->sub = HL_START;
			st->trailer = true;
		}
		return 0;
	}
	if (state == S_CHUNK_END) {
		enter_chunked(st);
		return 0;
	}
	if (state == S_LINE) {
		if (x->s == HTTP1_REQUESTS)
			return request_line_done(x);
		sync_done(x);
		st->state = S_HDR;
		st->sub = HL_START;
		return 0;
	}
	if (st->trailer) {
		finish_message(x);
		return 0;
	}
	return x->s == HTTP1_REQUESTS ? request_head_done(x) : response_head_done(x);
}

/*
 * Out of sync, or inside a tentative start line: may this read/write be parsed? Out of sync
 * a message starts only at a read/write that starts like one, with a standard method for a
 * request: the rest of a request-line split across reads, e.g. "ET /x HTTP/1.1" after Go's
 * 1-byte read of "G", is a valid line with method "ET". A tentative start line goes on into
 * the next read/write ("G", then "ET /x HTTP/1.1") unless that one is a whole standard
 * request-line of its own.
 */
static bool event_start(struct h1_ctx *x, const uint8_t *p, size_t cap, size_t len)
{
	struct h1_stream *st = x->st;
	enum http1_probe pr;

	if (st->state != S_HUNT && !(st->tentative && st->state == S_LINE))
		return true;
	pr = x->s == HTTP1_REQUESTS ? http1_probe_request(p, cap, false)
				    : http1_probe_response(p, cap);
	if (st->state == S_LINE) {
		if (pr != HTTP1_PROBE_YES)
			return true;
		skip(x, st->head_bytes);
	} else if (pr == HTTP1_PROBE_NO || (pr == HTTP1_PROBE_MAYBE && cap < len)) {
		skip(x, len);
		return false;
	}
	st->state = S_START;
	st->tentative = true;
	return true;
}

/*
 * The bytes not captured hold the end of the request's header section: the request is kept
 * with what was seen (a header line cut by the gap is not: its value may be incomplete), as
 * complete, its body unknown. The stream then skips as after any loss, and the marker that
 * skip() queues after the request swallows the answers to requests the gap may have hidden.
 */
static void head_gap(struct h1_ctx *x)
{
	struct http1_conn *c = x->c;
	struct h1_pending *t = q_at(c, c->q_len - 1);

	x->st->ids.flags |= HTTP1_ID_UNSEEN;
	ids_copy(&t->ex.ids, &x->st->ids);
	x->st->last_ts = x->ts;
	finish_request(x);
	t->ex.flags |= HTTP1_HEAD_GAP;
	c->stats.head_gaps++;
	skip(x, 0);
}

/* len - cap bytes of this read/write were not captured. */
static void gap(struct h1_ctx *x, uint64_t g)
{
	struct h1_stream *st = x->st;
	uint64_t k;

	if (st->state == S_HUNT || st->state == S_DEAD) {
		x->c->stats.skipped_bytes += g;
		return;
	}
	if (st->state == S_HDR && !st->trailer && x->s == HTTP1_REQUESTS && x->c->cur_live) {
		head_gap(x);
		x->c->stats.skipped_bytes += g;
		return;
	}
	if (st->state == S_BODY || st->state == S_CHUNK_DATA || st->state == S_UNTIL_CLOSE) {
		k = st->state == S_UNTIL_CLOSE || g < st->left ? g : st->left;
		st->last_ts = x->ts;
		st->flags |= HTTP1_BODY_GAP;
		body_take(x, k);
		g -= k;
		if (!g)
			return;
	}
	/* the rest holds framing: a start line, headers, chunk lines or the next message */
	fail(x);
	x->c->stats.skipped_bytes += g;
}

int http1_feed(struct http1_conn *c, enum http1_stream s, uint64_t ts_ns, const uint8_t *data,
	       size_t cap_len, size_t len, http1_emit_fn emit, void *ctx)
{
	struct h1_ctx x;
	size_t off = 0, used;

	if (!c || (s != HTTP1_REQUESTS && s != HTTP1_RESPONSES) || cap_len > len ||
	    (cap_len && !data))
		return -EINVAL;
	c->stats.gap_bytes += len - cap_len;
	if (c->dead) {
		c->stats.skipped_bytes += len;
		return 0;
	}
	if (!len)
		return 0;
	x = (struct h1_ctx){
		.c = c, .st = &c->st[s], .s = s, .ts = ts_ns, .emit = emit, .ctx = ctx
	};
	if (!event_start(&x, data, cap_len, len))
		return 0;
	while (off < cap_len && x.st->state != S_HUNT && x.st->state != S_DEAD) {
		if (step(&x, data + off, cap_len - off, &used)) {
			fail(&x);
			break;
		}
		off += used;
	}
	c->stats.skipped_bytes += cap_len - off;
	if (len > cap_len)
		gap(&x, len - cap_len);
	return 0;
}

void http1_close(struct http1_conn *c, uint64_t ts_ns, http1_emit_fn emit, void *ctx)
{
	struct h1_ctx x;
	uint32_t i;

	if (!c)
		return;
	x = (struct h1_ctx){ .c = c,
			     .st = &c->st[HTTP1_RESPONSES],
			     .s = HTTP1_RESPONSES,
			     .ts = ts_ns,
			     .emit = emit,
			     .ctx = ctx };
	/* RFC 9112 §6.3 item 8: the close is the end of such a body */
	if (x.st->state == S_UNTIL_CLOSE)
		finish_response(&x);
	/* A request-line never finished is queued nowhere: counted, or it would vanish (a
	 * request cut later is queued, and emitted or counted unanswered). */
	if (c->st[HTTP1_REQUESTS].state == S_LINE && !c->st[HTTP1_REQUESTS].tentative)
		c->stats.incomplete = 1;
	for (i = 0; i < c->q_len; i++)
		if (!q_at(c, i)->lost)
			c->stats.unanswered++;
	memset(c->st, 0, sizeof(c->st));
	c->q_head = c->q_len = 0;
	c->cur_live = c->bound = c->interim = c->dead = false;
}

/* A server's connection ended inside a response whose status line was written: it is
 * emitted with that status (its headers, or its body, were cut short). */
static void cut_response(struct h1_ctx *x)
{
	struct h1_stream *st = x->st;

	switch (st->state) {
	case S_HDR:
		if (st->trailer)
			break; /* the body is whole: only the trailer section is missing */
		if (st->status < 200)
			return; /* an interim response: the final one never began */
		bind_response(x->c, st->first_ts);
		break;
	case S_BODY:
	case S_CHUNK_SIZE:
	case S_CHUNK_DATA:
	case S_CHUNK_END:
		break;
	default:
		return;
	}
	if (!x->c->bound)
		return;
	x->c->stats.cut++;
	emit_response(x, HTTP1_RESP_CUT);
}

/* Every pending request, its response never begun, is emitted as HTTP1_STATUS_CLOSED. */
static void close_pending(struct http1_conn *c, uint64_t ts, http1_emit_fn emit, void *ctx)
{
	const struct h1_pending *e;
	struct http1_exchange ex;
	uint32_t i;

	if (c->cur_live)
		req_sync(c, false);
	for (i = 0; i < c->q_len; i++) {
		e = q_at(c, i);
		if (e->lost)
			continue;
		ex = e->ex;
		if (!e->done)
			ex.flags |= HTTP1_REQ_INCOMPLETE;
		ex.flags |= HTTP1_NO_RESPONSE;
		ex.status = HTTP1_STATUS_CLOSED;
		ex.version_minor = 0;
		ex.resp_first_ns = ex.resp_last_ns = ts > ex.req_last_ns ? ts : ex.req_last_ns;
		c->stats.closed++;
		if (emit)
			emit(ctx, &ex);
	}
	c->q_head = c->q_len = 0;
	c->cur_live = false;
}

void http1_close_server(struct http1_conn *c, uint64_t ts_ns, http1_emit_fn emit, void *ctx)
{
	struct h1_ctx x;

	if (!c)
		return;
	x = (struct h1_ctx){ .c = c,
			     .st = &c->st[HTTP1_RESPONSES],
			     .s = HTTP1_RESPONSES,
			     .ts = ts_ns,
			     .emit = emit,
			     .ctx = ctx };
	if (!c->dead && !x.st->skipped) {
		if (x.st->state == S_UNTIL_CLOSE)
			finish_response(&x); /* RFC 9112 §6.3 item 8, as in http1_close() */
		else
			cut_response(&x);
		close_pending(c, ts_ns, emit, ctx);
	}
	http1_close(c, ts_ns, emit, ctx);
}

bool http1_pending(const struct http1_conn *c)
{
	uint32_t i;

	for (i = 0; c && i < c->q_len; i++)
		if (!q_at(c, i)->lost)
			return true;
	return false;
}

int http1_assume_start(struct http1_conn *c, enum http1_stream s)
{
	if (!c || (s != HTTP1_REQUESTS && s != HTTP1_RESPONSES))
		return -EINVAL;
	if (c->st[s].state != S_HUNT || c->dead)
		return -EBUSY;
	c->st[s].state = S_START;
	return 0;
}

const struct http1_stats *http1_conn_stats(const struct http1_conn *c)
{
	return c ? &c->stats : NULL;
}

struct http1_conn *http1_conn_new(void)
{
	struct http1_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->q = c->q_inline;
	c->q_cap = H1_QUEUE_INLINE;
	return c;
}

void http1_conn_free(struct http1_conn *c)
{
	if (!c)
		return;
	if (c->q != c->q_inline)
		free(c->q);
	free(c);
}
