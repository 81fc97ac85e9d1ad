// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the HTTP/1 framer (http1.c, http1_scan.c).
 * Input: records [ctl][len lo][len hi][len bytes], fed in order: ctl bit 0 = the response
 * stream, bit 1 = (ctl >> 2 & 15) * 61 bytes not captured after the captured ones, bit 6 =
 * http1_assume_start() on the stream first, bit 7 = close the connection first; the
 * timestamp advances by 1 per record.
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

/* Returns true when the run had no gap, no skipped byte and no error. */
static bool run(const uint8_t *data, size_t size, bool bytewise, struct seen *s)
{
	struct http1_conn *c = http1_conn_new();
	const struct http1_stats *st;
	uint64_t ts = 1;
	bool clean;

	if (!c)
		return false;
	while (size >= 3) {
		uint8_t ctl = data[0];
		size_t n = (size_t)data[1] | (size_t)data[2] << 8, i, k;
		size_t gap = (ctl & 2) ? (size_t)(ctl >> 2 & 15) * 61 : 0;
		enum http1_stream dir = (ctl & 1) ? HTTP1_RESPONSES : HTTP1_REQUESTS;

		data += 3;
		size -= 3;
		n = n < size ? n : size;
		ts++;
		if (ctl & 0x80)
			http1_close(c, ts, check_exchange, s);
		if ((ctl & 0x40) && http1_assume_start(c, dir) == -EINVAL)
			abort();
		for (i = 0; i < n; i += k) {
			k = bytewise ? 1 : n;
			if (http1_feed(c, dir, ts, data + i, k, k + (i + k == n ? gap : 0),
				       check_exchange, s))
				abort();
		}
		if (!n && http1_feed(c, dir, ts, data, 0, gap, check_exchange, s))
			abort();
		data += n;
		size -= n;
	}
	http1_close(c, ts + 1, check_exchange, s);
	st = http1_conn_stats(c);
	if (st->exchanges != s->n)
		abort();
	clean = !st->gap_bytes && !st->skipped_bytes && !st->parse_errors && !st->resyncs;
	http1_conn_free(c);
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
