// SPDX-License-Identifier: GPL-2.0-only
/* The registry's scrape side: families and series as Prometheus or OpenMetrics text. */
#include "metrics/registry.h"
#include "metrics/registry_impl.h"
#include "metrics/exemplar.h"
#include "metrics/exposition.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- rendering ------------------------------------------------------------------------ */

/* What a scrape copies of a series: label strings are immutable, so a pointer will do. */
struct snap {
	const struct series *s;
	double value;
	uint64_t count;
};

static const char *kind_name(enum metric_kind kind)
{
	switch (kind) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	default:
		return "histogram";
	}
}

/* OpenMetrics names a counter's family without the "_total" its samples carry. */
static void render_header(struct expo_buf *b, const char *name, const char *help,
			  enum metric_kind kind, bool om)
{
	int n = (int)(om && kind == METRIC_COUNTER ? om_counter_family_len(name) : strlen(name));

	if (*help) {
		expo_buf_printf(b, "# HELP %.*s ", n, name);
		expo_buf_help(b, help, strlen(help));
		expo_buf_put(b, "\n", 1);
	}
	expo_buf_printf(b, "# TYPE %.*s %s\n", n, name, kind_name(kind));
}

/* The escaped label pairs of one series, a="x",b="y", shared by all its lines. */
static void series_labels(struct expo_buf *lab, const struct metric *m, const struct series *s)
{
	size_t i;

	lab->len = 0;
	for (i = 0; i < m->n_labels; i++) {
		if (i)
			expo_buf_put(lab, ",", 1);
		expo_buf_puts(lab, m->label_names[i]);
		expo_buf_put(lab, "=\"", 2);
		expo_buf_label_value(lab, s->values[i], strlen(s->values[i]));
		expo_buf_put(lab, "\"", 1);
	}
}

/* "name_suffix{labels,le="x"} ": braces only when there is a label at all. */
static void line_start(struct expo_buf *b, const struct metric *m, const char *suffix,
		       const struct expo_buf *lab, const char *le)
{
	expo_buf_puts(b, m->name);
	expo_buf_puts(b, suffix);
	if (lab->len || le) {
		expo_buf_put(b, "{", 1);
		expo_buf_put(b, lab->p, lab->len);
		if (le) {
			expo_buf_puts(b, lab->len ? ",le=\"" : "le=\"");
			expo_buf_puts(b, le);
			expo_buf_put(b, "\"", 1);
		}
		expo_buf_put(b, "}", 1);
	}
	expo_buf_put(b, " ", 1);
}

