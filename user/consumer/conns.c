// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "consumer/conns.h"
#include "consumer/protocols.h"
#include "kernel/ctl.h"
#include "procs/procs.h"
#include "proto/classify.h"
#include "util/addr.h"

/* What is kept of a connection forgotten while idle (conns_expire). */
struct conn_tomb {
	uint64_t next[2]; /* its streams' offsets */
	uint64_t last_ns; /* its last record */
	uint8_t fate;	  /* of its socket bytes */
};

static const struct {
	const char *outcome, *reason;
} fates[FATE_NR] = {
	[FATE_PARSED_HTTP] = { "parsed", "http" },
	[FATE_PARSED_POSTGRESQL] = { "parsed", "postgresql" },
	[FATE_PARSED_REDIS] = { "parsed", "redis" },
	[FATE_UNPARSED_UNKNOWN] = { "unparsed", "unknown" },
	[FATE_UNPARSED_HTTP2] = { "unparsed", "http2" },
	[FATE_UNPARSED_TLS] = { "unparsed", "tls" },
	[FATE_UNPARSED_DB_SERVER] = { "unparsed", "db_server" },
	[FATE_UNPARSED_UNDECIDED] = { "unparsed", "undecided" },
	[FATE_UNPARSED_NO_MEMORY] = { "unparsed", "no_memory" },
	[FATE_LOST_RINGBUF] = { "lost", "ringbuf_full" },
};

const char *byte_fate_outcome(enum byte_fate f)
{
	return (unsigned)f < FATE_NR ? fates[f].outcome : NULL;
}

const char *byte_fate_reason(enum byte_fate f)
{
	return (unsigned)f < FATE_NR ? fates[f].reason : NULL;
}

int conns_init(struct conns *t, const struct observer *obs, const struct procs *procs,
	       const struct kernel_ctl *kctl)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->obs = obs;
	t->procs = procs;
	t->kctl = kctl;
	err = hashmap_init(&t->by_id, 1024);
	if (!err && (err = hashmap_init(&t->expired, 64)))
		hashmap_free(&t->by_id);
	return err;
}

/* Bytes of this fate go unparsed whether they arrive or not. */
static bool fate_unparsed(uint8_t f)
{
	return f >= FATE_UNPARSED_UNKNOWN && f < FATE_LOST_RINGBUF && f != FATE_UNPARSED_UNDECIDED;
}

/* The fate of c's socket bytes now: ciphertext once its plaintext came. */
static uint8_t socket_fate(const struct conn *c)
{
	return c->plaintext ? FATE_UNPARSED_TLS : c->fate;
}

/* Bytes of c that never arrived (a gap, or a lost tail): lost to its parser, unless its
 * bytes go unparsed anyway (an ignored connection: the kernel numbers its bytes and sends
 * none; records refused before the hint took effect would not have been parsed either). */
static void account_missing(struct conns *t, uint8_t fate, uint8_t dir, uint64_t n)
{
	t->bytes[dir & 1][fate_unparsed(fate) ? fate : FATE_LOST_RINGBUF] += n;
}

static void account(struct conns *t, uint8_t fate, uint8_t dir, uint64_t n)
{
	t->bytes[dir & 1][fate < FATE_NR ? fate : FATE_UNPARSED_UNKNOWN] += n;
}

/* Parse errors show up in sonde_parse_errors_total as they happen, not at close. */
static void report_errors(struct conns *t, struct conn *c, struct proto_counts *n)
{
	c->ops->counts(c->parser, n);
	if (n->parse_errors > c->errors_reported) {
		observe_parse_errors(t->obs, c->ops->name, n->parse_errors - c->errors_reported);
		c->errors_reported = n->parse_errors;
	}
}

static void linger_unlink(struct conns *t, struct conn *c)
{
	if (!c->closed_ns)
		return;
	*(c->linger_prev ? &c->linger_prev->linger_next : &t->linger_head) = c->linger_next;
	*(c->linger_next ? &c->linger_next->linger_prev : &t->linger_tail) = c->linger_prev;
	c->linger_prev = c->linger_next = NULL;
	c->closed_ns = 0;
}

