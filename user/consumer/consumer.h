/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The event consumer: validates each ring-buffer record and hands it to its stage:
 * process records to procs/, connection and data records to the connection table.
 * In: raw records from the kernel (kernel/loader.c). Out: process changes and parsed
 * messages, observed as metrics. Runs on the main thread only.
 */
#ifndef SONDE_CONSUMER_H
#define SONDE_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include "consumer/conns.h"
#include "sonde_abi.h"

struct procs;
struct kernel_ctl;
struct observer;

struct consumer {
	struct procs *procs;
	struct conns conns;
	uint64_t events;		     /* records handled */
	uint64_t by_type[SONDE_EV_LAST + 1]; /* records handled, by enum sonde_event_type */
	uint64_t bad_records;		     /* records too short or of another ABI */
};

int consumer_init(struct consumer *c, struct procs *procs, const struct observer *obs,
		  const struct kernel_ctl *kctl);
void consumer_free(struct consumer *c);

/* The ring-buffer callback (loader_event_fn): ctx is the consumer. Always returns 0. */
int consumer_on_record(void *ctx, const void *data, size_t size);

/* "data", "conn_open", ... for sonde_events_received_total{type}; NULL if unknown. */
const char *consumer_event_name(unsigned type);

#endif
