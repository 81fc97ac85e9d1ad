/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The parsers a connection can get, behind one table of operations, so the connection
 * table never switches on the protocol: HTTP/1 server and client sides, and the client
 * sides of PostgreSQL and Redis (a database server process reads those; it is ignored).
 */
#ifndef SONDE_CONSUMER_PROTOCOLS_H
#define SONDE_CONSUMER_PROTOCOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct observer;
struct conn_peer;

/* Where a parser's complete messages go. */
struct proto_sink {
	const struct observer *obs;
	struct conn_peer *peer; /* its series cache is written */
};

struct proto_counts {
	uint64_t parse_errors; /* malformed or unseen framing so far */
	uint64_t unanswered;   /* requests that never got a response (HTTP) */
	uint64_t incomplete;   /* requests the close came inside of (after close()) */
};

struct proto_ops {
	const char *name; /* protocol label of the self-metrics */
	void *(*create)(void);
	void (*destroy)(void *parser);
	/* The classifier saw a message start in the first bytes read (recv) or written. */
	void (*starts)(void *parser, bool recv);
	/* One read (recv) or write of len bytes, the first cap of them in data. */
	void (*feed)(void *parser, bool recv, uint64_t ts, const uint8_t *data, size_t cap,
		     size_t len, const struct proto_sink *out);
	/* A read returned 0: the peer will send no more. */
	void (*eof)(void *parser, uint64_t ts, const struct proto_sink *out);
	/* The connection closed. */
	void (*close)(void *parser, uint64_t ts, const struct proto_sink *out);
	void (*counts)(const void *parser, struct proto_counts *out);
	/* Whether requests await an answer (NULL: never): the connection's close is then held
	 * back a moment, in case the answer was written as the connection closed (conns.h). */
	bool (*pending)(const void *parser);
};

extern const struct proto_ops proto_http_server, proto_http_client;
extern const struct proto_ops proto_pg_client, proto_redis_client;

#endif
