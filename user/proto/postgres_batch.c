// SPDX-License-Identifier: GPL-2.0-only
/*
 * PostgreSQL request side bookkeeping: statement cache, portals, the FIFO of batches
 * (one per expected ReadyForQuery) with their records (one per Execute or Query
 * statement), pairing of backend answers, and emission of operations.
 *
 * Counting rule: every CommandComplete / EmptyQueryResponse / PortalSuspended /
 * ErrorResponse inside a batch ends exactly one operation (protocol-flow: each Execute,
 * and each statement of a simple Query, gets exactly one of them; after an ErrorResponse
 * the server discards messages until Sync, or abandons the rest of the Query string). So
 * counts follow the backend, and the frontend's records only supply names and timing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/postgres_batch.h"

static void copy_str(char *dst, size_t dstlen, const char *src)
{
	size_t n = strnlen(src, dstlen - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- statement cache and portals --------------------------------------------------------- */

static struct pg_stmt *stmt_find(struct pg_conn *c, uint64_t hash)
{
	for (uint32_t i = 0; i < c->n_stmts; i++)
		if (c->stmts[i].hash == hash)
			return &c->stmts[i];
	return NULL;
}

/* A slot for a new named statement: grow up to PG_STMTS_MAX, then evict the least used. */
static struct pg_stmt *stmt_slot(struct pg_conn *c)
{
	if (c->n_stmts == c->cap_stmts && c->cap_stmts < PG_STMTS_MAX) {
		uint32_t cap = c->cap_stmts ? c->cap_stmts * 2 : PG_STMTS_MIN;
		struct pg_stmt *v = realloc(c->stmts, cap * sizeof(*v));

		if (v) {
			c->stmts = v;
			c->cap_stmts = cap;
		}
	}
	if (c->n_stmts < c->cap_stmts)
		return &c->stmts[c->n_stmts++];
	if (!c->n_stmts) {
		c->stats.queue_drops++;
		return NULL;
	}
	struct pg_stmt *lru = &c->stmts[0];

	for (uint32_t i = 1; i < c->n_stmts; i++)
		if (c->stmts[i].tick < lru->tick)
			lru = &c->stmts[i];
	return lru;
}

void pg_stmt_put(struct pg_conn *c, uint64_t hash, bool unnamed, const struct pg_name *n)
{
	struct pg_stmt *s;

	if (unnamed) {
		c->unnamed_stmt.name = *n;
		c->unnamed_known = true;
		return;
	}
	s = stmt_find(c, hash);
	if (!s)
		s = stmt_slot(c);
	if (!s)
		return;
	s->hash = hash;
	s->tick = ++c->tick;
	s->name = *n;
}

const struct pg_name *pg_stmt_get(struct pg_conn *c, uint64_t hash, bool unnamed)
{
	struct pg_stmt *s;

	if (unnamed)
		return c->unnamed_known ? &c->unnamed_stmt.name : NULL;
	s = stmt_find(c, hash);
	if (!s)
		return NULL;
	s->tick = ++c->tick;
	return &s->name;
}

void pg_stmt_drop(struct pg_conn *c, uint64_t hash, bool unnamed)
{
	struct pg_stmt *s;

	if (unnamed) {
		c->unnamed_known = false;
		return;
	}
	s = stmt_find(c, hash);
	if (s)
		*s = c->stmts[--c->n_stmts];
}

static struct pg_portal *portal_find(struct pg_conn *c, uint64_t hash, bool unnamed)
{
	if (unnamed)
		return &c->unnamed_portal;
	for (int i = 0; i < PG_PORTALS_MAX; i++)
		if (c->portals[i].used && c->portals[i].hash == hash)
			return &c->portals[i];
	return NULL;
}

