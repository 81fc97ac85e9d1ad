// SPDX-License-Identifier: GPL-2.0-only
/* The consumer end to end without a kernel: ring-buffer records in, exposition text out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "config/config.h"
#include "consumer/consumer.h"
#include "kernel/ctl.h"
#include "metrics/observe.h"
#include "metrics/registry.h"
#include "metrics/route.h"
#include "metrics/telemetry.h"
#include "procs/procs.h"

#define MS 1000000ULL
#define TGID 4242

/* What the consumer and procs asked of the kernel. */
struct fake_kernel {
	bool tls_probed; /* every process's TLS library is probed */
	uint64_t ignored[8];
	uint64_t slots[4]; /* hint slots, as the kernel's conn_hints (id % 4) */
	size_t n_ignored;
	uint32_t allowed_off[8];
	size_t n_off;
};

static int fake_allow(void *ctx, uint32_t tgid, bool on)
{
	struct fake_kernel *k = ctx;

	if (!on && k->n_off < 8)
		k->allowed_off[k->n_off++] = tgid;
	return 0;
}

static int fake_ignore(void *ctx, uint64_t id, uint64_t *prev)
{
	struct fake_kernel *k = ctx;

	/* the slots of a fake array of 4: ids 1 and 5 share one */
	*prev = k->slots[id % 4];
	k->slots[id % 4] = id;

	if (k->n_ignored < 8) {
		k->ignored[k->n_ignored++] = id;
	}
	return 0;
}

static bool fake_tls_probed(void *ctx, uint32_t tgid)
{
	return ((struct fake_kernel *)ctx)->tls_probed;
}

