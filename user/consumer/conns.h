/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The connection table: one entry per connection id (given by the kernel side on first
 * sight, never reused), created at its open record or first data, classified from its
 * first bytes, fed to its protocol's parser in order, freed at close or when idle. The
 * records' offsets (seq) show every byte range that never arrived: counted as gaps.
 * In: connection and data records. Out: parsed messages to the observer (metrics/), and
 * "ignore" hints to the kernel for connections of no parsed protocol.
 *
 * A connection that closes with requests pending lingers CONN_LINGER_NS before its parser is
 * told: a server answering a client that has already closed writes into a socket that
 * reaches TCP_CLOSE inside that very write (on loopback the client's RST to it is processed
 * before the write returns), so the kernel side forgets the socket, the close record comes
 * first, and the write comes as the first I/O of a new connection id, announced with local
 * port 0 (the socket is unhashed). Such an open of the same process and peer address joins
 * the lingering connection: its bytes go to the same parser, which gets the close (at the
 * first close's time) when the lingering ends.
 */
#ifndef SONDE_CONSUMER_CONNS_H
#define SONDE_CONSUMER_CONNS_H

#include <stdint.h>

#include "consumer/stream_pos.h"
#include "metrics/observe.h"
#include "sonde_abi.h"
#include "util/hashmap.h"

struct kernel_ctl;
struct procs;
struct proto_ops;

enum conn_state {
	CONN_NEW = 0, /* protocol not known yet: first bytes held in head */
	CONN_PARSED,  /* ops and parser set */
	CONN_IGNORED, /* of no protocol sonde parses; the kernel was told */
	CONN_TLS,     /* TLS in a process whose TLS library is probed: plaintext will come */
};

#define CONN_HEAD_MAX 64

/*
 * Where a connection's socket bytes went, for sonde_capture_bytes_total{outcome, reason}:
 * every byte the kernel numbered (struct sonde_data_event.seq, the close record's offsets)
 * is counted once, in one of these, by direction. TLS plaintext from the probes is not
 * numbered (a stream of its own) and is not counted here.
 */
enum byte_fate {
	/* given to a parser (a record cut to the capture prefix counts whole: the parser is
	 * given its length) */
	FATE_PARSED_HTTP = 0,
	FATE_PARSED_POSTGRESQL,
	FATE_PARSED_REDIS,
	FATE_UNPARSED_UNKNOWN,	 /* first bytes no parser knows, or both sides spoke first */
	FATE_UNPARSED_HTTP2,	 /* an HTTP/2 connection */
	FATE_UNPARSED_TLS,	 /* ciphertext (what the probes report of it is not counted) */
	FATE_UNPARSED_DB_SERVER, /* the server side of PostgreSQL or Redis */
	FATE_UNPARSED_UNDECIDED, /* held while undecided when the connection ended */
	FATE_UNPARSED_NO_MEMORY, /* no parser could be made */
	FATE_LOST_RINGBUF,	 /* never delivered: the ring buffer was full */
	FATE_NR,
};

/* "parsed", "unparsed" or "lost"; and the reason label of a fate. */
const char *byte_fate_outcome(enum byte_fate f);
const char *byte_fate_reason(enum byte_fate f);

struct conn {
	uint64_t id;
	uint32_t tgid;
	enum conn_state state;
	const struct proto_ops *ops; /* CONN_PARSED */
	void *parser;
	uint64_t last_ns;
	struct conn_peer peer; /* labels; the service is kept: the process may exit first */
	/* first bytes while the protocol is still undecided (one byte per read) */
	uint8_t head[CONN_HEAD_MAX];
	uint32_t head_len;
	uint8_t head_dir;
	uint64_t head_ts;
	uint64_t errors_reported;
	/* plaintext from the TLS probes seen: the socket's own bytes are ciphertext, dropped */
	bool plaintext;
	struct stream_pos pos[2]; /* socket records, by enum sonde_direction */
	uint8_t fate; /* enum byte_fate of its socket bytes from now on (plaintext: TLS) */
	/* closed with requests pending, at closed_ns: lingering, in the list of those */
	uint64_t closed_ns;
	struct conn *linger_prev, *linger_next;
};

#define CONN_LINGER_NS (200 * 1000000ULL)
#define CONN_TOMB_NS (3600 * 1000000000ULL)
#define CONN_TOMB_MAX 65536

struct conns {
	struct hashmap by_id; /* connection id -> struct conn */
	const struct observer *obs;
	const struct procs *procs;     /* service names of tracked processes */
	const struct kernel_ctl *kctl; /* "ignore" hints; may be NULL */
	uint64_t gaps;		       /* data records that followed bytes which never arrived */
	/* socket bytes, by enum sonde_direction and enum byte_fate (see byte_fate) */
	uint64_t bytes[2][FATE_NR];
	/* connections forgotten while idle, by id -> struct conn_tomb: their offsets, so that
	 * one that speaks again goes on from there (see conns_expire) */
	struct hashmap expired;
	/* "ignore" hints that took the slot of another connection still ignored: its I/O is
	 * reported again (and counted as unparsed as before) */
	uint64_t hints_displaced;
	struct conn *linger_head, *linger_tail; /* lingering connections, oldest first */
	uint64_t rejoined;			/* late opens joined to a lingering connection */
};

int conns_init(struct conns *t, const struct observer *obs, const struct procs *procs,
	       const struct kernel_ctl *kctl);
void conns_free(struct conns *t); /* frees every connection, reporting its counts */

void conns_on_open(struct conns *t, const struct sonde_conn_event *e);
void conns_on_data(struct conns *t, const struct sonde_data_event *e);
void conns_on_close(struct conns *t, const struct sonde_conn_event *e);
/* Drops connections idle for longer than idle_ns (Unix sockets have no close event). Their
 * bytes are counted from what was seen; their offsets are kept CONN_TOMB_NS longer, so that
 * one that speaks again, or whose close comes, is counted from there on. */
void conns_expire(struct conns *t, uint64_t now_ns, uint64_t idle_ns);
/* Ends the connections that have lingered CONN_LINGER_NS by now_ns; cheap when none has. */
void conns_tick(struct conns *t, uint64_t now_ns);

#endif
