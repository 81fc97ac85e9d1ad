/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The HTTP/1 byte scanners (http1_scan.c): message-start probes, used by the framer
 * (http1.c) to find a message start and by proto_classify() (classify.c); and, internal to
 * the framer, the per-direction parse state and the scanners of start lines, header lines
 * and chunk framing, driven by http1.c.
 *
 * A scanner consumes bytes of one state, sets *used to how many, sets *end when its line
 * (or, for headers, the whole header section) is complete, and returns 0 or -EBADMSG,
 * -E2BIG, -EOVERFLOW for input that cannot be HTTP/1.
 */
#ifndef SONDE_PROTO_HTTP1_SCAN_H
#define SONDE_PROTO_HTTP1_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http1.h"

#define H1_METHOD_TOKEN_MAX 32	     /* a longer "method" is not HTTP */
#define H1_HEAD_MAX (2u << 20)	     /* start line + header section; Go allows 1 MiB */
#define H1_CHUNK_EXT_MAX (64u << 10) /* chunk extensions of one chunk-size line */
#define H1_NAME_MAX 20		     /* longest header name compared: transfer-encoding */
#define H1_VALUE_MAX 32		     /* longest list element kept: "chunked", 19 digits */

/* Does data start like an HTTP/1 message? MAYBE: consistent so far, but too short to say. */
enum http1_probe {
	HTTP1_PROBE_NO = 0,
	HTTP1_PROBE_MAYBE,
	HTTP1_PROBE_YES, /* a whole start line up to its line end (request) / status code */
};

/*
 * Request-line: method SP request-target SP "HTTP/1." DIGIT (CRLF | LF). The method is one
 * of the RFC 9110 §9 methods + PATCH, or with any_method any token of at most 32 bytes; the
 * target starts with '/' or '*' or "http://" / "https://" (or is an authority for CONNECT).
 */
enum http1_probe http1_probe_request(const uint8_t *data, size_t len, bool any_method);
/* Status-line start: "HTTP/1." DIGIT SP [1-5] DIGIT DIGIT (SP | CR | LF). */
enum http1_probe http1_probe_response(const uint8_t *data, size_t len);

enum h1_state {
	S_HUNT,	       /* out of sync: wait for a read/write that starts a message */
	S_START,       /* between messages */
	S_LINE,	       /* request-line or status-line */
	S_HDR,	       /* header lines, or the trailer section of a chunked body */
	S_BODY,	       /* Content-Length body */
	S_CHUNK_SIZE,  /* chunk-size [chunk-ext] CRLF */
	S_CHUNK_DATA,  /* chunk-data */
	S_CHUNK_END,   /* CRLF after chunk-data */
	S_UNTIL_CLOSE, /* response body delimited by the connection close */
	S_DEAD,	       /* the connection left HTTP/1 */
};

/* sub-states: request-line, status-line, header line, chunk-size line, chunk-data end */
enum { RL_METHOD, RL_TARGET, RL_VERSION, RL_EOL, RL_LF };
enum { SL_VERSION, SL_CODE, SL_REASON, SL_LF };
enum { HL_START, HL_NAME, HL_VALUE, HL_SKIP, HL_END_LF };
enum { CS_DIGITS, CS_EXT, CS_LF };
enum { CE_CR, CE_LF };

enum h1_hdr {
	HDR_OTHER,
	HDR_CONTENT_LENGTH,
	HDR_TRANSFER_ENCODING,
	HDR_CONNECTION,
	HDR_REQUEST_ID, /* the id headers (struct http1_ids): whole values, no list split */
	HDR_CORRELATION_ID,
	HDR_TRACEPARENT,
};

/* bytes of an id header's value kept while scanning: the longest id, or a version-00
 * traceparent with room for trimmed whitespace; one more says "longer" */
#define H1_IDVAL_MAX 72

/* One direction of a connection; everything from state to cl, and ids, is reset per message
 * (begin_message); method and target are written before they are read, NUL-terminated at
 * the end of their token, and the rest of the buffers only ever read within their length. */
struct h1_stream {
	uint8_t state, sub;
	bool tentative; /* begun while out of sync: failing means "not a message", no error */
	bool skipped;	/* bytes skipped since last in sync: the next sync is a resync */
	bool trailer;	/* the header lines being read are a chunked trailer section */
	bool has_cl, has_te, chunked, conn_close, val_over;
	uint8_t hdr; /* enum h1_hdr of the header line being read */
	uint8_t name_len, val_len, nelem;
	uint8_t version_minor, flags, mlen;
	uint16_t status;
	uint16_t tlen; /* bytes of target kept (at most sizeof(target) - 1) */
	uint32_t pos;  /* bytes into the current token */
	uint64_t head_bytes;
	uint64_t first_ts, last_ts;
	uint64_t left; /* body or chunk-data bytes still due; chunk-size accumulator */
	uint64_t body_bytes;
	uint64_t cl;
	char name[H1_NAME_MAX];
	char val[H1_VALUE_MAX];
	char method[16];
	char target[256];
	uint8_t idval_len;
	char idval[H1_IDVAL_MAX + 1]; /* value of the id header being read */
	struct http1_ids ids;	      /* id headers of this message's head */
};

int http1_scan_request_line(struct h1_stream *st, const uint8_t *p, size_t n, size_t *used,
			    bool *end);
int http1_scan_status_line(struct h1_stream *st, const uint8_t *p, size_t n, size_t *used,
			   bool *end);
int http1_scan_header(struct h1_stream *st, const uint8_t *p, size_t n, size_t *used, bool *end);
int http1_scan_chunk_size(struct h1_stream *st, const uint8_t *p, size_t n, size_t *used,
			  bool *end);
int http1_scan_chunk_end(struct h1_stream *st, const uint8_t *p, size_t n, size_t *used, bool *end);

#endif /* SONDE_PROTO_HTTP1_SCAN_H */
