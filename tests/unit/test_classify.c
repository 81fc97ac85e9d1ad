// SPDX-License-Identifier: GPL-2.0-only
/*
 * Protocol classifier: each kind from a real first message, the exact prefix length at
 * which it is decided (every shorter prefix must ask for more bytes), and look-alikes
 * that must not be taken for a known protocol.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "proto/classify.h"

#define S(lit) lit, sizeof(lit) - 1

struct sample {
	const char *data;
	size_t len;
	enum proto_kind kind;
	size_t decided_at; /* shortest prefix classified as kind */
};

static const struct sample samples[] = {
	{ S("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04"), PROTO_HTTP2_PREFACE, 24 },
	/* TLS 1.3 ClientHello: record version 3.1, handshake type 1 */
	{ S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xaa\xbb"), PROTO_TLS, 6 },
	{ S("\x16\x03\x03\x00\x31\x01\x00\x00\x2d\x03\x03"), PROTO_TLS, 6 },
	{ S("\x00\x00\x00\x08\x04\xd2\x16\x2f"), PROTO_PG_SSLREQUEST, 8 },
	{ S("\x00\x00\x00\x08\x04\xd2\x16\x30"), PROTO_PG_GSSENCREQUEST, 8 },
	{ S("\x00\x00\x00\x10\x04\xd2\x16\x2e\x00\x00\x30\x39\x12\x34\x56\x78"), PROTO_PG_CANCEL,
	  8 },
	{ S("\x00\x00\x00\x25\x00\x03\x00\x00user\0app\0database\0shop\0\0"), PROTO_PG_STARTUP, 8 },
	{ S("\x00\x00\x00\x15\x00\x03\x00\x02user\0app\0\0"), PROTO_PG_STARTUP, 8 },
	{ S("Q\x00\x00\x00\x0dSELECT 1\0"), PROTO_PG_MESSAGE, 5 },
	{ S("P\x00\x00\x00\x10s1\0SELECT 1\0\0\0"), PROTO_PG_MESSAGE, 5 },
	{ S("*2\r\n$3\r\nGET\r\n$5\r\nkey:1\r\n"), PROTO_REDIS_COMMAND, 8 },
	{ S("*13\r\n$4\r\nHSET\r\n"), PROTO_REDIS_COMMAND, 9 },
	{ S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), PROTO_HTTP1_RESPONSE, 9 },
	{ S("HTTP/1.0 404 Not Found\r\n"), PROTO_HTTP1_RESPONSE, 9 },
	{ S("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"), PROTO_HTTP1_REQUEST, 5 },
	{ S("OPTIONS * HTTP/1.1\r\n"), PROTO_HTTP1_REQUEST, 9 },
	{ S("DELETE /orders/5 HTTP/1.1\r\n"), PROTO_HTTP1_REQUEST, 8 },
	{ S("POST http://h/x HTTP/1.1\r\n"), PROTO_HTTP1_REQUEST, 26 },
	{ S("CONNECT db.example.com:5432 HTTP/1.1\r\n\r\n"), PROTO_HTTP1_REQUEST, 38 },
	{ S("PROPFIND /dav HTTP/1.1\r\nDepth: 1\r\n"), PROTO_HTTP1_REQUEST, 24 },
	{ S("PURGE /cache/x HTTP/1.0\n\n"), PROTO_HTTP1_REQUEST, 24 },
	{ S("PING\r\n"), PROTO_REDIS_INLINE, 6 },
	{ S("echo hello world\r\n"), PROTO_REDIS_INLINE, 18 },
	{ S("AUTH secret\r\n*1\r\n"), PROTO_REDIS_INLINE, 13 },
};

static void test_kinds_and_prefixes(void **state)
{
	size_t i, k;
	bool more;

	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const struct sample *s = &samples[i];

		for (k = 0; k <= s->len; k++) {
			enum proto_kind got = proto_classify((const uint8_t *)s->data, k, &more);
			enum proto_kind want = k < s->decided_at ? PROTO_UNKNOWN : s->kind;

			if (got != want || more != (k < s->decided_at))
				fail_msg("sample %zu (%s) prefix %zu: got %s need_more %d", i,
					 proto_kind_name(s->kind), k, proto_kind_name(got), more);
		}
	}
}