struct pg_portal *pg_portal_bind(struct pg_conn *c, uint64_t hash, bool unnamed,
				 const struct pg_name *n)
{
	static const struct pg_name none;
	struct pg_portal *p = portal_find(c, hash, unnamed);

	if (!p) {
		p = &c->portals[0];
		for (int i = 1; i < PG_PORTALS_MAX && p->used; i++)
			if (!c->portals[i].used || c->portals[i].tick < p->tick)
				p = &c->portals[i];
	}
	p->used = true;
	p->hash = hash;
	p->tick = ++c->tick;
	p->name = n ? *n : none;
	memset(&p->learn, 0, sizeof(p->learn));
	return p;
}

const struct pg_portal *pg_portal_get(struct pg_conn *c, uint64_t hash, bool unnamed)
{
	struct pg_portal *p = portal_find(c, hash, unnamed);

	return p && p->used ? p : NULL;
}

void pg_portal_drop(struct pg_conn *c, uint64_t hash, bool unnamed)
{
	struct pg_portal *p = portal_find(c, hash, unnamed);

	if (p)
		p->used = false;
}

/* ---- rings ------------------------------------------------------------------------------- */

static struct pg_record *rec_at(struct pg_conn *c, uint64_t seq)
{
	return &c->recs.v[seq & (c->recs.cap - 1)];
}

static struct pg_batch *batch_at(struct pg_conn *c, uint64_t seq)
{
	return &c->batches.v[seq & (c->batches.cap - 1)];
}

/* Doubles a ring of elements of size sz, keeping each live sequence number's element. */
static int ring_grow(void **v, uint32_t *cap, uint32_t max, size_t sz, uint64_t head, uint64_t tail)
{
	uint32_t ncap = *cap ? *cap * 2 : 16;
	char *nv;

	if (*cap >= max)
		return -ENOSPC;
	nv = malloc((size_t)ncap * sz);
	if (!nv)
		return -ENOMEM;
	for (uint64_t s = head; s < tail; s++)
		memcpy(nv + (s & (ncap - 1)) * sz, (char *)*v + (s & (*cap - 1)) * sz, sz);
	free(*v);
	*v = nv;
	*cap = ncap;
	return 0;
}

static int rec_push(struct pg_conn *c, const struct pg_name *n, const struct pg_learn *l)
{
	struct pg_records *r = &c->recs;
	struct pg_record *rec;

	if (r->tail - r->head == r->cap) {
		int err = ring_grow((void **)&r->v, &r->cap, PG_RECORDS_MAX, sizeof(*r->v), r->head,
				    r->tail);

		if (err) {
			c->stats.queue_drops++;
			if (err == -ENOMEM && !c->err)
				c->err = err;
			return err;
		}
	}
	rec = rec_at(c, r->tail++);
	rec->name = *n;
	rec->flags = 0;
	if (l)
		rec->learn = *l;
	else
		memset(&rec->learn, 0, sizeof(rec->learn));
	return 0;
}

struct pg_batch *pg_batch_head(struct pg_conn *c)
{
	return c->batches.head == c->batches.tail ? NULL : batch_at(c, c->batches.head);
}

struct pg_batch *pg_batch_tail(struct pg_conn *c)
{
	return c->batches.head == c->batches.tail ? NULL : batch_at(c, c->batches.tail - 1);
}

struct pg_batch *pg_batch_push(struct pg_conn *c, enum pg_batch_kind kind, uint64_t start_ns)
{
	struct pg_batches *q = &c->batches;
	struct pg_batch *b;

	if (q->tail - q->head == q->cap) {
		int err = ring_grow((void **)&q->v, &q->cap, PG_BATCHES_MAX, sizeof(*q->v), q->head,
				    q->tail);

		if (err) {
			c->stats.queue_drops++;
			if (err == -ENOMEM && !c->err)
				c->err = err;
			return NULL;
		}
	}
	b = batch_at(c, q->tail++);
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->start_ns = start_ns;
	b->first = c->recs.tail;
	return b;
}

/* Records are contiguous per batch: only the newest batch may take one. */
static bool batch_is_last(struct pg_conn *c, const struct pg_batch *b)
{
	return c->recs.tail == b->first + b->n_records;
}

void pg_batch_add_record(struct pg_conn *c, const struct pg_name *n, const struct pg_learn *l)
{
	struct pg_batch *b = pg_batch_tail(c);

	if (b && batch_is_last(c, b) && rec_push(c, n, l) == 0)
		b->n_records++;
}

