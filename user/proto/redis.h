/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Client-side Redis framer (RESP2 and RESP3): the commands a client process wrote
 * (REQUESTS) and the replies it read (REPLIES) on one connection in, one struct db_op per
 * command out.
 *
 * Commands queue FIFO (a pipeline of N commands is N operations); each complete top-level
 * reply answers the oldest, except RESP3 attributes ('|', they annotate the reply that
 * follows) and pushes ('>', out of band). operation = the command's first word,
 * uppercased ("CLIENT SETNAME" -> "CLIENT": subcommands would multiply label values and
 * the first word is what OpenTelemetry's db.operation.name holds for Redis). start_ns = ts
 * of the write that carried the command's first byte, so a pipeline written at once shares
 * it; end_ns = ts of the read that carried the reply's last byte. error_type = first word
 * of a "-" or "!" error ("ERR", "WRONGTYPE", "MOVED").
 *
 * Pairing stops for good (stats.stopped) where replies stop matching commands one to one:
 * SUBSCRIBE/PSUBSCRIBE/SSUBSCRIBE on a RESP2 connection (messages then arrive as ordinary
 * arrays, indistinguishable from replies), MONITOR (a stream of "+" lines), and CLIENT
 * REPLY OFF/SKIP (commands without replies). The command itself is still an operation when
 * its reply arrives. On RESP3 (after HELLO 3) subscriptions are answered by pushes and do
 * not stop pairing.
 *
 * Pure: no I/O; allocation only for the per-connection queue.
 */
#ifndef SONDE_PROTO_REDIS_H
#define SONDE_PROTO_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/db_op.h"

enum redis_stream {
	REDIS_REQUESTS = 0, /* bytes the client process wrote */
	REDIS_REPLIES = 1,  /* bytes the client process read */
};

struct redis_stats {
	uint64_t commands;	/* commands framed */
	uint64_t replies;	/* top-level replies framed (attributes and pushes excluded) */
	uint64_t ops;		/* operations emitted */
	uint64_t pushes;	/* RESP3 pushes (pub/sub messages, invalidations) */
	uint64_t attributes;	/* RESP3 attributes */
	uint64_t parse_errors;	/* framing lost: protocol error, or a capture gap over a header */
	uint64_t gap_resyncs;	/* framing recovered at a proven boundary */
	uint64_t unnamed_ops;	/* replies to commands lost in a capture gap: operation "" */
	uint64_t inferred_ends; /* replies lost in a capture gap: ok, ended at the last read */
	uint64_t unsolicited;	/* replies with no pending command (not emitted) */
	uint64_t unanswered;	/* commands never answered (connection closed) */
	uint64_t incomplete;	/* 1: the close came inside a command (redis_close) */
	uint64_t queue_drops;	/* commands not queued: per-connection cap reached */
	uint64_t stopped;	/* 1: pairing stopped (RESP2 SUBSCRIBE, MONITOR, CLIENT REPLY) */
};

struct redis_conn;

struct redis_conn *redis_conn_new(void);
void redis_conn_free(struct redis_conn *c);

/*
 * One read (REPLIES) or write (REQUESTS) of len bytes by the client process at ts_ns, of
 * which data holds the first cap_len (cap_len < len: the rest was not captured). Calls
 * emit for every operation completed. Returns 0, -EINVAL on bad arguments, -ENOMEM when
 * the queue could not grow (the command is counted in queue_drops).
 */
int redis_feed(struct redis_conn *c, enum redis_stream s, uint64_t ts_ns, const uint8_t *data,
	       size_t cap_len, size_t len, db_emit_fn emit, void *ctx);

/* The connection closed: pending commands are dropped (counted unanswered). */
void redis_close(struct redis_conn *c);

const struct redis_stats *redis_conn_stats(const struct redis_conn *c);

#endif /* SONDE_PROTO_REDIS_H */
