// SPDX-License-Identifier: GPL-2.0-only
/*
 * Protocol classification of a connection's first bytes; the patterns are listed, with
 * their sources, in classify.h. Each matcher answers NO, MAYBE (a prefix of its pattern)
 * or YES, reusing the tri-state of the HTTP/1 probes.
 */
#include "proto/classify.h"
#include "proto/http1_scan.h"

#include <string.h>

#define NO HTTP1_PROBE_NO
#define MAYBE HTTP1_PROBE_MAYBE
#define YES HTTP1_PROBE_YES

#define PG_SSL_CODE 80877103u
#define PG_GSSENC_CODE 80877104u
#define PG_CANCEL_CODE 80877102u
#define PG_STARTUP_MAX 10000u /* the server's MAX_STARTUP_PACKET_LENGTH */
#define INLINE_MAX 64

typedef enum http1_probe (*match_fn)(const uint8_t *p, size_t n, enum proto_kind *kind);

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* p agrees with lit as far as both go: YES once all of lit is there. */
static enum http1_probe match_literal(const uint8_t *p, size_t n, const char *lit, size_t ln)
{
	if (memcmp(p, lit, n < ln ? n : ln))
		return NO;
	return n >= ln ? YES : MAYBE;
}

static enum http1_probe match_h2(const uint8_t *p, size_t n, enum proto_kind *kind)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

	*kind = PROTO_HTTP2_PREFACE;
	return match_literal(p, n, preface, sizeof(preface) - 1);
}

static enum http1_probe match_tls(const uint8_t *p, size_t n, enum proto_kind *kind)
{
	/* ContentType handshake(22), legacy_record_version 3.0-3.4, length, HandshakeType */
	*kind = PROTO_TLS;
	if (p[0] != 0x16 || (n > 1 && p[1] != 0x03) || (n > 2 && p[2] > 0x04))
		return NO;
	if (n < 5)
		return MAYBE;
	if (!(p[3] << 8 | p[4]) || (p[3] << 8 | p[4]) > 16384) /* RFC 8446 §5.1: 2^14 */
		return NO;
	if (n < 6)
		return MAYBE;
	return p[5] == 0x01 ? YES : NO; /* client_hello */
}

/* The first message of a PostgreSQL connection has no type byte: int32 length, int32 code. */
static enum http1_probe match_pg_first(const uint8_t *p, size_t n, enum proto_kind *kind)
{
	uint32_t len, code;

	*kind = PROTO_UNKNOWN;
	/* every such length is below 65536: two zero bytes first */
	if (p[0] || (n > 1 && p[1]))
		return NO;
	if (n < 4)
		return MAYBE;
	len = be32(p);
	if (len < 8 || len > PG_STARTUP_MAX)
		return NO;
	if (n < 8)
		return MAYBE;
	code = be32(p + 4);
	if (code == PG_SSL_CODE && len == 8)
		*kind = PROTO_PG_SSLREQUEST;
	else if (code == PG_GSSENC_CODE && len == 8)
		*kind = PROTO_PG_GSSENCREQUEST;
	else if (code == PG_CANCEL_CODE && len >= 16 && len <= 12 + 256)
		*kind = PROTO_PG_CANCEL;
	else if ((code == 0x00030000 || code == 0x00030002) && len >= 9)
		*kind = PROTO_PG_STARTUP;
	return *kind == PROTO_UNKNOWN ? NO : YES;
}

/* A frontend message: type byte, int32 length counting itself. */
static enum http1_probe match_pg_message(const uint8_t *p, size_t n, enum proto_kind *kind)
{
	uint32_t len;

	*kind = PROTO_PG_MESSAGE;
	if (!strchr("QPBEDSHCXFdcfp", p[0]) || !p[0] || (n > 1 && p[1]))
		return NO;
	if (n < 5)
		return MAYBE;
	len = be32(p + 1);
	return len >= 4 && len < (16u << 20) ? YES : NO;
}

/* Digits then "\r\n": YES, MAYBE or NO; *used = bytes through the LF. */
static enum http1_probe match_number_line(const uint8_t *p, size_t n, size_t max_digits,
					  size_t *used)
{
	size_t i = 0;

	while (i < n && i < max_digits && p[i] >= '0' && p[i] <= '9')
		i++;
	if (i == n)
		return MAYBE;
	if (!i || p[i] != '\r')
		return NO;
	if (++i == n)
		return MAYBE;
	*used = i + 1;
	return p[i] == '\n' ? YES : NO;
}

static enum http1_probe match_resp(const uint8_t *p, size_t n, enum proto_kind *kind)
{
	enum http1_probe r;
	size_t used = 0;

