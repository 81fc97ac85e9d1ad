// SPDX-License-Identifier: GPL-2.0-only
/*
 * Redis client-side framer: commands (RESP arrays of bulk strings, or inline lines) into a
 * FIFO, paired with replies (redis_reply.c) in order.
 *
 * Capture gaps: a gap inside a bulk payload is skipped by length. A gap over a header
 * loses the framing of that direction:
 *  - commands: the command being read is still queued if its name was complete; replies
 *    that find the queue empty then answer commands lost in the gap, emitted with
 *    operation "" from the lost write. The next write starting with a RESP array that
 *    parses cleanly is framed again.
 *  - replies: a client that waits for its replies before writing again (redis-cli,
 *    go-redis, redis-py, Jedis, redis-benchmark -P) has read every pending reply once it
 *    writes a new command, so the commands pending then are emitted as ok, ended at the
 *    last read, and the next read, if it parses cleanly, starts a reply.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/redis.h"
#include "proto/redis_reply.h"

#define REDIS_PENDING_MAX 65536 /* commands awaiting a reply per connection */
#define REDIS_WORDS 3		/* words kept per command: name and two arguments */

/* Command parser (RESP array of bulk strings, or an inline line). */
struct redis_req {
	uint8_t state;
	bool err;     /* protocol error */
	bool in_word; /* inline: inside a word */
	uint8_t line_len;
	char line[REDIS_LINE_MAX];
	uint32_t elems_left; /* bulk strings still to come in the array */
	uint32_t elem;	     /* index of the current bulk string / inline word */
	uint32_t inline_len;
	uint64_t bulk_len; /* payload bytes of the current bulk string */
	uint64_t bulk_off; /* payload + CRLF bytes passed */
	uint64_t start_ns; /* ts of the event carrying the command's first byte */
	uint32_t bulks;	   /* bulk headers read (resync validation) */
	uint32_t done;	   /* commands completed (resync validation) */
	uint8_t word_len[REDIS_WORDS];
	char words[REDIS_WORDS][REDIS_WORD_MAX];
};

enum redis_pend_flag {
	REDIS_PEND_BARRIER = 1, /* pairing stops once this command is answered */
	REDIS_PEND_HELLO = 2,	/* HELLO: a map reply means RESP3 */
};

struct redis_pending {
	char cmd[REDIS_WORD_MAX];
	uint64_t start_ns;
	uint8_t flags;
};

struct redis_conn {
	struct redis_req rq;
	struct redis_rep rp;
	bool rq_lost, rp_lost;
	bool rp_resync; /* a command started a write: check the next read as a reply start */
	bool resp3;	/* RESP3 types seen in replies */
	bool hello3;	/* HELLO 3 sent */
	bool stopped;
	uint64_t rq_lost_ts; /* ts of the write where command framing was lost */
	uint64_t rp_last_ts; /* ts of the last read */
	struct redis_pending *q;
	uint32_t cap;
	uint64_t head, tail;
	struct redis_stats stats;
	int err;
};

/* One redis_feed call; dry: validating a resync candidate, no side effects. */
struct redis_io {
	struct redis_conn *c;
	uint64_t ts;
	db_emit_fn emit;
	void *ctx;
	bool dry;
};

enum { RQ_START, RQ_ARRAY_LEN, RQ_BULK_START, RQ_BULK_LEN, RQ_BODY, RQ_INLINE };

struct redis_conn *redis_conn_new(void)
{
	return calloc(1, sizeof(struct redis_conn));
}

void redis_conn_free(struct redis_conn *c)
{
	if (!c)
		return;
	free(c->q);
	free(c);
}

const struct redis_stats *redis_conn_stats(const struct redis_conn *c)
{
	return &c->stats;
}

/* ---- queue and emission ------------------------------------------------------------------ */

static struct redis_pending *pend_head(struct redis_conn *c)
{
	return c->head == c->tail ? NULL : &c->q[c->head & (c->cap - 1)];
}

