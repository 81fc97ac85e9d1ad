// SPDX-License-Identifier: GPL-2.0-only
/* sonde top: snapshots of two scrapes, their deltas, quantiles and rows (see topview.h). */
#include "top/topview.h"
#include "util/hash.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- string index ---------------------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
	return fnv1a64(s, strlen(s));
}

static bool index_get(const struct top_index *ix, const char *key, size_t *val)
{
	size_t i;

	if (!ix->cap)
		return false;
	for (i = hash_str(key) & (ix->cap - 1); ix->slots[i].key; i = (i + 1) & (ix->cap - 1)) {
		if (!strcmp(ix->slots[i].key, key)) {
			*val = ix->slots[i].val;
			return true;
		}
	}
	return false;
}

static void index_insert(struct top_slot *slots, size_t cap, const char *key, size_t val)
{
	size_t i = hash_str(key) & (cap - 1);

	while (slots[i].key)
		i = (i + 1) & (cap - 1);
	slots[i] = (struct top_slot){ key, val };
}

/* Adds key (absent, borrowed) -> val; keeps the table at most half full. */
static int index_put(struct top_index *ix, const char *key, size_t val)
{
	if (2 * (ix->len + 1) > ix->cap) {
		size_t cap = ix->cap ? 2 * ix->cap : 64, i;
		struct top_slot *slots = calloc(cap, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (i = 0; i < ix->cap; i++) {
			if (ix->slots[i].key)
				index_insert(slots, cap, ix->slots[i].key, ix->slots[i].val);
		}
		free(ix->slots);
		ix->slots = slots;
		ix->cap = cap;
	}
	index_insert(ix->slots, ix->cap, key, val);
	ix->len++;
	return 0;
}

static void index_free(struct top_index *ix)
{
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}

/* ---- snapshot -------------------------------------------------------------------------- */

void top_snapshot_init(struct top_snapshot *s)
{
	memset(s, 0, sizeof(*s));
}

void top_snapshot_free(struct top_snapshot *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->series[i].key);
		free(s->series[i].group[0]);
		free(s->series[i].group[1]);
		free(s->series[i].buckets);
	}
	free(s->series);
	free(s->scratch);
	index_free(&s->index);
	memset(s, 0, sizeof(*s));
}

static int sample_kind(const struct prom_sample *ps)
{
	if (ps->family->type != PROM_HISTOGRAM)
		return -1;
	if (!strcmp(ps->family->name, TOP_HTTP_FAMILY))
		return TOP_HTTP;
	if (!strcmp(ps->family->name, TOP_DB_FAMILY))
		return TOP_DB;
	return -1;
}

/*
 * The series identity into s->scratch: the kind, then every label but le sorted by name,
 * each as name=LEN:value (the length keeps any value byte from faking a separator).
 */
static int build_key(struct top_snapshot *s, enum top_kind kind, const struct prom_sample *ps)
{
	const struct prom_label *l[PROM_MAX_LABELS], *t;
	size_t n = 0, i, j, need = 3;
	char *w;

	for (i = 0; i < ps->nlabels; i++) {
		if (strcmp(ps->labels[i].name, "le")) {
			t = &ps->labels[i];
			for (j = n++; j && strcmp(l[j - 1]->name, t->name) > 0; j--)
				l[j] = l[j - 1];
			l[j] = t;
			need += strlen(t->name) + t->value_len + 24;
		}
	}
	if (need > s->scratch_cap) {
		w = realloc(s->scratch, need);
		if (!w)
			return -ENOMEM;
		s->scratch = w;
		s->scratch_cap = need;
	}
	w = s->scratch;
	*w++ = (char)('0' + kind);
	for (i = 0; i < n; i++) {
		w += sprintf(w, "\n%s=%zu:", l[i]->name, l[i]->value_len);
		memcpy(w, l[i]->value, l[i]->value_len);
		w += l[i]->value_len;
	}
	*w = '\0';
	return 0;
}

static bool is_server_error(const char *status)
{
	return status && status[0] == '5' && status[1] >= '0' && status[1] <= '9' &&
	       status[2] >= '0' && status[2] <= '9' && !status[3];
}

static int series_init(struct top_series *se, enum top_kind kind, const struct prom_sample *ps,
		       const char *key)
{
	static const char *const groups[TOP_NKINDS][2] = {
		[TOP_HTTP] = { "service_name", "http_route" },
		[TOP_DB] = { "db_system_name", "db_operation_name" },
	};
	const char *a = prom_label(ps, groups[kind][0]), *b = prom_label(ps, groups[kind][1]);
	const char *et = prom_label(ps, "error_type");

	memset(se, 0, sizeof(*se));
	se->kind = kind;
	se->key = strdup(key);
	se->group[0] = strdup(a ? a : "");
	se->group[1] = strdup(b ? b : "");
	if (kind == TOP_HTTP)
		se->error = is_server_error(prom_label(ps, "http_response_status_code"));
	else
		se->error = et && *et;
	return se->key && se->group[0] && se->group[1] ? 0 : -ENOMEM;
}

