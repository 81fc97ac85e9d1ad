// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>

#include "metrics/business.h"
#include "metrics/observe.h"
#include "metrics/route.h"
#include "metrics/tcp_health.h"
#include "metrics/telemetry.h"
#include "proto/db_op.h"
#include "proto/http1.h"

void observe_http(const struct observer *o, const struct conn_peer *peer, bool server,
		  const struct http1_exchange *ex)
{
	char status[8], route[ROUTE_MAX];
	struct http_labels l = {
		.method = http_method_label(ex->method),
		.status = status,
		.service = peer->service,
	};

	snprintf(status, sizeof(status), "%u", ex->status);
	if (server) {
		route_template(o->routes, l.service, ex->target, route, sizeof(route));
		l.route = route;
		l.server_port = peer->local_port;
		telemetry_http_server(o->tel, &l, (ex->resp_last_ns - ex->req_first_ns) / 1e9,
				      ex->req_body_bytes, ex->resp_body_bytes);
		business_observe(o->biz, l.method, route, ex->status, l.service);
	} else {
		l.server_address = peer->address;
		l.server_port = peer->peer_port;
		telemetry_http_client(o->tel, &l, (ex->resp_first_ns - ex->req_first_ns) / 1e9,
				      ex->req_body_bytes, ex->resp_body_bytes);
	}
}

void observe_db(const struct observer *o, const struct conn_peer *peer, const char *system,
		const struct db_op *op)
{
	struct db_labels l = {
		.system = system,
		.operation = op->operation,
		.error_type = op->error_type,
		.server_address = peer->address,
		.server_port = peer->peer_port,
		.service = peer->service,
	};

	telemetry_db(o->tel, &l, (op->end_ns - op->start_ns) / 1e9);
}

void observe_tcp(const struct observer *o, const char *service, const struct sonde_tcp_event *e)
{
	if (o->tcp)
		tcp_health_observe(o->tcp, service, e);
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

void observe_unsupported(const struct observer *o, const char *protocol)
{
	telemetry_unsupported(o->tel, protocol);
}
