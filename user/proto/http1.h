/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HTTP/1.x framing of one connection (RFC 9112) and pairing of its requests with their
 * responses. Pure: bytes in, exchanges out through a callback; the only allocations are the
 * per-connection object and, on demand, a larger queue of pipelined requests.
 *
 * The caller feeds the two byte streams of a connection, one socket read/write at a time,
 * from one thread: the request stream (server side: what the process reads; client side:
 * what it writes) and the response stream. Bytes may be split anywhere between reads.
 *
 * Framing (RFC 9112 §6.3): a request's body is chunked (Transfer-Encoding ending in
 * "chunked"), else Content-Length bytes, else empty. A response has no body for HEAD, 1xx,
 * 204 and 304; else chunked, else Content-Length, else it runs until the connection closes
 * (http1_close()). 1xx interim responses are skipped; 101, and 2xx to CONNECT, end HTTP/1 on
 * the connection: the exchange is emitted and every later byte of both streams is ignored.
 *
 * Pairing: responses answer requests in order (RFC 9112 §9.3.2). A request is queued once
 * its request-line is complete; an exchange is emitted when its response is complete.
 *
 * Out of sync (at first: the connection may have been open before observation began; and
 * after an error) a stream skips whole reads/writes until one starts like a message: a
 * standard method, SP, a request-target and " HTTP/1.x" / "HTTP/1.x DDD ". Such a start is
 * tentative until its start line is complete: if it fails, the bytes were not a message and
 * no error counts. Extension methods parse once in sync, but never start sync: the tail of
 * a request-line split across reads ("ET /x HTTP/1.1" after Go's 1-byte read of "G") is a
 * valid token line too.
 *
 * Losses: bytes that are not captured (cap_len < len) inside a body are counted as body;
 * inside a request's header section (a head longer than the capture of one read) the request
 * is kept with the headers seen before the gap (HTTP1_HEAD_GAP, its body size unknown, its
 * ids flagged HTTP1_ID_UNSEEN: an id header may have been among those not seen), and the
 * stream skips to a later read/write as below; inside other framing (a start line, response
 * headers, chunk-size lines, the start of the next message) they lose the message:
 * parse_errors++, the stream skips to a later read/write. Because a gap
 * can hide any number of pipelined messages, losses are handled so that nothing is paired
 * with the wrong partner, at the price of dropping exchanges:
 *  - request lost (or request bytes skipped): a marker takes its place in the queue. It
 *    swallows every response that began before the next known request began (a response is
 *    written after its request is read, and read after it is written), then gives way.
 *  - response lost: every queued request is dropped (any of them may have been answered
 *    inside the lost bytes), and a marker swallows responses as above.
 * Exact for clients that wait for a response before sending more (and for pipelined batches
 * that wait for the batch); a client that keeps a pipeline full across a loss, or a pipelined
 * request read before observation began, can still be mispaired: that is not knowable from
 * the bytes.
 */
#ifndef SONDE_PROTO_HTTP1_H
#define SONDE_PROTO_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http1_stream {
	HTTP1_REQUESTS = 0,
	HTTP1_RESPONSES = 1,
};

/* struct http1_exchange.flags */
enum http1_flags {
	HTTP1_METHOD_TRUNCATED = 1 << 0, /* method longer than 15 bytes, cut */
	HTTP1_TARGET_TRUNCATED = 1 << 1, /* request-target longer than 255 bytes, cut */
	HTTP1_CLOSE_DELIMITED = 1 << 2,	 /* response body ended by the connection close */
	HTTP1_REQ_INCOMPLETE = 1 << 3,	 /* response complete before the request was */
	HTTP1_INTERIM = 1 << 4,		 /* 1xx interim response(s) came first (100 Continue) */
	HTTP1_UPGRADED = 1 << 5,	 /* 101 or CONNECT tunnel: the connection left HTTP/1 */
	HTTP1_BODY_GAP = 1 << 6,	 /* some body bytes were not captured (counted anyway) */
	HTTP1_CONN_CLOSE = 1 << 7,	 /* "Connection: close" on the request or response */
	/* http1_close_server(): */
	HTTP1_NO_RESPONSE = 1 << 8, /* none of a response was seen: status is HTTP1_STATUS_CLOSED */
	HTTP1_RESP_CUT = 1 << 9,    /* the connection ended inside the response's body */
	/* a read/write's bytes not captured held the end of the request's header section: the
	 * headers after the capture are unknown, and so is the request's body
	 * (req_body_bytes 0, meaning nothing) */
	HTTP1_HEAD_GAP = 1 << 10,
};