/* The series of ps, added when new; NULL with *err set on failure. */
static struct top_series *series_get(struct top_snapshot *s, enum top_kind kind,
				     const struct prom_sample *ps, int *err)
{
	struct top_series *se;
	size_t i;

	*err = build_key(s, kind, ps);
	if (*err)
		return NULL;
	if (index_get(&s->index, s->scratch, &i))
		return &s->series[i];
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;

		se = realloc(s->series, cap * sizeof(*se));
		if (!se) {
			*err = -ENOMEM;
			return NULL;
		}
		s->series = se;
		s->cap = cap;
	}
	se = &s->series[s->n++];
	*err = series_init(se, kind, ps, s->scratch);
	if (!*err)
		*err = index_put(&s->index, se->key, s->n - 1);
	return *err ? NULL : se;
}

static int add_bucket(struct top_series *se, const char *le_text, double count)
{
	struct top_bucket *b;
	char *end;
	double le = strtod(le_text, &end);

	if (end == le_text || *end || isnan(le) || se->nbuckets == TOP_MAX_BUCKETS) {
		se->bad = true;
		return 0;
	}
	b = realloc(se->buckets, (se->nbuckets + 1) * sizeof(*b));
	if (!b)
		return -ENOMEM;
	se->buckets = b;
	b[se->nbuckets++] = (struct top_bucket){ le, count };
	return 0;
}

static int on_sample(const struct prom_sample *ps, void *ctx)
{
	struct top_snapshot *s = ctx;
	struct top_series *se;
	int kind = sample_kind(ps), err;

	if (kind < 0 || ps->suffix == PROM_SUFFIX_SUM || ps->suffix == PROM_SUFFIX_NONE)
		return 0;
	se = series_get(s, (enum top_kind)kind, ps, &err);
	if (!se)
		return err;
	/* A count of observations is never below zero (-Inf included): not a histogram's. */
	if (ps->value < 0) {
		se->bad = true;
		return 0;
	}
	if (ps->suffix == PROM_SUFFIX_COUNT) {
		se->count = ps->value;
		se->has_count = true;
		return 0;
	}
	return add_bucket(se, prom_label(ps, "le"), ps->value);
}

/* Sorts the buckets by bound; a bound twice makes the series unusable. */
static void series_finish(struct top_series *se)
{
	struct top_bucket t;
	size_t i, j;

	for (i = 1; i < se->nbuckets; i++) {
		t = se->buckets[i];
		for (j = i; j && se->buckets[j - 1].le > t.le; j--)
			se->buckets[j] = se->buckets[j - 1];
		se->buckets[j] = t;
		if (j && se->buckets[j - 1].le == t.le)
			se->bad = true;
	}
	if (!se->has_count && se->nbuckets && isinf(se->buckets[se->nbuckets - 1].le))
		se->count = se->buckets[se->nbuckets - 1].count;
}

int top_snapshot_parse(struct top_snapshot *s, char *text, size_t len, struct prom_error *err)
{
	struct prom_handler h = { .sample = on_sample, .ctx = s };
	size_t i;
	int rc;

	rc = prom_parse(text, len, &h, err);
	if (rc)
		return rc;
	for (i = 0; i < s->n; i++)
		series_finish(&s->series[i]);
	return 0;
}

/* ---- quantile -------------------------------------------------------------------------- */

