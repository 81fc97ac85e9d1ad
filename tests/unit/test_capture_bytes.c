// SPDX-License-Identifier: GPL-2.0-only
/*
 * Byte accounting of the connection table (sonde_capture_bytes_total): for every direction of
 * every connection, the bytes the kernel numbered = parsed + unparsed + lost, each byte once,
 * whatever was lost on the way: a record in the middle (gap), the last ones (tail, known from
 * the close record's offsets), the first ones with the open record, or all of them.
 */
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
#define RECV SONDE_DIR_RECV
#define SEND SONDE_DIR_SEND

struct fixture {
	struct config cfg;
	struct telemetry tel;
	struct route_table *routes;
	struct observer obs;
	struct kernel_ctl kctl;
	struct procs procs;
	struct consumer c;
	uint64_t slots[4];   /* the kernel's hint slots, 4 of them: ids 1 and 5 share one */
	uint64_t off[32][2]; /* the kernel's offsets, by connection id (< 32) and direction */
};

static int fake_ignore(void *ctx, uint64_t id, uint64_t *prev)
{
	struct fixture *f = ctx;

	*prev = f->slots[id % 4];
	f->slots[id % 4] = id;
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(telemetry_init(&f->tel, 1000, false), 0);
	f->routes = route_table_new(NULL, 0, 200);
	assert_non_null(f->routes);
	f->obs = (struct observer){ .tel = &f->tel, .routes = f->routes };
	f->kctl = (struct kernel_ctl){ .ctx = f, .ignore_conn = fake_ignore };
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
	free(f);
	return 0;
}

static void conn_record(struct fixture *f, uint16_t type, uint64_t id, uint64_t ts)
{
	struct sonde_conn_event e = { 0 };

	e.hdr = (struct sonde_event_hdr){
		.type = type, .abi = SONDE_ABI_VERSION, .tgid = TGID, .pid = TGID, .ts_ns = ts
	};
	e.conn_id = id;
	e.family = AF_INET;
	e.sk_type = SOCK_STREAM;
	e.local.port = 8080;
	e.peer.port = 50000 + id;
	if (type == SONDE_EV_CONN_CLOSE) {
		e.off[0] = f->off[id][0];
		e.off[1] = f->off[id][1];
	}
	assert_int_equal(consumer_on_record(&f->c, &e, sizeof(e)), 0);
}

/* One read or write of len bytes, numbered by the kernel; the first cap of them in s. */
static void io_cap(struct fixture *f, uint64_t id, uint8_t dir, const char *s, size_t cap,
		   size_t len)
{
	size_t size = sizeof(struct sonde_data_event) + cap;
	struct sonde_data_event *e = calloc(1, size);

	assert_non_null(e);
	e->hdr = (struct sonde_event_hdr){ .type = SONDE_EV_DATA,
					   .abi = SONDE_ABI_VERSION,
					   .tgid = TGID,
					   .pid = TGID,
					   .ts_ns = 5 * MS };
	e->conn_id = id;
	e->seq = f->off[id][dir];
	f->off[id][dir] += len;
	e->len = len;
	e->cap_len = cap;
	e->dir = dir;
	e->source = SONDE_SRC_SOCKET_TP;
	memcpy(e->data, s, cap);
	assert_int_equal(consumer_on_record(&f->c, e, size), 0);
	free(e);
}

static void io(struct fixture *f, uint64_t id, uint8_t dir, const char *s)
{
	io_cap(f, id, dir, s, strlen(s), strlen(s));
}

/* A read or write the kernel numbered whose record never came (the ring was full, or the
 * connection is ignored). */
static void io_lost(struct fixture *f, uint64_t id, uint8_t dir, uint64_t len)
{
	f->off[id][dir] += len;
}

static uint64_t bytes(struct fixture *f, uint8_t dir, enum byte_fate fate)
{
	return f->c.conns.bytes[dir][fate];
}

/* The identity: every byte the kernel numbered is counted once, in one fate. */
static void assert_identity(struct fixture *f, uint64_t recv, uint64_t sent)
{
	uint64_t sum[2] = { 0, 0 };

	for (int d = 0; d < 2; d++)
		for (int k = 0; k < FATE_NR; k++)
			sum[d] += f->c.conns.bytes[d][k];
	assert_int_equal(sum[RECV], recv);
	assert_int_equal(sum[SEND], sent);
}

static const char request[] = "GET /api/v1/orders/5 HTTP/1.1\r\nHost: x\r\n\r\n";
static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
static const char junk[] = "\x01\x02garbage-no-parser-knows\r\n";
static const char in_flight[] = "\x05 in flight when told";
#define REQ (sizeof(request) - 1)
#define RESP (sizeof(response) - 1)
#define JUNK (sizeof(junk) - 1)

static void test_all_parsed(void **state)
{
	struct fixture *f = *state;

	conn_record(f, SONDE_EV_CONN_OPEN, 1, 1 * MS);
	io(f, 1, RECV, request);
	io(f, 1, SEND, response);
	conn_record(f, SONDE_EV_CONN_CLOSE, 1, 9 * MS);
	assert_int_equal(bytes(f, RECV, FATE_PARSED_HTTP), REQ);
	assert_int_equal(bytes(f, SEND, FATE_PARSED_HTTP), RESP);
	assert_identity(f, REQ, RESP);
}

