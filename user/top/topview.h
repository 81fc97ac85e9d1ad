/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What `sonde top` shows, computed from two scrapes of /metrics: pure functions, no I/O but
 * the FILE the renderer writes to.
 *
 * A snapshot keeps, per series of http_server_request_duration_seconds and
 * db_client_operation_duration_seconds (identity: every label but "le"), its _count and
 * cumulative buckets. A view compares two snapshots taken dt seconds apart:
 *   - per series, the delta of _count and of each bucket; a series absent from the earlier
 *     scrape, or whose count or any bucket went down (sonde restarted) or whose bucket
 *     bounds changed, counts from zero, as Prometheus' rate() treats a counter reset;
 *   - rows sum the deltas: HTTP server per (service_name, http_route), over methods and
 *     status codes, errors being 5xx; DB client per (db_system_name, db_operation_name),
 *     over services and servers, errors being those with a non-empty error_type;
 *   - rate = observations / dt; p50 and p99 from the summed bucket deltas exactly as
 *     Prometheus' histogram_quantile(): linear interpolation inside the bucket holding the
 *     rank, the lowest bucket starting at 0 (or its bound when <= 0), the upper bound of the
 *     highest finite bucket when the rank falls into +Inf, NaN without observations;
 *   - rows sorted by rate, highest first, then by name. Rows of series that saw no traffic
 *     in the interval stay, with rate 0.
 */
#ifndef SONDE_TOP_TOPVIEW_H
#define SONDE_TOP_TOPVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "top/promparse.h"

#define TOP_HTTP_FAMILY "http_server_request_duration_seconds"
#define TOP_DB_FAMILY "db_client_operation_duration_seconds"
#define TOP_MAX_BUCKETS 64 /* a series with more is left out */

enum top_kind {
	TOP_HTTP, /* groups: service_name, http_route */
	TOP_DB,	  /* groups: db_system_name, db_operation_name */
	TOP_NKINDS,
};

struct top_bucket {
	double le;    /* upper bound, +Inf last */
	double count; /* cumulative */
};

/* String -> index, open addressing; keys are borrowed. */
struct top_index {
	struct top_slot {
		const char *key;
		size_t val;
	} * slots;
	size_t cap, len;
};

struct top_series {
	char *key;	/* kind and every label but le */
	char *group[2]; /* the row it adds to */
	enum top_kind kind;
	bool error;	/* 5xx, or error_type not empty */
	bool has_count; /* a _count sample was seen (else +Inf stands for it) */
	bool bad;	/* unusable (bad le, too many buckets): left out */
	double count;
	size_t nbuckets;
	struct top_bucket *buckets; /* sorted by le once parsed */
};

struct top_snapshot {
	struct top_series *series;
	size_t n, cap;
	struct top_index index;
	char *scratch; /* key being built */
	size_t scratch_cap;
};

struct top_row {
	char *key;
	const char *group[2]; /* borrowed from the later snapshot */
	double total;	      /* observations in the interval */
	double errors;
	double rate;	   /* total / dt */
	double error_rate; /* errors / dt */
	double p50, p99;   /* seconds; NaN without observations */
	size_t nbuckets;
	struct top_bucket *buckets; /* summed deltas, sorted by le */
};

struct top_view {
	double dt;
	struct top_row *rows[TOP_NKINDS];
	size_t nrows[TOP_NKINDS];
	struct top_index index; /* row keys, while building */
};

void top_snapshot_init(struct top_snapshot *s);
void top_snapshot_free(struct top_snapshot *s);
/*
 * Parses a scrape into s (empty or freshly initialised). text is consumed in place (see
 * prom_parse). Returns 0, -EINVAL (err says where), or -ENOMEM.
 */
int top_snapshot_parse(struct top_snapshot *s, char *text, size_t len, struct prom_error *err);

/* Builds v (rows borrow strings from cur) from two snapshots dt > 0 seconds apart. */
int top_view_build(struct top_view *v, const struct top_snapshot *prev,
		   const struct top_snapshot *cur, double dt);
void top_view_free(struct top_view *v);

/* histogram_quantile(q) of cumulative buckets b[0..n) sorted by le; NaN when undefined. */
double top_quantile(double q, const struct top_bucket *b, size_t n);

struct top_frame {
	const char *url;
	const char *clock;  /* "HH:MM:SS" in the live view, else NULL */
	const char *status; /* a line under the header (a failed scrape...), or NULL */
	bool live;	    /* adds "q quits" */
	int width, height;  /* the terminal's; 0: unlimited (plain text, nothing cut) */
};

/* Writes the frame: header, then the HTTP and DB tables of v (v may be NULL). */
void top_render(FILE *out, const struct top_view *v, const struct top_frame *f);

#endif
