/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * metrics/ takes in: HTTP exchanges, database operations, TCP records (observe.h), counters.
 * metrics/ gives out: Prometheus text 0.0.4 of every family (registry_render, for /metrics).
 *
 * This file: the metric families sonde exports (names and labels from the OpenTelemetry
 * semantic conventions, as Beyla/OBI expose them) and the self-metrics sonde_*. The rest of
 * the stage: observe.h (exchange -> labels), route.h (http_route), business.h (--counter),
 * tcp_health.h (TCP connection families), registry.h (families, series, render),
 * exposition.h (text format, gzip), self.h (process_* of sonde itself).
 */
#ifndef SONDE_METRICS_TELEMETRY_H
#define SONDE_METRICS_TELEMETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "metrics/ctx_labels.h"
#include "metrics/registry.h"
#include "metrics/self.h"
#include "sonde_abi.h"

struct metric;
struct series;

/* Recently used label sets of one group of families that share labels (duration and the
 * two body sizes): one hash of the values instead of a hash and lookup per family. */
#define TEL_CACHE_SLOTS 32
#define TEL_LABELS_MAX (6 + CTX_LABELS)
#define TEL_LABEL_LEN 256

struct tel_cache_slot {
	uint64_t hash;
	char vals[TEL_LABELS_MAX][TEL_LABEL_LEN];
	struct series *series[3];
};

struct telemetry {
	struct registry *reg;
	bool ctx_labels; /* --k8s-labels: the families of services carry struct ctx_labels */
	struct metric *http_server_duration, *http_server_req_size, *http_server_resp_size;
	struct metric *http_client_duration, *http_client_req_size, *http_client_resp_size;
	struct metric *db_duration;
	struct metric *build_info, *capture_mode, *events_received, *events_lost;
	struct metric *events_lost_bytes;
	struct metric *tracked, *attached, *parse_errors, *unsupported, *routes_overflowed;
	struct metric *truncated, *no_buffer, *unanswered, *incomplete, *removed;
	struct metric *capture_bytes, *hints_displaced;
	uint32_t generation; /* moves when series are removed: handles kept elsewhere are stale */
	struct self_metrics self; /* process_* of sonde itself (self.h) */
	/* last kernel counter values, to turn absolute readings into counter increments */
	struct sonde_stats last_kernel;
	uint64_t last_route_overflow;
	uint64_t last_events[16];
	uint64_t last_bytes[2][16]; /* sonde_capture_bytes_total, by direction and fate */
	uint64_t last_hints_displaced;
	struct tel_cache_slot *http_server_cache, *http_client_cache, *db_cache;
};

/* Labels of one HTTP exchange, already normalised (method, route, addresses). */
struct http_labels {
	const char *method;
	const char *status;
	const char *route;	    /* server side only */
	const char *server_address; /* client side only */
	const char *server_port;
	const char *service;
	const char *scheme;	      /* url_scheme: "http" or "https" (server side) */
	const struct ctx_labels *ctx; /* the service's container and pod; NULL: none */
};

struct db_labels {
	const char *system; /* postgresql | redis */
	const char *operation;
	const char *error_type;
	const char *server_address;
	const char *server_port;
	const char *service;
	const struct ctx_labels *ctx;
};

/* ctx_labels: the HTTP and database families end with the labels of ctx_labels.h. */
int telemetry_init(struct telemetry *t, uint32_t max_series, bool ctx_labels);
void telemetry_free(struct telemetry *t);

/*
 * The series of one label set: HTTP server or client (duration, request body, response
 * body, in that order) or database. They hash the label strings (a small cache of recent
 * sets saves the registry's look-ups): callers keep the handles they get, and observe
 * through them, label strings untouched (observe.c keeps them per connection). False when
 * a series cap refused the set (counted in sonde_series_dropped_total).
 */
#define TEL_HTTP_FAMILIES 3
bool telemetry_http_series(struct telemetry *t, bool server, const struct http_labels *l,
			   struct series *out[TEL_HTTP_FAMILIES]);
/* A request body size of TEL_SIZE_UNKNOWN (its head was not all captured) is not observed:
 * the request-size histogram's count then falls short of the duration's by such requests. */
#define TEL_SIZE_UNKNOWN UINT64_MAX
void telemetry_http_observe(struct telemetry *t, bool server,
			    struct series *const s[TEL_HTTP_FAMILIES], double seconds,
			    uint64_t req_body, uint64_t resp_body);
/* The request's ids as the exemplar of its duration bucket (OpenMetrics scrapes). */
struct http1_ids;
void telemetry_http_exemplar(struct telemetry *t, bool server,
			     struct series *const s[TEL_HTTP_FAMILIES], double seconds,
			     const struct http1_ids *ids, int64_t wall_ns);
bool telemetry_db_series(struct telemetry *t, const struct db_labels *l, struct series **out);
void telemetry_db_observe(struct telemetry *t, struct series *s, double seconds);

/*
 * Removes every series of service (in container/pod ctx, with --k8s-labels), from every
 * family that has a service_name: its processes are gone. Empties the caches of series
 * handles and moves t->generation, so observe.c drops its own. Returns how many.
 */
size_t telemetry_remove_service(struct telemetry *t, const char *service,
				const struct ctx_labels *ctx);

void telemetry_set_build(struct telemetry *t, const char *capture_mode);
/* Publishes the running total of records of one type (index < 16). */
void telemetry_events(struct telemetry *t, unsigned type, const char *name, uint64_t total);
void telemetry_parse_error(struct telemetry *t, const char *protocol, uint64_t n);
void telemetry_unsupported(struct telemetry *t, const char *protocol);
void telemetry_unanswered(struct telemetry *t, const char *protocol, uint64_t n);
void telemetry_incomplete(struct telemetry *t, const char *protocol, uint64_t n);
/*
 * Publishes the running total of socket bytes of one direction (enum sonde_direction) and
 * fate (an index < 16 of the caller's, with its outcome and reason labels).
 */
void telemetry_capture_bytes(struct telemetry *t, unsigned dir, unsigned fate, const char *outcome,
			     const char *reason, uint64_t total);
/* Publishes the running total of "ignore" hints that displaced another live one. */
void telemetry_hints_displaced(struct telemetry *t, uint64_t total);
/* Periodic: kernel counters, process and program counts, route overflow total. */
void telemetry_refresh(struct telemetry *t, const struct sonde_stats *kernel, unsigned tracked,
		       unsigned attached, uint64_t route_overflow);

/* http_request_method: the standard methods, and "_OTHER" for the rest (bounded
 * cardinality), as small ids: GET 0, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE,
 * PATCH 8, HTTP_METHOD_OTHER 9. */
#define HTTP_METHOD_OTHER 9
unsigned http_method_id(const char *method);
const char *http_method_name(unsigned id);

/* http_response_status_code: "100".."599" from a static table; others written into buf. */
#define HTTP_STATUS_LEN 8
const char *http_status_label(unsigned status, char buf[HTTP_STATUS_LEN]);

#endif