static void batch_pop(struct pg_conn *c)
{
	struct pg_batch *b;

	c->batches.head++;
	b = pg_batch_head(c);
	c->recs.head = b ? b->first : c->recs.tail;
}

/* ---- emission ---------------------------------------------------------------------------- */

static void emit(struct pg_io *io, const struct pg_batch *b, const struct pg_name *n,
		 const char *error, uint64_t end_ns)
{
	struct db_op op;

	memset(&op, 0, sizeof(op)); /* no stack bytes leave the parser */
	copy_str(op.operation, sizeof(op.operation), n->op);
	copy_str(op.collection, sizeof(op.collection), n->table);
	copy_str(op.error_type, sizeof(op.error_type), error);
	op.start_ns = b->start_ns;
	op.end_ns = end_ns;
	io->c->stats.ops++;
	if (io->emit)
		io->emit(io->ctx, &op);
}

static const struct pg_name prepare_name = { .op = "PREPARE" };

/* A round trip with a Parse and no Execute (pgbench -M prepared's first round, lib/pq's
 * Parse+Describe+Sync before its Bind+Execute+Sync). */
static bool batch_is_prepare(const struct pg_batch *b)
{
	return b->has_parse && !b->has_execute;
}

/* Emits the batch's operations, ending at end_ns. lost: its answers were not all framed,
 * so records without an answer are taken as answered (ok) within the lost bytes. */
static void emit_batch(struct pg_io *io, struct pg_batch *b, uint64_t end_ns, bool lost)
{
	struct pg_conn *c = io->c;
	uint32_t rest = b->n_records - b->n_done;

	for (uint32_t i = 0; i < b->n_done; i++) {
		struct pg_record *r = rec_at(c, b->first + i);

		if (r->flags & PG_REC_EMPTY)
			c->stats.empty_queries++;
		else
			emit(io, b, &r->name, r->flags & PG_REC_ERROR ? b->error : "", end_ns);
	}
	if (b->errored) {
		c->stats.skipped_after_error += rest;
	} else if (lost) {
		for (uint32_t i = b->n_done; i < b->n_records; i++)
			emit(io, b, &rec_at(c, b->first + i)->name, "", end_ns);
		c->stats.inferred_ends += rest;
	} else {
		c->stats.unanswered += rest;
	}
	if (b->n_records || b->n_early || b->errored || !batch_is_prepare(b))
		return;
	if (b->fe_lost && lost) { /* an Execute may have been in either gap */
		c->stats.lost_batches++;
		return;
	}
	c->stats.prepare_roundtrips++;
	emit(io, b, &prepare_name, "", end_ns);
}

/* An answer that has no record to land in and cannot wait for ReadyForQuery. */
static void emit_early(struct pg_io *io, struct pg_batch *b, enum pg_done kind, const char *word)
{
	struct pg_name n = { 0 };
	bool err = kind == PG_DONE_ERROR;

	b->n_early++;
	io->c->stats.early_emits++;
	if (kind == PG_DONE_EMPTY) {
		io->c->stats.empty_queries++;
		return;
	}
	if (err && batch_is_prepare(b)) {
		n = prepare_name;
		io->c->stats.prepare_roundtrips++;
	} else if (!err) {
		copy_str(n.op, sizeof(n.op), word);
	}
	emit(io, b, &n, err ? b->error : "", io->ts);
}

/* The batch an answer belongs to; answers while the frontend is lost (its batches were in
 * the bytes not captured) get a batch started at the loss. */
static struct pg_batch *answered_batch(struct pg_conn *c)
{
	struct pg_batch *b = pg_batch_head(c);

	/* An answer while the frontend is lost answers a request hidden in a capture gap; not
	 * when the frontend sent bytes that are no message (the server's FATAL 08P01 to
	 * garbage, or to a length it refuses, answers no operation). */
	if (!b && c->fe.state == PG_ST_LOST && !c->fe_malformed) {
		b = pg_batch_push(c, PG_BATCH_NORMAL, c->fe_lost_ts);
		if (b)
			b->closed = true;
	}
	if (!b)
		c->stats.unsolicited++;
	return b;
}

