// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "metrics/business.h"
#include "util/log.h"
#include "consumer/pipeline.h"
#include "procs/procs.h"
#include "proto/classify.h"
#include "proto/http1.h"
#include "proto/postgres.h"
#include "proto/redis.h"
#include "metrics/route.h"
#include "sonde_abi.h"
#include "metrics/telemetry.h"

/* What a connection turned out to be, decided from its first bytes and their direction. */
enum conn_kind {
	CONN_NEW = 0,
	CONN_HTTP_SERVER,
	CONN_HTTP_CLIENT,
	CONN_PG_CLIENT,
	CONN_REDIS_CLIENT,
	CONN_IGNORED,
};

#define CONN_HEAD_MAX 64

struct conn {
	uint64_t id;
	uint32_t tgid;
	enum conn_kind kind;
	uint64_t last_ns;
	char peer_addr[INET6_ADDRSTRLEN + 64]; /* IP (v4-mapped shown as IPv4) or Unix path */
	char local_port[8], peer_port[8];
	/* first bytes while the protocol is still undecided (one byte per read) */
	uint8_t head[CONN_HEAD_MAX];
	uint32_t head_len;
	uint8_t head_dir;
	uint64_t head_ts;
	uint64_t errors_reported;
	char service[128]; /* service_name, kept: the process may exit before its last reply */
	union {
		struct http1_conn *http;
		struct pg_conn *pg;
		struct redis_conn *redis;
	} parser;
};

int pipeline_init(struct pipeline *p, struct procs *procs, struct telemetry *tel,
		  struct route_table *routes, struct business *biz)
{
	memset(p, 0, sizeof(*p));
	p->procs = procs;
	p->tel = tel;
	p->routes = routes;
	p->biz = biz;
	return hashmap_init(&p->conns, 1024);
}

static const char *conn_protocol(const struct conn *c)
{
	switch (c->kind) {
	case CONN_HTTP_SERVER:
	case CONN_HTTP_CLIENT:
		return "http";
	case CONN_PG_CLIENT:
		return "postgresql";
	case CONN_REDIS_CLIENT:
		return "redis";
	default:
		return "none";
	}
}

static uint64_t conn_parse_errors(const struct conn *c)
{
	switch (c->kind) {
	case CONN_HTTP_SERVER:
	case CONN_HTTP_CLIENT:
		return http1_conn_stats(c->parser.http)->parse_errors;
	case CONN_PG_CLIENT:
		return pg_conn_stats(c->parser.pg)->parse_errors;
	case CONN_REDIS_CLIENT:
		return redis_conn_stats(c->parser.redis)->parse_errors;
	default:
		return 0;
	}
}

/* Parse errors show up in sonde_parse_errors_total as they happen, not at close. */
static void report_errors(struct pipeline *p, struct conn *c)
{
	uint64_t n = conn_parse_errors(c);

	if (n > c->errors_reported) {
		telemetry_parse_error(p->tel, conn_protocol(c), n - c->errors_reported);
		c->errors_reported = n;
	}
}

static void conn_free(struct pipeline *p, struct conn *c)
{
	report_errors(p, c);
	switch (c->kind) {
	case CONN_HTTP_SERVER:
	case CONN_HTTP_CLIENT:
		telemetry_unanswered(p->tel, "http", http1_conn_stats(c->parser.http)->unanswered);
		http1_conn_free(c->parser.http);
		break;
	case CONN_PG_CLIENT:
		pg_conn_free(c->parser.pg);
		break;
	case CONN_REDIS_CLIENT:
		redis_conn_free(c->parser.redis);
		break;
	default:
		break;
	}
	free(c);
}

void pipeline_free(struct pipeline *p)
{
	for (size_t i = 0; i < p->conns.cap; i++)
		if (p->conns.vals[i])
			conn_free(p, p->conns.vals[i]);
	hashmap_free(&p->conns);
}

static void format_addr(struct conn *c, const struct sonde_conn_event *e)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (e->family == AF_UNIX) {
		snprintf(c->peer_addr, sizeof(c->peer_addr), "%s", e->unix_path);
		c->local_port[0] = c->peer_port[0] = '\0';
		return;
	}
	/* Go listens on [::]: IPv4 peers arrive v4-mapped; show them as IPv4. */
	if (!memcmp(e->peer.addr, v4mapped, sizeof(v4mapped)))
		inet_ntop(AF_INET, &e->peer.addr[12], c->peer_addr, sizeof(c->peer_addr));
	else
		inet_ntop(AF_INET6, e->peer.addr, c->peer_addr, sizeof(c->peer_addr));
	snprintf(c->local_port, sizeof(c->local_port), "%u", e->local.port);
	snprintf(c->peer_port, sizeof(c->peer_port), "%u", e->peer.port);
}

