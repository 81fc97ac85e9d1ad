/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Self-metrics of TLS capture: sonde_tls_targets{library,state,reason} (processes by what
 * was done with their TLS library) and sonde_tls_plaintext_dropped_total{reason} (TLS
 * calls whose plaintext could not be tied to a connection, so was not reported).
 * In: the kernel counters and the TLS targets, once a second. Out: registry samples.
 */
#ifndef SONDE_METRICS_TLS_METRICS_H
#define SONDE_METRICS_TLS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/uprobes.h"
#include "sonde_abi.h"

struct registry;
struct metric;

struct tls_metrics {
	struct metric *targets, *dropped;
	uint64_t last_dropped[SONDE_TLS_DROP_NR];
	/* label sets of sonde_tls_targets published so far: set to 0 when they empty */
	uint8_t shown[TLS_LIB_NR][TLS_STATE_NR][TLS_REASON_NR];
};

/* 0 or -errno. */
int tls_metrics_init(struct tls_metrics *m, struct registry *reg);
void tls_metrics_refresh(struct tls_metrics *m, const struct sonde_stats *kernel,
			 const struct tls_target_info *targets, size_t n);

#endif