/* SQLSTATE: five digits or upper-case letters (errcodes-appendix). */
static bool sqlstate_ok(const char *s)
{
	for (int i = 0; i < 5; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return s[5] == '\0';
}

/* A statement prepared before sonde saw the connection succeeded: its tag names it from
 * now on, so its later failures (which carry no tag) are named too. A name from a Parse
 * seen meanwhile is kept. */
static void stmt_learn(struct pg_conn *c, struct pg_learn *l, const char *word)
{
	struct pg_name n;

	l->pending = false;
	if (pg_stmt_get(c, l->hash, l->unnamed))
		return;
	memset(&n, 0, sizeof(n));
	copy_str(n.op, sizeof(n.op), word);
	pg_stmt_put(c, l->hash, l->unnamed, &n);
	c->stats.names_learned++;
}

void pg_batch_complete(struct pg_io *io, enum pg_done kind, const char *word)
{
	struct pg_conn *c = io->c;
	struct pg_batch *b = answered_batch(c);
	struct pg_record *r;

	if (!b || b->kind == PG_BATCH_STARTUP) /* authentication failures are not operations */
		return;
	if (b->errored) { /* nothing is answered between an error and Sync */
		c->stats.unsolicited++;
		return;
	}
	if (kind == PG_DONE_ERROR) {
		b->errored = true;
		copy_str(b->error, sizeof(b->error), sqlstate_ok(word) ? word : "_OTHER");
	}
	if (b->n_done == b->n_records) {
		static const struct pg_name none;

		if (b->n_early || !batch_is_last(c, b) ||
		    c->recs.tail - c->recs.head >= PG_RECORDS_MAX ||
		    rec_push(c, &none, NULL) != 0) {
			emit_early(io, b, kind, word);
			return;
		}
		b->n_records++;
	}
	r = rec_at(c, b->first + b->n_done++);
	r->flags |= PG_REC_DONE;
	if (kind == PG_DONE_EMPTY)
		r->flags |= PG_REC_EMPTY;
	if (kind == PG_DONE_OK && word[0] && (!r->name.op[0] || !strcmp(r->name.op, "WITH")))
		copy_str(r->name.op, sizeof(r->name.op), word); /* the tag names the main verb */
	if (kind == PG_DONE_OK && word[0] && r->learn.pending)
		stmt_learn(c, &r->learn, word);
	if (kind == PG_DONE_ERROR) {
		r->flags |= PG_REC_ERROR;
		if (!r->name.op[0] && batch_is_prepare(b)) {
			r->name = prepare_name;
			c->stats.prepare_roundtrips++;
		}
	}
}

void pg_batch_ready(struct pg_io *io)
{
	struct pg_conn *c = io->c;
	struct pg_batch *b = pg_batch_head(c);

	if (!b) {
		c->stats.unsolicited++;
		return;
	}
	if (b->kind == PG_BATCH_NORMAL)
		emit_batch(io, b, io->ts, b->be_lost);
	batch_pop(c);
}

void pg_batches_infer(struct pg_io *io, uint64_t end_ns)
{
	struct pg_batch *b;

	while ((b = pg_batch_head(io->c))) {
		if (b->kind == PG_BATCH_NORMAL && b->start_ns <= end_ns)
			emit_batch(io, b, end_ns, true);
		else if (!b->errored) /* sent after the last read: no answer was seen at all */
			io->c->stats.unanswered += b->n_records - b->n_done;
		batch_pop(io->c);
	}
}

void pg_batches_drop(struct pg_conn *c)
{
	struct pg_batch *b;

	while ((b = pg_batch_head(c))) {
		if (!b->errored)
			c->stats.unanswered += b->n_records - b->n_done;
		batch_pop(c);
	}
}

void pg_batches_free(struct pg_conn *c)
{
	free(c->recs.v);
	free(c->batches.v);
	free(c->stmts);
}
