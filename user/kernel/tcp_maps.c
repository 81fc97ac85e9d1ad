// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kernel/tcp_maps.h"
#include "sonde_bpf.skel.h"

/* Per-CPU values come as one slot per possible CPU, each rounded up to 8 bytes. */
static int ncpus(void)
{
	int n = libbpf_num_possible_cpus();

	return n > 0 ? n : 1;
}

static void sum_totals(struct sonde_tcp_totals *out, const struct sonde_tcp_totals *per, int n)
{
	const uint64_t *src = (const uint64_t *)per;
	uint64_t *dst = (uint64_t *)out;
	const size_t words = sizeof(*out) / sizeof(uint64_t);

	memset(out, 0, sizeof(*out));
	for (int c = 0; c < n; c++)
		for (size_t w = 0; w < words; w++)
			dst[w] += src[c * words + w];
}

static uint64_t sum_u64(const uint64_t *per, int n)
{
	uint64_t s = 0;

	for (int c = 0; c < n; c++)
		s += per[c];
	return s;
}

/* Entries per batch: the values buffer (which the kernel allocates too, per call) stays
 * near 32 KiB however many CPUs: a MiB went to vmalloc and page faults every second. A
 * node's few hundred entries still take a few calls. */
static size_t batch_of(size_t value_size, int n)
{
	size_t b = (32u << 10) / (value_size * (size_t)n);

	return b < 16 ? 16 : b > 1024 ? 1024 : b;
}

/* One pass over a per-CPU hash, fetched in batches (a syscall per batch, not two per
 * entry); visit() gets each key and its per-CPU values. -ENOSPC: a bucket held more than
 * a batch (the caller walks key by key instead). */
static int walk_batched(int fd, size_t key_size, size_t value_size, int n,
			void (*visit)(const struct tcp_visit *v, const void *key, const void *per,
				      int n),
			const struct tcp_visit *v)
{
	size_t per_entry = value_size * (size_t)n, batch = batch_of(value_size, n);
	/* zeroed: valgrind cannot tell that a batch look-up wrote every per-CPU value */
	char *keys = calloc(batch, key_size), *vals = calloc(batch, per_entry);
	uint64_t in = 0, out = 0; /* hash maps' batch token is a bucket number */
	bool first = true;
	int err = 0;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto done;
	}
	for (;;) {
		__u32 count = batch;

		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &count, NULL);
		if (err && err != -ENOENT)
			break;
		for (__u32 i = 0; i < count; i++)
			visit(v, keys + i * key_size, vals + i * per_entry, n);
		if (err == -ENOENT) { /* that was the last batch */
			err = 0;
			break;
		}
		in = out;
		first = false;
	}
done:
	free(keys);
	free(vals);
	return err;
}

/* The same, key by key (two syscalls per entry). An entry removed between next_key and
 * lookup (only sonde removes them) is skipped. */
static int walk_keys(int fd, size_t key_size, size_t value_size, int n,
		     void (*visit)(const struct tcp_visit *v, const void *key, const void *per,
				   int n),
		     const struct tcp_visit *v)
{
	char *key = malloc(key_size), *prev = malloc(key_size), *per = malloc(value_size * n);
	bool first = true;
	int err;

	if (!key || !prev || !per) {
		err = -ENOMEM;
		goto done;
	}
	while (!(err = bpf_map_get_next_key(fd, first ? NULL : prev, key))) {
		if (!bpf_map_lookup_elem(fd, key, per))
			visit(v, key, per, n);
		memcpy(prev, key, key_size);
		first = false;
	}
	if (err == -ENOENT)
		err = 0;
done:
	free(key);
	free(prev);
	free(per);
	return err;
}

static void visit_attempt(const struct tcp_visit *v, const void *key, const void *per, int n)
{
	v->attempt(v->ctx, key, sum_u64(per, n));
}

static void visit_totals(const struct tcp_visit *v, const void *key, const void *per, int n)
{
	struct sonde_tcp_totals sum;

	sum_totals(&sum, per, n);
	v->totals(v->ctx, key, &sum);
}

static int walk_map(int fd, size_t key_size, size_t value_size,
		    void (*visit)(const struct tcp_visit *v, const void *key, const void *per,
				  int n),
		    const struct tcp_visit *v)
{
	int n = ncpus(), err = walk_batched(fd, key_size, value_size, n, visit, v);

	/* a failed batch visited nothing of itself; the entries of earlier batches are
	 * visited again, which adds nothing (what grew is what is added) */
	if (err == -ENOSPC || err == -EINVAL || err == -EOPNOTSUPP)
		err = walk_keys(fd, key_size, value_size, n, visit, v);
	return err;
}

static int walk(void *ctx, const struct tcp_visit *v)
{
	struct loader *l = ctx;
	int err;

	err = walk_map(bpf_map__fd(l->skel->maps.tcp_attempts),
		       sizeof(struct sonde_tcp_attempt_key), sizeof(uint64_t), visit_attempt, v);
	if (err)
		return err;
	return walk_map(bpf_map__fd(l->skel->maps.tcp_totals), sizeof(struct sonde_tcp_totals_key),
			sizeof(struct sonde_tcp_totals), visit_totals, v);
}

static int take_attempt(void *ctx, const struct sonde_tcp_attempt_key *k, uint64_t *count)
{
	struct loader *l = ctx;
	int n = ncpus(), err;
	uint64_t *per = calloc(n, sizeof(*per));

	if (!per)
		return -ENOMEM;
	err = bpf_map_lookup_and_delete_elem(bpf_map__fd(l->skel->maps.tcp_attempts), k, per);
	if (!err)
		*count = sum_u64(per, n);
	free(per);
	return err;
}

static int take_totals(void *ctx, const struct sonde_tcp_totals_key *k, struct sonde_tcp_totals *t)
{
	struct loader *l = ctx;
	int n = ncpus(), err;
	struct sonde_tcp_totals *per = calloc(n, sizeof(*per));

	if (!per)
		return -ENOMEM;
	err = bpf_map_lookup_and_delete_elem(bpf_map__fd(l->skel->maps.tcp_totals), k, per);
	if (!err)
		sum_totals(t, per, n);
	free(per);
	return err;
}

static uint64_t generation(void *ctx)
{
	struct loader *l = ctx;

	return __atomic_load_n(&l->skel->bss->tcp_sums_gen, __ATOMIC_ACQUIRE);
}

struct tcp_source tcp_maps_source(struct loader *l)
{
	return (struct tcp_source){ .ctx = l,
				    .generation = generation,
				    .walk = walk,
				    .take_attempt = take_attempt,
				    .take_totals = take_totals };
}
