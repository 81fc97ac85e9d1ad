// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
#include <string.h>

#include "events/events.h"
#include "metrics/business.h"
#include "metrics/observe.h"
#include "metrics/route.h"
#include "metrics/telemetry.h"
#include "proto/db_op.h"
#include "proto/http1.h"
#include "util/wallclock.h"

enum { OBS_HTTP = 1, OBS_DB };

_Static_assert(sizeof(((struct obs_db_slot *)0)->operation) >=
			       sizeof(((struct db_op *)0)->operation) &&
		       sizeof(((struct obs_db_slot *)0)->error_type) >=
			       sizeof(((struct db_op *)0)->error_type),
	       "a db_op's names fit a cache slot");

/* The slots of c, emptied when they held the other kind. */
static void cache_kind(struct obs_cache *c, uint8_t kind, uint32_t gen)
{
	/* gen moves when series were removed (telemetry_remove_service): handles are stale */
	if (c->kind == kind && c->gen == gen)
		return;
	c->gen = gen;
	memset(c->http, 0, sizeof(c->http) > sizeof(c->db) ? sizeof(c->http) : sizeof(c->db));
	c->kind = kind;
	c->next = 0;
}

/* The series of one exchange's label set: from the connection's cache, else looked up by
 * label strings and cached. NULL when the series cap refused the set. */
static struct series **http_series(const struct observer *o, struct conn_peer *p, bool server,
				   unsigned method, unsigned status, uint32_t route)
{
	struct obs_cache *c = &p->cache;
	uint64_t key = 1ULL << 63 | (uint64_t)server << 62 | (uint64_t)method << 48 |
		       (uint64_t)(status & 0xffff) << 32 | route;
	struct obs_http_slot *slot;
	char status_buf[HTTP_STATUS_LEN];
	struct http_labels l = { .service = p->service,
				 .scheme = p->tls ? "https" : "http",
				 .ctx = &p->ctx };

	cache_kind(c, OBS_HTTP, o->tel->generation);
	for (unsigned i = 0; i < OBS_HTTP_SLOTS; i++)
		if (c->http[i].key == key)
			return c->http[i].s;
	/* a miss: the label strings, for the registry */
	l.method = http_method_name(method);
	l.status = http_status_label(status, status_buf);
	if (server) {
		l.route = route_text(o->routes, route);
		l.server_port = p->local_port;
	} else {
		l.server_address = p->address;
		l.server_port = p->peer_port;
	}
	slot = &c->http[c->next];
	c->next = (c->next + 1) % OBS_HTTP_SLOTS;
	slot->key = 0;
	if (!telemetry_http_series(o->tel, server, &l, slot->s))
		return NULL;
	slot->key = key;
	return slot->s;
}

void observe_http(const struct observer *o, struct conn_peer *peer, bool server,
		  const struct http1_exchange *ex)
{
	struct obs_cache *c = &peer->cache;
	unsigned method = http_method_id(ex->method);
	uint32_t route = ROUTE_ID_OVERFLOW;
	struct series **s;
	double seconds;

	if (server) {
		/* the service of a connection never changes: its id is looked up once */
		if (!c->has_svc) {
			c->svc = route_service(o->routes, peer->service);
			c->has_svc = c->svc != ROUTE_SVC_NONE; /* out of memory: ask again */
		}
		route = route_id(o->routes, c->svc, ex->target);
	}
	s = http_series(o, peer, server, method, ex->status, route);
	seconds = ((server ? ex->resp_last_ns : ex->resp_first_ns) - ex->req_first_ns) / 1e9;
	if (s)
		telemetry_http_observe(o->tel, server, s, seconds,
				       ex->flags & HTTP1_HEAD_GAP ? TEL_SIZE_UNKNOWN
								  : ex->req_body_bytes,
				       ex->resp_body_bytes);
	if (s && (ex->ids.trace_id[0] || ex->ids.request_id[0] || ex->ids.correlation_id[0]))
		telemetry_http_exemplar(o->tel, server, s, seconds, &ex->ids,
					wallclock_ns(ex->req_first_ns));
	if (o->events)
		events_http(o->events, peer, server, ex, http_method_name(method),
			    server ? route_text(o->routes, route) : NULL);
	if (server && o->biz)
		business_observe(o->biz, http_method_name(method), route_text(o->routes, route),
				 ex->status, peer->service);
}

/* strcmp(a, b) == 0 without its call when the first byte decides (GET against SET, an
 * empty error_type against another): the common cases of a per-operation compare. */
static inline bool name_eq(const char *a, const char *b)
{
	return a[0] == b[0] && (a[0] == '\0' || strcmp(a + 1, b + 1) == 0);
}

static struct series *db_series(const struct observer *o, struct conn_peer *p, const char *system,
				const struct db_op *op)
{
	struct obs_cache *c = &p->cache;
	struct obs_db_slot *slot;
	struct db_labels l = {
		.system = system,
		.operation = op->operation,
		.error_type = op->error_type,
		.server_address = p->address,
		.server_port = p->peer_port,
		.service = p->service,
		.ctx = &p->ctx,
	};

	cache_kind(c, OBS_DB, o->tel->generation);
	for (unsigned i = 0; i < OBS_DB_SLOTS; i++)
		if (c->db[i].s && name_eq(c->db[i].operation, op->operation) &&
		    name_eq(c->db[i].error_type, op->error_type))
			return c->db[i].s;
	slot = &c->db[c->next];
	c->next = (c->next + 1) % OBS_DB_SLOTS;
	slot->s = NULL;
	if (!telemetry_db_series(o->tel, &l, &slot->s))
		return NULL;
	/* both fit (the assertion above) */
	snprintf(slot->operation, sizeof(slot->operation), "%s", op->operation);
	snprintf(slot->error_type, sizeof(slot->error_type), "%s", op->error_type);
	return slot->s;
}

void observe_db(const struct observer *o, struct conn_peer *peer, const char *system,
		const struct db_op *op)
{
	struct series *s = db_series(o, peer, system, op);

	if (s)
		telemetry_db_observe(o->tel, s, (op->end_ns - op->start_ns) / 1e9);
	if (o->events)
		events_db(o->events, peer, system, op);
}

void observe_parse_errors(const struct observer *o, const char *protocol, uint64_t n)
{
	if (n)
		telemetry_parse_error(o->tel, protocol, n);
}

void observe_unanswered(const struct observer *o, const char *protocol, uint64_t n)
{
	telemetry_unanswered(o->tel, protocol, n);
}

void observe_incomplete(const struct observer *o, const char *protocol, uint64_t n)
{
	telemetry_incomplete(o->tel, protocol, n);
}

void observe_unsupported(const struct observer *o, const char *protocol)
{
	telemetry_unsupported(o->tel, protocol);
}