static void pend_push(struct redis_conn *c, const char *cmd, uint64_t start_ns, uint8_t flags)
{
	struct redis_pending *p;

	if (c->tail - c->head == c->cap) {
		uint32_t ncap = c->cap ? c->cap * 2 : 16;
		struct redis_pending *nq =
			c->cap < REDIS_PENDING_MAX ? malloc((size_t)ncap * sizeof(*nq)) : NULL;

		if (!nq) {
			c->stats.queue_drops++;
			if (c->cap < REDIS_PENDING_MAX)
				c->err = -ENOMEM;
			return;
		}
		for (uint64_t s = c->head; s < c->tail; s++)
			nq[s & (ncap - 1)] = c->q[s & (c->cap - 1)];
		free(c->q);
		c->q = nq;
		c->cap = ncap;
	}
	p = &c->q[c->tail++ & (c->cap - 1)];
	memset(p->cmd, 0, sizeof(p->cmd));
	memcpy(p->cmd, cmd, strnlen(cmd, sizeof(p->cmd) - 1));
	p->start_ns = start_ns;
	p->flags = flags;
}

static void stop(struct redis_conn *c)
{
	c->stopped = true;
	c->stats.stopped = 1;
	c->head = c->tail;
}

void redis_close(struct redis_conn *c)
{
	if (!c)
		return;
	/* A command begun and never sent whole (an array missing elements, a bulk length the
	 * server refuses) reached no server: counted, or it would vanish without a trace. */
	if (!c->rq_lost && !c->stopped && c->rq.state != RQ_START)
		c->stats.incomplete = 1;
	c->stats.unanswered += c->tail - c->head;
	c->head = c->tail;
	c->stopped = true;
}

static void emit(struct redis_io *io, const char *cmd, const char *err, uint64_t start_ns,
		 uint64_t end_ns)
{
	struct db_op op;

	memset(&op, 0, sizeof(op)); /* no stack bytes leave the parser */
	memcpy(op.operation, cmd, strnlen(cmd, sizeof(op.operation) - 1));
	memcpy(op.error_type, err, strnlen(err, sizeof(op.error_type) - 1));
	op.start_ns = start_ns;
	op.end_ns = end_ns;
	io->c->stats.ops++;
	if (io->emit)
		io->emit(io->ctx, &op);
}

/* Error kinds are upper-case words by convention ("ERR", "WRONGTYPE"); command names are
 * words of letters, digits and module separators ("JSON.GET"). Anything else (a free-text
 * error, binary junk) becomes "_OTHER", so labels stay valid and few. */
static bool name_char(char ch, bool command)
{
	unsigned char c = (unsigned char)ch;

	if ((unsigned char)(c - 'A') < 26 || (unsigned char)(c - '0') < 10 || c == '_')
		return true;
	return command && (c == '.' || c == ':' || c == '|' || c == '-');
}

static bool name_ok(const char *s, bool command)
{
	size_t n = 0;

	while (s[n] && name_char(s[n], command))
		n++;
	return n > 0 && n < REDIS_WORD_MAX - 1 && !s[n];
}

/* A complete top-level reply (not an attribute or push) of type r->top: answers the oldest
 * pending command. */
static void reply_done(struct redis_io *io, const struct redis_rep *r)
{
	struct redis_conn *c = io->c;
	struct redis_pending *p = pend_head(c);
	char err[REDIS_WORD_MAX] = "";

	c->stats.replies++;
	if (c->stopped)
		return;
	if (r->top == '-' || r->top == '!') {
		memcpy(err, r->word, r->word_len);
		err[r->word_len] = '\0';
		if (!name_ok(err, false))
			strcpy(err, "_OTHER");
	}
	if (!p) {
		if (c->rq_lost) { /* the command was in a capture gap */
			c->stats.unnamed_ops++;
			emit(io, "", err, c->rq_lost_ts, io->ts);
		} else {
			c->stats.unsolicited++;
		}
		return;
	}
	emit(io, p->cmd, err, p->start_ns, io->ts);
	c->head++;
	if ((p->flags & REDIS_PEND_HELLO) && r->top == '%')
		c->resp3 = true;
	if (p->flags & REDIS_PEND_BARRIER)
		stop(c);
}

