/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reads the TCP health aggregates the kernel keeps (bpf/tcp.bpf.h: tcp_attempts,
 * tcp_totals), each entry's per-CPU values summed. In: the loaded object. Out: the entries,
 * to metrics/tcp_health.c through the struct tcp_source it fills.
 */
#ifndef SONDE_KERNEL_TCP_MAPS_H
#define SONDE_KERNEL_TCP_MAPS_H

#include "kernel/loader.h"
#include "metrics/tcp_health.h"

/* The source tcp_health_harvest() reads, backed by l's maps (l must outlive it). */
struct tcp_source tcp_maps_source(struct loader *l);

#endif
