/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which protocol starts a connection, from the first bytes one side sends. Pure.
 *
 * Byte patterns, tried in this order (a pattern that could still match with more bytes
 * blocks the ones after it: the answer is then PROTO_UNKNOWN with *need_more):
 *   PROTO_HTTP2_PREFACE   "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 §3.4), all 24 bytes
 *   PROTO_TLS             16 03 0[0-4] LL LL 01: a handshake record (RFC 8446 §5.1), record
 *                         length 1..16384, carrying a ClientHello (§4)
 *   PROTO_PG_SSLREQUEST   int32 8, int32 80877103 (PostgreSQL protocol, "Message Formats")
 *   PROTO_PG_GSSENCREQUEST int32 8, int32 80877104
 *   PROTO_PG_CANCEL       int32 16..268, int32 80877102 (3.2 keys are up to 256 bytes)
 *   PROTO_PG_STARTUP      int32 9..10000, int32 0x00030000 or 0x00030002 (protocol 3.0/3.2)
 *   PROTO_PG_MESSAGE      a frontend message mid-stream: type byte Q P B E D S H C X F d c f p,
 *                         int32 length 4..16 MiB (a first length byte of 0 tells it from text)
 *   PROTO_REDIS_COMMAND   RESP array of bulk strings: "*" 1-7 digits "\r\n$" 1-9 digits "\r\n"
 *   PROTO_HTTP1_RESPONSE  "HTTP/1.0 " or "HTTP/1.1 "
 *   PROTO_HTTP1_REQUEST   a standard method (RFC 9110 §9, PATCH), SP, '/' or '*'; any
 *                         other request-line only whole: token SP target SP "HTTP/1." DIGIT
 *                         (CRLF | LF), the target '/', '*', "http(s)://" or, for CONNECT,
 *                         an authority
 *   PROTO_REDIS_INLINE    a whole line "WORD[ args]\r\n" of at most 64 bytes, WORD (any case)
 *                         one of PING QUIT ECHO INFO HELLO AUTH SELECT DBSIZE TIME MONITOR:
 *                         commands that are no HTTP method, so a line cannot be both
 */
#ifndef SONDE_PROTO_CLASSIFY_H
#define SONDE_PROTO_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum proto_kind {
	PROTO_UNKNOWN = 0,
	PROTO_HTTP1_REQUEST,
	PROTO_HTTP1_RESPONSE,
	PROTO_HTTP2_PREFACE,
	PROTO_TLS,
	PROTO_PG_STARTUP,
	PROTO_PG_SSLREQUEST,
	PROTO_PG_GSSENCREQUEST,
	PROTO_PG_CANCEL,
	PROTO_PG_MESSAGE,
	PROTO_REDIS_COMMAND,
	PROTO_REDIS_INLINE,
	PROTO_KIND_COUNT,
};

/*
 * Classify the first len bytes a peer sent (len may be 0; data may be NULL when len is 0).
 * PROTO_UNKNOWN with *need_more = true: these bytes are the start of something known, ask
 * again with more; with *need_more = false: none of the above.
 */
enum proto_kind proto_classify(const uint8_t *data, size_t len, bool *need_more);

/* Stable lower-case name ("http1-request", "pg-startup", ...); "unknown" when out of range. */
const char *proto_kind_name(enum proto_kind k);

#endif /* SONDE_PROTO_CLASSIFY_H */