/* Replies were lost; a new command proves the client read them (see top of file). */
static void infer_answered(struct redis_io *io)
{
	struct redis_conn *c = io->c;
	struct redis_pending *p;

	while ((p = pend_head(c))) {
		c->head++;
		if (p->start_ns > c->rp_last_ts) { /* written after the last read: no reply yet */
			c->stats.unanswered++;
			continue;
		}
		c->stats.inferred_ends++;
		emit(io, p->cmd, "", p->start_ns, c->rp_last_ts);
		if (p->flags & REDIS_PEND_BARRIER) {
			stop(c);
			return;
		}
	}
}

/* ---- commands ---------------------------------------------------------------------------- */

/* The first byte decides most comparisons without a call (GET against "SUBSCRIBE"...). */
static bool word_is(const struct redis_req *q, int k, const char *w)
{
	return q->words[k][0] == w[0] && strcmp(q->words[k], w) == 0;
}

static bool word_in(const struct redis_req *q, int k, const char *const *set)
{
	for (; *set; set++)
		if (word_is(q, k, *set))
			return true;
	return false;
}

static const char *const subscribe_cmds[] = { "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", NULL };
static const char *const unsubscribe_cmds[] = { "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
						NULL };
static const char *const no_reply_modes[] = { "OFF", "SKIP", NULL };

/*
 * The commands that change how replies pair with commands (all five letters or more: GET,
 * SET, INCR... never get here). False when the command awaits no reply of its own.
 */
static bool pairing_command(struct redis_conn *c, struct redis_req *q, uint8_t *flags)
{
	bool resp3 = c->resp3 || c->hello3;

	if (word_in(q, 0, subscribe_cmds)) {
		if (resp3) /* RESP3: confirmed by pushes, not replies */
			return false;
		*flags = REDIS_PEND_BARRIER; /* RESP2: messages look like replies from here on */
	} else if (word_in(q, 0, unsubscribe_cmds) && resp3) {
		return false;
	} else if (word_is(q, 0, "MONITOR")) {
		*flags = REDIS_PEND_BARRIER;
	} else if (word_is(q, 0, "CLIENT") && word_is(q, 1, "REPLY") &&
		   word_in(q, 2, no_reply_modes)) {
		/* No reply to this nor (OFF) to what follows: stop after what is pending. */
		if (c->head != c->tail)
			c->q[(c->tail - 1) & (c->cap - 1)].flags |= REDIS_PEND_BARRIER;
		else
			stop(c);
		return false;
	} else if (word_is(q, 0, "HELLO")) {
		*flags = REDIS_PEND_HELLO;
		if (word_is(q, 1, "3"))
			c->hello3 = true;
		else if (word_is(q, 1, "2"))
			c->hello3 = false;
	}
	return true;
}

static void command_done(struct redis_io *io, struct redis_req *q)
{
	struct redis_conn *c = io->c;
	uint8_t flags = 0;

	q->done++;
	if (io->dry)
		return;
	c->stats.commands++;
	if (c->stopped)
		return;
	if (q->word_len[0] >= 5 && !pairing_command(c, q, &flags))
		return;
	pend_push(c, name_ok(q->words[0], true) ? q->words[0] : "_OTHER", q->start_ns, flags);
}

static bool req_fail(struct redis_req *q)
{
	q->err = true;
	return false;
}

static void word_byte(struct redis_req *q, uint32_t k, uint8_t b)
{
	if (k < REDIS_WORDS && q->word_len[k] < REDIS_WORD_MAX - 1)
		/* ASCII only, as toupper() in the C locale sonde runs in, without its call */
		q->words[k][q->word_len[k]++] =
			(char)((unsigned char)(b - 'a') < 26 ? b - 0x20 : b);
}

/* Word k whole, from a bulk string of len bytes: what word_byte makes of them one by one
 * (its first REDIS_WORD_MAX - 1 bytes, upper-cased), NUL-terminated. */
