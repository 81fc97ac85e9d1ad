/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Stage events: finished HTTP exchanges (both sides) and database operations, the ones
 * --events-filter passes, as JSON lines in --events FILE (or stdout), for a log store such as
 * Loki. In: what metrics/observe.c observed, with its label values. Out: lines through the
 * sink (sink.h: never blocks the event loop), and sonde_event_lines_* self-metrics.
 *
 * The line format is in json.h, the filter grammar in filter.h. Only the allow-listed request
 * headers of struct http1_ids ever reach a line; the raw path only with --events-path.
 */
#ifndef SONDE_EVENTS_EVENTS_H
#define SONDE_EVENTS_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "events/filter.h"

struct sink;
struct registry;
struct metric;
struct conn_peer;
struct http1_exchange;
struct db_op;

struct events {
	struct events_filter filter;
	struct sink *sink;
	bool path; /* --events-path */
	uint64_t ids_cut, trace_bad, ids_unseen;
	/* self-metrics, and what they last published */
	struct metric *m_lines, *m_dropped, *m_ids;
	uint64_t pub[6];
};

/*
 * Opens the sink (path "-": stdout) and registers the self-metrics in reg. filter is
 * already validated by the config (events_filter_parse). 0, or -errno after logging one line
 * naming the file.
 */
int events_init(struct events *ev, const char *path, const char *filter, bool with_path,
		struct registry *reg);
void events_free(struct events *ev); /* drains and closes; a zeroed ev is fine */

/* One exchange: method the metrics' method label, route the server's http_route (NULL on
 * the client side). */
void events_http(struct events *ev, const struct conn_peer *peer, bool server,
		 const struct http1_exchange *ex, const char *method, const char *route);
void events_db(struct events *ev, const struct conn_peer *peer, const char *system,
	       const struct db_op *op);

/* Publishes the counters (event loop, once a second). */
void events_refresh(struct events *ev);

#endif
