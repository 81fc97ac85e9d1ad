/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * How far each direction of a connection's byte stream has got, from the seq of its data
 * records (struct sonde_data_event): a record that starts past the end of the previous one
 * of its direction follows bytes that never arrived (a record lost on the way). Pure.
 */
#ifndef SONDE_CONSUMER_STREAM_POS_H
#define SONDE_CONSUMER_STREAM_POS_H

#include <stdbool.h>
#include <stdint.h>

struct stream_pos {
	uint64_t next; /* seq the next record should carry */
	bool known;    /* next is set: the connection's open record or a record was seen */
};

/* The connection's open record: both directions start at offset 0. */
static inline void stream_pos_open(struct stream_pos *p)
{
	if (!p->known) {
		p->next = 0;
		p->known = true;
	}
}

/* What one record adds to its direction's stream. */
struct stream_step {
	uint64_t missing; /* bytes before it that never arrived */
	uint64_t fresh;	  /* its bytes past what came before (len, unless it repeats some) */
};

/*
 * Takes a record of len bytes at offset seq. A stream not known yet starts at its first
 * record. A record starting before next (late, or a repeat) never moves next back, and
 * only its bytes past next are fresh: no byte is counted twice.
 */
static inline struct stream_step stream_pos_step(struct stream_pos *p, uint64_t seq, uint32_t len)
{
	struct stream_step s = { 0, len };

	if (p->known && seq > p->next)
		s.missing = seq - p->next;
	else if (p->known)
		s.fresh = seq + len > p->next ? seq + len - p->next : 0;
	if (!p->known || seq + len > p->next)
		p->next = seq + len;
	p->known = true;
	return s;
}

/* Takes a record; returns the bytes missing before it (0: none). */
static inline uint64_t stream_pos_take(struct stream_pos *p, uint64_t seq, uint32_t len)
{
	return stream_pos_step(p, seq, len).missing;
}

/* The stream ended at offset end (the close record's): returns the bytes after the last
 * record that never arrived (a lost tail), and moves next there. */
static inline uint64_t stream_pos_end(struct stream_pos *p, uint64_t end)
{
	uint64_t tail = end > p->next ? end - p->next : 0;

	if (end > p->next)
		p->next = end;
	p->known = true;
	return tail;
}

#endif