static void conn_free(struct conns *t, struct conn *c)
{
	struct proto_counts n;

	linger_unlink(t, c);
	/* socket bytes held while the protocol was undecided */
	if (c->head_len && !c->plaintext)
		account(t, FATE_UNPARSED_UNDECIDED, c->head_dir, c->head_len);
	if (c->state == CONN_PARSED) {
		report_errors(t, c, &n);
		if (n.unanswered)
			observe_unanswered(t->obs, c->ops->name, n.unanswered);
		if (n.incomplete)
			observe_incomplete(t->obs, c->ops->name, n.incomplete);
		c->ops->destroy(c->parser);
	}
	/* TLS whose plaintext never came (no request made, or not through the probed calls) */
	if (c->state == CONN_TLS)
		observe_unsupported(t->obs, "tls");
	free(c);
}

/* c is done: its parser is told (at ts) and it leaves the table. */
static void conn_end(struct conns *t, struct conn *c, uint64_t ts)
{
	struct proto_sink out = { t->obs, &c->peer };

	hashmap_del(&t->by_id, c->id);
	if (c->state == CONN_PARSED)
		c->ops->close(c->parser, ts, &out);
	conn_free(t, c);
}

void conns_tick(struct conns *t, uint64_t now_ns)
{
	struct conn *c;

	/* now_ns may come from a record of another CPU, a little before a closed_ns */
	while ((c = t->linger_head) && now_ns > c->closed_ns &&
	       now_ns - c->closed_ns >= CONN_LINGER_NS)
		conn_end(t, c, c->closed_ns);
}

void conns_free(struct conns *t)
{
	while (t->linger_head)
		conn_end(t, t->linger_head, t->linger_head->closed_ns);
	for (size_t i = 0; i < t->by_id.cap; i++)
		if (t->by_id.vals[i])
			conn_free(t, t->by_id.vals[i]);
	hashmap_free(&t->by_id);
	for (size_t i = 0; i < t->expired.cap; i++)
		free(t->expired.vals[i]);
	hashmap_free(&t->expired);
}

static void format_addr(struct conn_peer *p, const struct sonde_conn_event *e)
{
	if (e->family == AF_UNIX) {
		snprintf(p->address, sizeof(p->address), "%s", e->unix_path);
		p->local_port[0] = p->peer_port[0] = '\0';
		return;
	}
	addr_format(e->peer.addr, p->address, sizeof(p->address));
	snprintf(p->local_port, sizeof(p->local_port), "%u", e->local.port);
	snprintf(p->peer_port, sizeof(p->peer_port), "%u", e->peer.port);
}

static struct conn *conn_get(struct conns *t, uint64_t id, uint32_t tgid)
{
	struct conn *c = hashmap_get(&t->by_id, id);
	struct conn_tomb *tomb;
	const char *service;

	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c || hashmap_put(&t->by_id, id, c)) {
		free(c);
		return NULL;
	}
	c->id = id;
	c->tgid = tgid;
	c->fate = FATE_UNPARSED_UNDECIDED;
	/* The kernel numbers each id's bytes from 0: bytes before the first record that
	 * comes were lost (its open record too, maybe). One forgotten while idle goes on. */
	tomb = hashmap_del(&t->expired, id);
	c->pos[0] = (struct stream_pos){ tomb ? tomb->next[0] : 0, true };
	c->pos[1] = (struct stream_pos){ tomb ? tomb->next[1] : 0, true };
	free(tomb);
	service = procs_service(t->procs, tgid);
	snprintf(c->peer.service, sizeof(c->peer.service), "%s", service ? service : "unknown");
	if (procs_ctx(t->procs, tgid))
		c->peer.ctx = *procs_ctx(t->procs, tgid);
	return c;
}

/* The lingering connection that an open record with local port 0 continues (conns.h). */
static struct conn *linger_find(struct conns *t, const struct sonde_conn_event *e)
{
	struct conn_peer p;
	struct conn *c;

