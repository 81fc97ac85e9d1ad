/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TCP health of the selected services, from the running sums the kernel keeps per owner
 * (bpf/tcp.bpf.h): attempts by outcome and server, accepted connections, and the totals
 * of closed connections (duration, bytes, retransmitted segments, resets, smoothed RTT).
 * In: the kernel's entries, read once a second (tcp_health_harvest). Out: the tcp_*
 * metric families, each entry's growth since the last read added to its owner's series.
 */
#ifndef SONDE_METRICS_TCP_HEALTH_H
#define SONDE_METRICS_TCP_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "metrics/ctx_labels.h"
#include "util/hashmap.h"

#include "sonde_abi.h"

struct registry;
struct metric;

/* One pass over the kernel's entries: their values summed over CPUs. */
struct tcp_visit {
	void *ctx;
	void (*attempt)(void *ctx, const struct sonde_tcp_attempt_key *k, uint64_t count);
	void (*totals)(void *ctx, const struct sonde_tcp_totals_key *k,
		       const struct sonde_tcp_totals *t);
};

/* Where the entries come from (kernel/tcp_maps.c, or a test's fake). All return 0 or
 * -errno; take_* return an entry's last values and remove it, in one step. generation
 * (NULL: none) moves after each change to the entries: unmoved, a harvest skips the walk. */
struct tcp_source {
	void *ctx;
	uint64_t (*generation)(void *ctx);
	int (*walk)(void *ctx, const struct tcp_visit *v);
	int (*take_attempt)(void *ctx, const struct sonde_tcp_attempt_key *k, uint64_t *count);
	int (*take_totals)(void *ctx, const struct sonde_tcp_totals_key *k,
			   struct sonde_tcp_totals *t);
};

/* Who owns tgid: its service (NULL: not known), its container and pod (NULL: none), and
 * whether it is still a selected process. */
struct tcp_owner_info {
	const char *service;
	const struct ctx_labels *ctx;
	bool alive;
};

typedef void (*tcp_owner_fn)(void *ctx, uint32_t tgid, struct tcp_owner_info *out);

/* An entry whose owner is gone and which did not grow for this long is removed from the
 * kernel (its last growth counted first): longer than an orphaned socket's close takes. */
#define TCP_FORGET_NS (300 * 1000000000ULL)
/* Walked at least this often even when nothing moved: gone owners' entries are removed. */
#define TCP_WALK_EVERY_NS (60 * 1000000000ULL)

struct tcp_health {
	bool ctx_labels;
	struct metric *client_conns, *server_conns, *duration, *rtt;
	struct metric *retrans, *resets_sent, *resets_received, *bytes_sent, *bytes_received;
	/* What was counted so far of each kernel entry (struct tcp_snap_*). */
	struct hashmap attempts, totals;
	uint64_t gen;	    /* harvests so far: marks the entries each one saw */
	uint64_t src_gen;   /* the source's generation at the last walk */
	uint64_t walked_ns; /* when that walk was */
	uint64_t forget_ns; /* TCP_FORGET_NS; tests shorten it */
	uint64_t unmatched; /* entries never counted: two keys with one 64-bit hash */
};

/* The histograms' bounds in seconds (SONDE_TCP_DURATION_NB, SONDE_TCP_RTT_NB of them). */
extern const double tcp_duration_bounds[];
extern const double tcp_rtt_bounds[];

/* Registers the families; with ctx_labels each ends with the labels of ctx_labels.h. */
int tcp_health_init(struct tcp_health *t, struct registry *reg, uint32_t max_series,
		    bool ctx_labels);
void tcp_health_free(struct tcp_health *t);

/* Reads every entry of src and adds what each grew by since the last harvest to the
 * series of its owner (owner() names it; an unknown owner counts as service "unknown");
 * removes the entries of owners gone for forget_ns. Nothing is read when src's generation
 * did not move, unless the last walk is TCP_WALK_EVERY_NS old. now_ns: CLOCK_MONOTONIC.
 * 0 or -errno (what was read before the error is counted). */
int tcp_health_harvest(struct tcp_health *t, const struct tcp_source *src, tcp_owner_fn owner,
		       void *owner_ctx, uint64_t now_ns);

/* "established", "refused", "timeout", ... for an outbound attempt of kind with sk_err. */
const char *tcp_outcome(uint8_t kind, int32_t sk_err);

#endif
