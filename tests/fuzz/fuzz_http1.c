// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the HTTP/1 framer (http1.c, http1_scan.c).
 * Input: events as fuzz_events.h decodes them: bit 0 of a record's ctl = the response
 * stream, action 1 (bit 6) = http1_assume_start() on the stream first, action 2 (bit 7) =
 * close the connection first.
 * Each input runs twice, records whole and one byte per read/write; checked: every exchange
 * is well formed (terminated strings, ordered timestamps, a final status, no body for HEAD),
 * the stats agree with what was emitted, and a run without gaps, skips or errors emits the
 * same exchanges however the bytes are split.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -I include -I user \
 *        tests/fuzz/fuzz_http1.c user/proto/http1.c user/proto/http1_scan.c
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_events.h"
#include "proto/http1.h"

#define KEEP 64

struct seen {
	struct http1_exchange v[KEEP];
	size_t n;
};

static void check_exchange(void *ctx, const struct http1_exchange *ex)
{
	struct seen *s = ctx;

	if (strnlen(ex->method, sizeof(ex->method)) == sizeof(ex->method) ||
	    strnlen(ex->target, sizeof(ex->target)) == sizeof(ex->target) || !ex->method[0] ||
	    !ex->target[0])
		abort();
	if (ex->req_first_ns > ex->req_last_ns || ex->resp_first_ns > ex->resp_last_ns ||
	    ex->req_first_ns > ex->resp_last_ns)
		abort();
	if (ex->status < 100 || ex->status > 599 || (ex->status < 200 && ex->status != 101))
		abort();
	if (!strcmp(ex->method, "HEAD") && ex->resp_body_bytes)
		abort();
	if (s->n < KEEP)
		s->v[s->n] = *ex;
	s->n++;
}

static bool same(const struct http1_exchange *a, const struct http1_exchange *b)
{
	return !strcmp(a->method, b->method) && !strcmp(a->target, b->target) &&
	       a->status == b->status && a->version_minor == b->version_minor &&
	       a->flags == b->flags && a->req_first_ns == b->req_first_ns &&
	       a->req_last_ns == b->req_last_ns && a->resp_first_ns == b->resp_first_ns &&
	       a->resp_last_ns == b->resp_last_ns && a->req_body_bytes == b->req_body_bytes &&
	       a->resp_body_bytes == b->resp_body_bytes;
}

struct h1_run {
	struct http1_conn *c;
	struct seen *seen;
};

static void feed(void *ctx, int dir, uint64_t ts, const uint8_t *data, size_t cap, size_t len)
{
	struct h1_run *r = ctx;

	if (http1_feed(r->c, dir ? HTTP1_RESPONSES : HTTP1_REQUESTS, ts, data, cap, len,
		       check_exchange, r->seen))
		abort();
}

static void act(void *ctx, unsigned actions, int dir, uint64_t ts)
{
	struct h1_run *r = ctx;

	if (actions & 2)
		http1_close(r->c, ts, check_exchange, r->seen);
	if ((actions & 1) &&
	    http1_assume_start(r->c, dir ? HTTP1_RESPONSES : HTTP1_REQUESTS) == -EINVAL)
		abort();
}

/* Returns true when the run had no gap, no skipped byte and no error. */
static bool run(const uint8_t *data, size_t size, bool bytewise, struct seen *s)
{
	static const struct fuzz_target target = { feed, act };
	struct h1_run r = { http1_conn_new(), s };
	const struct http1_stats *st;
	uint64_t ts;
	bool clean;

	if (!r.c)
		return false;
	ts = fuzz_events(data, size, bytewise, &target, &r).ts;
	http1_close(r.c, ts + 1, check_exchange, s);
	st = http1_conn_stats(r.c);
	if (st->exchanges != s->n)
		abort();
	clean = !st->gap_bytes && !st->skipped_bytes && !st->parse_errors && !st->resyncs;
	http1_conn_free(r.c);
	return clean;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct seen whole, bytes;
	bool clean;
	size_t i;

	whole.n = bytes.n = 0;
	clean = run(data, size, false, &whole);
	clean &= run(data, size, true, &bytes);
	if (!clean)
		return 0;
	if (whole.n != bytes.n)
		abort();
	for (i = 0; i < whole.n && i < KEEP; i++)
		if (!same(&whole.v[i], &bytes.v[i]))
			abort();
	return 0;
}
