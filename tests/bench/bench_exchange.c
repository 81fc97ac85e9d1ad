// SPDX-License-Identifier: GPL-2.0-only
/*
 * sonde's user-space cost per exchange, without a kernel: synthetic HTTP exchanges and
 * database operations through the real metrics path (observe_http / observe_db), and
 * synthetic ring-buffer records through the consumer's entry point (consumer_on_record),
 * so the framers, the connection table, the labels, the routes and the histograms all run.
 *
 * Wall-clock figures on a shared 2-core machine are noisy; instruction counts are not:
 * tests/bench/bench_exchange.sh [BUILD_DIR [N]] runs this program under
 *
 *   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='bench_*' \
 *            build/tests/bench_exchange 20000
 *
 * and prints each phase's instructions per exchange.
 *
 * Each bench_* function runs one phase of n exchanges (or operations) after a warm-up
 * outside any bench_* function (series created, connections open and classified), so
 * the count is the steady state: a phase's inclusive Ir divided by n is its instructions
 * per exchange (callgrind_annotate --inclusive=yes lists bench_http_server etc.).
 * Without valgrind it prints wall ns per exchange of each phase.
 *
 * SONDE_BENCH_EVENTS=FILTER turns request events on (--events-filter FILTER, lines written
 * to /dev/null): their cost per exchange is the difference.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "config/config.h"
#include "consumer/consumer.h"
#include "events/events.h"
#include "kernel/ctl.h"
#include "metrics/observe.h"
#include "metrics/registry.h"
#include "metrics/route.h"
#include "metrics/telemetry.h"
#include "procs/procs.h"
#include "proto/db_op.h"
#include "proto/http1.h"

#define TGID 4242
#define CONNS 16 /* keep-alive connections the exchanges rotate over */

/* A trade-engine-like mix: (method, target, status), request and response bodies. */
static const struct shape {
	const char *method, *target;
	unsigned status;
	unsigned req_body, resp_body;
} shapes[] = {
	{ "GET", "/api/v1/orders/%u", 200, 0, 180 },
	{ "POST", "/api/v1/orders", 201, 96, 64 },
	{ "GET", "/api/v1/accounts/%u/positions", 200, 0, 215 },
	{ "GET", "/api/v1/orders/%u", 404, 0, 30 },
	{ "DELETE", "/api/v1/orders/%u", 204, 0, 0 },
	{ "GET", "/healthz", 200, 0, 2 },
};
#define SHAPES (sizeof(shapes) / sizeof(shapes[0]))

static const char *const db_ops[][2] = {
	{ "SELECT", "" }, { "INSERT", "" }, { "UPDATE", "" },	   { "SELECT", "" },
	{ "GET", "" },	  { "SET", "" },    { "INSERT", "23505" },
};
#define DB_OPS (sizeof(db_ops) / sizeof(db_ops[0]))

struct bench {
	struct config cfg;
	struct telemetry tel;
	struct route_table *routes;
	struct observer obs;
	struct kernel_ctl kctl;
	struct procs procs;
	struct consumer c;
	struct conn_peer peers[CONNS];
	struct events events;
	uint64_t ts;
};

static int no_allow(void *ctx, uint32_t tgid, bool on)
{
	return 0;
}

static int no_ignore(void *ctx, uint64_t id, uint64_t *prev)
{
	*prev = 0;
	return 0;
}

static void exchange_of(uint64_t i, struct http1_exchange *ex, uint64_t ts)
{
	const struct shape *s = &shapes[i % SHAPES];

	memset(ex, 0, sizeof(*ex));
	snprintf(ex->method, sizeof(ex->method), "%s", s->method);
	snprintf(ex->target, sizeof(ex->target), s->target, (unsigned)(i * 7919 % 100000));
	ex->status = s->status;
	ex->req_first_ns = ts;
	ex->req_last_ns = ts + 1000;
	ex->resp_first_ns = ts + 200000 + (i % 97) * 30000;
	ex->resp_last_ns = ex->resp_first_ns + 2000;
	ex->req_body_bytes = s->req_body;
	ex->resp_body_bytes = s->resp_body;
}

/* ---- the metrics path: observe_http / observe_db ----------------------------------------- */

/* A measured phase: callgrind counts each bench_* function's instructions apart, so none
 * is inlined, nor folded into an identical twin by link-time optimisation (noipa). */
#define PHASE_FN __attribute__((noinline, noipa))