/*
 * The status given to a server's request that the connection ended without any byte of a
 * response: nginx's 499 "client closed request" (a client that gives up, as wrk does when it
 * stops, closes or resets the connection while the handler runs; the handler's write then
 * fails, or lands after the close).
 */
#define HTTP1_STATUS_CLOSED 499

/*
 * The request headers that name a request, from an allow-list (no other header is kept):
 * X-Request-ID and X-Correlation-ID as sent (optional whitespace trimmed; bytes kept as they
 * are, invalid UTF-8 included: the events and exemplars repair it), cut at HTTP1_ID_MAX bytes
 * with HTTP1_ID_*_CUT; W3C traceparent's trace-id and parent-id (span) as lowercase hex, only
 * when the whole header is well formed (Trace Context §3.2), else both empty. The first of a
 * repeated header wins. "" when absent. Response headers are not kept.
 */
#define HTTP1_ID_MAX 64

enum http1_id_flags {
	HTTP1_ID_REQUEST_CUT = 1 << 0,	   /* X-Request-ID longer than HTTP1_ID_MAX, cut */
	HTTP1_ID_CORRELATION_CUT = 1 << 1, /* X-Correlation-ID the same */
	HTTP1_ID_TRACE_BAD = 1 << 2,	   /* a traceparent was sent but malformed: ignored */
	HTTP1_ID_UNSEEN = 1 << 3,	   /* part of the head was not captured (HTTP1_HEAD_GAP) */
};

struct http1_ids {
	char request_id[HTTP1_ID_MAX + 1];
	char correlation_id[HTTP1_ID_MAX + 1];
	char trace_id[33]; /* 32 lowercase hex digits, or "" */
	char span_id[17];  /* 16 lowercase hex digits, or "" */
	uint8_t flags;	   /* enum http1_id_flags */
};

/* traceparent value (n bytes, whitespace trimmed) -> ids' trace_id and span_id: 0, or
 * -EINVAL when malformed (ids untouched). Version 00 is exactly 55 bytes; a later version
 * may append "-..." fields (§3.2.4); version ff, an all-zero trace-id or parent-id, and
 * uppercase hex are invalid. */
int http1_traceparent_parse(const char *v, size_t n, struct http1_ids *ids);

struct http1_exchange {
	char method[16];	 /* as sent, NUL-terminated; cut with HTTP1_METHOD_TRUNCATED */
	char target[256];	 /* request-target as sent; cut with HTTP1_TARGET_TRUNCATED */
	uint16_t status;	 /* final status (never 1xx except 101) */
	uint8_t version_minor;	 /* of the response: HTTP/1.<version_minor>; 0 without one */
	uint16_t flags;		 /* enum http1_flags */
	uint64_t req_first_ns;	 /* ts of the read/write carrying the request's first byte */
	uint64_t req_last_ns;	 /* ... its last byte */
	uint64_t resp_first_ns;	 /* ts of the read/write carrying the final response's first byte */
	uint64_t resp_last_ns;	 /* ... its last byte (close-delimited: the last data, not close) */
	uint64_t req_body_bytes; /* body payload (chunked: decoded chunk data), gaps included */
	uint64_t resp_body_bytes; /* same for the response */
	struct http1_ids ids;	  /* of the request (struct http1_ids) */
};