/* A record lost between two that came: a gap, lost; each byte counted once. */
static void test_gap(void **state)
{
	struct fixture *f = *state;

	conn_record(f, SONDE_EV_CONN_OPEN, 1, 1 * MS);
	io(f, 1, RECV, request);
	io(f, 1, SEND, response);
	io_lost(f, 1, RECV, REQ);
	io_lost(f, 1, SEND, RESP);
	io(f, 1, RECV, request);
	io(f, 1, SEND, response);
	conn_record(f, SONDE_EV_CONN_CLOSE, 1, 9 * MS);
	assert_int_equal(f->c.conns.gaps, 2);
	assert_int_equal(bytes(f, RECV, FATE_LOST_RINGBUF), REQ);
	assert_int_equal(bytes(f, SEND, FATE_LOST_RINGBUF), RESP);
	assert_int_equal(bytes(f, RECV, FATE_PARSED_HTTP), 2 * REQ);
	assert_identity(f, 3 * REQ, 3 * RESP);
}

/* The last records lost: no later record shows it, the close record's offsets do. */
static void test_tail(void **state)
{
	struct fixture *f = *state;

	conn_record(f, SONDE_EV_CONN_OPEN, 1, 1 * MS);
	io(f, 1, RECV, request);
	io(f, 1, SEND, response);
	io_lost(f, 1, RECV, REQ);
	io_lost(f, 1, SEND, 7);
	io_lost(f, 1, SEND, RESP - 7);
	conn_record(f, SONDE_EV_CONN_CLOSE, 1, 9 * MS);
	assert_int_equal(f->c.conns.gaps, 0);
	assert_int_equal(bytes(f, RECV, FATE_LOST_RINGBUF), REQ);
	assert_int_equal(bytes(f, SEND, FATE_LOST_RINGBUF), RESP);
	assert_identity(f, 2 * REQ, 2 * RESP);
}

/* The open record and the first records lost: the kernel numbers every id from 0, so the
 * first record that comes shows what went before it. */
static void test_head_lost(void **state)
{
	struct fixture *f = *state;

	io_lost(f, 2, RECV, REQ);
	io_lost(f, 2, SEND, RESP);
	io(f, 2, RECV, request);
	io(f, 2, SEND, response);
	conn_record(f, SONDE_EV_CONN_CLOSE, 2, 9 * MS);
	assert_int_equal(bytes(f, RECV, FATE_LOST_RINGBUF), REQ);
	assert_int_equal(bytes(f, SEND, FATE_LOST_RINGBUF), RESP);
	assert_identity(f, 2 * REQ, 2 * RESP);
}

/* Every record of a connection lost but its close: all of its bytes, lost. */
static void test_only_close(void **state)
{
	struct fixture *f = *state;

	io_lost(f, 3, RECV, 1000);
	io_lost(f, 3, SEND, 3000);
	conn_record(f, SONDE_EV_CONN_CLOSE, 3, 9 * MS);
	assert_int_equal(bytes(f, RECV, FATE_LOST_RINGBUF), 1000);
	assert_int_equal(bytes(f, SEND, FATE_LOST_RINGBUF), 3000);
	assert_identity(f, 1000, 3000);
}

/* A record cut to the capture prefix is parsed whole: the parser is given its length. */
static void test_truncated(void **state)
{
	struct fixture *f = *state;
	char big[200];

	snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n");
	conn_record(f, SONDE_EV_CONN_OPEN, 1, 1 * MS);
	io(f, 1, RECV, request);
	io_cap(f, 1, SEND, big, strlen(big), strlen(big) + 10000);
	conn_record(f, SONDE_EV_CONN_CLOSE, 1, 9 * MS);
	assert_int_equal(bytes(f, SEND, FATE_PARSED_HTTP), strlen(big) + 10000);
	assert_identity(f, REQ, strlen(big) + 10000);
}

/* An ignored connection (no parser knows its first bytes): the kernel numbers its bytes and
 * sends none; at close they are unparsed, with the reason it was ignored. */
static void test_ignored_unknown(void **state)
{
	struct fixture *f = *state;

	conn_record(f, SONDE_EV_CONN_OPEN, 1, 1 * MS);
	io(f, 1, RECV, junk);
	assert_int_equal(f->slots[1], 1);
	io(f, 1, SEND, in_flight); /* already in the ring when the hint was written */
	io_lost(f, 1, RECV, 5000);
	io_lost(f, 1, SEND, 7000);
	conn_record(f, SONDE_EV_CONN_CLOSE, 1, 9 * MS);
	assert_int_equal(bytes(f, RECV, FATE_LOST_RINGBUF), 0);
	assert_int_equal(bytes(f, SEND, FATE_LOST_RINGBUF), 0);
	assert_int_equal(bytes(f, RECV, FATE_UNPARSED_UNKNOWN), 5000 + JUNK);
	assert_int_equal(bytes(f, SEND, FATE_UNPARSED_UNKNOWN), 7000 + sizeof(in_flight) - 1);
	assert_identity(f, 5000 + JUNK, 7000 + sizeof(in_flight) - 1);
}