/* The exchanges are prepared outside the measured functions: only sonde's work counts. */
static struct http1_exchange *exchanges(uint64_t n)
{
	struct http1_exchange *v = malloc(n * sizeof(*v));

	if (!v)
		abort();
	for (uint64_t i = 0; i < n; i++)
		exchange_of(i, &v[i], 1000000000ULL + i * 1000000);
	return v;
}

PHASE_FN void bench_http_server(struct bench *b, const struct http1_exchange *v, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		observe_http(&b->obs, &b->peers[i % CONNS], true, &v[i]);
}

PHASE_FN void bench_http_client(struct bench *b, const struct http1_exchange *v, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		observe_http(&b->obs, &b->peers[i % CONNS], false, &v[i]);
}

PHASE_FN void bench_db(struct bench *b, const struct db_op *v, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		observe_db(&b->obs, &b->peers[i % CONNS], i & 1 ? "redis" : "postgresql", &v[i]);
}

static struct db_op *db_operations(uint64_t n)
{
	struct db_op *v = calloc(n, sizeof(*v));

	if (!v)
		abort();
	for (uint64_t i = 0; i < n; i++) {
		snprintf(v[i].operation, sizeof(v[i].operation), "%s", db_ops[i % DB_OPS][0]);
		snprintf(v[i].error_type, sizeof(v[i].error_type), "%s", db_ops[i % DB_OPS][1]);
		v[i].start_ns = 1000000000ULL + i * 1000;
		v[i].end_ns = v[i].start_ns + 150000 + (i % 89) * 7000;
	}
	return v;
}

/* ---- the consumer: ring-buffer records in ----------------------------------------------- */

static void record_hdr(struct sonde_event_hdr *h, uint16_t type, uint64_t ts)
{
	h->type = type;
	h->abi = SONDE_ABI_VERSION;
	h->tgid = TGID;
	h->pid = TGID;
	h->ts_ns = ts;
}

static void conn_open(struct bench *b, uint64_t id, uint16_t lport, uint16_t pport)
{
	struct sonde_conn_event e = { 0 };

	record_hdr(&e.hdr, SONDE_EV_CONN_OPEN, b->ts);
	e.conn_id = id;
	e.family = AF_INET6;
	e.sk_type = SOCK_STREAM;
	e.peer.addr[10] = e.peer.addr[11] = 0xff; /* ::ffff:127.0.0.1 */
	e.peer.addr[12] = 127;
	e.peer.addr[15] = 1;
	e.local.port = lport;
	e.peer.port = pport;
	consumer_on_record(&b->c, &e, sizeof(e));
}

/* A prepared data record: what the ring buffer hands the consumer. */
struct io {
	uint32_t size;
	uint8_t rec[sizeof(struct sonde_data_event) + 512];
};

static void io_make(struct io *io, uint64_t id, uint8_t dir, const char *s, size_t n)
{
	struct sonde_data_event *e = (struct sonde_data_event *)io->rec;

	memset(e, 0, sizeof(*e));
	record_hdr(&e->hdr, SONDE_EV_DATA, 0);
	e->conn_id = id;
	e->len = e->cap_len = (uint32_t)n;
	e->dir = dir;
	memcpy(e->data, s, n);
	io->size = (uint32_t)(sizeof(*e) + n);
}

/* Two records per HTTP exchange (request read, response written) on connections 1..CONNS. */
static struct io *http_records(uint64_t n)
{
	struct io *v = malloc(2 * n * sizeof(*v));
	char buf[512];
	int len;

	if (!v)
		abort();
	for (uint64_t i = 0; i < n; i++) {
		const struct shape *s = &shapes[i % SHAPES];
		char target[128];

		snprintf(target, sizeof(target), s->target, (unsigned)(i * 7919 % 100000));
		len = snprintf(buf, sizeof(buf),
			       "%s %s HTTP/1.1\r\nHost: svc\r\nContent-Length: %u\r\n\r\n%*s",
			       s->method, target, s->req_body, (int)s->req_body, "");
		io_make(&v[2 * i], 1 + i % CONNS, SONDE_DIR_RECV, buf, (size_t)len);
		len = snprintf(buf, sizeof(buf), "HTTP/1.1 %u X\r\nContent-Length: %u\r\n\r\n%*s",
			       s->status, s->status == 204 ? 0 : s->resp_body,
			       s->status == 204 ? 0 : (int)s->resp_body, "");
		io_make(&v[2 * i + 1], 1 + i % CONNS, SONDE_DIR_SEND, buf, (size_t)len);
	}
	return v;
}