static const char *service_of(struct pipeline *p, uint32_t tgid)
{
	const struct proc *pr = procs_get(p->procs, tgid);

	return pr ? pr->service : "unknown";
}

static struct conn *conn_get(struct pipeline *p, uint64_t id, uint32_t tgid, bool create)
{
	struct conn *c = hashmap_get(&p->conns, id);

	if (c || !create)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c || hashmap_put(&p->conns, id, c)) {
		free(c);
		return NULL;
	}
	c->id = id;
	c->tgid = tgid;
	snprintf(c->service, sizeof(c->service), "%s", service_of(p, tgid));
	return c;
}

static void on_conn_open(struct pipeline *p, const struct sonde_conn_event *e)
{
	struct conn *c = hashmap_get(&p->conns, e->cookie);

	/* A stale entry with the same id (a reused sock address on the syscall path, or a
	 * close we never saw) is a finished connection: start over. */
	if (c) {
		hashmap_del(&p->conns, e->cookie);
		conn_free(p, c);
	}
	c = conn_get(p, e->cookie, e->hdr.tgid, true);
	if (!c)
		return;
	format_addr(c, e);
	c->last_ns = e->hdr.ts_ns;
}

struct emit_ctx {
	struct pipeline *p;
	struct conn *c;
};

static void emit_http(void *ctx, const struct http1_exchange *ex)
{
	struct emit_ctx *e = ctx;
	struct conn *c = e->c;
	char status[8], route[ROUTE_MAX];
	struct http_labels l = {
		.method = http_method_label(ex->method),
		.status = status,
		.service = c->service,
	};

	snprintf(status, sizeof(status), "%u", ex->status);
	if (c->kind == CONN_HTTP_SERVER) {
		route_template(e->p->routes, l.service, ex->target, route, sizeof(route));
		l.route = route;
		l.server_port = c->local_port;
		telemetry_http_server(e->p->tel, &l, (ex->resp_last_ns - ex->req_first_ns) / 1e9,
				      ex->req_body_bytes, ex->resp_body_bytes);
		business_observe(e->p->biz, l.method, route, ex->status, l.service);
	} else {
		l.server_address = c->peer_addr;
		l.server_port = c->peer_port;
		telemetry_http_client(e->p->tel, &l, (ex->resp_first_ns - ex->req_first_ns) / 1e9,
				      ex->req_body_bytes, ex->resp_body_bytes);
	}
}

static void emit_db(void *ctx, const struct db_op *op)
{
	struct emit_ctx *e = ctx;
	struct conn *c = e->c;
	struct db_labels l = {
		.system = c->kind == CONN_PG_CLIENT ? "postgresql" : "redis",
		.operation = op->operation,
		.error_type = op->error_type,
		.server_address = c->peer_addr,
		.server_port = c->peer_port,
		.service = c->service,
	};

	telemetry_db(e->p->tel, &l, (op->end_ns - op->start_ns) / 1e9);
}

/* Hands bytes to the connection's parser, in the stream their direction means. */
static void conn_feed(struct pipeline *p, struct conn *c, uint8_t dir, uint64_t ts,
		      const uint8_t *data, size_t cap, size_t len)
{
	struct emit_ctx ctx = { p, c };
	bool recv = dir == SONDE_DIR_RECV;

	switch (c->kind) {
	case CONN_HTTP_SERVER:
		http1_feed(c->parser.http, recv ? HTTP1_REQUESTS : HTTP1_RESPONSES, ts, data, cap,
			   len, emit_http, &ctx);
		break;
	case CONN_HTTP_CLIENT:
		http1_feed(c->parser.http, recv ? HTTP1_RESPONSES : HTTP1_REQUESTS, ts, data, cap,
			   len, emit_http, &ctx);
		break;
	case CONN_PG_CLIENT:
		pg_feed(c->parser.pg, recv ? PG_BACKEND : PG_FRONTEND, ts, data, cap, len, emit_db,
			&ctx);
		break;
	case CONN_REDIS_CLIENT:
		redis_feed(c->parser.redis, recv ? REDIS_REPLIES : REDIS_REQUESTS, ts, data, cap,
			   len, emit_db, &ctx);
		break;
	default:
		return;
	}
	report_errors(p, c);
}