static void word_set(struct redis_req *q, uint32_t k, const uint8_t *b, size_t len)
{
	size_t n = len < REDIS_WORD_MAX - 1 ? len : REDIS_WORD_MAX - 1;

	for (size_t i = 0; i < n; i++)
		q->words[k][i] = (char)((unsigned char)(b[i] - 'a') < 26 ? b[i] - 0x20 : b[i]);
	q->words[k][n] = '\0';
	q->word_len[k] = (uint8_t)n;
}

/* "*N\r\n" and "$N\r\n" lines. */
static bool len_byte(struct redis_req *q, uint8_t b)
{
	int64_t v = 0;
	size_t i = 0, n = q->line_len;
	bool neg;

	if (b != '\n') {
		if (q->line_len == REDIS_LINE_MAX)
			return req_fail(q);
		q->line[q->line_len++] = (char)b;
		return true;
	}
	if (n < 2 || q->line[n - 1] != '\r')
		return req_fail(q);
	neg = q->line[0] == '-';
	for (i = neg; i < n - 1; i++) {
		if (q->line[i] < '0' || q->line[i] > '9' || v > (int64_t)REDIS_LEN_MAX)
			return req_fail(q);
		v = v * 10 + (q->line[i] - '0');
	}
	if (i == (size_t)neg)
		return req_fail(q);
	if (q->state == RQ_ARRAY_LEN) {
		if (neg || v == 0) { /* *0, *-1: the server reads them and replies nothing */
			q->state = RQ_START;
			return true;
		}
		if (v > INT32_MAX)
			return req_fail(q);
		q->elems_left = (uint32_t)v;
		q->state = RQ_BULK_START;
		return true;
	}
	if (neg)
		return req_fail(q);
	q->bulk_len = (uint64_t)v;
	q->bulk_off = 0;
	q->bulks++;
	q->state = RQ_BODY;
	return true;
}

/* Inline command: words split by blanks up to LF (redis-cli --no-raw, telnet). */
static bool inline_byte(struct redis_io *io, struct redis_req *q, uint8_t b)
{
	if (++q->inline_len > REDIS_INLINE_MAX)
		return req_fail(q);
	if (b == '\n') {
		if (q->elem || q->in_word) /* an empty line is no command */
			command_done(io, q);
		q->state = RQ_START;
	} else if (b == ' ' || b == '\t' || b == '\r') {
		if (q->in_word)
			q->elem++;
		q->in_word = false;
	} else {
		word_byte(q, q->elem, b);
		q->in_word = true;
	}
	return true;
}

static bool req_byte(struct redis_io *io, struct redis_req *q, uint8_t b)
{
	switch (q->state) {
	case RQ_START:
		memset(q->words, 0, sizeof(q->words));
		memset(q->word_len, 0, sizeof(q->word_len));
		q->elem = 0;
		q->line_len = 0;
		q->inline_len = 0;
		q->in_word = false;
		q->start_ns = io->ts;
		if (b == '*') {
			q->state = RQ_ARRAY_LEN;
			return true;
		}
		q->state = RQ_INLINE;
		return inline_byte(io, q, b);
	case RQ_BULK_START:
		if (b != '$')
			return req_fail(q);
		q->state = RQ_BULK_LEN;
		q->line_len = 0;
		return true;
	case RQ_INLINE:
		return inline_byte(io, q, b);
	default: /* RQ_ARRAY_LEN, RQ_BULK_LEN */
		return len_byte(q, b);
	}
}

static void elem_done(struct redis_io *io, struct redis_req *q)
{
	q->elem++;
	if (--q->elems_left == 0) {
		command_done(io, q);
		q->state = RQ_START;
	} else {
		q->state = RQ_BULK_START;
	}
}

/* Bulk payload + CRLF: keeps the first bytes of the first words, checks the CRLF. */
static void body_bytes(struct redis_req *q, const uint8_t *p, size_t k)
{
	uint64_t off = q->bulk_off;

	for (size_t i = 0; i < k && off + i < q->bulk_len && off + i < REDIS_WORD_MAX - 1; i++)
		if (q->elem < REDIS_WORDS && off + i == q->word_len[q->elem])
			word_byte(q, q->elem, p[i]);
	for (uint64_t o = off > q->bulk_len ? off : q->bulk_len; o < off + k; o++)
		if (p[o - off] != (o == q->bulk_len ? '\r' : '\n'))
			q->err = true;
	q->bulk_off += k;
}