/* Two records per Redis command (command written, reply read) on connections 101... */
static struct io *redis_records(uint64_t n)
{
	static const char *const cmds[][2] = {
		{ "*2\r\n$3\r\nGET\r\n$5\r\nk:123\r\n", "$5\r\nhello\r\n" },
		{ "*3\r\n$3\r\nSET\r\n$5\r\nk:123\r\n$2\r\nhi\r\n", "+OK\r\n" },
		{ "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n", ":42\r\n" },
		{ "*2\r\n$3\r\nGET\r\n$5\r\nk:999\r\n", "$-1\r\n" },
	};
	struct io *v = malloc(2 * n * sizeof(*v));

	if (!v)
		abort();
	for (uint64_t i = 0; i < n; i++) {
		const char *const *c = cmds[i % 4];

		io_make(&v[2 * i], 101 + i % CONNS, SONDE_DIR_SEND, c[0], strlen(c[0]));
		io_make(&v[2 * i + 1], 101 + i % CONNS, SONDE_DIR_RECV, c[1], strlen(c[1]));
	}
	return v;
}

/* redis-benchmark -P 16 style: commands written 16 at a time, their replies read 16 at a
 * time, on connections 101...; n commands (a multiple of 16). */
#define PIPELINE 16

static struct io *redis_pipelined(uint64_t n)
{
	static const char *const cmds[][2] = {
		{ "*2\r\n$3\r\nGET\r\n$5\r\nk:123\r\n", "$5\r\nhello\r\n" },
		{ "*3\r\n$3\r\nSET\r\n$5\r\nk:123\r\n$2\r\nhi\r\n", "+OK\r\n" },
	};
	struct io *v = malloc(2 * (n / PIPELINE) * sizeof(*v));

	if (!v)
		abort();
	for (uint64_t i = 0; i < n / PIPELINE; i++) {
		char w[512], r[512];
		size_t wn = 0, rn = 0;

		for (int k = 0; k < PIPELINE; k++) {
			const char *const *c = cmds[(i + k) % 2];

			memcpy(w + wn, c[0], strlen(c[0]));
			wn += strlen(c[0]);
			memcpy(r + rn, c[1], strlen(c[1]));
			rn += strlen(c[1]);
		}
		io_make(&v[2 * i], 101 + i % CONNS, SONDE_DIR_SEND, w, wn);
		io_make(&v[2 * i + 1], 101 + i % CONNS, SONDE_DIR_RECV, r, rn);
	}
	return v;
}

/* ---- PostgreSQL (protocol 3) ---------------------------------------------------------- */

static size_t put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 4;
}

/* Appends a typed message (type, int32 length counting itself, body) at out + at. */
static size_t pg_msg(uint8_t *out, size_t at, char type, const void *body, size_t n)
{
	out[at] = (uint8_t)type;
	put_be32(out + at + 1, (uint32_t)(n + 4));
	memcpy(out + at + 5, body, n);
	return at + 5 + n;
}

#define PG_BODY(lit) lit, sizeof(lit) - 1 /* a body written as a literal with its NULs */

/* What a client writes for round trip kind k, and what it reads back: a pgx-like extended
 * query with one row, a simple-query INSERT, an INSERT rejected with 23505. */
static void pg_round_trip(int k, struct io *q, struct io *a, uint64_t id)
{
	uint8_t w[256], r[256];
	size_t nw = 0, nr = 0;

	if (k == 0) {
		nw = pg_msg(w, nw, 'P', PG_BODY("\0SELECT v FROM t WHERE k = $1\0\0\0"));
		nw = pg_msg(w, nw, 'B', PG_BODY("\0\0\0\0\0\1\0\0\0\00242\0\0"));
		nw = pg_msg(w, nw, 'E', PG_BODY("\0\0\0\0\0"));
		nw = pg_msg(w, nw, 'S', "", 0);
		nr = pg_msg(r, nr, '1', "", 0);
		nr = pg_msg(r, nr, '2', "", 0);
		nr = pg_msg(r, nr, 'D', PG_BODY("\0\1\0\0\0\5hello"));
		nr = pg_msg(r, nr, 'C', PG_BODY("SELECT 1\0"));
	} else if (k == 1) {
		nw = pg_msg(w, nw, 'Q', PG_BODY("INSERT INTO t (k, v) VALUES (7, 'x')\0"));
		nr = pg_msg(r, nr, 'C', PG_BODY("INSERT 0 1\0"));
	} else {
		nw = pg_msg(w, nw, 'Q', PG_BODY("INSERT INTO t (k, v) VALUES (1, 'x')\0"));
		nr = pg_msg(r, nr, 'E',
			    PG_BODY("SERROR\0VERROR\0C23505\0Mduplicate key value\0\0"));
	}
	nr = pg_msg(r, nr, 'Z', PG_BODY("I"));
	io_make(q, id, SONDE_DIR_SEND, (const char *)w, nw);
	io_make(a, id, SONDE_DIR_RECV, (const char *)r, nr);
}

