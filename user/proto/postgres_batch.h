/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The request queue, statement cache, pairing and emission of the PostgreSQL framer
 * (postgres_batch.c), called by its message framing (postgres.c), and the per-connection
 * state both use. Not part of the framer's API.
 */
#ifndef SONDE_PROTO_POSTGRES_BATCH_H
#define SONDE_PROTO_POSTGRES_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/postgres.h"
#include "proto/sql.h"

#define PG_STMTS_MAX 256       /* named prepared statements remembered per connection (LRU) */
#define PG_STMTS_MIN 16	       /* first allocation: most connections use a handful */
#define PG_PORTALS_MAX 8       /* named portals (cursors); the unnamed one has its own slot */
#define PG_RECORDS_MAX 8192    /* Executes/statements awaiting an answer per connection */
#define PG_BATCHES_MAX 1024    /* Syncs/Queries awaiting ReadyForQuery (pipeline depth) */
#define PG_MSG_MAX 0x3fffffffu /* server's PQ_LARGE_MESSAGE_LIMIT: 1 GiB - 1 */
#define PG_STARTUP_MAX 10000u  /* server's MAX_STARTUP_PACKET_LENGTH */

/* What a statement, portal or Execute is called. */
struct pg_name {
	char op[32];
	char table[64];
};

struct pg_stmt {
	uint64_t hash; /* FNV-1a of the statement name (names are compared by hash only) */
	uint64_t tick; /* last use, for LRU eviction */
	struct pg_name name;
};

/* A statement whose Parse sonde never saw (prepared before sonde observed the connection)
 * has no name until one of its Executes succeeds: its CommandComplete tag names the verb.
 * Portals and records of such a statement remember which statement to teach. */
struct pg_learn {
	uint64_t hash; /* the statement's name hash */
	bool unnamed;
	bool pending; /* the statement's name was unknown when this was made */
};

struct pg_portal {
	uint64_t hash;
	uint64_t tick;
	bool used;
	struct pg_name name; /* copied at Bind: the statement may be closed while it lives */
	struct pg_learn learn;
};

enum pg_rec_flag {
	PG_REC_DONE = 1,  /* answered */
	PG_REC_EMPTY = 2, /* answered by EmptyQueryResponse: not an operation */
	PG_REC_ERROR = 4, /* answered by ErrorResponse */
};

/* One Execute, or one statement of a Query, in request order. */
struct pg_record {
	struct pg_name name;
	uint8_t flags;
	struct pg_learn learn; /* pending: a success names the statement from its tag */
};

enum pg_batch_kind { PG_BATCH_STARTUP, PG_BATCH_NORMAL };

/* What one ReadyForQuery answers: the startup, or everything up to a Sync/Query/FunctionCall. */
struct pg_batch {
	uint64_t start_ns; /* first byte of its first message */
	uint64_t first;	   /* sequence number of its first record */
	uint32_t n_records;
	uint32_t n_done;  /* records answered */
	uint32_t n_early; /* answers beyond the records, already emitted */
	uint8_t kind;
	bool closed; /* Sync/Query/FunctionCall sent: later messages start another batch */
	bool has_parse, has_execute;
	bool errored;  /* ErrorResponse seen: the server skips the rest until Sync */
	bool be_lost;  /* backend framing was lost while it was answered */
	bool fe_lost;  /* frontend framing was lost inside it: its messages are not all known */
	char error[8]; /* SQLSTATE of the failure, or "_OTHER" */
};

/* Rings indexed by ever-increasing sequence numbers; cap is a power of two. */
struct pg_records {
	struct pg_record *v;
	uint32_t cap;
	uint64_t head, tail;
};

struct pg_batches {
	struct pg_batch *v;
	uint32_t cap;
	uint64_t head, tail;
};

enum pg_stream_state {
	PG_ST_SYNC,    /* at a known position in the message framing */
	PG_ST_LOST,    /* framing lost; waiting for a provable boundary */
	PG_ST_STOPPED, /* encrypted or replication: no longer parsed */
};

/* Framing position of one direction. */
struct pg_dir {
	uint8_t state;
	bool in_body;
	bool gap;	   /* some bytes of the current body were not captured */
	bool msg_at_start; /* the current message began its event */
	bool resync;	 /* backend: the next event starts a reply (frontend proved it), check it */
	uint8_t have;	 /* header bytes gathered */
	uint8_t hdr[8];	 /* type + length, or (startup phase) length + code */
	uint8_t type;	 /* current message type; 0 for untyped startup-phase messages */
	uint32_t code;	 /* untyped: protocol version or request code */
	uint32_t left;	 /* body bytes still to come */
	uint32_t off;	 /* body bytes passed */
	uint64_t msg_ts; /* ts of the event carrying the message's first byte */
};

