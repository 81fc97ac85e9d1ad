/* SPDX-License-Identifier: GPL-2.0-only */
/* The registry's own structures (registry.h), shared by its files: not for other stages. */
#ifndef SONDE_METRICS_REGISTRY_IMPL_H
#define SONDE_METRICS_REGISTRY_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/exposition.h"
#include "metrics/registry.h"

struct exemplar;

/* Block k of a family's series list holds SERIES_BLOCK0 << k pointers: never moved, so a
 * scraper can walk the list while the writer appends. 28 blocks hold over 2^32 series. */
#define SERIES_BLOCK0 16
#define SERIES_BLOCKS 28

/*
 * One writer, any number of readers, no lock: the writer makes seq odd, updates, makes it
 * even again; a reader copies the values and retries when seq was odd or moved meanwhile
 * (a seqcount). So a scrape never blocks the event loop and never sees a histogram whose
 * count disagrees with its buckets or its sum.
 */
struct series {
	uint64_t hash;
	uint32_t seq;	     /* odd while the writer updates the values below */
	double value;	     /* counter or gauge value; histogram sum */
	uint64_t count;	     /* histogram observations */
	const char **values; /* n_labels copies, stored after buckets */
	struct exemplar *ex; /* histogram: one per bucket; NULL until the first (release) */
	uint64_t buckets[];  /* histogram: n_bounds + 1 non-cumulative counts, the last for +Inf */
};

struct metric {
	enum metric_kind kind;
	char *name, *help;
	char *label_names[METRIC_MAX_LABELS];
	size_t n_labels;
	double *bounds;
	char (*le_text)[EXPO_NUM_MAX]; /* histogram: the bounds as "le" values, then "+Inf" */
	size_t n_bounds;
	size_t max_series;
	uint64_t dropped; /* atomic: read by metric_dropped() and render */

	/* Creation order, for scrapers: a series is never freed before the family. Entries
	 * below n_series (stored with release, loaded with acquire) are complete. */
	struct series **blocks[SERIES_BLOCKS];
	size_t n_series;
	/* The writer's own index: open addressing, linear probing, NULL = empty. */
	struct series **table;
	size_t table_cap; /* power of two, kept at least twice n_series */
};

struct registry {
	pthread_mutex_t lock; /* guards the family list */
	/* Scrapes hold it for reading while they walk the series; removing series (the
	 * writer, rarely) holds it for writing, so no scrape reads a series being freed. */
	pthread_rwlock_t series_lock;
	struct metric **fams;
	size_t n_fams, cap_fams;
};

/* Where series number i of the creation order is kept. */
static inline struct series **series_at(struct series **const *blocks, size_t i)
{
	size_t j = i + SERIES_BLOCK0;
	int k = 63 - __builtin_clzll(j) - __builtin_ctz(SERIES_BLOCK0);
	struct series **b = __atomic_load_n(&blocks[k], __ATOMIC_RELAXED);

	return &b[j - ((size_t)SERIES_BLOCK0 << k)];
}

#endif