/* Two records per PostgreSQL round trip on connections 201...; one StartupMessage and its
 * answer per connection first (pg_startup). */
static struct io *postgres_records(uint64_t n)
{
	struct io *v = malloc(2 * n * sizeof(*v));

	if (!v)
		abort();
	for (uint64_t i = 0; i < n; i++)
		pg_round_trip((int)(i % 3), &v[2 * i], &v[2 * i + 1], 201 + i % CONNS);
	return v;
}

/* Feeds records v[0..2n) with advancing timestamps; the records are rewritten in place. */
static void feed(struct bench *b, struct io *v, uint64_t n)
{
	for (uint64_t i = 0; i < 2 * n; i++) {
		struct sonde_data_event *e = (struct sonde_data_event *)v[i].rec;

		b->ts += i & 1 ? 300000 + (i % 97) * 20000 : 50000;
		e->hdr.ts_ns = b->ts;
		consumer_on_record(&b->c, e, v[i].size);
	}
}

PHASE_FN void bench_consumer_http(struct bench *b, struct io *v, uint64_t n)
{
	feed(b, v, n);
}

PHASE_FN void bench_consumer_redis(struct bench *b, struct io *v, uint64_t n)
{
	feed(b, v, n);
}

/* n commands, PIPELINE per record */
PHASE_FN void bench_consumer_redis_p16(struct bench *b, struct io *v, uint64_t n)
{
	feed(b, v, n / PIPELINE);
}

PHASE_FN void bench_consumer_postgres(struct bench *b, struct io *v, uint64_t n)
{
	feed(b, v, n);
}

/* Each PostgreSQL connection's StartupMessage (protocol 3.0) and AuthenticationOk +
 * ReadyForQuery: what makes the consumer frame it as PostgreSQL from its first byte. */
static void pg_startup(struct bench *b)
{
	static const char params[] = "user\0bench\0database\0db\0\0";
	uint8_t w[64], r[64];
	size_t nw = 4, nr;
	struct io v[2];

	nw += put_be32(w + nw, 0x00030000);
	memcpy(w + nw, params, sizeof(params) - 1);
	nw += sizeof(params) - 1;
	put_be32(w, (uint32_t)nw);
	nr = pg_msg(r, 0, 'R', PG_BODY("\0\0\0\0"));
	nr = pg_msg(r, nr, 'Z', PG_BODY("I"));
	for (unsigned i = 0; i < CONNS; i++) {
		io_make(&v[0], 201 + i, SONDE_DIR_SEND, (const char *)w, nw);
		io_make(&v[1], 201 + i, SONDE_DIR_RECV, (const char *)r, nr);
		feed(b, v, 1);
	}
}

/* ---- driver --------------------------------------------------------------------------- */

static int bench_init(struct bench *b)
{
	memset(b, 0, sizeof(*b));
	if (telemetry_init(&b->tel, 2000, false))
		return -1;
	b->routes = route_table_new(NULL, 0, 200);
	if (!b->routes)
		return -1;
	b->obs = (struct observer){ .tel = &b->tel, .routes = b->routes };
	if (getenv("SONDE_BENCH_EVENTS")) {
		if (events_init(&b->events, "/dev/null", getenv("SONDE_BENCH_EVENTS"), false,
				b->tel.reg))
			return -1;
		b->obs.events = &b->events;
	}
	b->kctl = (struct kernel_ctl){ .allow = no_allow, .ignore_conn = no_ignore };
	if (procs_init(&b->procs, &b->cfg, &b->kctl, "/nonexistent-proc") ||
	    consumer_init(&b->c, &b->procs, &b->obs, &b->kctl))
		return -1;
	for (unsigned i = 0; i < CONNS; i++) {
		struct conn_peer *p = &b->peers[i];

		snprintf(p->service, sizeof(p->service), "trade-engine");
		snprintf(p->address, sizeof(p->address), "10.0.0.%u", 1 + i % 3);
		snprintf(p->local_port, sizeof(p->local_port), "8080");
		snprintf(p->peer_port, sizeof(p->peer_port), "%u", i % 2 ? 5432 : 6379);
		conn_open(b, 1 + i, 8080, (uint16_t)(40000 + i));
		conn_open(b, 101 + i, (uint16_t)(50000 + i), 6379);
		conn_open(b, 201 + i, (uint16_t)(51000 + i), 5432);
	}
	b->ts = 2000000000ULL;
	return 0;
}