struct fixture {
	struct config cfg;
	struct telemetry tel;
	struct route_table *routes;
	struct observer obs;
	struct fake_kernel fk;
	struct kernel_ctl kctl;
	struct procs procs;
	struct consumer c;
	uint64_t off[32][2]; /* by connection id (< 32) and direction: the next record's seq */
	char *text;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(telemetry_init(&f->tel, 1000, false), 0);
	f->routes = route_table_new(NULL, 0, 200);
	assert_non_null(f->routes);
	f->obs = (struct observer){ .tel = &f->tel, .routes = f->routes };
	f->kctl = (struct kernel_ctl){ .ctx = &f->fk,
				       .allow = fake_allow,
				       .ignore_conn = fake_ignore,
				       .tls_probed = fake_tls_probed };
	assert_int_equal(procs_init(&f->procs, &f->cfg, &f->kctl, "/nonexistent-proc"), 0);
	assert_int_equal(consumer_init(&f->c, &f->procs, &f->obs, &f->kctl), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	consumer_free(&f->c);
	procs_free(&f->procs);
	route_table_free(f->routes);
	telemetry_free(&f->tel);
	free(f->text);
	free(f);
	return 0;
}

static void hdr(struct sonde_event_hdr *h, uint16_t type, uint64_t ts)
{
	h->type = type;
	h->abi = SONDE_ABI_VERSION;
	h->tgid = TGID;
	h->pid = TGID;
	h->ts_ns = ts;
}

static void feed_open(struct fixture *f, uint16_t type, uint64_t id, uint16_t lport, uint16_t pport,
		      uint64_t ts)
{
	struct sonde_conn_event e = { 0 };

	hdr(&e.hdr, type, ts);
	e.conn_id = id;
	e.family = AF_INET6;
	e.sk_type = SOCK_STREAM;
	/* peer 127.0.0.1, v4-mapped as Go's [::] listeners see it */
	e.peer.addr[10] = e.peer.addr[11] = 0xff;
	e.peer.addr[12] = 127;
	e.peer.addr[15] = 1;
	e.local.port = lport;
	e.peer.port = pport;
	e.ino = id + 1000;		   /* as the syscall path reports it */
	if (type == SONDE_EV_CONN_CLOSE) { /* the kernel's offsets: every byte fed */
		e.off[0] = f->off[id % 32][0];
		e.off[1] = f->off[id % 32][1];
	}
	assert_int_equal(consumer_on_record(&f->c, &e, sizeof(e)), 0);
}

/* One read or write of len bytes, of which the first cap are in s, seen by source. */
static void feed_src(struct fixture *f, uint64_t id, uint8_t dir, uint64_t ts, const char *s,
		     size_t cap, size_t len, uint8_t source)
{
	size_t size = sizeof(struct sonde_data_event) + cap;
	struct sonde_data_event *e = calloc(1, size);

	assert_non_null(e);
	hdr(&e->hdr, SONDE_EV_DATA, ts);
	e->conn_id = id;
	/* As the kernel counts them: socket bytes only; TLS plaintext carries 0. */
	if (source == SONDE_SRC_SOCKET_TP || source == SONDE_SRC_SYSCALL_TP) {
		e->seq = f->off[id % 32][dir & 1];
		f->off[id % 32][dir & 1] += len;
	}
	e->len = len;
	e->cap_len = cap;
	e->dir = dir;
	e->source = source;
	memcpy(e->data, s, cap);
	assert_int_equal(consumer_on_record(&f->c, e, size), 0);
	free(e);
}

static void feed_io(struct fixture *f, uint64_t id, uint8_t dir, uint64_t ts, const char *s,
		    size_t cap, size_t len)
{
	feed_src(f, id, dir, ts, s, cap, len, SONDE_SRC_SOCKET_TP);
}

/* Plaintext from the TLS probes. */
static void feed_plain(struct fixture *f, uint64_t id, uint8_t dir, uint64_t ts, const char *s)
{
	feed_src(f, id, dir, ts, s, strlen(s), strlen(s), SONDE_SRC_OPENSSL);
}

static void feed(struct fixture *f, uint64_t id, uint8_t dir, uint64_t ts, const char *s)
{
	feed_io(f, id, dir, ts, s, strlen(s), strlen(s));
}

static const char *render(struct fixture *f)
{
	size_t len;

	free(f->text);
	assert_int_equal(registry_render(f->tel.reg, &f->text, &len), 0);
	return f->text;
}

static void assert_has(const char *text, const char *line)
{
	if (!strstr(text, line))
		fail_msg("missing from the exposition: %s\n--- got:\n%s", line, text);
}

#define SERVER_LABELS                                                                  \
	"http_request_method=\"GET\",http_response_status_code=\"200\","               \
	"http_route=\"/api/v1/orders/{id}\",url_scheme=\"http\",server_port=\"8080\"," \
	"service_name=\"unknown\""

static const char request[] = "GET /api/v1/orders/5 HTTP/1.1\r\nHost: x\r\n\r\n";
static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

static void test_http_server_exchange(void **state)
{
	struct fixture *f = *state;
	const char *t;

	feed_open(f, SONDE_EV_CONN_OPEN, 7, 8080, 50000, 1 * MS);
	feed(f, 7, SONDE_DIR_RECV, 10 * MS, request);
	feed(f, 7, SONDE_DIR_SEND, 13 * MS, response); /* 3 ms: the 0.005 bucket */
	t = render(f);
	assert_has(t, "http_server_request_duration_seconds_bucket{" SERVER_LABELS ",le=\"0\"} 0");
	assert_has(t,
		   "http_server_request_duration_seconds_bucket{" SERVER_LABELS ",le=\"0.005\"} 1");
	assert_has(t, "http_server_request_duration_seconds_count{" SERVER_LABELS "} 1");
	assert_has(t, "http_server_response_body_size_bytes_sum{" SERVER_LABELS "} 2");
	assert_int_equal(f->c.events, 3);
	assert_int_equal(f->c.by_type[SONDE_EV_DATA], 2);
	assert_int_equal(f->fk.n_ignored, 0);
	assert_int_equal(f->c.conns.gaps, 0);
}

/* A record lost on the way (ring full) shows as a jump in its direction's offsets: one
 * gap; the other direction and later records are not affected. */
static void test_gap_counted(void **state)
{
	struct fixture *f = *state;

	feed_open(f, SONDE_EV_CONN_OPEN, 15, 8080, 50006, 1 * MS);
	feed(f, 15, SONDE_DIR_RECV, 10 * MS, request);
	feed(f, 15, SONDE_DIR_SEND, 13 * MS, response);
	assert_int_equal(f->c.conns.gaps, 0);
	f->off[15][SONDE_DIR_RECV] += strlen(request); /* the second request never arrives */
	feed(f, 15, SONDE_DIR_RECV, 20 * MS, request);
	assert_int_equal(f->c.conns.gaps, 1);
	feed(f, 15, SONDE_DIR_SEND, 23 * MS, response);
	feed(f, 15, SONDE_DIR_RECV, 30 * MS, request);
	assert_int_equal(f->c.conns.gaps, 1);
}

/* A data record can reach the ring before its connection's open record (two CPUs): the
 * open record then only adds the addresses, and the exchange is still counted. */
static void test_open_after_data(void **state)
{
	struct fixture *f = *state;
	const char *t;

	feed(f, 16, SONDE_DIR_RECV, 10 * MS, request);
	feed_open(f, SONDE_EV_CONN_OPEN, 16, 8080, 50007, 10 * MS);
	feed(f, 16, SONDE_DIR_SEND, 13 * MS, response);
	t = render(f);
	assert_has(t, "http_server_request_duration_seconds_count{" SERVER_LABELS "} 1");
	assert_int_equal(f->c.conns.gaps, 0);
}

/* Go's server reads one byte, then the rest: the classifier waits, then replays. */
static void test_http_server_byte_per_read(void **state)
{
	struct fixture *f = *state;
	const char *t;
	size_t n = strlen(request);

	feed_open(f, SONDE_EV_CONN_OPEN, 8, 8080, 50001, 1 * MS);
	for (size_t i = 0; i < n; i++)
		feed_io(f, 8, SONDE_DIR_RECV, (10 + i) * MS / 100, request + i, 1, 1);
	feed(f, 8, SONDE_DIR_SEND, 30 * MS, response);
	t = render(f);
	/* first byte at 0.1 ms, last response byte at 30 ms: the 0.05 bucket */
	assert_has(t,
		   "http_server_request_duration_seconds_bucket{" SERVER_LABELS ",le=\"0.025\"} 0");
	assert_has(t,
		   "http_server_request_duration_seconds_bucket{" SERVER_LABELS ",le=\"0.05\"} 1");
}

static void test_redis_client(void **state)
{
	struct fixture *f = *state;
	const char *t;

	feed_open(f, SONDE_EV_CONN_OPEN, 9, 40000, 6379, 1 * MS);
	feed(f, 9, SONDE_DIR_SEND, 2 * MS,
	     "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$3\r\nGET\r\n$1\r\nj\r\n");
	feed(f, 9, SONDE_DIR_RECV, 3 * MS, "$-1\r\n-ERR nope\r\n");
	t = render(f);
	assert_has(t, "db_client_operation_duration_seconds_count{db_system_name=\"redis\","
		      "db_operation_name=\"GET\",error_type=\"\",server_address=\"127.0.0.1\","
		      "server_port=\"6379\",service_name=\"unknown\"} 1");
	assert_has(t, "db_client_operation_duration_seconds_count{db_system_name=\"redis\","
		      "db_operation_name=\"GET\",error_type=\"ERR\",server_address=\"127.0.0.1\","
		      "server_port=\"6379\",service_name=\"unknown\"} 1");
}

/* A TLS ClientHello read on a plain port: counted as unsupported, the kernel told to stop
 * reporting the connection, and what was already in the ring ignored. */
static void test_tls_ignored(void **state)
{
	struct fixture *f = *state;
	const char hello[] = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03";
	const char *t;

	feed_open(f, SONDE_EV_CONN_OPEN, 10, 8443, 50002, 1 * MS);
	feed_io(f, 10, SONDE_DIR_RECV, 2 * MS, hello, sizeof(hello) - 1, 170);
	feed(f, 10, SONDE_DIR_RECV, 3 * MS, request);
	feed(f, 10, SONDE_DIR_SEND, 4 * MS, response);
	assert_int_equal(f->fk.n_ignored, 1);
	assert_int_equal(f->fk.ignored[0], 10);
	t = render(f);
	assert_has(t, "sonde_unsupported_connections_total{protocol=\"tls\"} 1");
	assert_null(strstr(t, "http_server_request_duration_seconds_count{"));
}

static const char client_hello[] = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03";
static const char app_data[] = "\x17\x03\x03\x00\x40\x9a\x11";

/* TLS in a process whose TLS library is probed: the connection waits for plaintext (the
 * kernel is not told to ignore it), the plaintext is parsed as https, and the socket's
 * own bytes (ciphertext, or anything else) are dropped from then on. */
static void test_tls_plaintext(void **state)
{
	struct fixture *f = *state;
	const char *t;

	f->fk.tls_probed = true;
	feed_open(f, SONDE_EV_CONN_OPEN, 20, 8443, 50020, 1 * MS);
	feed_io(f, 20, SONDE_DIR_RECV, 2 * MS, client_hello, sizeof(client_hello) - 1, 170);
	feed_io(f, 20, SONDE_DIR_RECV, 3 * MS, app_data, sizeof(app_data) - 1, 69);
	feed_plain(f, 20, SONDE_DIR_RECV, 4 * MS, request);
	feed_io(f, 20, SONDE_DIR_RECV, 5 * MS, request, sizeof(request) - 1, 60);
	feed_plain(f, 20, SONDE_DIR_SEND, 6 * MS, response);
	feed_open(f, SONDE_EV_CONN_CLOSE, 20, 8443, 50020, 7 * MS);
	assert_int_equal(f->fk.n_ignored, 0);
	t = render(f);
	assert_has(t, "http_server_request_duration_seconds_count{http_request_method=\"GET\","
		      "http_response_status_code=\"200\",http_route=\"/api/v1/orders/{id}\","
		      "url_scheme=\"https\",server_port=\"8443\",service_name=\"unknown\"} 1");
	assert_has(t, "sonde_unsupported_connections_total{protocol=\"tls\"} 0");
	assert_has(t, "sonde_parse_errors_total{protocol=\"http\"} 0");
	assert_int_equal(f->c.conns.gaps, 0);
}

/* Plaintext is not numbered (seq 0): it never counts as a position in the socket's stream.
 * Forgotten while idle after 239 bytes, then plaintext first, then socket bytes at the
 * kernel's offset 239: no gap. */
static void test_tls_plaintext_no_gap(void **state)
{
	struct fixture *f = *state;

	f->fk.tls_probed = true;
	feed_io(f, 22, SONDE_DIR_RECV, 1 * MS, client_hello, sizeof(client_hello) - 1, 170);
	feed_io(f, 22, SONDE_DIR_RECV, 1 * MS, app_data, sizeof(app_data) - 1, 69);
	conns_expire(&f->c.conns, 1000 * MS, 100 * MS);
	assert_int_equal(f->c.conns.by_id.len, 0);
	feed_plain(f, 22, SONDE_DIR_RECV, 2000 * MS, request);
	feed_io(f, 22, SONDE_DIR_RECV, 2003 * MS, app_data, sizeof(app_data) - 1, 69);
	feed_io(f, 22, SONDE_DIR_RECV, 2004 * MS, app_data, sizeof(app_data) - 1, 69);
	assert_int_equal(f->c.conns.gaps, 0);
}

/* A probed process's TLS connection (joined mid-stream: an application data record) that
 * closes without plaintext: one unsupported TLS connection, never ignored. */
static void test_tls_closed_without_plaintext(void **state)
{
	struct fixture *f = *state;

	f->fk.tls_probed = true;
	feed_open(f, SONDE_EV_CONN_OPEN, 21, 8443, 50021, 1 * MS);
	feed_io(f, 21, SONDE_DIR_SEND, 2 * MS, app_data, sizeof(app_data) - 1, 69);
	feed_open(f, SONDE_EV_CONN_CLOSE, 21, 8443, 50021, 3 * MS);
	assert_int_equal(f->fk.n_ignored, 0);
	assert_has(render(f), "sonde_unsupported_connections_total{protocol=\"tls\"} 1");
}

/* A server's first plaintext is its HTTP/2 SETTINGS frame (ALPN chose h2): HTTP/2. */
static void test_tls_h2_server_preface(void **state)
{
	struct fixture *f = *state;
	const char settings[] = "\x00\x00\x12\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00"
				"\x00\x80\x00\x04\x00\x01\x00\x00\x00\x05\x00\xff\xff\xff";
	const char *t;

	f->fk.tls_probed = true;
	feed_open(f, SONDE_EV_CONN_OPEN, 22, 8443, 50022, 1 * MS);
	feed_io(f, 22, SONDE_DIR_RECV, 2 * MS, client_hello, sizeof(client_hello) - 1, 170);
	feed_src(f, 22, SONDE_DIR_SEND, 3 * MS, settings, sizeof(settings) - 1,
		 sizeof(settings) - 1, SONDE_SRC_OPENSSL);
	assert_int_equal(f->fk.n_ignored, 1);
	t = render(f);
	assert_has(t, "sonde_unsupported_connections_total{protocol=\"http2\"} 1");
	assert_has(t, "sonde_unsupported_connections_total{protocol=\"tls\"} 0");
}

/* Bytes with NULs: the length is the array's, without its terminator. */
#define FEED_BIN(f, id, dir, ts, a, src) \
	feed_src(f, id, dir, ts, a, sizeof(a) - 1, sizeof(a) - 1, src)

/* PostgreSQL with sslmode=require from a probed process: SSLRequest and the server's 'S' in
 * the clear (the client parser stops there), then TLS. The first plaintext (the
 * StartupMessage, from the Go probes) starts the connection over as a PostgreSQL client;
 * ciphertext still arriving from the socket is dropped. */
static void test_tls_pg_sslrequest(void **state)
{
	struct fixture *f = *state;
	const char ssl_request[] = "\x00\x00\x00\x08\x04\xd2\x16\x2f";
	const char startup[] = "\x00\x00\x00\x17\x00\x03\x00\x00user\0postgres\0";
	const char ready[] = "R\x00\x00\x00\x08\x00\x00\x00\x00Z\x00\x00\x00\x05I";
	const char query[] = "Q\x00\x00\x00\x0dSELECT 1";
	const char done[] = "C\x00\x00\x00\x0dSELECT 1\0Z\x00\x00\x00\x05I";
	const char *t;

	f->fk.tls_probed = true;
	feed_open(f, SONDE_EV_CONN_OPEN, 23, 40000, 5432, 1 * MS);
	FEED_BIN(f, 23, SONDE_DIR_SEND, 2 * MS, ssl_request, SONDE_SRC_SOCKET_TP);
	feed(f, 23, SONDE_DIR_RECV, 3 * MS, "S");
	feed_io(f, 23, SONDE_DIR_SEND, 4 * MS, client_hello, sizeof(client_hello) - 1, 170);
	/* startup's and query's last NUL are their arrays' terminators */
	feed_src(f, 23, SONDE_DIR_SEND, 5 * MS, startup, sizeof(startup), sizeof(startup),
		 SONDE_SRC_GO_TLS);
	feed_io(f, 23, SONDE_DIR_SEND, 5 * MS, app_data, sizeof(app_data) - 1, 51);
	FEED_BIN(f, 23, SONDE_DIR_RECV, 6 * MS, ready, SONDE_SRC_GO_TLS);
	feed_src(f, 23, SONDE_DIR_SEND, 7 * MS, query, sizeof(query), sizeof(query),
		 SONDE_SRC_GO_TLS);
	feed_io(f, 23, SONDE_DIR_RECV, 8 * MS, app_data, sizeof(app_data) - 1, 51);
	FEED_BIN(f, 23, SONDE_DIR_RECV, 9 * MS, done, SONDE_SRC_GO_TLS);
	feed_open(f, SONDE_EV_CONN_CLOSE, 23, 40000, 5432, 10 * MS);
	assert_int_equal(f->fk.n_ignored, 0);
	t = render(f);
	assert_has(t, "db_client_operation_duration_seconds_count{db_system_name=\"postgresql\","
		      "db_operation_name=\"SELECT\",error_type=\"\",server_address=\"127.0.0.1\","
		      "server_port=\"5432\",service_name=\"unknown\"} 1");
	assert_has(t, "sonde_parse_errors_total{protocol=\"postgresql\"} 0");
	assert_has(t, "sonde_unsupported_connections_total{protocol=\"tls\"} 0");
}

/* Bytes no parser knows (binary garbage as a connection's first bytes): counted as an
 * unsupported connection of protocol "unknown", and the kernel told to stop reporting it. */
static void test_unknown_counted(void **state)
{
	struct fixture *f = *state;
	const char junk[] = "\x07\x9e\x35\xcc\x63\xfa\x91\x28\xbf\x56\xed\x84";

	feed_open(f, SONDE_EV_CONN_OPEN, 11, 8080, 50003, 1 * MS);
	feed_io(f, 11, SONDE_DIR_RECV, 2 * MS, junk, sizeof(junk) - 1, sizeof(junk) - 1);
	assert_int_equal(f->fk.n_ignored, 1);
	assert_has(render(f), "sonde_unsupported_connections_total{protocol=\"unknown\"} 1");
}

/* A Query whose length promises 1000 bytes, 30 sent, then the close; a RESP array missing
 * its last element, then the close: each one incomplete request, and no operation. */
static void test_incomplete_requests(void **state)
{
	struct fixture *f = *state;
	const char startup[] = "\x00\x00\x00\x17\x00\x03\x00\x00user\0postgres\0";
	const char ready[] = "R\x00\x00\x00\x08\x00\x00\x00\x00Z\x00\x00\x00\x05I";
	const char query[] = "Q\x00\x00\x03\xe8SELECT 'never finished' -- ..";
	const char *t;

	feed_open(f, SONDE_EV_CONN_OPEN, 12, 40001, 5432, 1 * MS);
	feed_src(f, 12, SONDE_DIR_SEND, 2 * MS, startup, sizeof(startup), sizeof(startup),
		 SONDE_SRC_SOCKET_TP);
	FEED_BIN(f, 12, SONDE_DIR_RECV, 3 * MS, ready, SONDE_SRC_SOCKET_TP);
	FEED_BIN(f, 12, SONDE_DIR_SEND, 4 * MS, query, SONDE_SRC_SOCKET_TP);
	feed_open(f, SONDE_EV_CONN_CLOSE, 12, 40001, 5432, 5 * MS);
	feed_open(f, SONDE_EV_CONN_OPEN, 13, 40002, 6379, 6 * MS);
	feed(f, 13, SONDE_DIR_SEND, 7 * MS, "*3\r\n$3\r\nSET\r\n$9\r\nhostile:t\r\n");
	feed_open(f, SONDE_EV_CONN_CLOSE, 13, 40002, 6379, 8 * MS);
	t = render(f);
	assert_has(t, "sonde_requests_incomplete_total{protocol=\"postgresql\"} 1");
	assert_has(t, "sonde_requests_incomplete_total{protocol=\"redis\"} 1");
	assert_has(t, "sonde_requests_incomplete_total{protocol=\"http\"} 0");
	assert_has(t, "sonde_parse_errors_total{protocol=\"postgresql\"} 0");
	assert_null(strstr(t, "db_client_operation_duration_seconds_count{"));
}

#define CLOSE_LABELS(status)                                                           \
	"http_request_method=\"GET\",http_response_status_code=\"" status "\","        \
	"http_route=\"/api/v1/orders/{id}\",url_scheme=\"http\",server_port=\"8080\"," \
	"service_name=\"unknown\""

/* A request whose connection closes before any response: 499, once the close has lingered
 * (the answer may come as the connection closes); the duration runs to the close. */
static void test_closed_before_response(void **state)
{
	struct fixture *f = *state;
	const char *t;

	feed_open(f, SONDE_EV_CONN_OPEN, 11, 8080, 50003, 1 * MS);
	feed(f, 11, SONDE_DIR_RECV, 2 * MS, request);
	feed_open(f, SONDE_EV_CONN_CLOSE, 11, 8080, 50003, 32 * MS);
	t = render(f);
	assert_null(strstr(t, "http_server_request_duration_seconds_count{"));
	assert_int_equal(f->c.conns.by_id.len, 1);
	conns_tick(&f->c.conns, 32 * MS + CONN_LINGER_NS - 1);
	assert_int_equal(f->c.conns.by_id.len, 1);
	conns_tick(&f->c.conns, 32 * MS + CONN_LINGER_NS);
	assert_int_equal(f->c.conns.by_id.len, 0);
	t = render(f);
	assert_has(t, "http_server_request_duration_seconds_count{" CLOSE_LABELS("499") "} 1");
	assert_has(t, "http_server_request_duration_seconds_bucket{" CLOSE_LABELS(
			      "499") ",le=\"0.025\"} 0");
	assert_has(t, "http_server_request_duration_seconds_bucket{" CLOSE_LABELS(
			      "499") ",le=\"0.05\"} 1");
	assert_has(t, "http_server_response_body_size_bytes_sum{" CLOSE_LABELS("499") "} 0");
	assert_has(t, "sonde_requests_unanswered_total{protocol=\"http\"} 0");
}

/* The answer to a client that closed first: the socket reached TCP_CLOSE inside the write,
 * which comes under a new id, local port 0. It joins the closed connection: a 200. */
static void test_answer_after_close(void **state)
{
	struct fixture *f = *state;
	const char *t;

	feed_open(f, SONDE_EV_CONN_OPEN, 17, 8080, 50010, 1 * MS);
	feed(f, 17, SONDE_DIR_RECV, 2 * MS, request);
	feed_io(f, 17, SONDE_DIR_RECV, 30 * MS, "", 0, 0); /* the client's FIN */
	feed_open(f, SONDE_EV_CONN_CLOSE, 17, 0, 0, 152 * MS);
	feed_open(f, SONDE_EV_CONN_OPEN, 18, 0, 50011, 152 * MS); /* another peer */
	feed_open(f, SONDE_EV_CONN_OPEN, 19, 0, 50010, 152 * MS);
	feed(f, 19, SONDE_DIR_SEND, 152 * MS, response);
	feed_io(f, 19, SONDE_DIR_RECV, 153 * MS, "", 0, 0);
	t = render(f);
	assert_has(t, "http_server_request_duration_seconds_count{" CLOSE_LABELS("200") "} 1");
	assert_has(t, "http_server_request_duration_seconds_bucket{" CLOSE_LABELS(
			      "200") ",le=\"0.25\"} 1");
	assert_int_equal(f->c.conns.rejoined, 1);
	assert_int_equal(f->c.conns.gaps, 0);
	conns_tick(&f->c.conns, 152 * MS + CONN_LINGER_NS);
	assert_int_equal(f->c.conns.by_id.len, 1); /* 18, an open record only */
	t = render(f);
	assert_null(strstr(t, "http_response_status_code=\"499\""));
	assert_has(t, "sonde_requests_unanswered_total{protocol=\"http\"} 0");
}

/* The late id's own close (the syscall path can report one) ends the lingering at once. */
static void test_answer_after_close_then_close(void **state)
{
	struct fixture *f = *state;

	feed_open(f, SONDE_EV_CONN_OPEN, 20, 8080, 50012, 1 * MS);
	feed(f, 20, SONDE_DIR_RECV, 2 * MS, request);
	feed(f, 20, SONDE_DIR_RECV, 3 * MS, request); /* pipelined: never answered */
	feed_open(f, SONDE_EV_CONN_CLOSE, 20, 0, 0, 10 * MS);
	feed_open(f, SONDE_EV_CONN_OPEN, 21, 0, 50012, 10 * MS);
	feed(f, 21, SONDE_DIR_SEND, 10 * MS, response);
	feed_open(f, SONDE_EV_CONN_CLOSE, 21, 0, 0, 12 * MS);
	assert_int_equal(f->c.conns.by_id.len, 0);
	assert_has(render(f),
		   "http_server_request_duration_seconds_count{" CLOSE_LABELS("200") "} 1");
	assert_has(render(f),
		   "http_server_request_duration_seconds_count{" CLOSE_LABELS("499") "} 1");
}

/* A client's request that its connection ends without answering stays unanswered. */
static void test_client_unanswered_on_close(void **state)
{
	struct fixture *f = *state;
	const char *t;

	feed_open(f, SONDE_EV_CONN_OPEN, 22, 41002, 80, 1 * MS);
	feed(f, 22, SONDE_DIR_SEND, 2 * MS, "GET /x HTTP/1.1\r\n\r\n");
	feed_open(f, SONDE_EV_CONN_CLOSE, 22, 41002, 80, 3 * MS);
	consumer_free(&f->c); /* a lingering connection is ended at exit too */
	assert_int_equal(consumer_init(&f->c, &f->procs, &f->obs, &f->kctl), 0);
	t = render(f);
	assert_has(t, "sonde_requests_unanswered_total{protocol=\"http\"} 1");
	assert_null(strstr(t, "http_client_request_duration_seconds_count{"));
}

/* A client's response delimited by close ends at the EOF read (len 0). */
static void test_http_client_close_delimited(void **state)
{
	struct fixture *f = *state;
	const char *t;

	feed_open(f, SONDE_EV_CONN_OPEN, 12, 41000, 80, 1 * MS);
	feed(f, 12, SONDE_DIR_SEND, 2 * MS, "GET /x HTTP/1.0\r\n\r\n");
	feed(f, 12, SONDE_DIR_RECV, 3 * MS, "HTTP/1.0 200 OK\r\n\r\nbody");
	t = render(f);
	assert_null(strstr(t, "http_client_request_duration_seconds_count{"));
	feed_io(f, 12, SONDE_DIR_RECV, 4 * MS, "", 0, 0);
	t = render(f);
	assert_has(t, "http_client_request_duration_seconds_count{http_request_method=\"GET\","
		      "http_response_status_code=\"200\",server_address=\"127.0.0.1\","
		      "server_port=\"80\",service_name=\"unknown\"} 1");
	assert_has(t, "http_client_response_body_size_bytes_sum{http_request_method=\"GET\","
		      "http_response_status_code=\"200\",server_address=\"127.0.0.1\","
		      "server_port=\"80\",service_name=\"unknown\"} 4");
}

/* Records that are not whole are counted and change nothing. */
static void test_bad_records(void **state)
{
	struct fixture *f = *state;
	struct sonde_data_event e = { 0 };
	struct sonde_event_hdr h = { 0 };

	hdr(&h, SONDE_EV_DATA, 1);
	assert_int_equal(consumer_on_record(&f->c, &h, sizeof(h)), 0); /* too short */
	hdr(&e.hdr, SONDE_EV_DATA, 1);
	e.hdr.abi = SONDE_ABI_VERSION + 1;
	assert_int_equal(consumer_on_record(&f->c, &e, sizeof(e)), 0); /* another ABI */
	e.hdr.abi = SONDE_ABI_VERSION;
	e.cap_len = 10;
	e.len = 10;
	assert_int_equal(consumer_on_record(&f->c, &e, sizeof(e)), 0); /* payload missing */
	hdr(&h, 99, 1);
	assert_int_equal(consumer_on_record(&f->c, &h, sizeof(h)), 0); /* unknown type */
	assert_int_equal(f->c.bad_records, 4);
	assert_int_equal(f->c.events, 0);
	assert_int_equal(f->c.conns.by_id.len, 0);
}

/* A fork child whose parent is not tracked and whose /proc is gone leaves the allow set. */
static void test_process_records(void **state)
{
	struct fixture *f = *state;
	struct sonde_proc_event e = { 0 };

	hdr(&e.hdr, SONDE_EV_PROC_FORK, 1);
	e.hdr.tgid = 777;
	e.ppid = 1;
	assert_int_equal(consumer_on_record(&f->c, &e, sizeof(e)), 0);
	assert_int_equal(f->fk.n_off, 1);
	assert_int_equal(f->fk.allowed_off[0], 777);
	assert_int_equal(f->c.by_type[SONDE_EV_PROC_FORK], 1);
	assert_string_equal(consumer_event_name(SONDE_EV_PROC_FORK), "proc_fork");
	assert_null(consumer_event_name(99));
}

/* Idle connections are dropped; a later record starts a new one. */
static void test_expire(void **state)
{
	struct fixture *f = *state;

	feed_open(f, SONDE_EV_CONN_OPEN, 13, 8080, 50004, 1 * MS);
	feed_open(f, SONDE_EV_CONN_OPEN, 14, 8080, 50005, 500 * MS);
	conns_expire(&f->c.conns, 600 * MS, 200 * MS);
	assert_int_equal(f->c.conns.by_id.len, 1);
	conns_expire(&f->c.conns, 800 * MS, 200 * MS);
	assert_int_equal(f->c.conns.by_id.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_http_server_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_after_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_server_byte_per_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incomplete_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_plaintext, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_plaintext_no_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_closed_without_plaintext, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_h2_server_preface, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_pg_sslrequest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_before_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_after_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_after_close_then_close, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_client_unanswered_on_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_client_close_delimited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
