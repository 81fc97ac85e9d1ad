// SPDX-License-Identifier: GPL-2.0-only
/*
 * PostgreSQL protocol 3 message framing, both directions, across reads of any size.
 *
 * Messages are type byte + int32 length (counting itself); before the StartupMessage the
 * frontend sends untyped int32 length + int32 code (SSLRequest/GSSENCRequest, answered by
 * one byte 'S'/'G' = encrypted from here on, or 'N'). Bodies are consumed by length, so a
 * capture gap inside a body is harmless; a gap over a header loses the framing.
 *
 * Resynchronisation (the only places framing is re-established after a loss):
 *  - backend: a read that starts with a whole ReadyForQuery (Z, len 5, I/T/E): the server
 *    sends nothing unprompted after it but whole async messages, so the next byte starts
 *    a message; it closes the oldest pending batch.
 *  - backend: the first read after the frontend started a new batch at the start of a
 *    write, if it validates as whole reply messages. A client that waits for
 *    ReadyForQuery before writing (all non-pipelined drivers) has read every earlier
 *    answer, so earlier batches are closed as answered at the last backend read, and the
 *    next read starts a message.
 *  - frontend: a write after a ReadyForQuery was read (the server is idle, so the client
 *    starts a message), if it validates as whole messages starting with a request.
 * Validation: every header captured has a known type and a possible length.
 *
 * What a loss costs: operations are counted from the backend, so a frontend loss only
 * loses names past the gap (they come from the CommandComplete tag) and the batch is taken
 * to end with its Sync. A backend loss keeps the count for waiting clients, but the
 * operations answered in the lost bytes are taken as ok and end at the last backend read
 * (stats.inferred_ends). A batch cut both ways, without any answer seen, emits nothing
 * (stats.lost_batches). Pipelining clients can be misattributed after a loss until their
 * queue drains.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "proto/postgres_batch.h"
#include "util/hash.h"

#define PG_CODE_SSL 80877103u
#define PG_CODE_GSS 80877104u
#define PG_CODE_CANCEL 80877102u
#define PG_CODE_V3 0x00030000u /* major 3 in the high 16 bits, any minor */

/* Sets of message type bytes, one bit each in set_map (a byte's sets, built once). */
enum pg_set {
	FE_TYPES,   /* frontend message types */
	BE_TYPES,   /* backend message types */
	FE_FIRST,   /* messages that start a batch */
	BE_FIRST,   /* what the answer to a batch starts with */
	FE_EMPTY,   /* frontend messages with no body */
	BE_EMPTY,   /* backend messages with no body */
	RFQ_STATUS, /* ReadyForQuery's transaction status */
	PG_SETS
};

static const char *const set_chars[PG_SETS] = {
	[FE_TYPES] = "QPBDECSHFXdcfp", [BE_TYPES] = "RKSZTDCIENA123tnsGHWdcVv",
	[FE_FIRST] = "QPBDECSHF",      [BE_FIRST] = "123tTnCIEsZGHNASV",
	[FE_EMPTY] = "SHXc",	       [BE_EMPTY] = "123nIcs",
	[RFQ_STATUS] = "ITE",
};
static uint8_t set_map[256];
static pthread_once_t set_once = PTHREAD_ONCE_INIT;

static void sets_build(void)
{
	for (int k = 0; k < PG_SETS; k++)
		for (const char *c = set_chars[k]; *c; c++)
			set_map[(uint8_t)*c] |= (uint8_t)(1u << k);
}

