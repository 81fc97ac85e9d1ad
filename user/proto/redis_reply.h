/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * RESP reply parser (redis_reply.c), driven by the Redis framer (redis.c): reply bytes in,
 * one event per completed reply, push or attribute out. Not part of the framer's API.
 */
#ifndef SONDE_PROTO_REDIS_REPLY_H
#define SONDE_PROTO_REDIS_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REDIS_DEPTH_MAX 32 /* nesting of reply aggregates; deeper is a protocol error */
#define REDIS_WORD_MAX 32  /* bytes kept of a command name or an error kind, with its NUL */
#define REDIS_LINE_MAX 40  /* line bytes kept: numbers, and an error's first word */
#define REDIS_INLINE_MAX (64 * 1024) /* server's PROTO_INLINE_MAX_SIZE */
#define REDIS_LEN_MAX (1ull << 40)   /* larger lengths/counts are not RESP (limit 512 MB) */

struct redis_frame {
	int64_t left; /* elements still to come; -1: streamed aggregate, ends with '.' */
	uint8_t type;
};

/* What one step of the reply parser completed. */
enum redis_rep_ev {
	REDIS_REP_NONE,	     /* the bytes ran out inside a value */
	REDIS_REP_REPLY,     /* a top-level reply: r->top is its type, r->word an error's kind */
	REDIS_REP_PUSH,	     /* a top-level push ('>'): out of band, answers no command */
	REDIS_REP_ATTRIBUTE, /* an attribute ('|'): annotates the value after it */
	REDIS_REP_ERROR,     /* not RESP: the parser must be reset */
};

/* Reply parser (RESP2 + RESP3). */
struct redis_rep {
	uint8_t state;
	uint8_t type; /* type byte of the value being read */
	uint8_t top;  /* type byte of the top-level value */
	uint8_t depth;
	bool chunks; /* inside a streamed string ($?): ';' chunks until ";0" */
	bool err;    /* protocol error */
	bool resp3;  /* a RESP3-only type was seen since the reset */
	uint8_t ev;  /* enum redis_rep_ev of the current step */
	uint8_t line_len;
	uint8_t word_len;
	uint8_t last;	     /* last line byte seen: must be CR before LF */
	uint32_t line_total; /* line bytes seen, kept or not */
	char line[REDIS_LINE_MAX];
	char word[REDIS_WORD_MAX]; /* first word of a top-level error */
	uint64_t bulk_len;
	uint64_t bulk_off;
	struct redis_frame stack[REDIS_DEPTH_MAX];
};

void redis_rep_reset(struct redis_rep *r);
/*
 * Parses captured reply bytes up to the end of the first value worth reporting (or of the
 * bytes); *used = bytes consumed. Call again with the rest: any split of the bytes yields
 * the same events.
 */
enum redis_rep_ev redis_rep_walk(struct redis_rep *r, const uint8_t *p, size_t n, size_t *used);
/* gap bytes not captured: ERROR if they may hold a header (framing lost). */
enum redis_rep_ev redis_rep_gap(struct redis_rep *r, uint64_t gap);

#endif /* SONDE_PROTO_REDIS_REPLY_H */
