// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/telemetry.h"
#include "util/hash.h"
#include "util/version.h"

#define NL(a) (sizeof(a) / sizeof((a)[0]))

static const char *const http_server_labels[] = {
	"http_request_method", "http_response_status_code",
	"http_route",	       "url_scheme",
	"server_port",	       "service_name"
};
static const char *const http_client_labels[] = { "http_request_method",
						  "http_response_status_code", "server_address",
						  "server_port", "service_name" };
static const char *const db_labels[] = { "db_system_name", "db_operation_name", "error_type",
					 "server_address", "server_port",	"service_name" };
static const char *const lost_reasons[SONDE_LOST_NR] = {
	[SONDE_LOST_RINGBUF_FULL] = "ringbuf_full", [SONDE_LOST_READ_USER] = "read_user",
	[SONDE_LOST_ALLOW_FULL] = "allow_map",	    [SONDE_LOST_CONN_FULL] = "conn_map",
	[SONDE_LOST_TCP_FULL] = "tcp_map",	    [SONDE_LOST_GAP] = "gap",
	[SONDE_LOST_RECURSION] = "recursion",	    [SONDE_LOST_CGROUP] = "cgroup_select",
	[SONDE_LOST_SSL_FULL] = "ssl_map",	    [SONDE_LOST_TLS_SOCK_FULL] = "tls_sock_map",
};

static const char *const build_labels[] = { "version", "abi" };
static const char *const mode_label[] = { "mode" };
static const char *const type_label[] = { "type" };
static const char *const reason_label[] = { "reason" };
static const char *const protocol_label[] = { "protocol" };
static const char *const bytes_labels[] = { "direction", "outcome", "reason" };
static const char *const direction_label[] = { "direction" };
static const char *const direction_names[2] = {
	[SONDE_DIR_RECV] = "received", [SONDE_DIR_SEND] = "sent"
};

enum buckets { NO_BUCKETS, DURATION, SIZE };

