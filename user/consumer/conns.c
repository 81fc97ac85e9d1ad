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

int conns_init(struct conns *t, const struct observer *obs, const struct procs *procs,
	       const struct kernel_ctl *kctl)
{
	memset(t, 0, sizeof(*t));
	t->obs = obs;
	t->procs = procs;
	t->kctl = kctl;
	return hashmap_init(&t->by_id, 1024);
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
 * process read or wrote them; NULL: none (the connection is ignored). */
static const struct proto_ops *decide(struct conns *t, enum proto_kind k, bool recv)
{
	switch (k) {
	case PROTO_HTTP1_REQUEST:
		return recv ? &proto_http_server : &proto_http_client;
	case PROTO_HTTP1_RESPONSE: /* joined mid-stream */
		return recv ? &proto_http_client : &proto_http_server;
	case PROTO_PG_STARTUP:
	case PROTO_PG_SSLREQUEST:
	case PROTO_PG_GSSENCREQUEST:
	case PROTO_PG_MESSAGE: /* joined mid-stream */
		/* Only the client side is parsed: a PostgreSQL server process reads these. */
		return recv ? NULL : &proto_pg_client;
	case PROTO_REDIS_COMMAND:
	case PROTO_REDIS_INLINE:
		return recv ? NULL : &proto_redis_client;
	case PROTO_HTTP2_PREFACE:
		observe_unsupported(t->obs, "http2");
		return NULL;
	case PROTO_TLS:
		observe_unsupported(t->obs, "tls");
		return NULL;
	case PROTO_UNKNOWN: /* no parser knows these bytes: say so, never drop them silently */
		observe_unsupported(t->obs, "unknown");
		return NULL;
	default:
		return NULL;
	}
}

static void conn_ignore(struct conns *t, struct conn *c)
{
	c->state = CONN_IGNORED;
	kctl_ignore_conn(t->kctl, c->id);
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

	if (n && e->dir != c->head_dir) {
		observe_unsupported(t->obs, "unknown");
		conn_ignore(t, c); /* both sides spoke before we could tell: give up */
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
	c->ops = decide(t, k, e->dir == SONDE_DIR_RECV);
	c->parser = c->ops ? c->ops->create() : NULL;
	if (!c->parser) {
		conn_ignore(t, c);
		return false;
	}
	c->state = CONN_PARSED;
	if (k == PROTO_HTTP1_REQUEST || k == PROTO_HTTP1_RESPONSE)
		c->ops->starts(c->parser, e->dir == SONDE_DIR_RECV);
	if (n)
		conn_feed(t, c, c->head_dir, c->head_ts, c->head, n, n);
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

void conns_on_data(struct conns *t, const struct sonde_data_event *e)
{
	struct conn *c;
	struct proto_sink out;

	conns_tick(t, e->hdr.ts_ns);
	c = conn_get(t, e->conn_id, e->hdr.tgid);
	if (!c)
		return;
	c->last_ns = e->hdr.ts_ns;
	/* Only socket records are numbered (TLS plaintext is a stream of its own). */
	if (!record_plaintext(e) && stream_pos_take(&c->pos[e->dir & 1], e->seq, e->len))
		t->gaps++;
	if (!conn_wants(t, c, e))
		return;
	if (e->len == 0) {
		if (c->state == CONN_PARSED) {
			out = (struct proto_sink){ t->obs, &c->peer };
			c->ops->eof(c->parser, e->hdr.ts_ns, &out);
		}
		return;
	}
	if (c->state == CONN_NEW && !conn_classify(t, c, e))
		return;
	conn_feed(t, c, e->dir, e->hdr.ts_ns, e->data, e->cap_len, e->len);
}

void conns_on_close(struct conns *t, const struct sonde_conn_event *e)
{
	struct conn *c;

	conns_tick(t, e->hdr.ts_ns);
	c = hashmap_get(&t->by_id, e->conn_id);
	if (!c)
		return;
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

void conns_expire(struct conns *t, uint64_t now_ns, uint64_t idle_ns)
{
	conns_tick(t, now_ns);
	for (size_t i = 0; i < t->by_id.cap; i++) {
		struct conn *c = t->by_id.vals[i];

		if (!c || now_ns - c->last_ns < idle_ns)
			continue;
		hashmap_del(&t->by_id, c->id);
		conn_free(t, c);
		i--; /* backward-shift deletion may have moved an entry into slot i */
	}
}