	if (e->family == AF_UNIX || e->local.port || !t->linger_head)
		return NULL;
	format_addr(&p, e);
	for (c = t->linger_head; c; c = c->linger_next)
		if (c->tgid == e->hdr.tgid && !strcmp(c->peer.address, p.address) &&
		    !strcmp(c->peer.peer_port, p.peer_port))
			return c;
	return NULL;
}

/* The lingering c goes on under the id of the late open e: the same socket. */
static void linger_rejoin(struct conns *t, struct conn *c, const struct sonde_conn_event *e)
{
	hashmap_del(&t->by_id, c->id);
	c->id = e->conn_id;
	if (hashmap_put(&t->by_id, c->id, c)) {
		conn_end(t, c, c->closed_ns); /* (out of memory: it is not in the table) */
		return;
	}
	/* the kernel numbers the new id's bytes from 0 */
	c->pos[SONDE_DIR_RECV] = c->pos[SONDE_DIR_SEND] = (struct stream_pos){ 0, true };
	c->last_ns = e->hdr.ts_ns;
	t->rejoined++;
}

void conns_on_open(struct conns *t, const struct sonde_conn_event *e)
{
	struct conn *c;

	conns_tick(t, e->hdr.ts_ns);
	c = hashmap_get(&t->by_id, e->conn_id) ? NULL : linger_find(t, e);
	if (c) {
		linger_rejoin(t, c, e);
		return;
	}
	/* Ids are never reused: an entry with this id already holds the connection's first
	 * data, which another CPU wrote into the ring before this record. */
	c = conn_get(t, e->conn_id, e->hdr.tgid);
	if (!c)
		return;
	format_addr(&c->peer, e);
	stream_pos_open(&c->pos[SONDE_DIR_RECV]);
	stream_pos_open(&c->pos[SONDE_DIR_SEND]);
	c->last_ns = e->hdr.ts_ns;
}

/* Hands bytes to the connection's parser, in the stream their direction means. */
static void conn_feed(struct conns *t, struct conn *c, uint8_t dir, uint64_t ts,
		      const uint8_t *data, size_t cap, size_t len)
{
	struct proto_sink out = { t->obs, &c->peer };
	struct proto_counts n;

	c->ops->feed(c->parser, dir == SONDE_DIR_RECV, ts, data, cap, len, &out);
	report_errors(t, c, &n);
}

/* Which parser a connection needs, from the protocol of its first bytes and whether this
 * process read or wrote them; NULL: none (the connection is ignored). *fate: where its
 * bytes go. */
static const struct proto_ops *decide(struct conns *t, enum proto_kind k, bool recv, uint8_t *fate)
{
	switch (k) {
	case PROTO_HTTP1_REQUEST:
		*fate = FATE_PARSED_HTTP;
		return recv ? &proto_http_server : &proto_http_client;
	case PROTO_HTTP1_RESPONSE: /* joined mid-stream */
		*fate = FATE_PARSED_HTTP;
		return recv ? &proto_http_client : &proto_http_server;
	case PROTO_PG_STARTUP:
	case PROTO_PG_SSLREQUEST:
	case PROTO_PG_GSSENCREQUEST:
	case PROTO_PG_MESSAGE: /* joined mid-stream */
		/* Only the client side is parsed: a PostgreSQL server process reads these. */
		*fate = recv ? FATE_UNPARSED_DB_SERVER : FATE_PARSED_POSTGRESQL;
		return recv ? NULL : &proto_pg_client;
	case PROTO_REDIS_COMMAND:
	case PROTO_REDIS_INLINE:
		*fate = recv ? FATE_UNPARSED_DB_SERVER : FATE_PARSED_REDIS;
		return recv ? NULL : &proto_redis_client;
	case PROTO_HTTP2_PREFACE:
		observe_unsupported(t->obs, "http2");
		*fate = FATE_UNPARSED_HTTP2;
		return NULL;
	case PROTO_TLS:
		observe_unsupported(t->obs, "tls");
		*fate = FATE_UNPARSED_TLS;
		return NULL;
	case PROTO_UNKNOWN: /* no parser knows these bytes: say so, never drop them silently */
		observe_unsupported(t->obs, "unknown");
		*fate = FATE_UNPARSED_UNKNOWN;
		return NULL;
	default:
		*fate = FATE_UNPARSED_UNKNOWN;
		return NULL;
	}
}