/* The decimal digits of v, written backwards to end at end; returns where they start. */
static char *u64_digits(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

/*
 * Bucket lines are most of a scrape's bytes (16 of a duration series' 18 lines), and all of
 * a series' share "name_bucket{labels,le=\"": built once into pre, each line is then one
 * reservation and four copies instead of a dozen appends.
 */
static void render_buckets(struct expo_buf *b, const struct metric *m, const uint64_t *buckets,
			   struct expo_buf *pre, const struct expo_buf *lab,
			   const struct exemplar *ex)
{
	char num[20], *d, *q;
	uint64_t cum = 0;
	size_t i, nd, nle;

	pre->len = 0;
	expo_buf_puts(pre, m->name);
	expo_buf_put(pre, "_bucket{", 8);
	expo_buf_put(pre, lab->p, lab->len);
	expo_buf_puts(pre, lab->len ? ",le=\"" : "le=\"");
	for (i = 0; i <= m->n_bounds && !pre->err; i++) {
		cum += buckets[i];
		d = u64_digits(num + sizeof(num), cum);
		nd = (size_t)(num + sizeof(num) - d);
		nle = strlen(m->le_text[i]);
		if (expo_buf_reserve(b, pre->len + nle + nd + 4))
			return;
		q = b->p + b->len;
		memcpy(q, pre->p, pre->len);
		q += pre->len;
		memcpy(q, m->le_text[i], nle);
		q += nle;
		memcpy(q, "\"} ", 3);
		q += 3;
		memcpy(q, d, nd);
		q += nd;
		*q = '\n';
		b->len = (size_t)(q - b->p) + !ex; /* an exemplar goes before the newline */
		b->p[b->len] = '\0';
		if (ex) {
			exemplar_render(b, &ex[i]);
			expo_buf_put(b, "\n", 1);
		}
	}
}

static void render_histogram(struct expo_buf *b, const struct metric *m, const struct snap *sn,
			     const uint64_t *buckets, struct expo_buf *pre,
			     const struct expo_buf *lab, bool om)
{
	const struct exemplar *ex = om ? __atomic_load_n(&sn->s->ex, __ATOMIC_ACQUIRE) : NULL;

	render_buckets(b, m, buckets, pre, lab, ex);
	line_start(b, m, "_sum", lab, NULL);
	expo_buf_double(b, sn->value);
	expo_buf_put(b, "\n", 1);
	line_start(b, m, "_count", lab, NULL);
	expo_buf_u64(b, sn->count);
	expo_buf_put(b, "\n", 1);
}

/* Copies one series' values as of one moment: retries while the writer is mid-update
 * or has updated meanwhile (the reader's half of the seqcount in struct series). */
static void series_read(const struct series *s, size_t nb, struct snap *out, uint64_t *bk)
{
	unsigned spins = 0;
	uint32_t s1;

	for (;;) {
		s1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		if (!(s1 & 1)) {
			__atomic_load(&s->value, &out->value, __ATOMIC_RELAXED);
			out->count = __atomic_load_n(&s->count, __ATOMIC_RELAXED);
			for (size_t i = 0; i < nb; i++)
				bk[i] = __atomic_load_n(&s->buckets[i], __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == s1)
				return;
		}
		if (++spins % 64 == 0)
			sched_yield(); /* the writer was preempted mid-update: let it finish */
	}
}

/* Copies the family's values without any lock: series created meanwhile are left for the
 * next scrape; each series is copied consistently. */
static int snapshot(struct metric *m, struct snap **out, uint64_t **out_buckets, size_t *n)
{
	size_t nb = m->kind == METRIC_HISTOGRAM ? m->n_bounds + 1 : 0, i;
	struct snap *sn;
	uint64_t *bk = NULL;

	*n = metric_series_count(m);
	sn = calloc(*n ? *n : 1, sizeof(*sn));
	if (nb)
		bk = calloc(*n ? *n * nb : 1, sizeof(*bk));
	if (!sn || (nb && !bk)) {
		free(sn);
		free(bk);
		return -ENOMEM;
	}
	for (i = 0; i < *n; i++) {
		sn[i].s = __atomic_load_n(series_at(m->blocks, i), __ATOMIC_RELAXED);
		series_read(sn[i].s, nb, &sn[i], nb ? bk + i * nb : NULL);
	}
	*out = sn;
	*out_buckets = bk;
	return 0;
}

static int render_family(struct expo_buf *b, struct metric *m, bool om)
{
	const char *om_suffix;
	struct expo_buf lab = { 0 }, pre = { 0 };
	size_t nb = m->n_bounds + 1, n, i;
	struct snap *sn;
	uint64_t *bk;
	int err;

	err = snapshot(m, &sn, &bk, &n);
	if (err)
		return err;
	render_header(b, m->name, m->help, m->kind, om);
	/* an OpenMetrics counter sample is named <family>_total */
	om_suffix =
		om && m->kind == METRIC_COUNTER && om_counter_family_len(m->name) == strlen(m->name)
			? "_total"
			: "";
	/* Escaping happens once per series, not once per line: a histogram has many. */
	for (i = 0; i < n && !lab.err && !pre.err; i++) {
		series_labels(&lab, m, sn[i].s);
		if (m->kind == METRIC_HISTOGRAM) {
			render_histogram(b, m, &sn[i], bk + i * nb, &pre, &lab, om);
			continue;
		}
		line_start(b, m, om_suffix, &lab, NULL);
		expo_buf_double(b, sn[i].value);
		expo_buf_put(b, "\n", 1);
	}
	err = lab.err ? lab.err : pre.err;
	expo_buf_free(&lab);
	expo_buf_free(&pre);
	free(sn);
	free(bk);
	return err;
}

static void render_dropped(struct expo_buf *b, struct metric *const *fams, size_t n, bool om)
{
	size_t i;

	render_header(b, METRIC_DROPPED_NAME,
		      "Samples dropped because their metric family reached its series cap "
		      "(--max-series).",
		      METRIC_COUNTER, om);
	for (i = 0; i < n; i++) {
		uint64_t d = metric_dropped(fams[i]);

		if (d)
			expo_buf_printf(b, METRIC_DROPPED_NAME "{metric=\"%s\"} %" PRIu64 "\n",
					fams[i]->name, d);
	}
}

int registry_render(struct registry *r, char **out, size_t *len)
{
	return registry_render_format(r, false, out, len);
}

int registry_render_format(struct registry *r, bool om, char **out, size_t *len)
{
	struct expo_buf b = { 0 };
	int err;

	if (!out)
		return -EINVAL;
	err = registry_render_into(r, om, &b);
	if (err) {
		expo_buf_free(&b);
		return err;
	}
	return expo_buf_take(&b, out, len);
}

int registry_render_into(struct registry *r, bool om, struct expo_buf *b)
{
	struct metric **fams;
	size_t n, i;
	int err = 0;

	if (!r)
		return -EINVAL;
	/* Families are never removed, so a copy of the list stays valid without the lock. */
	pthread_mutex_lock(&r->lock);
	n = r->n_fams;
	fams = malloc((n ? n : 1) * sizeof(*fams));
	if (fams && n)
		memcpy(fams, r->fams, n * sizeof(*fams));
	pthread_mutex_unlock(&r->lock);
	if (!fams)
		return -ENOMEM;
	pthread_rwlock_rdlock(&r->series_lock);
	for (i = 0; i < n && !err; i++)
		err = render_family(b, fams[i], om);
	pthread_rwlock_unlock(&r->series_lock);
	if (!err)
		render_dropped(b, fams, n, om);
	if (!err && om)
		expo_buf_puts(b, "# EOF\n");
	free(fams);
	return err ? err : b->err;
}
