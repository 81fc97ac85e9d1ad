// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
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

static int walk(void *ctx, const struct tcp_visit *v)
{
	struct loader *l = ctx;
	int n = ncpus(), fd, err;
	struct sonde_tcp_attempt_key ak, *prev_a = NULL;
	struct sonde_tcp_totals_key tk, *prev_t = NULL;
	uint64_t *counts = calloc(n, sizeof(*counts));
	struct sonde_tcp_totals *per = calloc(n, sizeof(*per)), sum;

	if (!counts || !per) {
		free(counts);
		free(per);
		return -ENOMEM;
	}
	/* An entry removed between next_key and lookup (only sonde removes them) is skipped. */
	fd = bpf_map__fd(l->skel->maps.tcp_attempts);
	while (!(err = bpf_map_get_next_key(fd, prev_a, &ak))) {
		prev_a = &ak;
		if (!bpf_map_lookup_elem(fd, &ak, counts))
			v->attempt(v->ctx, &ak, sum_u64(counts, n));
	}
	if (err != -ENOENT)
		goto out;
	fd = bpf_map__fd(l->skel->maps.tcp_totals);
	while (!(err = bpf_map_get_next_key(fd, prev_t, &tk))) {
		prev_t = &tk;
		if (!bpf_map_lookup_elem(fd, &tk, per)) {
			sum_totals(&sum, per, n);
			v->totals(v->ctx, &tk, &sum);
		}
	}
out:
	free(counts);
	free(per);
	return err == -ENOENT ? 0 : err;
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

struct tcp_source tcp_maps_source(struct loader *l)
{
	return (struct tcp_source){
		.ctx = l, .walk = walk, .take_attempt = take_attempt, .take_totals = take_totals
	};
}
