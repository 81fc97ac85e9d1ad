/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The event consumer: turns ring-buffer records into process changes, connection state
 * and protocol messages, and protocol messages into metrics. Runs on the main thread only.
 */
#ifndef SONDE_PIPELINE_H
#define SONDE_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "util/hashmap.h"
#include "sonde_abi.h"

struct procs;
struct telemetry;
struct route_table;
struct business;

struct pipeline {
	struct procs *procs;
	struct telemetry *tel;
	struct route_table *routes;
	struct business *biz; /* business counters (--counter); NULL: none */
	struct hashmap conns; /* connection id (socket cookie) -> struct conn */
	/* Called when a connection turns out to be of no parsed protocol, so the kernel can
	 * stop sending its bytes (may be NULL). */
	void (*ignore_conn)(void *ctx, uint64_t id);
	void *ignore_ctx;
	uint64_t events;		       /* records handled */
	uint64_t by_type[SONDE_EV_LISTEN + 1]; /* records handled, by enum sonde_event_type */
	uint64_t bad_records;		       /* records too short or of another ABI */
};

int pipeline_init(struct pipeline *p, struct procs *procs, struct telemetry *tel,
		  struct route_table *routes, struct business *biz);
void pipeline_free(struct pipeline *p);

/* The ring-buffer callback (loader_event_fn): ctx is the pipeline. */
int pipeline_on_event(void *ctx, const void *data, size_t size);

/* "data", "conn_open", ... for sonde_events_received_total{type}; NULL if unknown. */
const char *pipeline_event_name(unsigned type);

/* Drops connections idle for longer than idle_ns (Unix sockets have no close event). */
void pipeline_expire(struct pipeline *p, uint64_t now_ns, uint64_t idle_ns);

#endif
