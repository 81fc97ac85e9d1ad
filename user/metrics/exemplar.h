/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * OpenMetrics 1.0 pieces the registry's render needs beside Prometheus 0.0.4: exemplars (the
 * id of a recent request that landed in each histogram bucket), the family name of a counter,
 * and content negotiation.
 *
 * An exemplar's label set is trace_id + span_id (W3C traceparent), else request_id
 * (X-Request-ID), else correlation_id (X-Correlation-ID). Ids are cut at 64 bytes when the
 * request is parsed (proto/http1.h), each byte at most one character once invalid UTF-8 is
 * replaced, so the longest set, correlation_id plus 64 characters, is 78 characters: within
 * OpenMetrics' limit of 128 for an exemplar's label names and values together. The same
 * value is written in the event line of that request.
 *
 * Threading: one writer (the event loop) overwrites a bucket's slot, scrapers read it; a
 * seqcount per slot, as for series, so a scrape never sees half an id.
 */
#ifndef SONDE_METRICS_EXEMPLAR_H
#define SONDE_METRICS_EXEMPLAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http1.h"

#define EXPO_CONTENT_TYPE_OM "application/openmetrics-text; version=1.0.0; charset=utf-8"

enum exemplar_kind { EXEMPLAR_NONE, EXEMPLAR_TRACE, EXEMPLAR_REQUEST, EXEMPLAR_CORRELATION };

struct exemplar {
	uint32_t seq; /* odd while the writer updates the slot */
	uint8_t kind; /* enum exemplar_kind */
	double value;
	int64_t wall_ns;
	char id[HTTP1_ID_MAX + 1];
	char span[17];
};

struct expo_buf;

/* The label set ids give, into e (writer side, under its seqcount). False: no id at all. */
bool exemplar_set(struct exemplar *e, const struct http1_ids *ids, double value, int64_t wall_ns);
/* " # {labels} value timestamp" of the slot, or nothing when empty. */
void exemplar_render(struct expo_buf *b, const struct exemplar *e);

/* True when an Accept header value asks for application/openmetrics-text with q > 0. */
bool expo_accepts_openmetrics(const char *accept);

/* The OpenMetrics family name of a counter: name without its "_total" (len bytes). */
size_t om_counter_family_len(const char *name);

#endif
