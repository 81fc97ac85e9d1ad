// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <string.h>

#include "events/events.h"
#include "events/json.h"
#include "events/sink.h"
#include "metrics/observe.h"
#include "metrics/registry.h"
#include "proto/db_op.h"
#include "proto/http1.h"
#include "util/log.h"
#include "util/wallclock.h"

enum { PUB_LINES, PUB_FULL, PUB_IO, PUB_CUT, PUB_TRACE, PUB_UNSEEN };

static int add_metrics(struct events *ev, struct registry *reg)
{
	static const char *const reason[] = { "reason" };

	ev->m_lines = registry_add(reg, METRIC_COUNTER, "sonde_event_lines_total",
				   "Event lines queued for --events", NULL, 0, NULL, 0, 0);
	ev->m_dropped = registry_add(reg, METRIC_COUNTER, "sonde_event_lines_dropped_total",
				     "Event lines lost: queue_full (the sink is slower than the "
				     "traffic), write_error (the file or pipe refused them)",
				     reason, 1, NULL, 0, 0);
	ev->m_ids = registry_add(reg, METRIC_COUNTER, "sonde_event_ids_unusable_total",
				 "Request id headers cut at 64 bytes (cut), malformed "
				 "traceparent headers ignored (malformed_traceparent), and "
				 "requests whose headers were not all captured, so that an id "
				 "header may be missing from their line (not_captured)",
				 reason, 1, NULL, 0, 0);
	return ev->m_lines && ev->m_dropped && ev->m_ids ? 0 : -errno;
}

int events_init(struct events *ev, const char *path, const char *filter, bool with_path,
		struct registry *reg)
{
	char why[128];
	int err;

	memset(ev, 0, sizeof(*ev));
	ev->path = with_path;
	if (events_filter_parse(&ev->filter, filter, why, sizeof(why))) {
		log_error("--events-filter: %s", why);
		return -EINVAL;
	}
	if ((err = add_metrics(ev, reg))) {
		log_error("events: cannot register the self-metrics: %s", strerror(-err));
		return err;
	}
	ev->sink = sink_open(path);
	if (!ev->sink) {
		err = -errno;
		log_error("--events: cannot open %s for appending: %s", path, strerror(errno));
		return err;
	}
	return 0;
}

void events_free(struct events *ev)
{
	sink_close(ev->sink);
	ev->sink = NULL;
}

static void emit(struct events *ev, const struct event_record *r)
{
	char line[EVENT_LINE_MAX];
	size_t n = event_render(r, line);

	sink_push(ev->sink, line, n);
}

static void count_ids(struct events *ev, const struct http1_ids *ids)
{
	if (ids->flags & (HTTP1_ID_REQUEST_CUT | HTTP1_ID_CORRELATION_CUT))
		ev->ids_cut++;
	if (ids->flags & HTTP1_ID_TRACE_BAD)
		ev->trace_bad++;
	if (ids->flags & HTTP1_ID_UNSEEN)
		ev->ids_unseen++;
}

void events_http(struct events *ev, const struct conn_peer *peer, bool server,
		 const struct http1_exchange *ex, const char *method, const char *route)
{
	/* the durations the metrics observe (metrics/observe.c) */
	uint64_t end = server ? ex->resp_last_ns : ex->resp_first_ns;
	uint64_t dur = end > ex->req_first_ns ? end - ex->req_first_ns : 0;
	struct event_record r;

	count_ids(ev, &ex->ids);
	if (!events_filter_pass(&ev->filter, dur, ex->status, false))
		return; /* most exchanges, with a sampling filter: nothing more to do */
	r = (struct event_record){
		.kind = server ? "http_server" : "http_client",
		.wall_ns = wallclock_ns(ex->req_first_ns),
		.duration_ns = dur,
		.service = peer->service,
		.ctx = &peer->ctx,
		.method = method,
		.route = route,
		.path = ev->path ? ex->target : NULL,
		.status = ex->status,
		.has_bodies = ex->flags & HTTP1_HEAD_GAP ? EVENT_RESP_BODY
							 : EVENT_REQ_BODY | EVENT_RESP_BODY,
		.req_body = ex->req_body_bytes,
		.resp_body = ex->resp_body_bytes,
		.ids = &ex->ids,
	};
	if (server) {
		r.server_port = peer->local_port;
		r.client_address = peer->address;
		r.client_port = peer->peer_port;
	} else {
		r.server_address = peer->address;
		r.server_port = peer->peer_port;
	}
	emit(ev, &r);
}

void events_db(struct events *ev, const struct conn_peer *peer, const char *system,
	       const struct db_op *op)
{
	uint64_t dur = op->end_ns > op->start_ns ? op->end_ns - op->start_ns : 0;
	struct event_record r;

	if (!events_filter_pass(&ev->filter, dur, 0, op->error_type[0] != 0))
		return;
	r = (struct event_record){
		.kind = "db_client",
		.wall_ns = wallclock_ns(op->start_ns),
		.duration_ns = dur,
		.service = peer->service,
		.ctx = &peer->ctx,
		.db_system = system,
		.db_operation = op->operation,
		.error_type = op->error_type,
		.server_address = peer->address,
		.server_port = peer->peer_port,
	};
	emit(ev, &r);
}

/* Adds what grew since the last publication. */
static void publish(struct events *ev, int i, struct metric *m, const char *label, uint64_t now)
{
	const char *v[1] = { label };

	metric_add(m, label ? v : NULL, (double)(now - ev->pub[i])); /* 0: the series shows */
	ev->pub[i] = now;
}

void events_refresh(struct events *ev)
{
	struct sink_counts c;

	if (!ev->sink)
		return;
	sink_counts(ev->sink, &c);
	publish(ev, PUB_LINES, ev->m_lines, NULL, c.lines);
	publish(ev, PUB_FULL, ev->m_dropped, "queue_full", c.dropped_full);
	publish(ev, PUB_IO, ev->m_dropped, "write_error", c.dropped_io);
	publish(ev, PUB_CUT, ev->m_ids, "cut", ev->ids_cut);
	publish(ev, PUB_TRACE, ev->m_ids, "malformed_traceparent", ev->trace_bad);
	publish(ev, PUB_UNSEEN, ev->m_ids, "not_captured", ev->ids_unseen);
}
