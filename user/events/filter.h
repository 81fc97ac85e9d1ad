/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * --events-filter: which finished exchanges and operations become event lines.
 *
 * Grammar (terms separated by commas, no spaces; an event passes when ANY term passes it):
 *   all              every event
 *   error            HTTP status >= 500 (either side), or a database error_type
 *   status=C         HTTP status C: an exact code (404) or a class (1xx..5xx)
 *   duration>=D      duration of at least D: a number with unit ns, us, ms or s (250ms, 1.5s)
 *   sample=R         of the events no other term passed, a fraction R in [0, 1] (0.01: one in
 *                    a hundred), drawn at random per event
 * The default (no --events-filter) is "all". Examples: "error,duration>=500ms,sample=0.01",
 * "status=4xx,status=5xx".
 */
#ifndef SONDE_EVENTS_FILTER_H
#define SONDE_EVENTS_FILTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define EVENTS_FILTER_STATUS_MAX 8

struct events_filter {
	bool all, error;
	uint64_t min_ns; /* duration>=; UINT64_MAX: no such term */
	uint32_t sample; /* sample=R as R * 2^32 (saturated); 0: none */
	bool sample_all; /* sample=1 */
	uint8_t n_status;
	uint16_t status[EVENTS_FILTER_STATUS_MAX]; /* exact code, or 1..5 for a class */
	uint64_t rng;				   /* xorshift state for sample= */
};

/*
 * Parses text into f. Returns 0, or -EINVAL after writing one line naming the bad term to
 * err (when not NULL): "term 'X': why".
 */
int events_filter_parse(struct events_filter *f, const char *text, char *err, size_t errlen);

/* Does an event pass? status: HTTP status, 0 for databases; error: a database error. */
bool events_filter_pass(struct events_filter *f, uint64_t duration_ns, unsigned status,
			bool db_error);

#endif
