// SPDX-License-Identifier: GPL-2.0-only
/*
 * RESP reply parser, streaming: any split of the bytes gives the same values.
 *
 * RESP2: + simple string, - error, : integer, $ bulk string ($-1 null), * array (*-1 null).
 * RESP3 adds _ null, , double, # boolean, ( big number (lines); ! blob error, = verbatim
 * string (length-prefixed); % map and | attribute (count = pairs), ~ set, > push; and
 * streamed forms: $? then ";N" chunks up to ";0", and *?/%?/~? ... up to ".".
 * Every line ends with CRLF. An attribute, wherever it appears, annotates the value after
 * it and is not itself an element of the enclosing aggregate.
 */
#include <string.h>

#include "proto/redis_reply.h"

enum { RP_TYPE, RP_LINE, RP_BULK };

/* The type bytes a value can start with, and those only RESP3 has: a table, not a
 * string search per value. */
enum { TYPE_RESP2 = 1, TYPE_RESP3 = 2 };

static const uint8_t value_types[256] = {
	['+'] = TYPE_RESP2, ['-'] = TYPE_RESP2, [':'] = TYPE_RESP2, ['$'] = TYPE_RESP2,
	['*'] = TYPE_RESP2, ['.'] = TYPE_RESP2, ['_'] = TYPE_RESP3, [','] = TYPE_RESP3,
	['#'] = TYPE_RESP3, ['!'] = TYPE_RESP3, ['='] = TYPE_RESP3, ['('] = TYPE_RESP3,
	['%'] = TYPE_RESP3, ['~'] = TYPE_RESP3, ['>'] = TYPE_RESP3, ['|'] = TYPE_RESP3,
};

#define LEN_BAD (-3)
#define LEN_STREAM (-2)
#define LEN_NULL (-1)

void redis_rep_reset(struct redis_rep *r)
{
	memset(r, 0, sizeof(*r));
}

static bool fail(struct redis_rep *r)
{
	r->err = true;
	return false;
}

/* Content of the line just ended, without its CR. */
static size_t line_kept(const struct redis_rep *r)
{
	size_t content = r->line_total - 1;

	return content < r->line_len ? content : r->line_len;
}

/* A length or count: digits, "-1" (null) or "?" (streamed). */
static int64_t parse_len(const struct redis_rep *r)
{
	size_t n = line_kept(r);
	int64_t v = 0;

	if (r->line_total - 1 != n || n == 0)
		return LEN_BAD;
	if (n == 1 && r->line[0] == '?')
		return LEN_STREAM;
	if (n == 2 && r->line[0] == '-' && r->line[1] == '1')
		return LEN_NULL;
	for (size_t i = 0; i < n; i++) {
		if (r->line[i] < '0' || r->line[i] > '9')
			return LEN_BAD;
		v = v * 10 + (r->line[i] - '0');
		if ((uint64_t)v > REDIS_LEN_MAX)
			return LEN_BAD;
	}
	return v;
}

/* A value is complete: count it in its aggregate, closing aggregates it completes. What
 * completed, if it is worth reporting, is left in r->ev for the walk to return. */
static void value_done(struct redis_rep *r, bool attr)
{
	while (r->depth) {
		struct redis_frame *f = &r->stack[r->depth - 1];

		if (attr || f->left < 0) /* attributes are not elements; streams end by '.' */
			return;
		if (--f->left)
			return;
		attr = f->type == '|';
		if (attr)
			r->ev = REDIS_REP_ATTRIBUTE;
		r->depth--;
	}
	if (attr) /* counted when its frame closed; the value it annotates follows */
		return;
	r->ev = r->top == '>' ? REDIS_REP_PUSH : REDIS_REP_REPLY;
}

static bool push_frame(struct redis_rep *r, int64_t n)
{
	if (n == LEN_BAD)
		return fail(r);
	if (n == LEN_NULL || n == 0) { /* *-1 (RESP2 null array) or an empty aggregate */
		if (r->type == '|')
			r->ev = REDIS_REP_ATTRIBUTE;
		value_done(r, r->type == '|');
		return true;
	}
	if (r->depth == REDIS_DEPTH_MAX)
		return fail(r);
	r->stack[r->depth].type = r->type;
	r->stack[r->depth].left = n == LEN_STREAM		       ? -1
				  : (r->type == '%' || r->type == '|') ? 2 * n
								       : n;
	r->depth++;
	return true;
}

static bool start_bulk(struct redis_rep *r, int64_t n)
{
	if (n == LEN_BAD || (n == LEN_STREAM && r->type != '$'))
		return fail(r);
	if (n == LEN_NULL) {
		value_done(r, false);
	} else if (n == LEN_STREAM) {
		r->chunks = true;
	} else if (r->type == ';' && n == 0) { /* ";0": end of a streamed string */
		r->chunks = false;
		value_done(r, false);
	} else {
		r->bulk_len = (uint64_t)n;
		r->bulk_off = 0;
		r->state = RP_BULK;
	}
	return true;
}

