/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TCP health of the selected services, from one kernel record per connection event
 * (bpf/tcp.bpf.c): attempts by outcome, accepted connections, and at close duration,
 * bytes, retransmitted segments, resets and smoothed RTT. In: struct sonde_tcp_event.
 * Out: the tcp_* metric families.
 */
#ifndef SONDE_METRICS_TCP_HEALTH_H
#define SONDE_METRICS_TCP_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "metrics/ctx_labels.h"

#include "sonde_abi.h"

struct registry;
struct metric;

struct tcp_health {
	bool ctx_labels;
	struct metric *client_conns, *server_conns, *duration, *rtt;
	struct metric *retrans, *resets_sent, *resets_received, *bytes_sent, *bytes_received;
};

/* Registers the families; with ctx_labels each ends with the labels of ctx_labels.h. */
int tcp_health_init(struct tcp_health *t, struct registry *reg, uint32_t max_series,
		    bool ctx_labels);

/* One record of a connection owned by service, in container/pod ctx (NULL: none). */
void tcp_health_observe(struct tcp_health *t, const char *service, const struct ctx_labels *ctx,
			const struct sonde_tcp_event *e);

/* "established", "refused", "timeout", ... for an outbound attempt's record. */
const char *tcp_outcome(const struct sonde_tcp_event *e);

#endif
