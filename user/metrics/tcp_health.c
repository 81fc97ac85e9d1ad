// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "metrics/registry.h"
#include "metrics/tcp_health.h"
#include "util/addr.h"

#define NL(a) (sizeof(a) / sizeof((a)[0]))
#define LABELS_MAX (4 + CTX_LABELS)

static const char *const client_labels[] = { "outcome", "server_address", "server_port",
					     "service_name" };
static const char *const server_labels[] = { "server_port", "service_name" };
static const char *const conn_labels[] = { "direction", "service_name" };

/* Connections last from milliseconds (a health check) to hours (a database pool). */
static const double duration_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,  1,	  2.5,
					  5,	 10,   30,    60,   300, 600,  1800, 3600 };
/* Loopback answers in tens of microseconds; a distant region in a few hundred ms. */
static const double rtt_bounds[] = { 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				     0.025,  0.05,   0.1,   0.25,   0.5,   1 };

struct family {
	size_t field; /* offset of the struct metric * in struct tcp_health */
	enum metric_kind kind;
	const char *name, *help;
	const char *const *labels;
	size_t n_labels;
	const double *bounds;
	size_t n_bounds;
};

#define FIELD(f) offsetof(struct tcp_health, f)

static const struct family families[] = {
	{ FIELD(client_conns), METRIC_COUNTER, "tcp_client_connections_total",
	  "Outbound TCP connection attempts of the service, by outcome (established, refused, "
	  "timeout, unreachable, canceled, error).",
	  client_labels, NL(client_labels), NULL, 0 },
	{ FIELD(server_conns), METRIC_COUNTER, "tcp_server_connections_total",
	  "Inbound TCP connections the service's listeners completed the handshake of.",
	  server_labels, NL(server_labels), NULL, 0 },
	{ FIELD(duration), METRIC_HISTOGRAM, "tcp_connection_duration_seconds",
	  "Life of established TCP connections, from the handshake to the close.", conn_labels,
	  NL(conn_labels), duration_bounds, NL(duration_bounds) },
	{ FIELD(rtt), METRIC_HISTOGRAM, "tcp_rtt_seconds",
	  "Smoothed round-trip time of TCP connections, sampled at close.", conn_labels,
	  NL(conn_labels), rtt_bounds, NL(rtt_bounds) },
	{ FIELD(retrans), METRIC_COUNTER, "tcp_retransmitted_segments_total",
	  "TCP segments retransmitted on the service's closed connections.", conn_labels,
	  NL(conn_labels), NULL, 0 },
	{ FIELD(resets_sent), METRIC_COUNTER, "tcp_resets_sent_total",
	  "TCP resets sent on the service's closed connections.", conn_labels, NL(conn_labels),
	  NULL, 0 },
	{ FIELD(resets_received), METRIC_COUNTER, "tcp_resets_received_total",
	  "TCP resets received on the service's closed connections.", conn_labels, NL(conn_labels),
	  NULL, 0 },
	{ FIELD(bytes_sent), METRIC_COUNTER, "tcp_sent_bytes_total",
	  "Payload bytes sent on the service's closed TCP connections (retransmits included).",
	  conn_labels, NL(conn_labels), NULL, 0 },
	{ FIELD(bytes_received), METRIC_COUNTER, "tcp_received_bytes_total",
	  "Bytes received on the service's closed TCP connections, as tcp_info counts them "
	  "(payload, and 1 for a FIN received).",
	  conn_labels, NL(conn_labels), NULL, 0 },
};

int tcp_health_init(struct tcp_health *t, struct registry *reg, uint32_t max_series,
		    bool ctx_labels)
{
	t->ctx_labels = ctx_labels;
	for (size_t i = 0; i < NL(families); i++) {
		const struct family *f = &families[i];
		struct metric **slot = (struct metric **)((char *)t + f->field);
		const char *names[LABELS_MAX];
		size_t n = f->n_labels;

		memcpy(names, f->labels, n * sizeof(*names));
		if (ctx_labels) {
			memcpy(names + n, ctx_label_names, sizeof(ctx_label_names));
			n += CTX_LABELS;
		}
		*slot = registry_add(reg, f->kind, f->name, f->help, names, n, f->bounds,
				     f->n_bounds, max_series);
		if (!*slot)
			return -errno;
	}
	return 0;
}

const char *tcp_outcome(const struct sonde_tcp_event *e)
{
	if (e->kind == SONDE_TCP_CONNECTED)
		return "established";
	switch (e->sk_err) {
	case ECONNREFUSED:
		return "refused";
	case ETIMEDOUT:
		return "timeout";
	case EHOSTUNREACH:
	case ENETUNREACH:
		return "unreachable";
	case 0: /* closed by its owner before the handshake completed */
		return "canceled";
	default:
		return "error";
	}
}

static void observe_closed(struct tcp_health *t, const char *const *labels,
			   const struct sonde_tcp_event *e)
{
	metric_observe(t->duration, labels, e->duration_ns / 1e9);
	if (e->srtt_us)
		metric_observe(t->rtt, labels, e->srtt_us / 1e6);
	metric_add(t->retrans, labels, e->retrans_segs);
	metric_add(t->resets_sent, labels, e->resets_sent);
	metric_add(t->resets_received, labels, e->resets_received);
	metric_add(t->bytes_sent, labels, (double)e->bytes_sent);
	metric_add(t->bytes_received, labels, (double)e->bytes_received);
}

void tcp_health_observe(struct tcp_health *t, const char *service, const struct ctx_labels *ctx,
			const struct sonde_tcp_event *e)
{
	char addr[ADDR_TEXT_MAX], port[8];
	const char *conn[LABELS_MAX] = { e->outbound ? "outbound" : "inbound", service };
	const char *v[LABELS_MAX];

	/* the context labels follow each family's own: the registry reads only as many
	 * values as the family has labels, so without them the tail is never looked at */
	ctx_label_values(ctx, conn + 2);
	switch (e->kind) {
	case SONDE_TCP_CONNECTED:
	case SONDE_TCP_FAILED:
		addr_format(e->peer.addr, addr, sizeof(addr));
		snprintf(port, sizeof(port), "%u", e->peer.port);
		v[0] = tcp_outcome(e), v[1] = addr, v[2] = port, v[3] = service;
		ctx_label_values(ctx, v + 4);
		metric_add(t->client_conns, v, 1);
		break;
	case SONDE_TCP_ACCEPTED:
		snprintf(port, sizeof(port), "%u", e->local.port);
		v[0] = port, v[1] = service;
		ctx_label_values(ctx, v + 2);
		metric_add(t->server_conns, v, 1);
		break;
	case SONDE_TCP_CLOSED:
		observe_closed(t, conn, e);
		break;
	case SONDE_TCP_RESET_SENT:
		metric_add(t->resets_sent, conn, 1);
		break;
	}
}