/* Called once per complete exchange. Must not call back into the same connection. */
typedef void (*http1_emit_fn)(void *ctx, const struct http1_exchange *ex);

struct http1_stats {
	uint64_t exchanges;	    /* exchanges emitted */
	uint64_t parse_errors;	    /* messages lost: malformed, or framing bytes not captured */
	uint64_t head_gaps;	    /* requests kept without the end of their head (HEAD_GAP) */
	uint64_t resyncs;	    /* a stream found a message again after skipping bytes */
	uint64_t gap_bytes;	    /* bytes moved but not captured (len - cap_len), both streams */
	uint64_t skipped_bytes;	    /* bytes ignored: out of sync, or after the upgrade */
	uint64_t unanswered;	    /* requests still pending at http1_close() */
	uint64_t incomplete;	    /* 1: http1_close() came inside a request-line */
	uint64_t closed;	    /* emitted with HTTP1_STATUS_CLOSED by http1_close_server() */
	uint64_t cut;		    /* responses emitted cut short by http1_close_server() */
	uint64_t unsolicited;	    /* final responses with no request pending */
	uint64_t dropped_requests;  /* requests dropped because response framing was lost */
	uint64_t dropped_responses; /* responses to requests that were lost or never seen */
	uint64_t upgrades;	    /* connections that left HTTP/1 (101, CONNECT tunnel) */
};

struct http1_conn;

/* NULL with errno = ENOMEM on failure. */
struct http1_conn *http1_conn_new(void);
void http1_conn_free(struct http1_conn *c); /* NULL ok */

/*
 * One socket read/write: data = its first cap_len bytes of len (cap_len < len: the rest was
 * not captured), ts_ns = the event's timestamp. Calls emit for every exchange it completes
 * (emit may be NULL). Returns 0, or -EINVAL for bad arguments; bad bytes are never an error
 * of the call, they are counted in the stats.
 */
int http1_feed(struct http1_conn *c, enum http1_stream s, uint64_t ts_ns, const uint8_t *data,
	       size_t cap_len, size_t len, http1_emit_fn emit, void *ctx);

/*
 * The connection is finished (closed, or the side that delivers responses hit EOF): ends a
 * close-delimited response and emits it, counts still-pending requests as unanswered, and
 * resets the connection to "nothing seen yet" (the stats are kept).
 */
void http1_close(struct http1_conn *c, uint64_t ts_ns, http1_emit_fn emit, void *ctx);

/*
 * The connection of a server (requests read, responses written) ended at ts_ns, closed or
 * reset. What its middleware would count is emitted, then as http1_close():
 *  - a response whose status line was written but not all of its body: emitted with that
 *    status, HTTP1_RESP_CUT, the body bytes written so far, ending at its last write;
 *  - every other pending request (its response never began: the client closed first, or the
 *    server's write failed, which the capture does not see): emitted with status
 *    HTTP1_STATUS_CLOSED and HTTP1_NO_RESPONSE, its response first and last at ts_ns.
 * Not when the response stream is out of sync (responses may have gone by unseen): those
 * requests stay unanswered. Whether the client or the server closed is not known: a server
 * that drops a request without a word is counted the same way.
 */
void http1_close_server(struct http1_conn *c, uint64_t ts_ns, http1_emit_fn emit, void *ctx);

/* Whether anything is pending that the end of the connection would emit or count. */
bool http1_pending(const struct http1_conn *c);

/*
 * The next byte fed on stream s is the first of a message (proto_classify() said so at the
 * start of the connection): parse it at once, whatever its method, instead of starting out
 * of sync. Returns 0, -EBUSY if the stream is already in sync, -EINVAL.
 */
int http1_assume_start(struct http1_conn *c, enum http1_stream s);

const struct http1_stats *http1_conn_stats(const struct http1_conn *c); /* NULL if c is */

#endif /* SONDE_PROTO_HTTP1_H */