/* Sum of the _count samples of one family: proof that every exchange was observed. */
static double counted(const char *text, const char *family)
{
	char key[128];
	double sum = 0;
	size_t kl = (size_t)snprintf(key, sizeof(key), "%s_count{", family);

	for (const char *p = strstr(text, key); p; p = strstr(p + kl, key))
		sum += strtod(strstr(p, "} ") + 2, NULL);
	return sum;
}

static void report(struct bench *b, uint64_t n, uint64_t w)
{
	char *text;

	if (registry_render(b->tel.reg, &text, NULL))
		return;
	/* server: 2 warm-ups and 2 phases (observe_http, consumer); client: 1 and 1; db:
	 * observe_db 1 and 1, the consumer's Redis 1 and 2 (one, pipelined), its PostgreSQL
	 * 1 and 1 */
	printf("observed: http server %.0f (want %llu), http client %.0f (want %llu), "
	       "db %.0f (want %llu)\n",
	       counted(text, "http_server_request_duration_seconds"),
	       (unsigned long long)(2 * (n + w)),
	       counted(text, "http_client_request_duration_seconds"), (unsigned long long)(n + w),
	       counted(text, "db_client_operation_duration_seconds"),
	       (unsigned long long)(4 * n / PIPELINE * PIPELINE + 3 * w));
	free(text);
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

#define PHASE(name, call, n)                                                          \
	do {                                                                          \
		double t0 = now_ns();                                                 \
		call;                                                                 \
		printf("%-18s %8llu  %8.1f ns each\n", name, (unsigned long long)(n), \
		       (now_ns() - t0) / (double)(n));                                \
	} while (0)

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000, w = 2 * CONNS * SHAPES * 7;
	struct http1_exchange *ex = exchanges(n), *wex = exchanges(w);
	struct db_op *ops = db_operations(n), *wops = db_operations(w);
	struct io *hr = http_records(n), *rr = redis_records(n), *pr = postgres_records(n);
	struct io *rp = redis_pipelined(n);
	struct io *whr = http_records(w), *wrr = redis_records(w), *wpr = postgres_records(w);
	struct bench *b = malloc(sizeof(*b));

	if (!n || !b || bench_init(b)) {
		fprintf(stderr, "usage: bench_exchange [N > 0]; setup failed\n");
		return 1;
	}
	/* warm-up: every series and route exists, every connection is classified */
	for (uint64_t i = 0; i < w; i++) {
		observe_http(&b->obs, &b->peers[i % CONNS], true, &wex[i]);
		observe_http(&b->obs, &b->peers[i % CONNS], false, &wex[i]);
		observe_db(&b->obs, &b->peers[i % CONNS], i & 1 ? "redis" : "postgresql", &wops[i]);
	}
	feed(b, whr, w);
	feed(b, wrr, w);
	pg_startup(b);
	feed(b, wpr, w);
	printf("phase            exchanges  wall\n");
	PHASE("http_server", bench_http_server(b, ex, n), n);
	PHASE("http_client", bench_http_client(b, ex, n), n);
	PHASE("db", bench_db(b, ops, n), n);
	PHASE("consumer_http", bench_consumer_http(b, hr, n), n);
	PHASE("consumer_redis", bench_consumer_redis(b, rr, n), n);
	PHASE("consumer_redis_p16", bench_consumer_redis_p16(b, rp, n), n);
	PHASE("consumer_postgres", bench_consumer_postgres(b, pr, n), n);
	report(b, n, w);
	events_free(&b->events);
	consumer_free(&b->c);
	procs_free(&b->procs);
	route_table_free(b->routes);
	telemetry_free(&b->tel);
	free(b);
	free(ex);
	free(wex);
	free(ops);
	free(wops);
	free(hr);
	free(rr);
	free(rp);
	free(pr);
	free(whr);
	free(wrr);
	free(wpr);
	return 0;
}