/*
 * "N\r\n" at p[*i] with 1 to 9 digits and no sign, within n: N, and *i moved past it; -1
 * for anything else (the byte path then decides). Nine digits stay below REDIS_LEN_MAX
 * and INT32_MAX, and the line below REDIS_LINE_MAX, so nothing the byte path checks is
 * skipped.
 */
static int64_t whole_len(const uint8_t *p, size_t n, size_t *i)
{
	size_t k = *i, end = n - *i < 11 ? n : *i + 11;
	int64_t v = 0;

	while (k < end && (unsigned char)(p[k] - '0') < 10)
		v = v * 10 + (p[k++] - '0');
	if (k == *i || k + 1 >= end || p[k] != '\r' || p[k + 1] != '\n')
		return -1;
	*i = k + 2;
	return v;
}

/*
 * The common case in one pass: a whole RESP command ("*N\r\n" and N bulk strings, N >= 1)
 * inside p[0..n), starting a command. The bytes used, the command done exactly as the byte
 * path would have done it; 0 when the command is not whole here or not of that plain form
 * (the byte path then starts over on the same bytes: its command start resets whatever
 * this wrote into q).
 */
static size_t req_whole(struct redis_io *io, struct redis_req *q, const uint8_t *p, size_t n)
{
	size_t i = 1;
	int64_t elems = whole_len(p, n, &i), len;
	uint32_t bulks = 0;

	if (elems <= 0)
		return 0;
	for (int k = 0; k < REDIS_WORDS; k++) {
		q->words[k][0] = '\0';
		q->word_len[k] = 0;
	}
	for (int64_t e = 0; e < elems; e++) {
		if (i >= n || p[i] != '$')
			return 0;
		i++;
		len = whole_len(p, n, &i);
		if (len < 0 || (uint64_t)len + 2 > n - i || p[i + len] != '\r' ||
		    p[i + len + 1] != '\n')
			return 0;
		/* The arguments matter only to commands of five letters or more (see
		 * pairing_command): GET's and SET's are not copied. */
		if (e == 0 || (e < REDIS_WORDS && q->word_len[0] >= 5))
			word_set(q, (uint32_t)e, p + i, (size_t)len);
		i += (size_t)len + 2;
		bulks++;
	}
	q->elem = (uint32_t)elems;
	q->elems_left = 0;
	q->start_ns = io->ts;
	q->bulks += bulks;
	command_done(io, q);
	q->state = RQ_START;
	return i;
}

static bool req_walk(struct redis_io *io, struct redis_req *q, const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n && !q->err) {
		if (q->state == RQ_START && p[i] == '*') {
			size_t used = req_whole(io, q, p + i, n - i);

			if (used) {
				i += used;
				continue;
			}
		}
		if (q->state != RQ_BODY) {
			req_byte(io, q, p[i++]);
			continue;
		}
		uint64_t left = q->bulk_len + 2 - q->bulk_off;
		size_t k = left < n - i ? (size_t)left : n - i;

		body_bytes(q, p + i, k);
		i += k;
		if (q->bulk_off == q->bulk_len + 2 && !q->err)
			elem_done(io, q);
	}
	return !q->err;
}

static void req_lose(struct redis_io *io)
{
	struct redis_conn *c = io->c;
	struct redis_req *q = &c->rq;

	c->stats.parse_errors++;
	if (!q->err && q->state >= RQ_BULK_START && q->state <= RQ_BODY && q->elem >= 1)
		command_done(io, q); /* its name was read, and the server got all of it */
	memset(q, 0, sizeof(*q));
	c->rq_lost = true;
	c->rq_lost_ts = io->ts;
}