/* A table look-up (strchr per message was a sizeable share of the parser's time). */
static bool in_set(uint8_t t, enum pg_set k)
{
	return set_map[t] >> k & 1;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct pg_conn *pg_conn_new(void)
{
	struct pg_conn *c = calloc(1, sizeof(*c));

	pthread_once(&set_once, sets_build); /* before any connection is parsed */
	if (!c)
		return NULL;
	/* The backend's framing is known only once the frontend's first bytes prove this is
	 * the start of the connection (StartupMessage / SSLRequest). */
	c->be.state = PG_ST_LOST;
	return c;
}

void pg_conn_free(struct pg_conn *c)
{
	if (!c)
		return;
	pg_batches_free(c);
	free(c);
}

const struct pg_stats *pg_conn_stats(const struct pg_conn *c)
{
	return &c->stats;
}

void pg_close(struct pg_conn *c)
{
	if (!c)
		return;
	/* A message begun and never sent whole (a length promising more than came) is no
	 * request the server could answer: counted, or it would vanish without a trace. */
	if (c->fe.state == PG_ST_SYNC && (c->fe.in_body || c->fe.have))
		c->stats.incomplete = 1;
	pg_batches_drop(c);
	c->fe.state = c->be.state = PG_ST_STOPPED;
}

static void stop(struct pg_conn *c)
{
	c->fe.state = c->be.state = PG_ST_STOPPED;
}

static bool typed_header_ok(bool backend, uint8_t t, uint32_t len)
{
	if (len < 4 || len > PG_MSG_MAX)
		return false;
	if (!backend)
		return in_set(t, FE_TYPES) && (!in_set(t, FE_EMPTY) || len == 4);
	if (!in_set(t, BE_TYPES))
		return false;
	if (t == 'Z')
		return len == 5;
	return !in_set(t, BE_EMPTY) || len == 4;
}

/* Resync check: whole headers only, known types, the first one a batch/answer start. */
static bool chain_valid(bool backend, const uint8_t *p, size_t cap)
{
	size_t i = 0;

	if (cap < 5 || !in_set(p[0], backend ? BE_FIRST : FE_FIRST))
		return false;
	while (i + 5 <= cap) {
		if (!typed_header_ok(backend, p[i], be32(p + i + 1)))
			return false;
		i += 1 + (size_t)be32(p + i + 1);
	}
	return i >= cap || in_set(p[i], backend ? BE_TYPES : FE_TYPES);
}

static void stream_reset(struct pg_dir *st)
{
	st->in_body = false;
	st->have = 0;
	st->gap = false;
}

/* The framing of one direction is lost (see the resynchronisation rules above): malformed,
 * on a header whose bytes were all seen, or hidden in a capture gap. */
static void lose(struct pg_io *io, bool backend, bool malformed)
{
	struct pg_conn *c = io->c;
	struct pg_batch *b;

	c->stats.parse_errors++;
	if (backend) {
		c->be.state = PG_ST_LOST;
		stream_reset(&c->be);
		b = pg_batch_head(c);
		if (b)
			b->be_lost = true;
		return;
	}
	c->fe.state = PG_ST_LOST;
	stream_reset(&c->fe);
	c->fe_startup = false;
	c->fe_lost_ts = io->ts;
	c->rfq_since_fe_loss = false;
	c->fe_malformed = malformed;
	/* The unread rest of the open batch is taken to end with its Sync; what else it
	 * held is unknown. */
	b = pg_batch_tail(c);
	if (b && !b->closed) {
		b->closed = true;
		b->fe_lost = true;
	}
}

/* ---- frontend ---------------------------------------------------------------------------- */

static void name_query_stmt(void *ctx, const char *stmt, size_t len, bool truncated)
{
	struct pg_conn *c = ctx;
	struct pg_name n;

	sql_operation_prefix(stmt, len, truncated, n.op, sizeof(n.op), n.table, sizeof(n.table));
	pg_batch_add_record(c, &n, NULL);
}

static void name_parse_stmt(void *ctx, const char *stmt, size_t len, bool truncated)
{
	struct pg_fe_msg *m = ctx;

	if (m->have_first) /* Parse holds one statement; a trailing ";" adds none */
		return;
	sql_operation_prefix(stmt, len, truncated, m->first.op, sizeof(m->first.op), m->first.table,
			     sizeof(m->first.table));
	m->have_first = true;
}

static void sql_done(struct pg_conn *c, bool lost)
{
	struct pg_fe_msg *m = &c->fm;

	if (c->fe.type == 'Q')
		sql_splitter_finish(&m->sql, lost, name_query_stmt, c);
	else
		sql_splitter_finish(&m->sql, lost, name_parse_stmt, m);
}

/* Reads a NUL-terminated name field into h[k]; returns bytes consumed. */
static size_t name_field(struct pg_fe_msg *m, int k, const uint8_t *p, size_t n)
{
	const uint8_t *nul = memchr(p, 0, n);
	size_t len = nul ? (size_t)(nul - p) : n;

	m->h[k] = fnv1a64_add(m->h[k], p, len);
	m->hlen[k] += len;
	if (!nul)
		return n;
	m->field++;
	return len + 1;
}

/*
 * The names of Parse texts seen lately, by their whole text. Clients of the extended
 * protocol that do not keep named statements (pgbench -M extended, many drivers' unnamed
 * statements) send the same few texts again and again; naming one costs the splitter and
 * the tokenizer ~15 instructions per byte, a hit here a hash and a compare. Only texts
 * captured whole, in one piece, are looked up or kept; a hit is checked byte for byte, so
 * the name is the one the splitter would give. Direct-mapped: a collision evicts.
 * Per thread: the parsers run on one thread each and share nothing else.
 */
#define PG_MEMO_SLOTS 128
#define PG_MEMO_TEXT_MAX 384

struct pg_memo {
	uint64_t hash;
	uint32_t len; /* 0: empty */
	struct pg_name name;
	char text[PG_MEMO_TEXT_MAX];
};

static _Thread_local struct pg_memo pg_memo[PG_MEMO_SLOTS];

static struct pg_memo *memo_slot(const uint8_t *text, size_t len, uint64_t *hash)
{
	*hash = fnv1a64(text, len);
	return &pg_memo[hash_fmix64(*hash) & (PG_MEMO_SLOTS - 1)];
}

/* A Parse's whole text (len bytes, its NUL at p[len]): named from the memo, or by the
 * splitter and then kept. Returns bytes consumed. */
static size_t parse_text_whole(struct pg_conn *c, const uint8_t *p, size_t len)
{
	struct pg_fe_msg *m = &c->fm;
	uint64_t hash;
	struct pg_memo *e = memo_slot(p, len, &hash);

	m->field++;
	if (e->len == len && e->hash == hash && !memcmp(e->text, p, len)) {
		m->first = e->name;
		m->have_first = true;
		return len + 1;
	}
	sql_splitter_feed(&m->sql, (const char *)p, len, name_parse_stmt, m);
	sql_done(c, false);
	if (m->have_first) {
		e->hash = hash;
		e->len = (uint32_t)len;
		e->name = m->first;
		memcpy(e->text, p, len);
	}
	return len + 1;
}

/* Reads the NUL-terminated SQL text; returns bytes consumed. */
static size_t sql_field(struct pg_conn *c, const uint8_t *p, size_t n)
{
	struct pg_fe_msg *m = &c->fm;
	const uint8_t *nul = memchr(p, 0, n);
	size_t len = nul ? (size_t)(nul - p) : n;

	if (c->fe.type == 'P' && !m->sql_fed && nul && len && len <= PG_MEMO_TEXT_MAX)
		return parse_text_whole(c, p, len);
	m->sql_fed = true;
	if (c->fe.type == 'Q')
		sql_splitter_feed(&m->sql, (const char *)p, len, name_query_stmt, c);
	else
		sql_splitter_feed(&m->sql, (const char *)p, len, name_parse_stmt, m);
	if (!nul)
		return n;
	sql_done(c, false);
	m->field++;
	return len + 1;
}

/* Field layouts (protocol-message-formats): Q text; P name, text, ...; B portal, statement,
 * ...; E portal, int32; C/D kind byte, name. Everything after them is skipped. */
static void fe_body(struct pg_conn *c, const uint8_t *p, size_t n)
{
	struct pg_fe_msg *m = &c->fm;
	uint8_t t = c->fe.type;

	while (n) {
		size_t k = n;

		if ((t == 'Q' && m->field == 0) || (t == 'P' && m->field == 1))
			k = sql_field(c, p, n);
		else if ((t == 'P' || t == 'E') && m->field == 0)
			k = name_field(m, 0, p, n);
		else if (t == 'B' && m->field < 2)
			k = name_field(m, m->field, p, n);
		else if (t == 'C' && m->field == 0)
			m->kind = p[0], m->field = 1, k = 1;
		else if (t == 'C' && m->field == 1)
			k = name_field(m, 0, p, n);
		p += k;
		n -= k;
	}
}

static void fe_gap(struct pg_conn *c)
{
	struct pg_fe_msg *m = &c->fm;
	uint8_t t = c->fe.type;

	if ((t == 'Q' && m->field == 0) || (t == 'P' && m->field == 1)) {
		sql_done(c, true);
		m->field++;
	} else if ((t == 'P' && m->field == 0) || (t == 'B' && m->field < 2) ||
		   (t == 'E' && m->field == 0) || (t == 'C' && m->field < 2)) {
		m->names_ok = false;
		m->field = 9;
	}
}

/* The batch a request message joins: the open one, or a new one from this message. */
static void fe_join_batch(struct pg_io *io)
{
	struct pg_conn *c = io->c;
	struct pg_batch *b = pg_batch_tail(c);

	if (b && !b->closed)
		return;
	if (c->be.state == PG_ST_LOST && c->fe.msg_at_start) {
		/* A new request at the start of a write: earlier batches were answered in
		 * the bytes the backend could not frame (see resynchronisation above). */
		pg_batches_infer(io, c->be_last_ts);
		c->be.resync = true;
	}
	pg_batch_push(c, PG_BATCH_NORMAL, c->fe.msg_ts);
}

static void fe_begin(struct pg_io *io)
{
	struct pg_conn *c = io->c;
	struct pg_fe_msg *m = &c->fm;
	struct pg_batch *b;
	uint8_t t = c->fe.type;

	m->field = 0;
	m->names_ok = true;
	m->have_first = false;
	m->sql_fed = false;
	m->h[0] = m->h[1] = FNV1A64_INIT;
	m->hlen[0] = m->hlen[1] = 0;
	memset(&m->first, 0, sizeof(m->first));
	if (in_set(t, FE_FIRST)) {
		fe_join_batch(io);
		b = pg_batch_tail(c);
		/* From the header: a gap may hide the rest of the message, not that it was sent. */
		if (b && t == 'P')
			b->has_parse = true;
		if (b && t == 'E')
			b->has_execute = true;
	}
	if (t == 'Q' || t == 'P')
		sql_splitter_init(&m->sql);
	if (t == 'Q') /* a simple Query destroys the unnamed statement */
		pg_stmt_drop(c, 0, true);
}

static void fe_startup_end(struct pg_io *io)
{
	struct pg_conn *c = io->c;
	struct pg_batch *b;

	if (c->fe.code == PG_CODE_SSL || c->fe.code == PG_CODE_GSS) {
		c->wait_answer = c->fe.code == PG_CODE_SSL ? 'S' : 'G';
	} else if ((c->fe.code >> 16) == (PG_CODE_V3 >> 16)) {
		c->fe_startup = false;
		b = pg_batch_push(c, PG_BATCH_STARTUP, c->fe.msg_ts);
		if (b)
			b->closed = true;
	}
}

/* Bind: the portal takes its statement's name, or, for a statement whose Parse was never
 * seen, remembers which statement it runs (its name may be learned, see pg_learn). */
static void fe_bind(struct pg_conn *c, const struct pg_fe_msg *m)
{
	bool unnamed = m->hlen[1] == 0;
	const struct pg_name *n = pg_stmt_get(c, m->h[1], unnamed);
	struct pg_portal *p = pg_portal_bind(c, m->h[0], m->hlen[0] == 0, n);

	p->learn = (struct pg_learn){ .hash = m->h[1], .unnamed = unnamed, .pending = !n };
}

static void fe_execute(struct pg_conn *c, const struct pg_fe_msg *m)
{
	static const struct pg_name none;
	const struct pg_portal *p = m->names_ok ? pg_portal_get(c, m->h[0], m->hlen[0] == 0) : NULL;
	const struct pg_name *n = p ? &p->name : &none;

	if (p && p->learn.pending) {
		const struct pg_name *s = pg_stmt_get(c, p->learn.hash, p->learn.unnamed);

		/* Learned since the Bind (an earlier Execute of the portal succeeded). */
		if (s) {
			pg_batch_add_record(c, s, NULL);
			return;
		}
	}
	pg_batch_add_record(c, n, p ? &p->learn : NULL);
}

static void fe_end(struct pg_io *io)
{
	struct pg_conn *c = io->c;
	struct pg_fe_msg *m = &c->fm;
	struct pg_batch *b = pg_batch_tail(c);

	switch (c->fe.type) {
	case 0:
		fe_startup_end(io);
		return;
	case 'Q':
		if (m->field == 0)
			sql_done(c, false);
		break;
	case 'P':
		if (m->field == 1)
			sql_done(c, false);
		if (m->names_ok)
			pg_stmt_put(c, m->h[0], m->hlen[0] == 0, &m->first);
		return;
	case 'B':
		if (m->names_ok)
			fe_bind(c, m);
		return;
	case 'E':
		fe_execute(c, m);
		return;
	case 'C':
		if (m->names_ok && m->kind == 'S')
			pg_stmt_drop(c, m->h[0], m->hlen[0] == 0);
		else if (m->names_ok && m->kind == 'P')
			pg_portal_drop(c, m->h[0], m->hlen[0] == 0);
		return;
	case 'S':
	case 'F':
		break;
	default:
		return;
	}
	if (b) /* Query, Sync and FunctionCall are each answered by one ReadyForQuery */
		b->closed = true;
}

static bool fe_header(struct pg_io *io)
{
	struct pg_conn *c = io->c;
	struct pg_dir *st = &c->fe;
	uint32_t len;

	if (c->fe_startup) {
		len = be32(st->hdr);
		st->type = 0;
		st->code = be32(st->hdr + 4);
		if (len < 8 || len > PG_STARTUP_MAX)
			return false;
		if (st->code != PG_CODE_SSL && st->code != PG_CODE_GSS &&
		    st->code != PG_CODE_CANCEL && (st->code >> 16) != (PG_CODE_V3 >> 16))
			return false;
		st->left = len - 8;
	} else {
		st->type = st->hdr[0];
		len = be32(st->hdr + 1);
		if (!typed_header_ok(false, st->type, len))
			return false;
		st->left = len - 4;
	}
	fe_begin(io);
	return true;
}

/* ---- backend ----------------------------------------------------------------------------- */

/* CommandComplete tag's first word; ErrorResponse's 'C' (SQLSTATE) field. */
static void be_body(struct pg_conn *c, const uint8_t *p, size_t n)
{
	struct pg_be_msg *m = &c->bm;

	if (c->be.type == 'C') {
		for (size_t i = 0; i < n && !m->tag_done; i++) {
			if (p[i] == ' ' || p[i] == 0 || (size_t)m->tag_len + 1 >= sizeof(m->tag))
				m->tag_done = true;
			else
				m->tag[m->tag_len++] = (char)p[i];
		}
		return;
	}
	if (c->be.type != 'E')
		return;
	/* Fields: code byte + NUL-terminated value, until a zero code. */
	for (size_t i = 0; i < n; i++) {
		if (m->code == 0) {
			m->code = p[i] ? p[i] : 0xff;
			if (m->code == 'V') {
				m->sev_v = true;
				m->sev_len = 0;
			}
		} else if (m->code == 0xff) {
			break;
		} else if (p[i] == 0) {
			m->code = 0;
		} else if (m->code == 'C' && (size_t)m->state_len + 1 < sizeof(m->sqlstate)) {
			m->sqlstate[m->state_len++] = (char)p[i];
		} else if ((m->code == 'V' || (m->code == 'S' && !m->sev_v)) &&
			   (size_t)m->sev_len + 1 < sizeof(m->severity)) {
			m->severity[m->sev_len++] = (char)p[i];
		}
	}
}

static void be_end(struct pg_io *io)
{
	struct pg_conn *c = io->c;
	struct pg_be_msg *m = &c->bm;

	switch (c->be.type) {
	case 'C':
		m->tag[m->tag_len] = '\0';
		pg_batch_complete(io, PG_DONE_OK, m->tag);
		break;
	case 'I':
		pg_batch_complete(io, PG_DONE_EMPTY, "");
		break;
	case 's':
		pg_batch_complete(io, PG_DONE_SUSPENDED, "");
		break;
	case 'E':
		m->sqlstate[m->state_len] = '\0';
		m->severity[m->sev_len] = '\0';
		pg_batch_complete(io, PG_DONE_ERROR, m->sqlstate);
		/* FATAL/PANIC: the server closes the session; no ReadyForQuery will come. */
		if (!strcmp(m->severity, "FATAL") || !strcmp(m->severity, "PANIC"))
			pg_batch_ready(io);
		break;
	case 'Z':
		c->rfq_since_fe_loss = true;
		pg_batch_ready(io);
		break;
	case 'W': /* CopyBothResponse: streaming replication from here on */
		c->stats.stopped = 1;
		stop(c);
		break;
	}
}

static bool be_header(struct pg_io *io)
{
	struct pg_conn *c = io->c;
	struct pg_dir *st = &c->be;
	uint32_t len = be32(st->hdr + 1);

	st->type = st->hdr[0];
	if (!typed_header_ok(true, st->type, len))
		return false;
	st->left = len - 4;
	memset(&c->bm, 0, sizeof(c->bm));
	return true;
}

/* The one-byte answer to SSLRequest/GSSENCRequest; returns false if p[0] is not one. */
static bool be_answer(struct pg_conn *c, uint8_t byte)
{
	uint8_t want = c->wait_answer;

	c->wait_answer = 0;
	if (byte == want) { /* 'S' / 'G': encryption starts; nothing more is readable */
		c->stats.tls = 1;
		stop(c);
		return true;
	}
	return byte == 'N'; /* else an ErrorResponse from a server not knowing the request */
}

/* ---- walking one event ------------------------------------------------------------------- */

static void msg_done(struct pg_io *io, bool backend)
{
	struct pg_dir *st = backend ? &io->c->be : &io->c->fe;

	st->in_body = false;
	io->c->stats.messages++;
	if (backend)
		be_end(io);
	else
		fe_end(io);
}

/* Header bytes; returns bytes consumed, or SIZE_MAX when the framing was lost. */
static size_t walk_header(struct pg_io *io, bool backend, const uint8_t *p, size_t n, bool first)
{
	struct pg_conn *c = io->c;
	struct pg_dir *st = backend ? &c->be : &c->fe;
	size_t need = (!backend && c->fe_startup) ? 8 : 5, k;

	if (backend && c->wait_answer && st->have == 0 && be_answer(c, p[0]))
		return 1;
	if (st->have == 0) {
		st->msg_ts = io->ts;
		st->msg_at_start = first;
	}
	k = need - st->have < n ? need - st->have : n;
	memcpy(st->hdr + st->have, p, k);
	st->have += k;
	if (st->have < need)
		return k;
	st->have = 0;
	st->gap = false;
	st->off = 0;
	if (!(backend ? be_header(io) : fe_header(io)))
		return SIZE_MAX;
	st->in_body = true;
	if (st->left == 0)
		msg_done(io, backend);
	return k;
}

static void walk(struct pg_io *io, bool backend, const uint8_t *p, size_t cap, size_t gap)
{
	struct pg_conn *c = io->c;
	struct pg_dir *st = backend ? &c->be : &c->fe;
	size_t i = 0;

	while (i < cap && st->state == PG_ST_SYNC) {
		if (!st->in_body) {
			size_t k = walk_header(io, backend, p + i, cap - i, i == 0);

			if (k == SIZE_MAX) {
				lose(io, backend, true);
				return;
			}
			i += k;
			continue;
		}
		size_t k = st->left < cap - i ? st->left : cap - i;

		if (backend)
			be_body(c, p + i, k);
		else
			fe_body(c, p + i, k);
		st->left -= k;
		st->off += k;
		i += k;
		if (st->left == 0)
			msg_done(io, backend);
	}
	if (!gap || st->state != PG_ST_SYNC)
		return;
	if (!st->in_body || gap > st->left) { /* the gap covers a header */
		lose(io, backend, false);
		return;
	}
	st->left -= gap;
	st->off += gap;
	st->gap = true;
	if (!backend) {
		fe_gap(c);
	} else {
		c->bm.tag_done = true; /* what follows the gap is not the field we were in */
		c->bm.code = 0xff;
	}
	if (st->left == 0)
		msg_done(io, backend);
}

/* First frontend bytes: a StartupMessage/SSLRequest starts with its int32 length (< 2^24,
 * so 0x00); a TLS record (direct SSL negotiation) with 0x16; a typed message with a letter
 * means sonde attached mid-connection. */
static void fe_first_event(struct pg_conn *c, const uint8_t *p)
{
	c->fe_seen = true;
	if (p[0] == 0x16) {
		c->stats.tls = 1;
		stop(c);
	} else if (p[0] == 0) {
		c->fe_startup = true;
		if (!c->be_seen)
			c->be.state = PG_ST_SYNC;
	} else {
		c->fe.state = PG_ST_LOST;
	}
}

static void fe_event(struct pg_io *io, const uint8_t *p, size_t cap, size_t len)
{
	struct pg_conn *c = io->c;

	if (!c->fe_seen && cap)
		fe_first_event(c, p);
	if (c->fe.state == PG_ST_LOST) {
		/* Needs the server idle (a ReadyForQuery was read) unless the backend is
		 * not framed either (attached mid-connection). */
		if ((!c->rfq_since_fe_loss && c->be.state == PG_ST_SYNC) ||
		    !chain_valid(false, p, cap))
			return;
		c->fe.state = PG_ST_SYNC;
		stream_reset(&c->fe);
		c->stats.gap_resyncs++;
	}
	walk(io, false, p, cap, len - cap);
}

static bool starts_with_ready(const uint8_t *p, size_t cap)
{
	return cap >= 6 && p[0] == 'Z' && be32(p + 1) == 5 && in_set(p[5], RFQ_STATUS);
}

static void be_event(struct pg_io *io, const uint8_t *p, size_t cap, size_t len)
{
	struct pg_conn *c = io->c;
	struct pg_dir *st = &c->be;

	c->be_seen = true;
	if (st->state == PG_ST_LOST) {
		bool ok = starts_with_ready(p, cap) || (st->resync && chain_valid(true, p, cap));

		st->resync = false;
		if (!ok) {
			c->be_last_ts = io->ts;
			return;
		}
		st->state = PG_ST_SYNC;
		stream_reset(st);
		c->stats.gap_resyncs++;
	}
	walk(io, true, p, cap, len - cap);
	c->be_last_ts = io->ts;
}

int pg_feed(struct pg_conn *c, enum pg_stream s, uint64_t ts_ns, const uint8_t *data,
	    size_t cap_len, size_t len, db_emit_fn emit, void *ctx)
{
	struct pg_io io = { .c = c, .ts = ts_ns, .emit = emit, .ctx = ctx };

	if (!c || (cap_len && !data) || cap_len > len || (s != PG_FRONTEND && s != PG_BACKEND))
		return -EINVAL;
	c->err = 0;
	if (len == 0) /* EOF carries no bytes; pg_close ends the connection */
		return 0;
	if (s == PG_FRONTEND) {
		if (c->fe.state != PG_ST_STOPPED)
			fe_event(&io, data, cap_len, len);
	} else if (c->be.state != PG_ST_STOPPED) {
		be_event(&io, data, cap_len, len);
	}
	return c->err;
}
