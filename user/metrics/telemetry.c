// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "metrics/telemetry.h"
#include "util/hash.h"
#include "util/version.h"

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
	[SONDE_LOST_STASH_FULL] = "stash_map",
};

static const char *const protocols[] = { "http", "postgresql", "redis" };

#define NL(a) (sizeof(a) / sizeof((a)[0]))

static struct metric *hist(struct telemetry *t, const char *name, const char *help,
			   const char *const *labels, size_t n, const double *b, size_t nb,
			   uint32_t max_series)
{
	return registry_add(t->reg, METRIC_HISTOGRAM, name, help, labels, n, b, nb, max_series);
}

static struct metric *simple(struct telemetry *t, enum metric_kind kind, const char *name,
			     const char *help, const char *label)
{
	const char *labels[1] = { label };

	return registry_add(t->reg, kind, name, help, labels, label ? 1 : 0, NULL, 0, 64);
}

int telemetry_init(struct telemetry *t, uint32_t max_series)
{
	const double *db = metric_duration_buckets, *sb = metric_size_buckets;
	size_t ndb = metric_duration_nbuckets, nsb = metric_size_nbuckets;

	memset(t, 0, sizeof(*t));
	t->reg = registry_new();
	if (!t->reg)
		return -ENOMEM;
	t->http_server_duration =
		hist(t, "http_server_request_duration_seconds", "Duration of HTTP server requests.",
		     http_server_labels, NL(http_server_labels), db, ndb, max_series);
	t->http_server_req_size = hist(t, "http_server_request_body_size_bytes",
				       "Size of HTTP server request bodies.", http_server_labels,
				       NL(http_server_labels), sb, nsb, max_series);
	t->http_server_resp_size = hist(t, "http_server_response_body_size_bytes",
					"Size of HTTP server response bodies.", http_server_labels,
					NL(http_server_labels), sb, nsb, max_series);
	t->http_client_duration =
		hist(t, "http_client_request_duration_seconds", "Duration of HTTP client requests.",
		     http_client_labels, NL(http_client_labels), db, ndb, max_series);
	t->http_client_req_size = hist(t, "http_client_request_body_size_bytes",
				       "Size of HTTP client request bodies.", http_client_labels,
				       NL(http_client_labels), sb, nsb, max_series);
	t->http_client_resp_size = hist(t, "http_client_response_body_size_bytes",
					"Size of HTTP client response bodies.", http_client_labels,
					NL(http_client_labels), sb, nsb, max_series);
	t->db_duration = hist(t, "db_client_operation_duration_seconds",
			      "Duration of database client operations.", db_labels, NL(db_labels),
			      db, ndb, max_series);
	t->build_info =
		registry_add(t->reg, METRIC_GAUGE, "sonde_build_info", "sonde build information.",
			     (const char *const[]){ "version", "abi" }, 2, NULL, 0, 4);
	t->capture_mode = simple(t, METRIC_GAUGE, "sonde_capture_mode",
				 "Capture path in use (1 for the active mode).", "mode");
	t->events_received = simple(t, METRIC_COUNTER, "sonde_events_received_total",
				    "Ring-buffer events received, by type.", "type");
	t->events_lost = simple(t, METRIC_COUNTER, "sonde_events_lost_total",
				"Events the kernel could not deliver, by reason.", "reason");
	t->tracked = simple(t, METRIC_GAUGE, "sonde_tracked_processes",
			    "Processes currently observed.", NULL);
	t->attached =
		simple(t, METRIC_GAUGE, "sonde_attached_programs", "BPF programs attached.", NULL);
	t->parse_errors = simple(t, METRIC_COUNTER, "sonde_parse_errors_total",
				 "Malformed or unframeable messages, by protocol.", "protocol");
	t->unsupported =
		simple(t, METRIC_COUNTER, "sonde_unsupported_connections_total",
		       "Connections recognised but not parsed (TLS, HTTP/2, ...).", "protocol");
	t->routes_overflowed =
		simple(t, METRIC_COUNTER, "sonde_http_routes_overflowed_total",
		       "Requests whose route was replaced by the overflow route.", NULL);
	t->truncated = simple(t, METRIC_COUNTER, "sonde_payload_truncated_total",
			      "Socket reads/writes longer than the capture prefix.", NULL);
	t->no_buffer =
		simple(t, METRIC_COUNTER, "sonde_payload_unavailable_total",
		       "Socket I/O without a user buffer (sendfile, splice, io_uring).", NULL);
	t->unanswered = simple(t, METRIC_COUNTER, "sonde_requests_unanswered_total",
			       "Requests still pending when their connection closed.", "protocol");
	t->proc_cpu = simple(t, METRIC_COUNTER, "process_cpu_seconds_total",
			     "Total user and system CPU time spent in seconds.", NULL);
	t->proc_rss = simple(t, METRIC_GAUGE, "process_resident_memory_bytes",
			     "Resident memory size in bytes.", NULL);
	t->proc_start = simple(t, METRIC_GAUGE, "process_start_time_seconds",
			       "Start time of the process since unix epoch in seconds.", NULL);
	t->proc_fds = simple(t, METRIC_GAUGE, "process_open_fds",
			     "Number of open file descriptors.", NULL);
	if (!t->http_server_duration || !t->db_duration || !t->events_lost || !t->unanswered ||
	    !t->proc_fds) {
		telemetry_free(t);
		return -ENOMEM;
	}
	for (int r = 0; r < SONDE_LOST_NR; r++)
		metric_add(t->events_lost, (const char *const[]){ lost_reasons[r] }, 0);
	/* Known label values start at 0, so dashboards and alerts see "none yet", not nothing. */
	for (size_t i = 0; i < NL(protocols); i++) {
		metric_add(t->parse_errors, (const char *const[]){ protocols[i] }, 0);
		metric_add(t->unanswered, (const char *const[]){ protocols[i] }, 0);
	}
	metric_add(t->unsupported, (const char *const[]){ "tls" }, 0);
	metric_add(t->unsupported, (const char *const[]){ "http2" }, 0);
	metric_set(t->proc_start, NULL, (double)time(NULL));
	t->http_server_cache = calloc(TEL_CACHE_SLOTS, sizeof(struct tel_cache_slot));
	t->http_client_cache = calloc(TEL_CACHE_SLOTS, sizeof(struct tel_cache_slot));
	t->db_cache = calloc(TEL_CACHE_SLOTS, sizeof(struct tel_cache_slot));
	if (!t->http_server_cache || !t->http_client_cache || !t->db_cache) {
		telemetry_free(t);
		return -ENOMEM;
	}
	return 0;
}