/* c's bytes go unparsed (fate) from now on, and the kernel stops sending them. A hint that
 * takes the slot of another connection still ignored is counted: that one's I/O comes
 * again (still unparsed). */
static void conn_ignore(struct conns *t, struct conn *c, uint8_t fate)
{
	struct conn *prev_c;
	uint64_t prev;

	c->state = CONN_IGNORED;
	c->fate = fate;
	/* held first bytes: undecided no more */
	if (c->head_len && !c->plaintext)
		account(t, fate, c->head_dir, c->head_len);
	c->head_len = 0;
	kctl_ignore_conn(t->kctl, c->id, &prev);
	if (prev && prev != c->id && (prev_c = hashmap_get(&t->by_id, prev)) &&
	    prev_c->state == CONN_IGNORED)
		t->hints_displaced++;
}

/* A TLS record header (RFC 8446 5.1: change_cipher_spec, alert, handshake, application
 * data; legacy version 3.x): a connection joined mid-stream shows one of these. */
static bool tls_record(const uint8_t *p, size_t n)
{
	return n >= 3 && p[0] >= 20 && p[0] <= 23 && p[1] == 3 && p[2] <= 4;
}

/* TLS in a process whose TLS library is probed: its plaintext will come from the probes, so
 * the connection is neither parsed nor ignored (the kernel would drop the plaintext too). */
static bool conn_await_plaintext(struct conns *t, struct conn *c, enum proto_kind k,
				 const uint8_t *p, size_t n)
{
	if ((k != PROTO_TLS && !tls_record(p, n)) || !kctl_tls_probed(t->kctl, c->tgid))
		return false;
	c->state = CONN_TLS;
	c->fate = FATE_UNPARSED_TLS;
	if (c->head_len && !c->plaintext)
		account(t, FATE_UNPARSED_TLS, c->head_dir, c->head_len);
	c->head_len = 0;
	return true;
}

/* An HTTP/2 SETTINGS frame on stream 0 (RFC 9113 6.5): the server's connection preface,
 * which a server written in plaintext through TLS (ALPN h2) sends before it reads the
 * client's "PRI * HTTP/2.0". Looked for only in TLS plaintext: there ALPN made it h2. */
static bool h2_server_preface(const uint8_t *p, size_t n)
{
	uint32_t len;

	if (n < 9 || p[3] != 0x04 || p[4] != 0 || p[5] || p[6] || p[7] || p[8])
		return false;
	len = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	return len % 6 == 0 && len <= 16384;
}

/* Holds the first bytes of a connection while the classifier needs more of them. */
static bool conn_hold(struct conn *c, const struct sonde_data_event *e)
{
	size_t n = c->head_len;

	if (e->cap_len < e->len || n + e->cap_len >= sizeof(c->head))
		return false;
	if (!n) {
		c->head_dir = e->dir;
		c->head_ts = e->hdr.ts_ns;
	}
	memcpy(c->head + n, e->data, e->cap_len);
	c->head_len = n + e->cap_len;
	return true;
}

/*
 * Classifies a new connection from its first bytes, which may arrive a byte per read: they
 * are held in c->head until the classifier decides, then replayed into the parser with the
 * timestamp of the first of them. Returns true when e's bytes are to be fed now.
 */