/* One row per family, in exposition order; max_series 0 is the --max-series cap. */
static const struct family {
	size_t field; /* offset of its struct metric * in struct telemetry */
	enum metric_kind kind;
	const char *name, *help;
	const char *const *labels;
	size_t n_labels;
	enum buckets buckets;
	uint32_t max_series; /* 0: --max-series, and a family of services (ctx labels) */
} families[] = {
#define FIELD(f) offsetof(struct telemetry, f)
#define LABELS(a) a, NL(a)
#define NONE NULL, 0
	{ FIELD(http_server_duration), METRIC_HISTOGRAM, "http_server_request_duration_seconds",
	  "Duration of HTTP server requests.", LABELS(http_server_labels), DURATION, 0 },
	{ FIELD(http_server_req_size), METRIC_HISTOGRAM, "http_server_request_body_size_bytes",
	  "Size of HTTP server request bodies.", LABELS(http_server_labels), SIZE, 0 },
	{ FIELD(http_server_resp_size), METRIC_HISTOGRAM, "http_server_response_body_size_bytes",
	  "Size of HTTP server response bodies.", LABELS(http_server_labels), SIZE, 0 },
	{ FIELD(http_client_duration), METRIC_HISTOGRAM, "http_client_request_duration_seconds",
	  "Duration of HTTP client requests.", LABELS(http_client_labels), DURATION, 0 },
	{ FIELD(http_client_req_size), METRIC_HISTOGRAM, "http_client_request_body_size_bytes",
	  "Size of HTTP client request bodies.", LABELS(http_client_labels), SIZE, 0 },
	{ FIELD(http_client_resp_size), METRIC_HISTOGRAM, "http_client_response_body_size_bytes",
	  "Size of HTTP client response bodies.", LABELS(http_client_labels), SIZE, 0 },
	{ FIELD(db_duration), METRIC_HISTOGRAM, "db_client_operation_duration_seconds",
	  "Duration of database client operations.", LABELS(db_labels), DURATION, 0 },
	{ FIELD(build_info), METRIC_GAUGE, "sonde_build_info", "sonde build information.",
	  LABELS(build_labels), NO_BUCKETS, 4 },
	{ FIELD(capture_mode), METRIC_GAUGE, "sonde_capture_mode",
	  "Capture path in use (1 for the active mode).", LABELS(mode_label), NO_BUCKETS, 64 },
	{ FIELD(events_received), METRIC_COUNTER, "sonde_events_received_total",
	  "Ring-buffer events received, by type.", LABELS(type_label), NO_BUCKETS, 64 },
	{ FIELD(events_lost), METRIC_COUNTER, "sonde_events_lost_total",
	  "Events the kernel could not deliver, by reason.", LABELS(reason_label), NO_BUCKETS, 64 },
	{ FIELD(events_lost_bytes), METRIC_COUNTER, "sonde_events_lost_bytes_total",
	  "Socket bytes in the data events the ring buffer could not take (ringbuf_full), by "
	  "direction, as the kernel counted them.",
	  LABELS(direction_label), NO_BUCKETS, 2 },
	{ FIELD(tracked), METRIC_GAUGE, "sonde_tracked_processes", "Processes currently observed.",
	  NONE, NO_BUCKETS, 1 },
	{ FIELD(attached), METRIC_GAUGE, "sonde_attached_programs", "BPF programs attached.", NONE,
	  NO_BUCKETS, 1 },
	{ FIELD(parse_errors), METRIC_COUNTER, "sonde_parse_errors_total",
	  "Malformed or unframeable messages, by protocol.", LABELS(protocol_label), NO_BUCKETS,
	  64 },
	{ FIELD(unsupported), METRIC_COUNTER, "sonde_unsupported_connections_total",
	  "Connections recognised but not parsed (TLS, HTTP/2, ...).", LABELS(protocol_label),
	  NO_BUCKETS, 64 },
	{ FIELD(routes_overflowed), METRIC_COUNTER, "sonde_http_routes_overflowed_total",
	  "Requests whose route was replaced by the overflow route.", NONE, NO_BUCKETS, 1 },
	{ FIELD(removed), METRIC_COUNTER, "sonde_series_removed_total",
	  "Series removed because every process of their service (container) had exited for "
	  "--series-grace.",
	  NONE, NO_BUCKETS, 1 },
	{ FIELD(truncated), METRIC_COUNTER, "sonde_payload_truncated_total",
	  "Socket reads/writes longer than the capture prefix.", NONE, NO_BUCKETS, 1 },
	{ FIELD(no_buffer), METRIC_COUNTER, "sonde_payload_unavailable_total",
	  "Socket I/O without a user buffer (sendfile, splice, io_uring).", NONE, NO_BUCKETS, 1 },
	/* Only the consumer's HTTP close path reports pending requests, so only
	 * protocol="http" gets a zero series: one for postgresql/redis could never move. */
	{ FIELD(unanswered), METRIC_COUNTER, "sonde_requests_unanswered_total",
	  "Requests still pending when their connection closed.", LABELS(protocol_label),
	  NO_BUCKETS, 64 },
	{ FIELD(incomplete), METRIC_COUNTER, "sonde_requests_incomplete_total",
	  "Requests their connection ended inside: begun, never sent whole.",
	  LABELS(protocol_label), NO_BUCKETS, 64 },
	{ FIELD(capture_bytes), METRIC_COUNTER, "sonde_capture_bytes_total",
	  "Socket bytes of observed connections, by direction: parsed (by protocol), unparsed "
	  "or lost (by reason). Per direction, their sum is every byte the processes moved.",
	  LABELS(bytes_labels), NO_BUCKETS, 64 },
	{ FIELD(hints_displaced), METRIC_COUNTER, "sonde_hints_displaced_total",
	  "Ignore hints that took the kernel slot of another connection still ignored (its "
	  "I/O is reported again).",
	  NONE, NO_BUCKETS, 1 },
#undef FIELD
#undef LABELS
#undef NONE
};

/* Known label values start at 0, so dashboards and alerts see "none yet", not nothing. */
static const struct {
	size_t field;
	const char *value;
} zero_series[] = {
	{ offsetof(struct telemetry, parse_errors), "http" },
	{ offsetof(struct telemetry, parse_errors), "postgresql" },
	{ offsetof(struct telemetry, parse_errors), "redis" },
	{ offsetof(struct telemetry, unanswered), "http" },
	{ offsetof(struct telemetry, incomplete), "http" },
	{ offsetof(struct telemetry, incomplete), "postgresql" },
	{ offsetof(struct telemetry, incomplete), "redis" },
	{ offsetof(struct telemetry, unsupported), "tls" },
	{ offsetof(struct telemetry, unsupported), "http2" },
	{ offsetof(struct telemetry, unsupported), "unknown" },
};

static struct metric **field(struct telemetry *t, size_t off)
{
	return (struct metric **)((char *)t + off);
}

