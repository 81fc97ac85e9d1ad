/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Route templating: turns an HTTP request-target as seen on the wire into a low-cardinality
 * `http_route` label value.
 *
 * Path: absolute-form targets ("http://h:p/x") use their path; the query ('?') and fragment
 * ('#') are dropped; "*" (OPTIONS *) stays "*"; an empty target is "/". Nothing is
 * percent-decoded. Empty segments are ignored, so repeated slashes collapse and a trailing
 * slash does not make a second route ("/a//b/" is "/a/b").
 *
 * Configured patterns (chi syntax) are tried in order, first match wins, and the route is the
 * pattern text itself. "{name}" matches one non-empty segment or, inside a segment
 * ("/{month}-{day}"), a non-empty run of bytes; "{name:regexp}" is accepted for chi
 * compatibility but the regexp is NOT evaluated: it matches like "{name}". A final "*"
 * matches the rest of the path, even nothing: "/static/" then "*" matches "/static" too.
 * When patterns are configured and none matches, the route is ROUTE_UNMATCHED, so a 404
 * scanner cannot fill the per-service cap.
 *
 * Without patterns each segment is classified, first rule wins:
 *   control byte (< 0x20, 0x7f), invalid UTF-8 or a '%' escape  -> {seg}
 *       ('%' marks user data: names and search terms; control bytes and broken UTF-8
 *       would make an unreadable label)
 *   all ASCII digits                                              -> {id}
 *   8-4-4-4-12 hex digits                                         -> {uuid}
 *   hex digits only (any case), >= 16 long, or >= 8 long with a digit and a letter a-f
 *                                                                 -> {hex}
 *       ("deadbeef" and "facade" stay words; "cafe1234" is {hex})
 *   >= 24 bytes of base64url [A-Za-z0-9_-] (+ '=' padding) holding a digit and a letter
 *                                                                 -> {token}
 *   longer than ROUTE_WORD_MAX bytes                              -> {seg}
 *   anything else ("api", "v1", "orders", "healthz", valid UTF-8) is kept as is.
 * At most ROUTE_DEPTH_MAX segments are kept; a deeper path, or one whose route would not
 * fit ROUTE_MAX, ends in ROUTE_REST, chi's "the rest" (segments are never cut).
 *
 * Cardinality: each service has its own set of distinct routes; once it holds `cap` routes,
 * every new route becomes ROUTE_OVERFLOW (counted) while known routes keep mapping. Known
 * routes cost one hash look-up and no allocation.
 *
 * Ids: a service name has a small integer id (route_service()), and so has each distinct
 * (service, route) (route_id()): a caller that keeps them per connection compares integers
 * where it compared strings; route_text() gives the label back.
 *
 * Threads: route_service(), route_id() and route_template() mutate the table and need one
 * caller at a time, which route_text() also belongs to; route_overflowed() may be read
 * from any thread.
 */
#ifndef SONDE_ROUTE_H
#define SONDE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTE_MAX 256		   /* bytes of a route, including the NUL */
#define ROUTE_UNMATCHED "/**"	   /* patterns configured, none matched */
#define ROUTE_OVERFLOW "_overflow" /* the service reached its distinct-route cap */
#define ROUTE_REST "/*"		   /* ends a heuristic route that left segments out */
#define ROUTE_DEPTH_MAX 10	   /* heuristic routes keep this many segments, then ROUTE_REST */
#define ROUTE_WORD_MAX 64	   /* a longer unclassified segment is data, not a name: {seg} */

struct route_table;

/*
 * patterns: n chi-style patterns (see above), copied; n may be 0 (then heuristics).
 * cap: distinct routes per service, >= 1. Returns NULL with errno EINVAL on a bad pattern
 * or cap 0 (route_pattern_valid() says why), ENOMEM when out of memory.
 */
struct route_table *route_table_new(const char *const *patterns, size_t n, unsigned cap);
void route_table_free(struct route_table *t);
/*
 * New patterns and cap for a table in use (SIGHUP): paths not seen yet map by the new
 * patterns; routes already admitted keep their ids and texts, and count toward the new
 * cap. 0, or -EINVAL / -ENOMEM with the table unchanged.
 */
int route_table_reconfigure(struct route_table *t, const char *const *patterns, size_t n,
			    unsigned cap);

#define ROUTE_ID_OVERFLOW 0	  /* the id of ROUTE_OVERFLOW, whatever the service */
#define ROUTE_SVC_NONE UINT32_MAX /* no service id (no table, or out of memory) */

/* The id of a service name (NULL is ""), added on first sight: small, dense and stable for
 * the table's life. ROUTE_SVC_NONE without a table or memory: its routes then overflow. */
uint32_t route_service(struct route_table *t, const char *service);

/*
 * The id of the route of `target` (as route_template() below) for service id svc: the same
 * (service, route) always gets the same id, ids of distinct ones differ. ROUTE_ID_OVERFLOW
 * when the service's cap (or memory, or svc ROUTE_SVC_NONE) turned it into ROUTE_OVERFLOW,
 * counted as route_template() counts it.
 */
uint32_t route_id(struct route_table *t, uint32_t svc, const char *target);

/* The route label of an id (ROUTE_OVERFLOW for ROUTE_ID_OVERFLOW or an unknown id; t may
 * be NULL); valid as long as the table. */
const char *route_text(const struct route_table *t, uint32_t id);

/*
 * Writes the route of `target` (request-target bytes, NUL-terminated; NULL is "") for
 * service `service` (NULL is "") into out, cut to outlen - 1 bytes on a UTF-8 boundary.
 * Returns 0, or 1 when the service's cap turned it into ROUTE_OVERFLOW (counted; also when
 * memory ran out, which must not let routes past the cap). Never fails for any input bytes.
 */
int route_template(struct route_table *t, const char *service, const char *target, char *out,
		   size_t outlen);

/* Routes turned into ROUTE_OVERFLOW so far, all services together. */
uint64_t route_overflowed(const struct route_table *t);

/*
 * Checks one pattern for config validation; on false writes a one-line reason into why
 * (may be NULL), e.g. "'*' at offset 3: chi's wildcard only ends a pattern; ...".
 */
bool route_pattern_valid(const char *pattern, char *why, size_t whylen);

#endif
