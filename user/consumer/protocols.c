// SPDX-License-Identifier: GPL-2.0-only
#include "consumer/protocols.h"
#include "metrics/observe.h"
#include "proto/http1.h"
#include "proto/postgres.h"
#include "proto/redis.h"

/* ---- HTTP/1: the server reads requests, the client reads responses --------------------- */

static void *http_create(void)
{
	return http1_conn_new();
}

static void http_destroy(void *parser)
{
	http1_conn_free(parser);
}

static void http_server_emit(void *ctx, const struct http1_exchange *ex)
{
	const struct proto_sink *out = ctx;

	observe_http(out->obs, out->peer, true, ex);
}

static void http_client_emit(void *ctx, const struct http1_exchange *ex)
{
	const struct proto_sink *out = ctx;

	observe_http(out->obs, out->peer, false, ex);
}

/* The stream a read or write belongs to, for the side this process plays. */
static enum http1_stream http_stream(bool server, bool recv)
{
	return server == recv ? HTTP1_REQUESTS : HTTP1_RESPONSES;
}

static void http_server_starts(void *parser, bool recv)
{
	/* Let the framer take a non-standard method (PROPFIND, PURGE) as a message start,
	 * which it would not when resynchronising. */
	http1_assume_start(parser, http_stream(true, recv));
}

static void http_client_starts(void *parser, bool recv)
{
	http1_assume_start(parser, http_stream(false, recv));
}

static void http_server_feed(void *parser, bool recv, uint64_t ts, const uint8_t *data, size_t cap,
			     size_t len, const struct proto_sink *out)
{
	http1_feed(parser, http_stream(true, recv), ts, data, cap, len, http_server_emit,
		   (void *)out);
}

static void http_client_feed(void *parser, bool recv, uint64_t ts, const uint8_t *data, size_t cap,
			     size_t len, const struct proto_sink *out)
{
	http1_feed(parser, http_stream(false, recv), ts, data, cap, len, http_client_emit,
		   (void *)out);
}

/* EOF on a server's read is the client's half-close: the response may still be coming. */
static void http_server_eof(void *parser, uint64_t ts, const struct proto_sink *out)
{
}

/* EOF on a client's read ends a response delimited by close. */
static void http_client_eof(void *parser, uint64_t ts, const struct proto_sink *out)
{
	http1_close(parser, ts, http_client_emit, (void *)out);
}

/* A request the connection ended without answering is what a server's middleware counted
 * with the status the handler chose, or did not count: emitted as 499 (http1.h). */
static void http_server_close(void *parser, uint64_t ts, const struct proto_sink *out)
{
	http1_close_server(parser, ts, http_server_emit, (void *)out);
}

static bool http_pending(const void *parser)
{
	return http1_pending(parser);
}

static void http_counts(const void *parser, struct proto_counts *out)
{
	const struct http1_stats *s = http1_conn_stats(parser);

	out->parse_errors = s->parse_errors;
	out->unanswered = s->unanswered;
	out->incomplete = s->incomplete;
}

const struct proto_ops proto_http_server = {
	.name = "http",
	.create = http_create,
	.destroy = http_destroy,
	.starts = http_server_starts,
	.feed = http_server_feed,
	.eof = http_server_eof,
	.close = http_server_close,
	.counts = http_counts,
	.pending = http_pending,
};

const struct proto_ops proto_http_client = {
	.name = "http",
	.create = http_create,
	.destroy = http_destroy,
	.starts = http_client_starts,
	.feed = http_client_feed,
	.eof = http_client_eof,
	.close = http_client_eof,
	.counts = http_counts,
	.pending = http_pending,
};

/* ---- databases: this process is the client; its writes are requests ------------------- */

static void starts_nothing(void *parser, bool recv)
{
}

static void db_nothing(void *parser, uint64_t ts, const struct proto_sink *out)
{
}

static void pg_emit(void *ctx, const struct db_op *op)
{
	const struct proto_sink *out = ctx;

	observe_db(out->obs, out->peer, "postgresql", op);
}

static void *pg_create(void)
{
	return pg_conn_new();
}

static void pg_destroy(void *parser)
{
	pg_conn_free(parser);
}

static void pg_client_feed(void *parser, bool recv, uint64_t ts, const uint8_t *data, size_t cap,
			   size_t len, const struct proto_sink *out)
{
	pg_feed(parser, recv ? PG_BACKEND : PG_FRONTEND, ts, data, cap, len, pg_emit, (void *)out);
}

static void pg_client_close(void *parser, uint64_t ts, const struct proto_sink *out)
{
	pg_close(parser);
}

static void pg_counts(const void *parser, struct proto_counts *out)
{
	out->parse_errors = pg_conn_stats(parser)->parse_errors;
	out->unanswered = 0;
	out->incomplete = pg_conn_stats(parser)->incomplete;
}

const struct proto_ops proto_pg_client = {
	.name = "postgresql",
	.create = pg_create,
	.destroy = pg_destroy,
	.starts = starts_nothing,
	.feed = pg_client_feed,
	.eof = db_nothing,
	.close = pg_client_close,
	.counts = pg_counts,
};

static void redis_emit(void *ctx, const struct db_op *op)
{
	const struct proto_sink *out = ctx;

	observe_db(out->obs, out->peer, "redis", op);
}

static void *redis_create(void)
{
	return redis_conn_new();
}

static void redis_destroy(void *parser)
{
	redis_conn_free(parser);
}

static void redis_client_feed(void *parser, bool recv, uint64_t ts, const uint8_t *data, size_t cap,
			      size_t len, const struct proto_sink *out)
{
	redis_feed(parser, recv ? REDIS_REPLIES : REDIS_REQUESTS, ts, data, cap, len, redis_emit,
		   (void *)out);
}

static void redis_client_close(void *parser, uint64_t ts, const struct proto_sink *out)
{
	redis_close(parser);
}

static void redis_counts(const void *parser, struct proto_counts *out)
{
	out->parse_errors = redis_conn_stats(parser)->parse_errors;
	out->unanswered = 0;
	out->incomplete = redis_conn_stats(parser)->incomplete;
}

const struct proto_ops proto_redis_client = {
	.name = "redis",
	.create = redis_create,
	.destroy = redis_destroy,
	.starts = starts_nothing,
	.feed = redis_client_feed,
	.eof = db_nothing,
	.close = redis_client_close,
	.counts = redis_counts,
};