/* The server side of a database protocol is not parsed: its bytes, unparsed db_server. */
static void test_ignored_db_server(void **state)
{
	struct fixture *f = *state;
	const char startup[] = "\x00\x00\x00\x17\x00\x03\x00\x00user\0postgres\0";

	conn_record(f, SONDE_EV_CONN_OPEN, 1, 1 * MS);
	io_cap(f, 1, RECV, startup, sizeof(startup) - 1, sizeof(startup) - 1);
	io_lost(f, 1, SEND, 300);
	io_lost(f, 1, RECV, 40);
	conn_record(f, SONDE_EV_CONN_CLOSE, 1, 9 * MS);
	assert_int_equal(bytes(f, RECV, FATE_UNPARSED_DB_SERVER), sizeof(startup) - 1 + 40);
	assert_int_equal(bytes(f, SEND, FATE_UNPARSED_DB_SERVER), 300);
	assert_identity(f, sizeof(startup) - 1 + 40, 300);
}

/* First bytes held while the protocol is undecided (one byte per read), then the
 * connection ends: unparsed, undecided. */
static void test_undecided(void **state)
{
	struct fixture *f = *state;

	conn_record(f, SONDE_EV_CONN_OPEN, 1, 1 * MS);
	io(f, 1, RECV, "G");
	io(f, 1, RECV, "E");
	assert_identity(f, 0, 0); /* held, not decided yet */
	conn_record(f, SONDE_EV_CONN_CLOSE, 1, 9 * MS);
	assert_int_equal(bytes(f, RECV, FATE_UNPARSED_UNDECIDED), 2);
	assert_identity(f, 2, 0);
}

/* Held bytes then decided: counted with the decision, once. */
static void test_held_then_parsed(void **state)
{
	struct fixture *f = *state;

	conn_record(f, SONDE_EV_CONN_OPEN, 1, 1 * MS);
	io(f, 1, RECV, "G");
	io(f, 1, RECV, request + 1);
	io(f, 1, SEND, response);
	conn_record(f, SONDE_EV_CONN_CLOSE, 1, 9 * MS);
	assert_int_equal(bytes(f, RECV, FATE_PARSED_HTTP), REQ);
	assert_identity(f, REQ, RESP);
}

/* Forgotten while idle, then speaking again and closing: counted from where it was, never
 * twice; a lost tail after it is still seen at close. */
static void test_expired_resumes(void **state)
{
	struct fixture *f = *state;

	conn_record(f, SONDE_EV_CONN_OPEN, 1, 1 * MS);
	io(f, 1, RECV, request);
	io(f, 1, SEND, response);
	conns_expire(&f->c.conns, 1000 * MS, 100 * MS);
	assert_int_equal(f->c.conns.by_id.len, 0);
	io(f, 1, RECV, request);
	io(f, 1, SEND, response);
	io_lost(f, 1, SEND, 10);
	conn_record(f, SONDE_EV_CONN_CLOSE, 1, 2000 * MS);
	assert_int_equal(f->c.conns.gaps, 0);
	assert_int_equal(bytes(f, SEND, FATE_LOST_RINGBUF), 10);
	assert_identity(f, 2 * REQ, 2 * RESP + 10);
}

/* Forgotten while idle, and its close comes next: the bytes since, from its offsets. */
static void test_expired_closes(void **state)
{
	struct fixture *f = *state;

	conn_record(f, SONDE_EV_CONN_OPEN, 1, 1 * MS);
	io(f, 1, RECV, junk);
	conns_expire(&f->c.conns, 1000 * MS, 100 * MS);
	io_lost(f, 1, RECV, 100);
	conn_record(f, SONDE_EV_CONN_CLOSE, 1, 2000 * MS);
	assert_int_equal(bytes(f, RECV, FATE_UNPARSED_UNKNOWN), JUNK + 100);
	assert_identity(f, JUNK + 100, 0);
}

/* A hint that takes the slot of another connection still ignored is counted; one whose
 * slot's owner has closed, or is parsed, is not. */
static void test_hint_displaced(void **state)
{
	struct fixture *f = *state;

	conn_record(f, SONDE_EV_CONN_OPEN, 1, 1 * MS);
	conn_record(f, SONDE_EV_CONN_OPEN, 5, 1 * MS);
	conn_record(f, SONDE_EV_CONN_OPEN, 9, 1 * MS);
	io(f, 1, RECV, junk);
	io(f, 5, RECV, junk); /* slot 1 again: 1 is still ignored */
	assert_int_equal(f->c.conns.hints_displaced, 1);
	conn_record(f, SONDE_EV_CONN_CLOSE, 5, 2 * MS);
	io(f, 9, RECV, junk); /* slot 1's owner 5 has closed */
	assert_int_equal(f->c.conns.hints_displaced, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_all_parsed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ignored_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ignored_db_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undecided, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_then_parsed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hint_displaced, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