static bool conn_classify(struct conns *t, struct conn *c, const struct sonde_data_event *e)
{
	uint8_t buf[CONN_HEAD_MAX];
	size_t n = c->head_len, take;
	bool need_more = false;
	enum proto_kind k;
	uint8_t fate;

	if (n && e->dir != c->head_dir) {
		observe_unsupported(t->obs, "unknown");
		/* both sides spoke before we could tell: give up */
		conn_ignore(t, c, FATE_UNPARSED_UNKNOWN);
		return false;
	}
	memcpy(buf, c->head, n);
	take = e->cap_len < sizeof(buf) - n ? e->cap_len : sizeof(buf) - n;
	memcpy(buf + n, e->data, take);
	k = proto_classify(buf, n + take, &need_more);
	if (k == PROTO_UNKNOWN && need_more && conn_hold(c, e))
		return false;
	if (conn_await_plaintext(t, c, k, buf, n + take))
		return false;
	if (k == PROTO_UNKNOWN && c->plaintext && h2_server_preface(buf, n + take))
		k = PROTO_HTTP2_PREFACE;
	c->ops = decide(t, k, e->dir == SONDE_DIR_RECV, &fate);
	c->parser = c->ops ? c->ops->create() : NULL;
	if (!c->parser) {
		conn_ignore(t, c, c->ops ? FATE_UNPARSED_NO_MEMORY : fate);
		return false;
	}
	c->state = CONN_PARSED;
	c->fate = fate;
	if (k == PROTO_HTTP1_REQUEST || k == PROTO_HTTP1_RESPONSE)
		c->ops->starts(c->parser, e->dir == SONDE_DIR_RECV);
	if (n) {
		conn_feed(t, c, c->head_dir, c->head_ts, c->head, n, n);
		if (!c->plaintext)
			account(t, fate, c->head_dir, n);
	}
	c->head_len = 0;
	return true;
}

/*
 * The first plaintext of a connection starts it over, classified from the plaintext:
 * whatever its socket bytes made of it (TLS records, or a PostgreSQL client parser stopped
 * at the server's 'S' to an SSLRequest) ends here, and its ciphertext is dropped from now
 * on (records still in the ring, and any I/O outside the probed calls).
 */
static void conn_start_plaintext(struct conns *t, struct conn *c)
{
	struct proto_counts n;

	if (c->state == CONN_PARSED) {
		report_errors(t, c, &n);
		c->ops->destroy(c->parser);
	}
	c->ops = NULL;
	c->parser = NULL;
	c->state = CONN_NEW;
	/* socket bytes held undecided: the ciphertext's first bytes */
	if (c->head_len && !c->plaintext)
		account(t, FATE_UNPARSED_TLS, c->head_dir, c->head_len);
	c->head_len = 0;
	c->plaintext = true;
	c->peer.tls = true;
	memset(&c->peer.cache, 0, sizeof(c->peer.cache)); /* its series were url_scheme http */
}

/* Whether e carries TLS plaintext from the probes (else: socket bytes). */
static bool record_plaintext(const struct sonde_data_event *e)
{
	return e->source == SONDE_SRC_OPENSSL || e->source == SONDE_SRC_GO_TLS;
}

/* Whether e's bytes are to be looked at: plaintext, or socket bytes of a plain connection. */
static bool conn_wants(struct conns *t, struct conn *c, const struct sonde_data_event *e)
{
	bool plain = record_plaintext(e);

	if (c->state == CONN_IGNORED)
		return false; /* records already in the ring when the kernel was told */
	if (!plain)
		return !c->plaintext && c->state != CONN_TLS;
	if (!c->plaintext)
		conn_start_plaintext(t, c);
	return true;
}

/* Only socket records are numbered (TLS plaintext is a stream of its own): the bytes of e
 * not seen before, after counting those that never arrived before it. */
static uint64_t conn_take(struct conns *t, struct conn *c, const struct sonde_data_event *e)
{
	struct stream_step st;

	if (record_plaintext(e))
		return 0;
	st = stream_pos_step(&c->pos[e->dir & 1], e->seq, e->len);
	if (st.missing) {
		t->gaps++;
		account_missing(t, socket_fate(c), e->dir, st.missing);
	}
	return st.fresh;
}

void conns_on_data(struct conns *t, const struct sonde_data_event *e)
{
	struct conn *c;
	struct proto_sink out;
	uint64_t fresh;

	conns_tick(t, e->hdr.ts_ns);
	c = conn_get(t, e->conn_id, e->hdr.tgid);
	if (!c)
		return;
	c->last_ns = e->hdr.ts_ns;
	fresh = conn_take(t, c, e);
	if (!conn_wants(t, c, e)) {
		account(t, socket_fate(c), e->dir, fresh);
		return;
	}
	if (e->len == 0) {
		if (c->state == CONN_PARSED) {
			out = (struct proto_sink){ t->obs, &c->peer };
			c->ops->eof(c->parser, e->hdr.ts_ns, &out);
		}
		return;
	}
	if (c->state == CONN_NEW && !conn_classify(t, c, e)) {
		/* held undecided (counted when decided), or its connection now unparsed */
		if (c->state != CONN_NEW && fresh && !record_plaintext(e))
			account(t, socket_fate(c), e->dir, fresh);
		return;
	}
	conn_feed(t, c, e->dir, e->hdr.ts_ns, e->data, e->cap_len, e->len);
	if (fresh)
		account(t, socket_fate(c), e->dir, fresh);
}

