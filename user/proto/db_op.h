/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The record both database framers (postgres.c, redis.c) emit: one per client operation,
 * observed as db_client_operation_duration_seconds{db_operation_name, error_type}.
 */
#ifndef SONDE_PROTO_DB_OP_H
#define SONDE_PROTO_DB_OP_H

#include <stdint.h>

struct db_op {
	char operation[32];  /* SELECT, INSERT, ..., PREPARE, GET, SET, ...; "" when unknown */
	char collection[64]; /* table name when cheaply known, "" else; never a literal */
	char error_type[32]; /* "" when ok; pg: SQLSTATE ("23505"); redis: first word ("ERR") */
	uint64_t start_ns;   /* ts of the event carrying the first byte of the request (batch) */
	uint64_t end_ns;     /* ts of the event carrying the end of the reply */
};

typedef void (*db_emit_fn)(void *ctx, const struct db_op *op);

#endif /* SONDE_PROTO_DB_OP_H */