/* Which parser a connection needs, from the protocol of its first bytes and whether this
 * process read or wrote them. */
static enum conn_kind decide(struct pipeline *p, enum proto_kind k, bool recv)
{
	switch (k) {
	case PROTO_HTTP1_REQUEST:
		return recv ? CONN_HTTP_SERVER : CONN_HTTP_CLIENT;
	case PROTO_HTTP1_RESPONSE: /* joined mid-stream */
		return recv ? CONN_HTTP_CLIENT : CONN_HTTP_SERVER;
	case PROTO_PG_STARTUP:
	case PROTO_PG_SSLREQUEST:
	case PROTO_PG_GSSENCREQUEST:
	case PROTO_PG_MESSAGE: /* joined mid-stream */
		/* Only the client side is parsed: a PostgreSQL server process reads these. */
		return recv ? CONN_IGNORED : CONN_PG_CLIENT;
	case PROTO_REDIS_COMMAND:
	case PROTO_REDIS_INLINE:
		return recv ? CONN_IGNORED : CONN_REDIS_CLIENT;
	case PROTO_HTTP2_PREFACE:
		telemetry_unsupported(p->tel, "http2");
		return CONN_IGNORED;
	case PROTO_TLS:
		telemetry_unsupported(p->tel, "tls");
		return CONN_IGNORED;
	default:
		return CONN_IGNORED;
	}
}

static int conn_start(struct conn *c, enum conn_kind kind)
{
	c->kind = kind;
	switch (kind) {
	case CONN_HTTP_SERVER:
	case CONN_HTTP_CLIENT:
		c->parser.http = http1_conn_new();
		return c->parser.http ? 0 : -ENOMEM;
	case CONN_PG_CLIENT:
		c->parser.pg = pg_conn_new();
		return c->parser.pg ? 0 : -ENOMEM;
	case CONN_REDIS_CLIENT:
		c->parser.redis = redis_conn_new();
		return c->parser.redis ? 0 : -ENOMEM;
	default:
		return 0;
	}
}

/*
 * Classifies a new connection from its first bytes, which may arrive a byte per read: they
 * are held in c->head until the classifier decides, then replayed into the parser with the
 * timestamp of the first of them.
 */
static bool conn_classify(struct pipeline *p, struct conn *c, const struct sonde_data_event *e)
{
	uint8_t buf[CONN_HEAD_MAX];
	size_t n = c->head_len, take;
	bool need_more = false, gap = e->cap_len < e->len;
	enum proto_kind k;

	if (n && e->dir != c->head_dir) {
		c->kind = CONN_IGNORED; /* both sides spoke before we could tell: give up */
		return false;
	}
	memcpy(buf, c->head, n);
	take = e->cap_len < sizeof(buf) - n ? e->cap_len : sizeof(buf) - n;
	memcpy(buf + n, e->data, take);
	k = proto_classify(buf, n + take, &need_more);
	if (k == PROTO_UNKNOWN && need_more && !gap && n + e->cap_len < sizeof(c->head)) {
		if (!n) {
			c->head_dir = e->dir;
			c->head_ts = e->hdr.ts_ns;
		}
		memcpy(c->head + n, e->data, e->cap_len);
		c->head_len = n + e->cap_len;
		return false;
	}
	if (conn_start(c, decide(p, k, e->dir == SONDE_DIR_RECV))) {
		c->kind = CONN_IGNORED;
		return false;
	}
	/* The classifier saw a message start here: let the framer take a non-standard
	 * method (PROPFIND, PURGE) as one, which it would not when resynchronising. */
	if (k == PROTO_HTTP1_REQUEST)
		http1_assume_start(c->parser.http, HTTP1_REQUESTS);
	else if (k == PROTO_HTTP1_RESPONSE)
		http1_assume_start(c->parser.http, HTTP1_RESPONSES);
	if (n)
		conn_feed(p, c, c->head_dir, c->head_ts, c->head, n, n);
	c->head_len = 0;
	return c->kind != CONN_IGNORED;
}

static void conn_ignore(struct pipeline *p, struct conn *c)
{
	if (p->ignore_conn)
		p->ignore_conn(p->ignore_ctx, c->id);
}

