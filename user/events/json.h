/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One event as one JSON line (RFC 8259), bounded: every string is escaped ('"', '\', C0
 * controls as \n \r \t or \u00XX; invalid UTF-8 as \ufffd, one per maximal ill-formed
 * subpart, as the metrics' label values) and cut at EVENT_STR_MAX output bytes on a
 * character boundary, so a line never exceeds EVENT_LINE_MAX bytes.
 *
 * Fields, in this order, absent when unknown or empty (names follow the metrics' labels):
 *   time               first byte's wall-clock time, RFC 3339 UTC with nanoseconds
 *   kind               http_server | http_client | db_client
 *   service_name
 *   container_id, container_name, k8s_pod_uid, k8s_pod_name, k8s_namespace_name
 *                      (the process's container and pod, whenever sonde found them;
 *                      the metrics carry them only with --k8s-labels)
 *   http_request_method, http_route (server), url_path (--events-path: no query string),
 *   http_response_status_code, request_body_size, response_body_size (bytes)
 *   db_system_name, db_operation_name, error_type (databases; never statement text)
 *   duration_ns        first byte of the request to the end that the metrics measure
 *   server_address, server_port, client_address, client_port
 *   request_id, correlation_id, trace_id, span_id   (http1_ids: the allow-listed headers)
 */
#ifndef SONDE_EVENTS_JSON_H
#define SONDE_EVENTS_JSON_H

#include <stddef.h>
#include <stdint.h>

#define EVENT_STR_MAX 400
#define EVENT_LINE_MAX 12288

struct http1_ids;
struct ctx_labels;

enum { EVENT_REQ_BODY = 1, EVENT_RESP_BODY = 2 };

struct event_record {
	const char *kind;
	int64_t wall_ns; /* first byte, ns since the Unix epoch */
	uint64_t duration_ns;
	const char *service;
	const struct ctx_labels *ctx;	   /* NULL: none */
	const char *method, *route, *path; /* NULL: absent */
	unsigned status;		   /* 0: absent */
	unsigned has_bodies; /* EVENT_REQ_BODY | EVENT_RESP_BODY: which sizes are known */
	uint64_t req_body, resp_body;
	const char *db_system, *db_operation, *error_type;
	const char *server_address, *server_port, *client_address, *client_port;
	const struct http1_ids *ids; /* NULL: none */
};

/*
 * Appends s[0..n) escaped into out (cap bytes available), cutting before the character that
 * would take the output past max bytes. Returns the bytes written.
 */
size_t json_escape(const char *s, size_t n, char *out, size_t cap, size_t max);

/* "2026-12-04T19:02:38.123456789Z" (31 bytes + NUL); negative times clamp to the epoch. */
size_t json_rfc3339_ns(int64_t wall_ns, char out[32]);

/* The line, '\n' included, into out (EVENT_LINE_MAX bytes); returns its length. */
size_t event_render(const struct event_record *r, char out[EVENT_LINE_MAX]);

#endif
