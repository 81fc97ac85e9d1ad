/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Metric families (counter, gauge, histogram) with labelled series, rendered as Prometheus
 * text format 0.0.4.
 *
 * Threading: ONE writer thread (the event loop) calls metric_add/set/observe, metric_series
 * and series_observe; any number of scrape threads call registry_render at the same time.
 * They share no lock: each series carries a seqcount the writer bumps around an update and
 * a scraper re-reads on a torn copy, so a scrape never blocks the writer and never renders
 * a histogram whose count, buckets and sum disagree. Registration may happen at any time
 * (it takes the registry's own lock, which only registration and render take).
 */
#ifndef SONDE_METRICS_REGISTRY_H
#define SONDE_METRICS_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

#define METRIC_MAX_LABELS 12

/* Bucket upper bounds of the OpenTelemetry semantic conventions (seconds, bytes). */
extern const double
	metric_duration_buckets[]; /* 0,.005,.01,.025,.05,.075,.1,.25,.5,.75,1,2.5,5,7.5,10 */
extern const size_t metric_duration_nbuckets;
extern const double metric_size_buckets[]; /* 0,32,64,128,256,512,1024,2048,4096,8192 */
extern const size_t metric_size_nbuckets;

/* The built-in family counting samples refused by a family's series cap. */
#define METRIC_DROPPED_NAME "sonde_series_dropped_total"

struct registry;
struct metric;

struct registry *registry_new(void);
void registry_free(struct registry *r); /* accepts NULL */

/*
 * Registers a family; NULL + errno: EINVAL (bad name, label name, kind or bounds), EEXIST
 * (name taken), ENOMEM. name, help and label names are copied. bounds/n_bounds are used only
 * for histograms: finite and strictly increasing, "+Inf" is implicit. max_series caps the
 * distinct label sets of this family (0: no cap). A family without labels has its one series
 * from the start, so it renders 0 before the first update.
 */
struct metric *registry_add(struct registry *r, enum metric_kind kind, const char *name,
			    const char *help, const char *const *label_names, size_t n_labels,
			    const double *bounds, size_t n_bounds, size_t max_series);

/*
 * label_values holds n_labels strings in the order of the family's label names (NULL when it
 * has none); they are copied when the series is created and stored as given (the exposition
 * repairs invalid UTF-8). All three return 0, -ENOSPC when the series cap dropped the sample
 * (counted in metric_dropped and sonde_series_dropped_total), or -EINVAL (wrong kind, NULL
 * value, NaN; counters also refuse negative and infinite increments, histograms infinite
 * observations).
 */
int metric_add(struct metric *m, const char *const *label_values, double v);	 /* counter += v */
int metric_set(struct metric *m, const char *const *label_values, double v);	 /* gauge = v */
int metric_observe(struct metric *m, const char *const *label_values, double v); /* histogram */

/*
 * Histograms: adds observations already counted into buckets, counts[0..n_bounds]
 * (non-cumulative, the last for +Inf), whose values add up to sum. Same returns as above.
 */
int metric_observe_counts(struct metric *m, const char *const *label_values, const uint64_t *counts,
			  double sum);

uint64_t metric_dropped(const struct metric *m);

/*
 * A handle to one histogram series, for a caller that updates the same label set over
 * and over: series_observe() skips hashing and looking the labels up. The handle lives as
 * long as the registry. NULL + errno (ENOSPC: refused by the series cap, and counted).
 */
struct series;
struct series *metric_series(struct metric *m, const char *const *label_values);
int series_observe(struct metric *m, struct series *s, double v);
size_t metric_series_count(const struct metric *m);

/*
 * Removes, from every family that has all n label names, the series whose values of those
 * labels are vals (names[i] = vals[i]); other families are untouched. The writer's call:
 * it waits for running scrapes. Handles of removed series (metric_series) are freed, so a
 * caller keeping handles must drop them. Returns how many series were removed.
 */
size_t registry_remove_where(struct registry *r, const char *const *names, const char *const *vals,
			     size_t n);

/*
 * Renders the whole registry in Prometheus text format 0.0.4 into a malloc'd, NUL-terminated
 * buffer (*out, to free()). Families in registration order, then sonde_series_dropped_total;
 * series in creation order. Returns 0, -EINVAL or -ENOMEM.
 */
int registry_render(struct registry *r, char **out, size_t *len);
/*
 * The same, or with om the OpenMetrics 1.0 text format: counter families named without
 * "_total", an exemplar on each histogram bucket that has one (metrics/exemplar.h), and
 * "# EOF" at the end.
 */
int registry_render_format(struct registry *r, bool om, char **out, size_t *len);
/*
 * The same text appended to b, which may be a window onto a sink (expo_gzip_begin()), so
 * the text need not exist whole. Returns 0, -EINVAL, -ENOMEM or b's sticky error.
 */
struct expo_buf;
int registry_render_into(struct registry *r, bool om, struct expo_buf *b);

/*
 * Keeps the ids of a request as the exemplar of the bucket v falls in (histograms only;
 * the writer thread). 0, -EINVAL, -ENOMEM.
 */
struct http1_ids;
int series_exemplar(struct metric *m, struct series *s, double v, const struct http1_ids *ids,
		    int64_t wall_ns);

#endif
