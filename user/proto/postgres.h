/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Client-side PostgreSQL (protocol 3) framer: the bytes a client process wrote (FRONTEND)
 * and read (BACKEND) on one connection in, one struct db_op per operation out.
 *
 * An operation is one Execute of the extended protocol, or one statement of a simple
 * Query. Operations are counted from the backend's answers (each CommandComplete,
 * EmptyQueryResponse, PortalSuspended or ErrorResponse ends one) and named from the
 * frontend's text (Parse/Query, statement cache), else from the CommandComplete tag; a
 * statement whose Parse was never seen keeps the verb of its first tag for its failures.
 * A round trip of only Parse/Describe/Close/Sync with a Parse is one "PREPARE"
 * operation. All operations of a batch (what the frontend sent up to the Sync or Query
 * that one ReadyForQuery closes) share start_ns = the batch's first byte and end_ns = that
 * ReadyForQuery; batches queue FIFO, so pipelines pair. Statements the server skips after
 * an error (until Sync) are not operations.
 *
 * Pure: no I/O; allocation only for per-connection state (statement cache, queues).
 */
#ifndef SONDE_PROTO_POSTGRES_H
#define SONDE_PROTO_POSTGRES_H

#include <stddef.h>
#include <stdint.h>

#include "proto/db_op.h"

enum pg_stream {
	PG_FRONTEND = 0, /* bytes the client process wrote */
	PG_BACKEND = 1,	 /* bytes the client process read */
};

struct pg_stats {
	uint64_t messages;     /* messages framed, both directions */
	uint64_t ops;	       /* operations emitted */
	uint64_t parse_errors; /* framing lost: invalid header, or a capture gap over a header */
	uint64_t gap_resyncs;  /* framing recovered at a proven message boundary */
	uint64_t skipped_after_error; /* Executes/statements the server skipped after an error */
	uint64_t prepare_roundtrips;  /* Parse round trips without Execute, emitted as PREPARE */
	uint64_t empty_queries;	      /* EmptyQueryResponse: answered, not an operation */
	uint64_t inferred_ends;	      /* ops answered inside bytes that could not be framed: ok, and
				   ended at the last reply bytes seen */
	uint64_t early_emits;	/* ops emitted before their ReadyForQuery (queue cap reached) */
	uint64_t unsolicited;	/* answers with no pending request (not emitted) */
	uint64_t unanswered;	/* pending Executes never answered (mismatch or close) */
	uint64_t incomplete;	/* 1: the close came inside a frontend message (pg_close) */
	uint64_t lost_batches;	/* batches cut by capture gaps both ways: no operation known */
	uint64_t queue_drops;	/* requests not queued: per-connection caps reached */
	uint64_t names_learned; /* statements never seen parsed, named from a CommandComplete */
	uint64_t tls;		/* 1: SSLRequest/GSSENCRequest accepted, the rest is encrypted */
	uint64_t stopped;	/* 1: COPY BOTH (replication) started, no longer parsed */
};

struct pg_conn;

/* A new connection, expecting the StartupMessage (or SSLRequest) first. A first frontend
 * read that is not one (sonde attached mid-connection) is framed once it validates as
 * whole messages. NULL and errno on failure. */
struct pg_conn *pg_conn_new(void);
void pg_conn_free(struct pg_conn *c);

/*
 * One read (BACKEND) or write (FRONTEND) of len bytes by the client process at ts_ns, of
 * which data holds the first cap_len (cap_len < len: the rest was not captured). Calls
 * emit for every operation completed. Returns 0, -EINVAL on bad arguments, -ENOMEM when
 * per-connection state could not grow (the request is counted in queue_drops).
 */
int pg_feed(struct pg_conn *c, enum pg_stream s, uint64_t ts_ns, const uint8_t *data,
	    size_t cap_len, size_t len, db_emit_fn emit, void *ctx);

/* The connection closed: pending requests are dropped (counted unanswered). */
void pg_close(struct pg_conn *c);

const struct pg_stats *pg_conn_stats(const struct pg_conn *c);

#endif /* SONDE_PROTO_POSTGRES_H */