double top_quantile(double q, const struct top_bucket *b, size_t n)
{
	double obs = 0, cum = 0, below = 0, start, rank;
	size_t i;

	if (isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	if (n < 2 || !isinf(b[n - 1].le) || b[n - 1].le < 0)
		return NAN;
	/* Counts are made monotonic (each at least the one before), as Prometheus does. */
	for (i = 0; i < n; i++)
		obs = fmax(obs, b[i].count);
	if (obs <= 0)
		return NAN;
	rank = q * obs;
	for (i = 0; i < n - 1; i++) {
		cum = fmax(cum, b[i].count);
		if (cum >= rank)
			break;
		below = cum;
	}
	if (i == n - 1)
		return b[n - 2].le;
	if (i == 0 && b[0].le <= 0)
		return b[0].le;
	start = i ? b[i - 1].le : 0;
	return start + (b[i].le - start) * ((rank - below) / (cum - below));
}

/* ---- view ------------------------------------------------------------------------------ */

static struct top_row *row_get(struct top_view *v, const struct top_series *se, int *err)
{
	struct top_row *rows, *r;
	size_t i, n = v->nrows[se->kind];
	char *key;

	*err = -ENOMEM;
	if (asprintf(&key, "%d\n%zu:%s\n%s", se->kind, strlen(se->group[0]), se->group[0],
		     se->group[1]) < 0)
		return NULL;
	if (index_get(&v->index, key, &i)) {
		free(key);
		*err = 0;
		return &v->rows[se->kind][i];
	}
	rows = realloc(v->rows[se->kind], (n + 1) * sizeof(*rows));
	if (!rows) {
		free(key);
		return NULL;
	}
	v->rows[se->kind] = rows;
	r = &rows[n];
	*r = (struct top_row){ .key = key, .group = { se->group[0], se->group[1] } };
	v->nrows[se->kind]++;
	*err = index_put(&v->index, key, n);
	return *err ? NULL : r;
}

static int row_add_bucket(struct top_row *r, double le, double count)
{
	struct top_bucket *b;
	size_t i;

	for (i = 0; i < r->nbuckets && r->buckets[i].le < le; i++)
		;
	if (i < r->nbuckets && r->buckets[i].le == le) {
		r->buckets[i].count += count;
		return 0;
	}
	b = realloc(r->buckets, (r->nbuckets + 1) * sizeof(*b));
	if (!b)
		return -ENOMEM;
	memmove(b + i + 1, b + i, (r->nbuckets - i) * sizeof(*b));
	b[i] = (struct top_bucket){ le, count };
	r->buckets = b;
	r->nbuckets++;
	return 0;
}

/* Whether cur cannot continue prev: a count went down or the bucket bounds changed. */
static bool series_reset(const struct top_series *c, const struct top_series *p)
{
	size_t i;

	if (c->count < p->count || c->nbuckets != p->nbuckets)
		return true;
	for (i = 0; i < c->nbuckets; i++) {
		if (c->buckets[i].le != p->buckets[i].le ||
		    c->buckets[i].count < p->buckets[i].count)
			return true;
	}
	return false;
}

/* Adds the delta of series c since p (NULL: absent then) to its row. */
static int row_add(struct top_row *r, const struct top_series *c, const struct top_series *p)
{
	bool reset = !p || series_reset(c, p);
	double d = reset ? c->count : c->count - p->count;
	size_t i;
	int err;

	r->total += d;
	if (c->error)
		r->errors += d;
	for (i = 0; i < c->nbuckets; i++) {
		d = c->buckets[i].count - (reset ? 0 : p->buckets[i].count);
		err = row_add_bucket(r, c->buckets[i].le, d);
		if (err)
			return err;
	}
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;
	int c;

	if (x->rate != y->rate)
		return x->rate > y->rate ? -1 : 1;
	c = strcmp(x->group[0], y->group[0]);
	return c ? c : strcmp(x->group[1], y->group[1]);
}

static void rows_finish(struct top_row *rows, size_t n, double dt)
{
	size_t i;

	for (i = 0; i < n; i++) {
		rows[i].rate = rows[i].total / dt;
		rows[i].error_rate = rows[i].errors / dt;
		rows[i].p50 = top_quantile(0.5, rows[i].buckets, rows[i].nbuckets);
		rows[i].p99 = top_quantile(0.99, rows[i].buckets, rows[i].nbuckets);
	}
	if (n > 1)
		qsort(rows, n, sizeof(*rows), row_cmp);
}

int top_view_build(struct top_view *v, const struct top_snapshot *prev,
		   const struct top_snapshot *cur, double dt)
{
	const struct top_series *c, *p;
	struct top_row *r;
	size_t i, j;
	int err = 0;

	memset(v, 0, sizeof(*v));
	v->dt = dt;
	for (i = 0; i < cur->n && !err; i++) {
		c = &cur->series[i];
		if (c->bad)
			continue;
		p = prev && index_get(&prev->index, c->key, &j) ? &prev->series[j] : NULL;
		r = row_get(v, c, &err);
		if (r)
			err = row_add(r, c, p && !p->bad ? p : NULL);
	}
	index_free(&v->index);
	if (err) {
		top_view_free(v);
		return err;
	}
	for (i = 0; i < TOP_NKINDS; i++)
		rows_finish(v->rows[i], v->nrows[i], dt);
	return 0;
}

void top_view_free(struct top_view *v)
{
	size_t k, i;

	if (!v)
		return;
	for (k = 0; k < TOP_NKINDS; k++) {
		for (i = 0; i < v->nrows[k]; i++) {
			free(v->rows[k][i].key);
			free(v->rows[k][i].buckets);
		}
		free(v->rows[k]);
	}
	index_free(&v->index);
	memset(v, 0, sizeof(*v));
}