	*kind = PROTO_REDIS_COMMAND;
	if (p[0] != '*' || (n > 1 && p[1] == '0'))
		return NO; /* "*0" is an empty array, no command */
	r = match_number_line(p + 1, n - 1, 7, &used);
	if (r != YES)
		return r;
	p += 1 + used;
	n -= 1 + used;
	if (!n)
		return MAYBE;
	if (p[0] != '$')
		return NO;
	return match_number_line(p + 1, n - 1, 9, &used);
}

static enum http1_probe match_http_response(const uint8_t *p, size_t n, enum proto_kind *kind)
{
	enum http1_probe r = match_literal(p, n, "HTTP/1.", 7);

	*kind = PROTO_HTTP1_RESPONSE;
	if (r != YES)
		return r;
	if (n == 7)
		return MAYBE;
	if (p[7] != '0' && p[7] != '1')
		return NO;
	if (n == 8)
		return MAYBE;
	return p[8] == ' ' ? YES : NO;
}

static enum http1_probe match_http_request(const uint8_t *p, size_t n, enum proto_kind *kind)
{
	const uint8_t *sp = memchr(p, ' ', n);

	*kind = PROTO_HTTP1_REQUEST;
	/* "GET /": no other protocol starts like that; do not wait for the version (and
	 * look no further, so that more bytes never undo the answer) */
	if (sp && sp + 1 < p + n && (sp[1] == '/' || sp[1] == '*') &&
	    http1_probe_request(p, sp + 2 - p, false) == MAYBE)
		return YES;
	return http1_probe_request(p, n, true);
}

static enum http1_probe match_redis_inline(const uint8_t *p, size_t n, enum proto_kind *kind)
{
	static const char *const words[] = { "PING", "QUIT",   "ECHO",	 "INFO", "HELLO",
					     "AUTH", "SELECT", "DBSIZE", "TIME", "MONITOR" };
	size_t w, i, wl, m = n < INLINE_MAX ? n : INLINE_MAX;

	*kind = PROTO_REDIS_INLINE;
	for (w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		wl = strlen(words[w]);
		for (i = 0; i < m && i < wl; i++)
			if ((p[i] & ~0x20) != (uint8_t)words[w][i])
				break;
		if (i < m && i < wl)
			continue;
		if (i == m)
			return n < INLINE_MAX ? MAYBE : NO;
		if (p[i] != ' ' && p[i] != '\r')
			continue;
		/* the rest of the line: printable arguments up to CRLF */
		for (; i < m && p[i] >= ' ' && p[i] < 0x7f; i++)
			;
		if (i == m)
			return n < INLINE_MAX ? MAYBE : NO;
		if (p[i] != '\r')
			return NO;
		if (i + 1 == m)
			return n < INLINE_MAX ? MAYBE : NO;
		return p[i + 1] == '\n' ? YES : NO;
	}
	return NO;
}

enum proto_kind proto_classify(const uint8_t *data, size_t len, bool *need_more)
{
	static const match_fn order[] = { match_h2,	      match_tls,
					  match_pg_first,     match_pg_message,
					  match_resp,	      match_http_response,
					  match_http_request, match_redis_inline };
	enum proto_kind kind;
	bool maybe = len == 0;
	size_t i;

	for (i = 0; len && i < sizeof(order) / sizeof(order[0]); i++) {
		switch (order[i](data, len, &kind)) {
		case YES:
			if (!maybe) {
				*need_more = false;
				return kind;
			}
			break;
		case MAYBE:
			maybe = true;
			break;
		case NO:
			break;
		}
	}
	*need_more = maybe;
	return PROTO_UNKNOWN;
}

const char *proto_kind_name(enum proto_kind k)
{
	static const char *const names[PROTO_KIND_COUNT] = {
		[PROTO_UNKNOWN] = "unknown",
		[PROTO_HTTP1_REQUEST] = "http1-request",
		[PROTO_HTTP1_RESPONSE] = "http1-response",
		[PROTO_HTTP2_PREFACE] = "http2-preface",
		[PROTO_TLS] = "tls",
		[PROTO_PG_STARTUP] = "pg-startup",
		[PROTO_PG_SSLREQUEST] = "pg-sslrequest",
		[PROTO_PG_GSSENCREQUEST] = "pg-gssencrequest",
		[PROTO_PG_CANCEL] = "pg-cancel",
		[PROTO_PG_MESSAGE] = "pg-message",
		[PROTO_REDIS_COMMAND] = "redis-command",
		[PROTO_REDIS_INLINE] = "redis-inline",
	};

	return (unsigned)k < PROTO_KIND_COUNT ? names[k] : "unknown";
}