/* A write after a loss: framed again if it starts a RESP array that parses cleanly. */
static bool req_resync_ok(struct redis_conn *c, const uint8_t *p, size_t cap)
{
	struct redis_io dry = { .c = c, .dry = true };
	struct redis_req tmp = { 0 };

	if (!cap || p[0] != '*' || !req_walk(&dry, &tmp, p, cap))
		return false;
	return tmp.done > 0 || tmp.bulks > 0;
}

static void req_event(struct redis_io *io, const uint8_t *p, size_t cap, size_t len)
{
	struct redis_conn *c = io->c;
	struct redis_req *q = &c->rq;
	uint64_t gap = len - cap;

	if (c->rq_lost) {
		if (!req_resync_ok(c, p, cap))
			return;
		c->rq_lost = false;
		c->stats.gap_resyncs++;
	}
	if (c->rp_lost && q->state == RQ_START && cap) {
		infer_answered(io);
		c->rp_resync = true;
	}
	if (!req_walk(io, q, p, cap)) {
		req_lose(io);
		return;
	}
	if (!gap)
		return;
	if (q->state != RQ_BODY || gap > q->bulk_len + 2 - q->bulk_off) {
		req_lose(io);
		return;
	}
	q->bulk_off += gap;
	if (q->bulk_off == q->bulk_len + 2)
		elem_done(io, q);
}

/* ---- replies ----------------------------------------------------------------------------- */

/* Walks reply bytes, or (p NULL) a gap of n bytes not captured; false: framing lost. */
static bool rep_walk(struct redis_io *io, const uint8_t *p, size_t n)
{
	struct redis_conn *c = io->c;
	struct redis_rep *r = &c->rp;
	enum redis_rep_ev ev;
	size_t i = 0, used = n;

	do {
		ev = p ? redis_rep_walk(r, p + i, n - i, &used) : redis_rep_gap(r, n);
		i += used;
		c->resp3 |= r->resp3;
		if (ev == REDIS_REP_REPLY)
			reply_done(io, r);
		else if (ev == REDIS_REP_PUSH)
			c->stats.pushes++;
		else if (ev == REDIS_REP_ATTRIBUTE)
			c->stats.attributes++;
	} while (ev != REDIS_REP_ERROR && i < n);
	return ev != REDIS_REP_ERROR;
}

/* A read after a loss: framed again if it parses cleanly as replies. */
static bool rep_resync_ok(const uint8_t *p, size_t cap)
{
	struct redis_rep tmp;
	size_t i = 0, used;

	redis_rep_reset(&tmp);
	while (i < cap) {
		if (redis_rep_walk(&tmp, p + i, cap - i, &used) == REDIS_REP_ERROR)
			return false;
		i += used;
	}
	return cap > 0;
}

static void rep_event(struct redis_io *io, const uint8_t *p, size_t cap, size_t len)
{
	struct redis_conn *c = io->c;

	if (c->rp_lost) {
		bool ok = c->rp_resync && rep_resync_ok(p, cap);

		c->rp_resync = false;
		if (!ok) {
			c->rp_last_ts = io->ts;
			return;
		}
		c->rp_lost = false;
		redis_rep_reset(&c->rp);
		c->stats.gap_resyncs++;
	}
	if ((cap && !rep_walk(io, p, cap)) || (len > cap && !rep_walk(io, NULL, len - cap))) {
		c->stats.parse_errors++;
		c->rp_lost = true;
		redis_rep_reset(&c->rp);
	}
	c->rp_last_ts = io->ts;
}

int redis_feed(struct redis_conn *c, enum redis_stream s, uint64_t ts_ns, const uint8_t *data,
	       size_t cap_len, size_t len, db_emit_fn emit, void *ctx)
{
	struct redis_io io = { .c = c, .ts = ts_ns, .emit = emit, .ctx = ctx };

	if (!c || (cap_len && !data) || cap_len > len ||
	    (s != REDIS_REQUESTS && s != REDIS_REPLIES))
		return -EINVAL;
	c->err = 0;
	if (len == 0 || c->stopped)
		return 0;
	if (s == REDIS_REQUESTS)
		req_event(&io, data, cap_len, len);
	else
		rep_event(&io, data, cap_len, len);
	return c->err;
}