static int families_add(struct telemetry *t, uint32_t max_series)
{
	for (size_t i = 0; i < NL(families); i++) {
		const struct family *f = &families[i];
		const double *b =
			f->buckets == SIZE ? metric_size_buckets : metric_duration_buckets;
		size_t nb = f->buckets == SIZE ? metric_size_nbuckets : metric_duration_nbuckets;
		const char *names[TEL_LABELS_MAX];
		size_t n = f->n_labels;
		struct metric *m;

		if (n) /* a family without labels has f->labels NULL */
			memcpy(names, f->labels, n * sizeof(*names));
		if (t->ctx_labels && !f->max_series) {
			memcpy(names + n, ctx_label_names, sizeof(ctx_label_names));
			n += CTX_LABELS;
		}
		m = registry_add(t->reg, f->kind, f->name, f->help, names, n, f->buckets ? b : NULL,
				 f->buckets ? nb : 0, f->max_series ? f->max_series : max_series);
		if (!m)
			return -errno;
		*field(t, f->field) = m;
	}
	return 0;
}

int telemetry_init(struct telemetry *t, uint32_t max_series, bool ctx_labels)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->ctx_labels = ctx_labels;
	t->reg = registry_new();
	if (!t->reg)
		return -ENOMEM;
	err = families_add(t, max_series);
	if (!err)
		err = self_metrics_init(&t->self, t->reg);
	if (err)
		goto fail;
	for (int r = 0; r < SONDE_LOST_NR; r++)
		if (lost_reasons[r]) /* NULL: a retired reason */
			metric_add(t->events_lost, (const char *const[]){ lost_reasons[r] }, 0);
	for (int d = 0; d < 2; d++)
		metric_add(t->events_lost_bytes, &direction_names[d], 0);
	for (size_t i = 0; i < NL(zero_series); i++)
		metric_add(*field(t, zero_series[i].field), &zero_series[i].value, 0);
	t->http_server_cache = calloc(TEL_CACHE_SLOTS, sizeof(struct tel_cache_slot));
	t->http_client_cache = calloc(TEL_CACHE_SLOTS, sizeof(struct tel_cache_slot));
	t->db_cache = calloc(TEL_CACHE_SLOTS, sizeof(struct tel_cache_slot));
	if (!t->http_server_cache || !t->http_client_cache || !t->db_cache) {
		err = -ENOMEM;
		goto fail;
	}
	return 0;
fail:
	telemetry_free(t);
	return err;
}

void telemetry_free(struct telemetry *t)
{
	free(t->http_server_cache);
	free(t->http_client_cache);
	free(t->db_cache);
	self_metrics_free(&t->self);
	registry_free(t->reg);
	memset(t, 0, sizeof(*t));
}

static const char *const methods[HTTP_METHOD_OTHER + 1] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER",
};

unsigned http_method_id(const char *m)
{
	unsigned id;

	/* one candidate per first letter but 'P' (three): one string compare, not nine */
	switch (m[0]) {
	case 'G':
		id = 0;
		break;
	case 'H':
		id = 1;
		break;
	case 'P':
		id = m[1] == 'O' ? 2 : m[1] == 'U' ? 3 : 8;
		break;
	case 'D':
		id = 4;
		break;
	case 'C':
		id = 5;
		break;
	case 'O':
		id = 6;
		break;
	case 'T':
		id = 7;
		break;
	default:
		return HTTP_METHOD_OTHER;
	}
	return strcmp(m, methods[id]) ? HTTP_METHOD_OTHER : id;
}

const char *http_method_name(unsigned id)
{
	return methods[id < HTTP_METHOD_OTHER ? id : HTTP_METHOD_OTHER];
}

/* "100".."599", built by the compiler: a status label costs an index, not a snprintf. */
#define ST1(h, t, u)                                  \
	{                                             \
		'0' + (h), '0' + (t), '0' + (u), '\0' \
	}
#define ST10(h, t)                                                                          \
	ST1(h, t, 0), ST1(h, t, 1), ST1(h, t, 2), ST1(h, t, 3), ST1(h, t, 4), ST1(h, t, 5), \
		ST1(h, t, 6), ST1(h, t, 7), ST1(h, t, 8), ST1(h, t, 9)
#define ST100(h)                                                                            \
	ST10(h, 0), ST10(h, 1), ST10(h, 2), ST10(h, 3), ST10(h, 4), ST10(h, 5), ST10(h, 6), \
		ST10(h, 7), ST10(h, 8), ST10(h, 9)
static const char status_text[500][4] = { ST100(1), ST100(2), ST100(3), ST100(4), ST100(5) };
#undef ST1
#undef ST10
#undef ST100