static void test_not_known(void **state)
{
	static const struct {
		const char *data;
		size_t len;
	} other[] = {
		{ S("\x16\x03\x03\x00\x5a\x02\x00\x00\x56") }, /* ServerHello */
		{ S("\x16\x03\x05\x00\x31\x01") },	       /* record version 3.5 */
		{ S("\x16\x03\x01\x40\x01\x01") },	       /* record longer than 2^14 */
		{ S("\x17\x03\x03\x00\x20") },		       /* application data */
		{ S("SSH-2.0-OpenSSH_9.2p1\r\n") },
		{ S("*0\r\n") },
		{ S("*2\r\n:1\r\n") },
		{ S("HTTP/2 200\r\n") },
		{ S("HTTP/1.1200 OK\r\n") },
		{ S("GET x HTTP/1.1\r\n") },
		{ S("GET key\r\n") }, /* inline GET could be HTTP/0.9-ish: not claimed */
		{ S("PINGS\r\n") },
		{ S("howdy world\r\n") }, /* "hello world" would be HELLO */
		{ S("\x00\x00\x00\x08\x04\xd2\x16\x31") },
		{ S("\x00\x00\x01\x20\x04\xd2\x16\x2e") },     /* cancel key over 256 bytes */
		{ S("\x00\x00\x00\x09\x00\x04\x00\x00\x00") }, /* protocol 4.0 */
		{ S("\x00\x00\x30\x00\x00\x03\x00\x00") },     /* startup longer than 10000 */
		{ S("Q\x00\x00\x00\x02") },		       /* length below 4 */
		{ S("Z\x00\x00\x00\x05I") },		       /* a backend message */
		{ S("\xff\xfe\xfd") },
		{ S("\r\n") },
	};
	size_t i;
	bool more;

	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		enum proto_kind got =
			proto_classify((const uint8_t *)other[i].data, other[i].len, &more);

		if (got != PROTO_UNKNOWN || more)
			fail_msg("look-alike %zu: got %s need_more %d", i, proto_kind_name(got),
				 more);
	}
}

static void test_need_more_and_names(void **state)
{
	bool more = false;

	assert_int_equal(proto_classify(NULL, 0, &more), PROTO_UNKNOWN);
	assert_true(more);
	/* "P" may still become the h2 preface, POST, a PG Parse or PING */
	assert_int_equal(proto_classify((const uint8_t *)"P", 1, &more), PROTO_UNKNOWN);
	assert_true(more);
	/* an inline command longer than 64 bytes is not one we claim */
	assert_int_equal(proto_classify((const uint8_t *)"ECHO aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
							 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
					70, &more),
			 PROTO_UNKNOWN);
	assert_false(more);
	assert_string_equal(proto_kind_name(PROTO_UNKNOWN), "unknown");
	assert_string_equal(proto_kind_name(PROTO_HTTP1_REQUEST), "http1-request");
	assert_string_equal(proto_kind_name(PROTO_HTTP1_RESPONSE), "http1-response");
	assert_string_equal(proto_kind_name(PROTO_HTTP2_PREFACE), "http2-preface");
	assert_string_equal(proto_kind_name(PROTO_TLS), "tls");
	assert_string_equal(proto_kind_name(PROTO_PG_STARTUP), "pg-startup");
	assert_string_equal(proto_kind_name(PROTO_PG_SSLREQUEST), "pg-sslrequest");
	assert_string_equal(proto_kind_name(PROTO_PG_GSSENCREQUEST), "pg-gssencrequest");
	assert_string_equal(proto_kind_name(PROTO_PG_CANCEL), "pg-cancel");
	assert_string_equal(proto_kind_name(PROTO_PG_MESSAGE), "pg-message");
	assert_string_equal(proto_kind_name(PROTO_REDIS_COMMAND), "redis-command");
	assert_string_equal(proto_kind_name(PROTO_REDIS_INLINE), "redis-inline");
	assert_string_equal(proto_kind_name(PROTO_KIND_COUNT), "unknown");
	assert_string_equal(proto_kind_name((enum proto_kind) - 1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds_and_prefixes),
		cmocka_unit_test(test_not_known),
		cmocka_unit_test(test_need_more_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