static void on_data(struct pipeline *p, const struct sonde_data_event *e)
{
	struct conn *c = conn_get(p, e->cookie, e->hdr.tgid, true);

	if (!c)
		return;
	c->last_ns = e->hdr.ts_ns;
	if (c->kind == CONN_IGNORED)
		return; /* events already in the ring when the kernel was told */
	if (e->len == 0) {
		/* EOF on a client's read ends a response delimited by close. On a server it
		 * is the client's half-close: the response may still be coming. */
		if (c->kind == CONN_HTTP_CLIENT) {
			struct emit_ctx ctx = { p, c };

			http1_close(c->parser.http, e->hdr.ts_ns, emit_http, &ctx);
		}
		return;
	}
	if (c->kind == CONN_NEW && !conn_classify(p, c, e)) {
		if (c->kind == CONN_IGNORED)
			conn_ignore(p, c);
		return;
	}
	conn_feed(p, c, e->dir, e->hdr.ts_ns, e->data, e->cap_len, e->len);
}

static void on_conn_close(struct pipeline *p, const struct sonde_conn_event *e)
{
	struct conn *c = hashmap_del(&p->conns, e->cookie);

	if (!c)
		return;
	if (c->kind == CONN_HTTP_SERVER || c->kind == CONN_HTTP_CLIENT) {
		struct emit_ctx ctx = { p, c };

		http1_close(c->parser.http, e->hdr.ts_ns, emit_http, &ctx);
	}
	conn_free(p, c);
}

static const char *const event_names[] = {
	[SONDE_EV_DATA] = "data",
	[SONDE_EV_CONN_OPEN] = "conn_open",
	[SONDE_EV_CONN_CLOSE] = "conn_close",
	[SONDE_EV_PROC_FORK] = "proc_fork",
	[SONDE_EV_PROC_EXEC] = "proc_exec",
	[SONDE_EV_PROC_EXIT] = "proc_exit",
	[SONDE_EV_LISTEN] = "listen",
};

const char *pipeline_event_name(unsigned type)
{
	return type < sizeof(event_names) / sizeof(event_names[0]) ? event_names[type] : NULL;
}

static size_t min_size(uint16_t type)
{
	switch (type) {
	case SONDE_EV_DATA:
		return sizeof(struct sonde_data_event);
	case SONDE_EV_CONN_OPEN:
	case SONDE_EV_CONN_CLOSE:
		return sizeof(struct sonde_conn_event);
	case SONDE_EV_PROC_FORK:
	case SONDE_EV_PROC_EXEC:
	case SONDE_EV_PROC_EXIT:
		return sizeof(struct sonde_proc_event);
	case SONDE_EV_LISTEN:
		return sizeof(struct sonde_listen_event);
	default:
		return SIZE_MAX;
	}
}

int pipeline_on_event(void *ctx, const void *data, size_t size)
{
	struct pipeline *p = ctx;
	const struct sonde_event_hdr *h = data;

	if (size < sizeof(*h) || h->abi != SONDE_ABI_VERSION || size < min_size(h->type)) {
		p->bad_records++;
		return 0;
	}
	if (h->type == SONDE_EV_DATA &&
	    size < sizeof(struct sonde_data_event) +
			    ((const struct sonde_data_event *)data)->cap_len) {
		p->bad_records++;
		return 0;
	}
	/* Counted here, published once a second: a labelled counter per event would cost a
	 * hash lookup and a lock on the hottest path. */
	p->events++;
	p->by_type[h->type]++;
	switch (h->type) {
	case SONDE_EV_DATA:
		on_data(p, data);
		break;
	case SONDE_EV_CONN_OPEN:
		on_conn_open(p, data);
		break;
	case SONDE_EV_CONN_CLOSE:
		on_conn_close(p, data);
		break;
	case SONDE_EV_PROC_FORK:
		procs_on_fork(p->procs, h->tgid, ((const struct sonde_proc_event *)data)->ppid);
		break;
	case SONDE_EV_PROC_EXEC:
		procs_on_exec(p->procs, h->tgid, ((const struct sonde_proc_event *)data)->comm);
		break;
	case SONDE_EV_PROC_EXIT:
		procs_on_exit(p->procs, h->tgid);
		break;
	case SONDE_EV_LISTEN:
		procs_on_listen(p->procs, h->tgid, ((const struct sonde_listen_event *)data)->port);
		break;
	}
	return 0;
}

void pipeline_expire(struct pipeline *p, uint64_t now_ns, uint64_t idle_ns)
{
	for (size_t i = 0; i < p->conns.cap; i++) {
		struct conn *c = p->conns.vals[i];

		if (!c || now_ns - c->last_ns < idle_ns)
			continue;
		hashmap_del(&p->conns, c->id);
		conn_free(p, c);
		i--; /* backward-shift deletion may have moved an entry into slot i */
	}
}