const char *http_status_label(unsigned status, char buf[HTTP_STATUS_LEN])
{
	if (status >= 100 && status <= 599)
		return status_text[status - 100];
	snprintf(buf, HTTP_STATUS_LEN, "%u", status);
	return buf;
}

/* The series of families fams[0..nf) for label values v, from the cache when the same
 * values were seen recently. Returns false when a series cap refused them (counted). */
static bool cached_series(struct tel_cache_slot *cache, struct metric *const *fams, size_t nf,
			  const char *const *v, size_t nv, struct series **out)
{
	uint64_t h = FNV1A64_INIT;
	struct tel_cache_slot *slot;
	size_t i;

	for (i = 0; i < nv; i++)
		h = fnv1a64_str(h, v[i]);
	slot = &cache[h % TEL_CACHE_SLOTS];
	if (slot->series[0] && slot->hash == h) {
		for (i = 0; i < nv && !strcmp(slot->vals[i], v[i]); i++)
			;
		if (i == nv) {
			memcpy(out, slot->series, nf * sizeof(*out));
			return true;
		}
	}
	for (i = 0; i < nf; i++)
		if (!(out[i] = metric_series(fams[i], v)))
			return false;
	/* Values longer than a slot holds are simply not cached. */
	for (i = 0; i < nv; i++)
		if (strlen(v[i]) >= TEL_LABEL_LEN)
			return true;
	slot->hash = h;
	for (i = 0; i < nv; i++)
		strcpy(slot->vals[i], v[i]);
	memcpy(slot->series, out, nf * sizeof(*out));
	return true;
}

bool telemetry_http_series(struct telemetry *t, bool server, const struct http_labels *l,
			   struct series *out[TEL_HTTP_FAMILIES])
{
	const char *sv[TEL_LABELS_MAX] = { l->method,	   l->status,
					   l->route,	   l->scheme ? l->scheme : "http",
					   l->server_port, l->service };
	const char *cv[TEL_LABELS_MAX] = { l->method, l->status, l->server_address, l->server_port,
					   l->service };
	struct metric *sf[] = { t->http_server_duration, t->http_server_req_size,
				t->http_server_resp_size };
	struct metric *cf[] = { t->http_client_duration, t->http_client_req_size,
				t->http_client_resp_size };
	size_t extra = t->ctx_labels ? CTX_LABELS : 0;

	ctx_label_values(l->ctx, (server ? sv + 6 : cv + 5));
	if (server)
		return cached_series(t->http_server_cache, sf, 3, sv, 6 + extra, out);
	return cached_series(t->http_client_cache, cf, 3, cv, 5 + extra, out);
}

void telemetry_http_observe(struct telemetry *t, bool server,
			    struct series *const s[TEL_HTTP_FAMILIES], double seconds,
			    uint64_t req_body, uint64_t resp_body)
{
	bool req_known = req_body != TEL_SIZE_UNKNOWN;

	if (server) {
		series_observe(t->http_server_duration, s[0], seconds);
		if (req_known)
			series_observe(t->http_server_req_size, s[1], (double)req_body);
		series_observe(t->http_server_resp_size, s[2], (double)resp_body);
	} else {
		series_observe(t->http_client_duration, s[0], seconds);
		if (req_known)
			series_observe(t->http_client_req_size, s[1], (double)req_body);
		series_observe(t->http_client_resp_size, s[2], (double)resp_body);
	}
}

void telemetry_http_exemplar(struct telemetry *t, bool server,
			     struct series *const s[TEL_HTTP_FAMILIES], double seconds,
			     const struct http1_ids *ids, int64_t wall_ns)
{
	series_exemplar(server ? t->http_server_duration : t->http_client_duration, s[0], seconds,
			ids, wall_ns);
}

bool telemetry_db_series(struct telemetry *t, const struct db_labels *l, struct series **out)
{
	const char *v[TEL_LABELS_MAX] = { l->system,	     l->operation,   l->error_type,
					  l->server_address, l->server_port, l->service };

	ctx_label_values(l->ctx, v + 6);
	return cached_series(t->db_cache, &t->db_duration, 1, v,
			     6 + (t->ctx_labels ? CTX_LABELS : 0), out);
}

void telemetry_db_observe(struct telemetry *t, struct series *s, double seconds)
{
	series_observe(t->db_duration, s, seconds);
}