void telemetry_free(struct telemetry *t)
{
	free(t->http_server_cache);
	free(t->http_client_cache);
	free(t->db_cache);
	registry_free(t->reg);
	memset(t, 0, sizeof(*t));
}

const char *http_method_label(const char *m)
{
	static const char *const known[] = { "GET",	"HEAD",	   "POST",  "PUT",  "DELETE",
					     "CONNECT", "OPTIONS", "TRACE", "PATCH" };

	for (size_t i = 0; i < NL(known); i++)
		if (!strcmp(m, known[i]))
			return known[i];
	return "_OTHER";
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

void telemetry_http_server(struct telemetry *t, const struct http_labels *l, double seconds,
			   uint64_t req_body, uint64_t resp_body)
{
	const char *v[] = { l->method, l->status, l->route, "http", l->server_port, l->service };
	struct metric *fams[3] = { t->http_server_duration, t->http_server_req_size,
				   t->http_server_resp_size };
	struct series *s[3];

	if (!cached_series(t->http_server_cache, fams, 3, v, 6, s))
		return;
	series_observe(fams[0], s[0], seconds);
	series_observe(fams[1], s[1], (double)req_body);
	series_observe(fams[2], s[2], (double)resp_body);
}

void telemetry_http_client(struct telemetry *t, const struct http_labels *l, double seconds,
			   uint64_t req_body, uint64_t resp_body)
{
	const char *v[] = { l->method, l->status, l->server_address, l->server_port, l->service };
	struct metric *fams[3] = { t->http_client_duration, t->http_client_req_size,
				   t->http_client_resp_size };
	struct series *s[3];

	if (!cached_series(t->http_client_cache, fams, 3, v, 5, s))
		return;
	series_observe(fams[0], s[0], seconds);
	series_observe(fams[1], s[1], (double)req_body);
	series_observe(fams[2], s[2], (double)resp_body);
}

void telemetry_db(struct telemetry *t, const struct db_labels *l, double seconds)
{
	const char *v[] = { l->system,	       l->operation,   l->error_type,
			    l->server_address, l->server_port, l->service };
	struct series *s;

	if (cached_series(t->db_cache, &t->db_duration, 1, v, 6, &s))
		series_observe(t->db_duration, s, seconds);
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

void telemetry_refresh(struct telemetry *t, const struct sonde_stats *k, unsigned tracked,
		       unsigned attached, uint64_t route_overflow)
{
	for (int r = 0; r < SONDE_LOST_NR; r++)
		if (k->lost[r] > t->last_kernel.lost[r])
			metric_add(t->events_lost, (const char *const[]){ lost_reasons[r] },
				   (double)(k->lost[r] - t->last_kernel.lost[r]));
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

void telemetry_refresh_process(struct telemetry *t)
{
	unsigned long utime, stime;
	long rss_pages;
	double cpu, fds = 0;
	char buf[1024], *p;
	FILE *f = fopen("/proc/self/stat", "r");
	DIR *d;

	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		fclose(f);
		buf[n] = '\0';
		/* fields after the comm, which may hold spaces: state is field 3 */
		p = strrchr(buf, ')');
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				&utime, &stime) == 2) {
			cpu = (double)(utime + stime) / sysconf(_SC_CLK_TCK);
			if (cpu > t->last_cpu_seconds)
				metric_add(t->proc_cpu, NULL, cpu - t->last_cpu_seconds);
			t->last_cpu_seconds = cpu;
		}
	}
	f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%*u %ld", &rss_pages) == 1)
			metric_set(t->proc_rss, NULL, (double)rss_pages * sysconf(_SC_PAGESIZE));
		fclose(f);
	}
	d = opendir("/proc/self/fd");
	if (d) {
		while (readdir(d))
			fds++;
		closedir(d);
		metric_set(t->proc_fds, NULL, fds - 3); /* ".", ".." and the directory's own fd */
	}
}
