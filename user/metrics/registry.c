// SPDX-License-Identifier: GPL-2.0-only
#include "metrics/registry.h"
#include "metrics/registry_impl.h"
#include "metrics/exemplar.h"
#include "metrics/exposition.h"
#include "util/hash.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const double metric_duration_buckets[] = { 0,	0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
					   0.5, 0.75,  1,    2.5,   5,	  7.5,	 10 };
const size_t metric_duration_nbuckets =
	sizeof(metric_duration_buckets) / sizeof(metric_duration_buckets[0]);
const double metric_size_buckets[] = { 0, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192 };
const size_t metric_size_nbuckets = sizeof(metric_size_buckets) / sizeof(metric_size_buckets[0]);

/* ---- families ------------------------------------------------------------------------- */

static void metric_free(struct metric *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n_series; i++) {
		free((*series_at(m->blocks, i))->ex);
		free(*series_at(m->blocks, i));
	}
	for (i = 0; i < SERIES_BLOCKS; i++)
		free(m->blocks[i]);
	for (i = 0; i < m->n_labels; i++)
		free(m->label_names[i]);
	free(m->table);
	free(m->bounds);
	free(m->le_text);
	free(m->name);
	free(m->help);
	free(m);
}

struct registry *registry_new(void)
{
	struct registry *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_rwlockattr_t a;

	pthread_mutex_init(&r->lock, NULL);
	/* the writer must not wait behind a stream of scrapes */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&r->series_lock, &a);
	pthread_rwlockattr_destroy(&a);
	return r;
}

void registry_free(struct registry *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n_fams; i++)
		metric_free(r->fams[i]);
	free(r->fams);
	pthread_mutex_destroy(&r->lock);
	pthread_rwlock_destroy(&r->series_lock);
	free(r);
}

/* Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names the same without ':'. */
static bool valid_name(const char *s, bool label)
{
	size_t i;

	if (!s || !*s)
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (!label && c == ':') || (i > 0 && c >= '0' && c <= '9');

		if (!ok)
			return false;
	}
	/* "__" prefixes are reserved for Prometheus' internal labels. */
	return !label || strncmp(s, "__", 2) != 0;
}

static bool valid_labels(enum metric_kind kind, const char *const *names, size_t n)
{
	size_t i, j;

	if (n > METRIC_MAX_LABELS || (n && !names))
		return false;
	for (i = 0; i < n; i++) {
		if (!valid_name(names[i], true))
			return false;
		/* "le" is the bucket label a histogram adds itself. */
		if (kind == METRIC_HISTOGRAM && !strcmp(names[i], "le"))
			return false;
		for (j = 0; j < i; j++)
			if (!strcmp(names[i], names[j]))
				return false;
	}
	return true;
}

static bool valid_bounds(const double *bounds, size_t n)
{
	size_t i;

	if (n && !bounds)
		return false;
	for (i = 0; i < n; i++)
		if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
			return false;
	return true;
}

static uint64_t hash_values(const char *const *vals, size_t n);
static struct series *series_new(const struct metric *m, const char *const *vals, uint64_t h);
static int series_insert(struct metric *m, struct series *s);

static struct metric *metric_new(enum metric_kind kind, const char *name, const char *help,
				 const char *const *label_names, size_t n_labels,
				 const double *bounds, size_t n_bounds, size_t max_series)
{
	struct metric *m = calloc(1, sizeof(*m));
	size_t i;

	if (!m)
		return NULL;
	m->kind = kind;
	m->max_series = max_series ? max_series : SIZE_MAX;
	m->name = strdup(name);
	m->help = strdup(help ? help : "");
	if (!m->name || !m->help)
		goto fail;
	for (i = 0; i < n_labels; i++) {
		m->label_names[i] = strdup(label_names[i]);
		if (!m->label_names[i])
			goto fail;
		m->n_labels++;
	}
	if (kind == METRIC_HISTOGRAM) {
		m->bounds = malloc((n_bounds ? n_bounds : 1) * sizeof(*bounds));
		m->le_text = malloc((n_bounds + 1) * sizeof(*m->le_text));
		if (!m->bounds || !m->le_text)
			goto fail;
		for (i = 0; i < n_bounds; i++) {
			m->bounds[i] = bounds[i];
			expo_format_double(bounds[i], m->le_text[i]);
		}
		strcpy(m->le_text[n_bounds], "+Inf");
		m->n_bounds = n_bounds;
	}
	return m;
fail:
	metric_free(m);
	errno = ENOMEM;
	return NULL;
}