/* The close of a connection not in the table: forgotten while idle (its offsets were
 * kept), or never heard of (every record of it was lost): what is left is counted. */
static void close_unknown(struct conns *t, const struct sonde_conn_event *e)
{
	struct conn_tomb *tomb = hashmap_del(&t->expired, e->conn_id);

	for (int d = 0; d < 2; d++) {
		uint64_t from = tomb ? tomb->next[d] : 0;

		if (e->off[d] > from)
			account_missing(t, tomb ? tomb->fate : FATE_LOST_RINGBUF, d,
					e->off[d] - from);
	}
	free(tomb);
}

void conns_on_close(struct conns *t, const struct sonde_conn_event *e)
{
	struct conn *c;

	conns_tick(t, e->hdr.ts_ns);
	c = hashmap_get(&t->by_id, e->conn_id);
	if (!c) {
		close_unknown(t, e);
		return;
	}
	/* Bytes after its last record that never came: a lost tail (unparsed if ignored). */
	for (int d = 0; d < 2; d++)
		account_missing(t, socket_fate(c), d, stream_pos_end(&c->pos[d], e->off[d]));
	if (c->closed_ns) { /* a rejoined late id closing too: what it held has come */
		conn_end(t, c, c->closed_ns);
		return;
	}
	if (c->state != CONN_PARSED || !c->ops->pending || !c->ops->pending(c->parser)) {
		conn_end(t, c, e->hdr.ts_ns);
		return;
	}
	c->closed_ns = e->hdr.ts_ns ? e->hdr.ts_ns : 1;
	c->last_ns = e->hdr.ts_ns;
	c->linger_prev = t->linger_tail;
	*(t->linger_tail ? &t->linger_tail->linger_next : &t->linger_head) = c;
	t->linger_tail = c;
}

/* Keeps the offsets of c, forgotten while idle: if it speaks again, or its close comes,
 * its bytes are counted from there, not from 0 again. At most CONN_TOMB_MAX are kept (then
 * one that comes back counts its earlier bytes as lost a second time). */
static void conn_bury(struct conns *t, const struct conn *c)
{
	struct conn_tomb *tomb;

	if (t->expired.len >= CONN_TOMB_MAX || !(tomb = malloc(sizeof(*tomb))))
		return;
	tomb->next[0] = c->pos[0].next;
	tomb->next[1] = c->pos[1].next;
	tomb->last_ns = c->last_ns;
	tomb->fate = socket_fate(c);
	if (hashmap_put(&t->expired, c->id, tomb))
		free(tomb);
}

static void tombs_expire(struct conns *t, uint64_t now_ns)
{
	for (size_t i = 0; i < t->expired.cap; i++) {
		struct conn_tomb *tomb = t->expired.vals[i];

		if (!tomb || now_ns - tomb->last_ns < CONN_TOMB_NS)
			continue;
		hashmap_del(&t->expired, t->expired.keys[i]);
		free(tomb);
		i--; /* backward-shift deletion may have moved an entry into slot i */
	}
}

void conns_expire(struct conns *t, uint64_t now_ns, uint64_t idle_ns)
{
	conns_tick(t, now_ns);
	tombs_expire(t, now_ns);
	for (size_t i = 0; i < t->by_id.cap; i++) {
		struct conn *c = t->by_id.vals[i];

		if (!c || now_ns - c->last_ns < idle_ns)
			continue;
		hashmap_del(&t->by_id, c->id);
		conn_bury(t, c);
		conn_free(t, c);
		i--; /* backward-shift deletion may have moved an entry into slot i */
	}
}
