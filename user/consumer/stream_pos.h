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

/*
 * Takes a record of len bytes at offset seq; returns the bytes missing before it (0: none).
 * A connection joined without its open record (dropped while idle, or opened before a
 * restart) starts at its first record. A record starting before next (late, or a repeat)
 * never moves next back.
 */
static inline uint64_t stream_pos_take(struct stream_pos *p, uint64_t seq, uint32_t len)
{
	uint64_t missing = p->known && seq > p->next ? seq - p->next : 0;

	if (!p->known || seq + len > p->next)
		p->next = seq + len;
	p->known = true;
	return missing;
}

#endif