/* What the frontend keeps of the message being read. */
struct pg_fe_msg {
	uint8_t field;	 /* index of the field being read */
	uint8_t kind;	 /* Close/Describe target: 'S' or 'P' */
	bool names_ok;	 /* every name field was captured */
	bool have_first; /* Parse: its statement was named */
	bool sql_fed;	 /* SQL text bytes went to the splitter */
	uint64_t h[2];	 /* FNV-1a of name fields */
	uint32_t hlen[2];
	struct pg_name first; /* Parse: name of its (first) statement */
	struct sql_splitter sql;
};

/* What the backend keeps of the message being read. */
struct pg_be_msg {
	uint8_t code; /* ErrorResponse: field code being read, 0 = expecting a code */
	uint8_t tag_len;
	uint8_t state_len;
	uint8_t sev_len;
	bool sev_v; /* severity from 'V' (never localized), else from 'S' */
	bool tag_done;
	char severity[8]; /* ErrorResponse: FATAL/PANIC end the session */
	char tag[32];	  /* CommandComplete: first word of the tag */
	char sqlstate[8];
};

struct pg_conn {
	struct pg_dir fe, be;
	struct pg_fe_msg fm;
	struct pg_be_msg bm;
	bool fe_seen, be_seen;
	bool fe_startup;	/* frontend still in the untyped startup phase */
	uint8_t wait_answer;	/* 'S'/'G': SSLRequest/GSSENCRequest sent, one-byte answer due */
	bool rfq_since_fe_loss; /* a ReadyForQuery was read since the frontend lost framing */
	bool fe_malformed;	/* ... lost on bytes seen (not a gap): they were no request */
	uint64_t fe_lost_ts;	/* ts of the frontend event where framing was lost */
	uint64_t be_last_ts;	/* ts of the last backend event */
	uint64_t tick;
	bool unnamed_known;
	struct pg_stmt unnamed_stmt;
	struct pg_stmt *stmts;
	uint32_t n_stmts, cap_stmts;
	struct pg_portal unnamed_portal;
	struct pg_portal portals[PG_PORTALS_MAX];
	struct pg_records recs;
	struct pg_batches batches;
	struct pg_stats stats;
	int err; /* first -ENOMEM of this pg_feed call */
};

/* One pg_feed call. */
struct pg_io {
	struct pg_conn *c;
	uint64_t ts;
	db_emit_fn emit;
	void *ctx;
};

enum pg_done {
	PG_DONE_OK,	   /* CommandComplete */
	PG_DONE_SUSPENDED, /* PortalSuspended: Execute hit its row limit */
	PG_DONE_EMPTY,	   /* EmptyQueryResponse */
	PG_DONE_ERROR,	   /* ErrorResponse */
};

/* postgres_batch.c */
void pg_stmt_put(struct pg_conn *c, uint64_t hash, bool unnamed, const struct pg_name *n);
const struct pg_name *pg_stmt_get(struct pg_conn *c, uint64_t hash, bool unnamed);
void pg_stmt_drop(struct pg_conn *c, uint64_t hash, bool unnamed);
struct pg_portal *pg_portal_bind(struct pg_conn *c, uint64_t hash, bool unnamed,
				 const struct pg_name *n);
const struct pg_portal *pg_portal_get(struct pg_conn *c, uint64_t hash, bool unnamed);
void pg_portal_drop(struct pg_conn *c, uint64_t hash, bool unnamed);

struct pg_batch *pg_batch_head(struct pg_conn *c);
struct pg_batch *pg_batch_tail(struct pg_conn *c);
struct pg_batch *pg_batch_push(struct pg_conn *c, enum pg_batch_kind kind, uint64_t start_ns);
void pg_batch_add_record(struct pg_conn *c, const struct pg_name *n, const struct pg_learn *l);
void pg_batch_complete(struct pg_io *io, enum pg_done kind, const char *word);
void pg_batch_ready(struct pg_io *io);
void pg_batches_infer(struct pg_io *io, uint64_t end_ns);
void pg_batches_drop(struct pg_conn *c);
void pg_batches_free(struct pg_conn *c);

#endif /* SONDE_PROTO_POSTGRES_BATCH_H */
