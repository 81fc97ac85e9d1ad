/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internals shared by redis.c (commands, queue, pairing) and redis_reply.c (RESP reply
 * parser). Not part of the framer's API.
 */
#ifndef SONDE_PROTO_REDIS_INT_H
#define SONDE_PROTO_REDIS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/redis.h"

#define REDIS_DEPTH_MAX 32	/* nesting of reply aggregates; deeper is a protocol error */
#define REDIS_PENDING_MAX 65536 /* commands awaiting a reply per connection */
#define REDIS_WORDS 3		/* words kept per command: name and two arguments */
#define REDIS_WORD_MAX 32
#define REDIS_LINE_MAX 40	     /* line bytes kept: numbers, and an error's first word */
#define REDIS_INLINE_MAX (64 * 1024) /* server's PROTO_INLINE_MAX_SIZE */
#define REDIS_LEN_MAX (1ull << 40)   /* larger lengths/counts are not RESP (limit 512 MB) */

/* Command parser (RESP array of bulk strings, or an inline line). */
struct redis_req {
	uint8_t state;
	bool err;     /* protocol error */
	bool in_word; /* inline: inside a word */
	uint8_t line_len;
	char line[REDIS_LINE_MAX];
	uint32_t elems_left; /* bulk strings still to come in the array */
	uint32_t elem;	     /* index of the current bulk string / inline word */
	uint32_t inline_len;
	uint64_t bulk_len; /* payload bytes of the current bulk string */
	uint64_t bulk_off; /* payload + CRLF bytes passed */
	uint64_t start_ns; /* ts of the event carrying the command's first byte */
	uint32_t bulks;	   /* bulk headers read (resync validation) */
	uint32_t done;	   /* commands completed (resync validation) */
	uint8_t word_len[REDIS_WORDS];
	char words[REDIS_WORDS][REDIS_WORD_MAX];
};

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

enum redis_pend_flag {
	REDIS_PEND_BARRIER = 1, /* pairing stops once this command is answered */
	REDIS_PEND_HELLO = 2,	/* HELLO: a map reply means RESP3 */
};

struct redis_pending {
	char cmd[REDIS_WORD_MAX];
	uint64_t start_ns;
	uint8_t flags;
};

struct redis_conn {
	struct redis_req rq;
	struct redis_rep rp;
	bool rq_lost, rp_lost;
	bool rp_resync; /* a command started a write: check the next read as a reply start */
	bool resp3;	/* RESP3 types seen in replies */
	bool hello3;	/* HELLO 3 sent */
	bool stopped;
	uint64_t rq_lost_ts; /* ts of the write where command framing was lost */
	uint64_t rp_last_ts; /* ts of the last read */
	struct redis_pending *q;
	uint32_t cap;
	uint64_t head, tail;
	struct redis_stats stats;
	int err;
};

/* One redis_feed call; dry: validating a resync candidate, no side effects. */
struct redis_io {
	struct redis_conn *c;
	uint64_t ts;
	db_emit_fn emit;
	void *ctx;
	bool dry;
};

/* redis_reply.c */
void redis_rep_reset(struct redis_rep *r);
/*
 * Parses captured reply bytes up to the end of the first value worth reporting (or of the
 * bytes); *used = bytes consumed. Call again with the rest: any split of the bytes yields
 * the same events.
 */
enum redis_rep_ev redis_rep_walk(struct redis_rep *r, const uint8_t *p, size_t n, size_t *used);
/* gap bytes not captured: ERROR if they may hold a header (framing lost). */
enum redis_rep_ev redis_rep_gap(struct redis_rep *r, uint64_t gap);

#endif /* SONDE_PROTO_REDIS_INT_H */