static bool name_taken(const struct registry *r, const char *name)
{
	size_t i;

	if (!strcmp(name, METRIC_DROPPED_NAME))
		return true;
	for (i = 0; i < r->n_fams; i++)
		if (!strcmp(r->fams[i]->name, name))
			return true;
	return false;
}

static int registry_append(struct registry *r, struct metric *m)
{
	if (name_taken(r, m->name))
		return -EEXIST;
	if (r->n_fams == r->cap_fams) {
		size_t cap = r->cap_fams ? 2 * r->cap_fams : 16;
		struct metric **f = realloc(r->fams, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		r->fams = f;
		r->cap_fams = cap;
	}
	r->fams[r->n_fams++] = m;
	return 0;
}

struct metric *registry_add(struct registry *r, enum metric_kind kind, const char *name,
			    const char *help, const char *const *label_names, size_t n_labels,
			    const double *bounds, size_t n_bounds, size_t max_series)
{
	struct metric *m;
	struct series *s;
	int err;

	if (!r || kind > METRIC_HISTOGRAM || !valid_name(name, false) ||
	    !valid_labels(kind, label_names, n_labels) ||
	    (kind == METRIC_HISTOGRAM && !valid_bounds(bounds, n_bounds))) {
		errno = EINVAL;
		return NULL;
	}
	m = metric_new(kind, name, help, label_names, n_labels, bounds, n_bounds, max_series);
	if (!m)
		return NULL;
	/* A label-less family exists from the start, so it scrapes as 0 rather than absent. */
	if (n_labels == 0) {
		s = series_new(m, NULL, hash_values(NULL, 0));
		err = s ? series_insert(m, s) : -ENOMEM;
		if (err) {
			free(s);
			goto fail;
		}
	}
	pthread_mutex_lock(&r->lock);
	err = registry_append(r, m);
	pthread_mutex_unlock(&r->lock);
	if (err)
		goto fail;
	return m;
fail:
	metric_free(m);
	errno = -err;
	return NULL;
}

/* ---- series lookup (the writer's hot path) -------------------------------------------- */

/* FNV-1a over the values including their NULs (so "a","bc" != "ab","c"), then a finalizer
 * that spreads the bits: the table index takes the low ones. */
static uint64_t hash_values(const char *const *vals, size_t n)
{
	uint64_t h = FNV1A64_INIT;

	for (size_t i = 0; i < n; i++)
		h = fnv1a64_str(h, vals[i]);
	return hash_fmix64(h);
}

static bool series_matches(const struct metric *m, const struct series *s, const char *const *vals,
			   uint64_t h)
{
	size_t i;

	if (s->hash != h)
		return false;
	for (i = 0; i < m->n_labels; i++)
		if (strcmp(s->values[i], vals[i]))
			return false;
	return true;
}

static struct series *series_find(const struct metric *m, const char *const *vals, uint64_t h)
{
	size_t mask = m->table_cap - 1, i;

	if (!m->table_cap)
		return NULL;
	for (i = h & mask; m->table[i]; i = (i + 1) & mask)
		if (series_matches(m, m->table[i], vals, h))
			return m->table[i];
	return NULL;
}

static struct series *series_new(const struct metric *m, const char *const *vals, uint64_t h)
{
	size_t nb = m->kind == METRIC_HISTOGRAM ? m->n_bounds + 1 : 0;
	size_t head = sizeof(struct series) + nb * sizeof(uint64_t);
	size_t size = head + m->n_labels * sizeof(char *), len[METRIC_MAX_LABELS], i;
	struct series *s;
	char *str;

	for (i = 0; i < m->n_labels; i++) {
		len[i] = strlen(vals[i]) + 1;
		size += len[i];
	}
	/* One allocation: header, buckets, value pointers, then the strings. */
	s = calloc(1, size);
	if (!s)
		return NULL;
	s->hash = h;
	s->values = (const char **)((char *)s + head);
	str = (char *)(s->values + m->n_labels);
	for (i = 0; i < m->n_labels; i++) {
		memcpy(str, vals[i], len[i]);
		s->values[i] = str;
		str += len[i];
	}
	return s;
}

static int table_grow(struct metric *m)
{
	size_t cap = m->table_cap ? 2 * m->table_cap : 16, i, j;
	struct series **t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (i = 0; i < m->table_cap; i++) {
		if (!m->table[i])
			continue;
		for (j = m->table[i]->hash & (cap - 1); t[j]; j = (j + 1) & (cap - 1))
			;
		t[j] = m->table[i];
	}
	free(m->table);
	m->table = t;
	m->table_cap = cap;
	return 0;
}

static int series_insert(struct metric *m, struct series *s)
{
	size_t n = m->n_series, j = n + SERIES_BLOCK0;
	int k = 63 - __builtin_clzll(j) - __builtin_ctz(SERIES_BLOCK0), err;

	if (k >= SERIES_BLOCKS)
		return -ENOSPC;
	if (!m->blocks[k]) {
		struct series **b = calloc((size_t)SERIES_BLOCK0 << k, sizeof(*b));

		if (!b)
			return -ENOMEM;
		__atomic_store_n(&m->blocks[k], b, __ATOMIC_RELAXED);
	}
	/* Keep the load factor at or below 1/2 so probe chains stay short. */
	if (2 * (n + 1) > m->table_cap) {
		err = table_grow(m);
		if (err)
			return err;
	}
	for (j = s->hash & (m->table_cap - 1); m->table[j]; j = (j + 1) & (m->table_cap - 1))
		;
	m->table[j] = s;
	__atomic_store_n(series_at(m->blocks, n), s, __ATOMIC_RELAXED);
	/* publishes the series, its labels and the block to scrapers */
	__atomic_store_n(&m->n_series, n + 1, __ATOMIC_RELEASE);
	return 0;
}

/* The writer's lookup-or-create. Returns the series or NULL with *err set. */
static struct series *series_get(struct metric *m, const char *const *vals, uint64_t h, int *err)
{
	struct series *s = series_find(m, vals, h);

	if (s)
		return s;
	if (m->n_series >= m->max_series) {
		__atomic_fetch_add(&m->dropped, 1, __ATOMIC_RELAXED);
		*err = -ENOSPC;
		return NULL;
	}
	s = series_new(m, vals, h);
	*err = s ? series_insert(m, s) : -ENOMEM;
	if (*err) {
		free(s);
		return NULL;
	}
	return s;
}

/* First bucket whose (inclusive) upper bound holds v; n_bounds is the +Inf bucket. */
static size_t bucket_index(const struct metric *m, double v)
{
	size_t lo = 0, hi = m->n_bounds;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v <= m->bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* The writer's two halves of the seqcount around an update of s's values. */
static void series_write_begin(struct series *s)
{
	__atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELAXED);
	/* the odd seq is visible before any value it guards changes */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void series_write_end(struct series *s)
{
	__atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE);
}

/* The writer's update of one series. */
static void series_apply(struct series *s, enum metric_kind kind, double v, size_t b)
{
	double nv = kind == METRIC_GAUGE ? v : s->value + v;

	series_write_begin(s);
	__atomic_store(&s->value, &nv, __ATOMIC_RELAXED);
	if (kind == METRIC_HISTOGRAM) {
		__atomic_store_n(&s->buckets[b], s->buckets[b] + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&s->count, s->count + 1, __ATOMIC_RELAXED);
	}
	series_write_end(s);
}

static int metric_update(struct metric *m, enum metric_kind kind, const char *const *vals, double v)
{
	struct series *s;
	uint64_t h;
	size_t i, b = 0;
	int err = 0;

	if (!m || m->kind != kind || isnan(v) || (m->n_labels && !vals))
		return -EINVAL;
	for (i = 0; i < m->n_labels; i++)
		if (!vals[i])
			return -EINVAL;
	h = hash_values(vals, m->n_labels);
	if (kind == METRIC_HISTOGRAM)
		b = bucket_index(m, v);

	s = series_get(m, vals, h, &err);
	if (s)
		series_apply(s, kind, v, b);
	return err;
}

struct series *metric_series(struct metric *m, const char *const *vals)
{
	struct series *s;
	int err = 0;

	if (!m || (m->n_labels && !vals)) {
		errno = EINVAL;
		return NULL;
	}
	for (size_t i = 0; i < m->n_labels; i++) {
		if (!vals[i]) {
			errno = EINVAL;
			return NULL;
		}
	}
	s = series_get(m, vals, hash_values(vals, m->n_labels), &err);
	if (!s)
		errno = -err;
	return s;
}

int series_observe(struct metric *m, struct series *s, double v)
{
	size_t b;

	if (!m || !s || m->kind != METRIC_HISTOGRAM || !isfinite(v))
		return -EINVAL;
	b = bucket_index(m, v);
	series_apply(s, METRIC_HISTOGRAM, v, b);
	return 0;
}

int series_exemplar(struct metric *m, struct series *s, double v, const struct http1_ids *ids,
		    int64_t wall_ns)
{
	struct exemplar *ex = s->ex;

	if (!m || !s || m->kind != METRIC_HISTOGRAM || !isfinite(v))
		return -EINVAL;
	if (!ex) {
		ex = calloc(m->n_bounds + 1, sizeof(*ex));
		if (!ex)
			return -ENOMEM;
		__atomic_store_n(&s->ex, ex, __ATOMIC_RELEASE); /* slots zeroed before seen */
	}
	exemplar_set(&ex[bucket_index(m, v)], ids, v, wall_ns);
	return 0;
}

int metric_add(struct metric *m, const char *const *label_values, double v)
{
	/* A counter only goes up, and an infinite one would stay +Inf forever. */
	if (!isfinite(v) || v < 0)
		return -EINVAL;
	return metric_update(m, METRIC_COUNTER, label_values, v);
}

int metric_set(struct metric *m, const char *const *label_values, double v)
{
	return metric_update(m, METRIC_GAUGE, label_values, v);
}

int metric_observe(struct metric *m, const char *const *label_values, double v)
{
	if (!isfinite(v))
		return -EINVAL;
	return metric_update(m, METRIC_HISTOGRAM, label_values, v);
}

int metric_observe_counts(struct metric *m, const char *const *label_values, const uint64_t *counts,
			  double sum)
{
	struct series *s;
	uint64_t n = 0;
	double nv;

	if (!m || m->kind != METRIC_HISTOGRAM || !counts || !isfinite(sum))
		return -EINVAL;
	s = metric_series(m, label_values);
	if (!s)
		return -errno;
	for (size_t b = 0; b <= m->n_bounds; b++)
		n += counts[b];
	nv = s->value + sum;
	series_write_begin(s);
	__atomic_store(&s->value, &nv, __ATOMIC_RELAXED);
	for (size_t b = 0; b <= m->n_bounds; b++)
		__atomic_store_n(&s->buckets[b], s->buckets[b] + counts[b], __ATOMIC_RELAXED);
	__atomic_store_n(&s->count, s->count + n, __ATOMIC_RELAXED);
	series_write_end(s);
	return 0;
}

uint64_t metric_dropped(const struct metric *m)
{
	return m ? __atomic_load_n(&m->dropped, __ATOMIC_RELAXED) : 0;
}

size_t metric_series_count(const struct metric *m)
{
	return m ? __atomic_load_n(&m->n_series, __ATOMIC_ACQUIRE) : 0;
}

/* ---- removal ------------------------------------------------------------------------- */

/* Drops m's series whose labels idx[0..n) hold vals; keeps the rest in creation order and
 * re-indexes them. The caller holds the series lock for writing. */
static size_t metric_remove(struct metric *m, const size_t *idx, const char *const *vals, size_t n)
{
	size_t kept = 0, i, j, k, mask = m->table_cap - 1, gone = m->n_series;

	for (i = 0; i < m->n_series; i++) {
		struct series *s = *series_at(m->blocks, i);

		for (k = 0; k < n && !strcmp(s->values[idx[k]], vals[k]); k++)
			;
		if (k < n) {
			*series_at(m->blocks, kept++) = s;
			continue;
		}
		free(s->ex);
		free(s);
	}
	if (kept == gone)
		return 0;
	m->n_series = kept;
	memset(m->table, 0, m->table_cap * sizeof(*m->table));
	for (i = 0; i < kept; i++) {
		for (j = (*series_at(m->blocks, i))->hash & mask; m->table[j]; j = (j + 1) & mask)
			;
		m->table[j] = *series_at(m->blocks, i);
	}
	return gone - kept;
}

size_t registry_remove_where(struct registry *r, const char *const *names, const char *const *vals,
			     size_t n)
{
	size_t idx[METRIC_MAX_LABELS], total = 0, f, i, k;

	if (!r || !n || n > METRIC_MAX_LABELS)
		return 0;
	pthread_mutex_lock(&r->lock);
	pthread_rwlock_wrlock(&r->series_lock);
	for (f = 0; f < r->n_fams; f++) {
		struct metric *m = r->fams[f];

		for (k = 0; k < n; k++) {
			for (i = 0; i < m->n_labels && strcmp(m->label_names[i], names[k]); i++)
				;
			if (i == m->n_labels)
				break;
			idx[k] = i;
		}
		if (k == n)
			total += metric_remove(m, idx, vals, n);
	}
	pthread_rwlock_unlock(&r->series_lock);
	pthread_mutex_unlock(&r->lock);
	return total;
}