static bool line_end(struct redis_rep *r)
{
	r->state = RP_TYPE;
	switch (r->type) {
	case '-':
		if (r->depth == 0) {
			size_t n = line_kept(r);
			const char *sp = memchr(r->line, ' ', n);

			n = sp ? (size_t)(sp - r->line) : n;
			r->word_len = n < REDIS_WORD_MAX ? n : REDIS_WORD_MAX - 1;
			memcpy(r->word, r->line, r->word_len);
		}
		value_done(r, false);
		return true;
	case '$':
	case '!':
	case '=':
	case ';':
		return start_bulk(r, parse_len(r));
	case '*':
	case '%':
	case '~':
	case '>':
	case '|':
		return push_frame(r, parse_len(r));
	case '.':
		if (r->line_total != 1)
			return fail(r);
		r->depth--; /* the streamed aggregate is complete */
		value_done(r, false);
		return true;
	default: /* + : , # ( _ */
		value_done(r, false);
		return true;
	}
}

static bool type_byte(struct redis_rep *r, uint8_t b)
{
	if (r->chunks ? b != ';' : !value_types[b])
		return fail(r);
	if (b == '.' && (r->depth == 0 || r->stack[r->depth - 1].left >= 0))
		return fail(r);
	if (r->depth == 0 && !r->chunks) {
		r->top = b;
		r->word_len = 0;
	}
	if (value_types[b] == TYPE_RESP3)
		r->resp3 = true;
	r->type = b;
	r->state = RP_LINE;
	r->line_len = 0;
	r->line_total = 0;
	return true;
}

/* Line bytes up to and including LF; returns bytes consumed. */
static size_t line_bytes(struct redis_rep *r, const uint8_t *p, size_t n)
{
	const uint8_t *nl = memchr(p, '\n', n);
	size_t k = nl ? (size_t)(nl - p) : n;
	size_t room = REDIS_LINE_MAX - r->line_len;
	size_t keep = k < room ? k : room;

	memcpy(r->line + r->line_len, p, keep);
	r->line_len += keep;
	r->line_total += k;
	if (r->line_total > REDIS_INLINE_MAX) {
		fail(r);
		return n;
	}
	if (k)
		r->last = p[k - 1];
	if (!nl)
		return n;
	if (r->line_total == 0 || r->last != '\r')
		fail(r);
	else
		line_end(r);
	return k + 1;
}

static void bulk_end(struct redis_rep *r)
{
	r->state = RP_TYPE;
	if (r->type != ';') /* a chunk of a streamed string: more chunks follow */
		value_done(r, false);
}

/* Payload + CRLF bytes: keeps a top-level blob error's first word, checks the CRLF. */
static void bulk_bytes(struct redis_rep *r, const uint8_t *p, size_t k)
{
	uint64_t off = r->bulk_off;

	if (r->type == '!' && r->depth == 0) {
		for (size_t i = 0; i < k && off + i < r->bulk_len; i++) {
			if (p[i] == ' ' || r->word_len + 1 >= REDIS_WORD_MAX)
				break;
			if (off + i == r->word_len)
				r->word[r->word_len++] = (char)p[i];
		}
	}
	if (r->bulk_off + k > r->bulk_len) {
		for (uint64_t o = off > r->bulk_len ? off : r->bulk_len; o < off + k; o++)
			if (p[o - off] != (o == r->bulk_len ? '\r' : '\n'))
				r->err = true;
	}
	r->bulk_off += k;
}

enum redis_rep_ev redis_rep_walk(struct redis_rep *r, const uint8_t *p, size_t n, size_t *used)
{
	size_t i = 0;

	r->ev = REDIS_REP_NONE;
	while (i < n && !r->err && r->ev == REDIS_REP_NONE) {
		if (r->state == RP_TYPE) {
			type_byte(r, p[i++]);
		} else if (r->state == RP_LINE) {
			i += line_bytes(r, p + i, n - i);
		} else {
			uint64_t left = r->bulk_len + 2 - r->bulk_off;
			size_t k = left < n - i ? (size_t)left : n - i;

			bulk_bytes(r, p + i, k);
			i += k;
			if (r->bulk_off == r->bulk_len + 2 && !r->err)
				bulk_end(r);
		}
	}
	*used = i;
	return r->err ? REDIS_REP_ERROR : r->ev;
}

enum redis_rep_ev redis_rep_gap(struct redis_rep *r, uint64_t gap)
{
	r->ev = REDIS_REP_NONE;
	if (r->state != RP_BULK || gap > r->bulk_len + 2 - r->bulk_off)
		return REDIS_REP_ERROR;
	r->bulk_off += gap;
	if (r->bulk_off == r->bulk_len + 2)
		bulk_end(r);
	return r->ev;
}