size_t telemetry_remove_service(struct telemetry *t, const char *service,
				const struct ctx_labels *ctx)
{
	const char *names[1 + CTX_LABELS] = { "service_name" }, *vals[1 + CTX_LABELS] = { service };
	size_t n;

	memcpy(names + 1, ctx_label_names, sizeof(ctx_label_names));
	ctx_label_values(ctx, vals + 1);
	n = registry_remove_where(t->reg, names, vals, t->ctx_labels ? 1 + CTX_LABELS : 1);
	if (!n)
		return 0;
	memset(t->http_server_cache, 0, TEL_CACHE_SLOTS * sizeof(struct tel_cache_slot));
	memset(t->http_client_cache, 0, TEL_CACHE_SLOTS * sizeof(struct tel_cache_slot));
	memset(t->db_cache, 0, TEL_CACHE_SLOTS * sizeof(struct tel_cache_slot));
	t->generation++;
	metric_add(t->removed, NULL, (double)n);
	return n;
}

void telemetry_set_build(struct telemetry *t, const char *capture_mode)
{
	char abi[16];

	snprintf(abi, sizeof(abi), "%d", SONDE_ABI_VERSION);
	metric_set(t->build_info, (const char *const[]){ sonde_version(), abi }, 1);
	metric_set(t->capture_mode, (const char *const[]){ capture_mode }, 1);
}

void telemetry_events(struct telemetry *t, unsigned type, const char *name, uint64_t total)
{
	if (type >= 16 || !name || total <= t->last_events[type])
		return;
	metric_add(t->events_received, (const char *const[]){ name },
		   (double)(total - t->last_events[type]));
	t->last_events[type] = total;
}

void telemetry_parse_error(struct telemetry *t, const char *protocol, uint64_t n)
{
	if (n)
		metric_add(t->parse_errors, (const char *const[]){ protocol }, (double)n);
}

void telemetry_unsupported(struct telemetry *t, const char *protocol)
{
	metric_add(t->unsupported, (const char *const[]){ protocol }, 1);
}

void telemetry_unanswered(struct telemetry *t, const char *protocol, uint64_t n)
{
	if (n)
		metric_add(t->unanswered, (const char *const[]){ protocol }, (double)n);
}

void telemetry_incomplete(struct telemetry *t, const char *protocol, uint64_t n)
{
	if (n)
		metric_add(t->incomplete, (const char *const[]){ protocol }, (double)n);
}

void telemetry_capture_bytes(struct telemetry *t, unsigned dir, unsigned fate, const char *outcome,
			     const char *reason, uint64_t total)
{
	if (dir > 1 || fate >= 16 || !outcome || !reason)
		return;
	/* Every series is written once, so each outcome shows from the start (0). */
	if (total < t->last_bytes[dir][fate] || (total == t->last_bytes[dir][fate] && total))
		return;
	metric_add(t->capture_bytes, (const char *const[]){ direction_names[dir], outcome, reason },
		   (double)(total - t->last_bytes[dir][fate]));
	t->last_bytes[dir][fate] = total;
}

void telemetry_hints_displaced(struct telemetry *t, uint64_t total)
{
	if (total < t->last_hints_displaced)
		return;
	metric_add(t->hints_displaced, NULL, (double)(total - t->last_hints_displaced));
	t->last_hints_displaced = total;
}

void telemetry_refresh(struct telemetry *t, const struct sonde_stats *k, unsigned tracked,
		       unsigned attached, uint64_t route_overflow)
{
	for (int r = 0; r < SONDE_LOST_NR; r++)
		if (lost_reasons[r] && k->lost[r] > t->last_kernel.lost[r])
			metric_add(t->events_lost, (const char *const[]){ lost_reasons[r] },
				   (double)(k->lost[r] - t->last_kernel.lost[r]));
	for (int d = 0; d < 2; d++)
		if (k->lost_bytes[d] > t->last_kernel.lost_bytes[d])
			metric_add(t->events_lost_bytes, &direction_names[d],
				   (double)(k->lost_bytes[d] - t->last_kernel.lost_bytes[d]));
	if (k->truncated > t->last_kernel.truncated)
		metric_add(t->truncated, NULL, (double)(k->truncated - t->last_kernel.truncated));
	if (k->no_buffer > t->last_kernel.no_buffer)
		metric_add(t->no_buffer, NULL, (double)(k->no_buffer - t->last_kernel.no_buffer));
	if (route_overflow > t->last_route_overflow)
		metric_add(t->routes_overflowed, NULL,
			   (double)(route_overflow - t->last_route_overflow));
	t->last_kernel = *k;
	t->last_route_overflow = route_overflow;
	metric_set(t->tracked, NULL, tracked);
	metric_set(t->attached, NULL, attached);
}
