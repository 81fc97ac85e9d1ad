// SPDX-License-Identifier: GPL-2.0-only
/* metrics/tcp_health.c: the kernel's running sums in (a fake source standing in for
 * kernel/tcp_maps.c), each entry's growth out as samples of its owner's series; entries of
 * owners long gone taken out of the kernel with their last growth counted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/registry.h"
#include "metrics/tcp_health.h"

#define MAX_ENTRIES 8
#define SEC 1000000000ULL

/* The kernel's maps, as the fake holds them. */
struct fake {
	struct sonde_tcp_attempt_key ak[MAX_ENTRIES];
	uint64_t count[MAX_ENTRIES];
	bool a_used[MAX_ENTRIES];
	struct sonde_tcp_totals_key tk[MAX_ENTRIES];
	struct sonde_tcp_totals sums[MAX_ENTRIES];
	bool t_used[MAX_ENTRIES];
	unsigned takes;
	unsigned walks;
	uint64_t gen;	     /* the kernel's generation of the sums (tcp_sums_gen) */
	uint32_t alive_tgid; /* the one selected process; others are gone */
};

struct fixture {
	struct registry *reg;
	struct tcp_health t;
	struct fake k;
	struct tcp_source src;
	char *text;
};

static int walk(void *ctx, const struct tcp_visit *v)
{
	struct fake *k = ctx;

	k->walks++;
	for (int i = 0; i < MAX_ENTRIES; i++)
		if (k->a_used[i])
			v->attempt(v->ctx, &k->ak[i], k->count[i]);
	for (int i = 0; i < MAX_ENTRIES; i++)
		if (k->t_used[i])
			v->totals(v->ctx, &k->tk[i], &k->sums[i]);
	return 0;
}

static int take_attempt(void *ctx, const struct sonde_tcp_attempt_key *key, uint64_t *count)
{
	struct fake *k = ctx;

	for (int i = 0; i < MAX_ENTRIES; i++) {
		if (k->a_used[i] && !memcmp(&k->ak[i], key, sizeof(*key))) {
			*count = k->count[i];
			k->a_used[i] = false;
			k->takes++;
			return 0;
		}
	}
	return -ENOENT;
}

static int take_totals(void *ctx, const struct sonde_tcp_totals_key *key,
		       struct sonde_tcp_totals *t)
{
	struct fake *k = ctx;

	for (int i = 0; i < MAX_ENTRIES; i++) {
		if (k->t_used[i] && !memcmp(&k->tk[i], key, sizeof(*key))) {
			*t = k->sums[i];
			k->t_used[i] = false;
			k->takes++;
			return 0;
		}
	}
	return -ENOENT;
}

static uint64_t generation(void *ctx)
{
	return ((struct fake *)ctx)->gen;
}

static void owner(void *ctx, uint32_t tgid, struct tcp_owner_info *out)
{
	const struct fake *k = ctx;

	out->service = tgid == 100 ? "api" : tgid == 200 ? "worker" : NULL;
	out->ctx = NULL;
	out->alive = tgid == k->alive_tgid;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->reg = registry_new();
	assert_non_null(f->reg);
	assert_int_equal(tcp_health_init(&f->t, f->reg, 100, false), 0);
	f->src = (struct tcp_source){
		.ctx = &f->k, .walk = walk, .take_attempt = take_attempt, .take_totals = take_totals
	};
	f->k.alive_tgid = 100;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tcp_health_free(&f->t);
	registry_free(f->reg);
	free(f->text);
	free(f);
	return 0;
}

static void harvest(struct fixture *f, uint64_t now)
{
	assert_int_equal(tcp_health_harvest(&f->t, &f->src, owner, &f->k, now), 0);
}

/* The value of the sample whose line starts with key, -1 when there is none. */
static double sample(struct fixture *f, const char *key)
{
	size_t klen = strlen(key);

	free(f->text);
	assert_int_equal(registry_render(f->reg, &f->text, NULL), 0);
	for (const char *p = strstr(f->text, key); p; p = strstr(p + 1, key))
		if ((p == f->text || p[-1] == '\n') && p[klen] == ' ')
			return strtod(p + klen + 1, NULL);
	return -1;
}

static struct sonde_tcp_attempt_key attempt(uint32_t tgid, uint8_t kind, int32_t err, uint16_t port)
{
	struct sonde_tcp_attempt_key k = {
		.tgid = tgid, .kind = kind, .sk_err = err, .port = port
	};

	if (kind != SONDE_TCP_ACCEPTED) { /* 10.1.2.3, v4-mapped */
		k.addr[10] = k.addr[11] = 0xff;
		k.addr[12] = 10, k.addr[13] = 1, k.addr[14] = 2, k.addr[15] = 3;
	}
	return k;
}

#define CLIENT(outcome, svc)                                                                \
	"tcp_client_connections_total{outcome=\"" outcome "\",server_address=\"10.1.2.3\"," \
	"server_port=\"5432\",service_name=\"" svc "\"}"

/* Each harvest adds what an entry grew by since the last, under its owner's labels. */
static void test_attempts_count_growth(void **state)
{
	struct fixture *f = *state;

	f->k.ak[0] = attempt(100, SONDE_TCP_CONNECTED, 0, 5432), f->k.count[0] = 3;
	f->k.ak[1] = attempt(100, SONDE_TCP_FAILED, ECONNREFUSED, 5432), f->k.count[1] = 1;
	f->k.ak[2] = attempt(100, SONDE_TCP_ACCEPTED, 0, 8080), f->k.count[2] = 2;
	f->k.ak[3] = attempt(300, SONDE_TCP_FAILED, ETIMEDOUT, 5432), f->k.count[3] = 4;
	for (int i = 0; i < 4; i++)
		f->k.a_used[i] = true;
	harvest(f, 1 * SEC);
	assert_true(sample(f, CLIENT("established", "api")) == 3);
	assert_true(sample(f, CLIENT("refused", "api")) == 1);
	assert_true(sample(f, "tcp_server_connections_total{server_port=\"8080\","
			      "service_name=\"api\"}") == 2);
	assert_true(sample(f, CLIENT("timeout", "unknown")) == 4);
	f->k.count[0] = 5;
	harvest(f, 2 * SEC);
	harvest(f, 3 * SEC); /* nothing grew: nothing added */
	assert_true(sample(f, CLIENT("established", "api")) == 5);
	assert_true(sample(f, CLIENT("refused", "api")) == 1);
}

/* The kernel's buckets become the histogram's, with their sum; counters grow by the
 * difference of the sums. */
static void test_totals_buckets_and_sums(void **state)
{
	struct fixture *f = *state;
	struct sonde_tcp_totals *t = &f->k.sums[0];

	f->k.tk[0] = (struct sonde_tcp_totals_key){ .tgid = 100, .outbound = 1 };
	f->k.t_used[0] = true;
	t->closed = 3;
	t->duration[0] = 1; /* <= 5 ms */
	t->duration[7] = 2; /* <= 1 s */
	t->duration_sum_ns = 1500000000ULL;
	t->rtt[1] = 2; /* <= 500 us */
	t->rtt_sum_us = 600;
	t->bytes_sent = 1000, t->bytes_received = 2000, t->retrans_segs = 4;
	t->resets_sent = 1, t->resets_received = 2;
	harvest(f, 1 * SEC);
#define OUT "direction=\"outbound\",service_name=\"api\""
	assert_true(sample(f, "tcp_connection_duration_seconds_bucket{" OUT ",le=\"0.005\"}") == 1);
	assert_true(sample(f, "tcp_connection_duration_seconds_bucket{" OUT ",le=\"0.5\"}") == 1);
	assert_true(sample(f, "tcp_connection_duration_seconds_bucket{" OUT ",le=\"1\"}") == 3);
	assert_true(sample(f, "tcp_connection_duration_seconds_count{" OUT "}") == 3);
	assert_true(fabs(sample(f, "tcp_connection_duration_seconds_sum{" OUT "}") - 1.5) < 1e-9);
	assert_true(sample(f, "tcp_rtt_seconds_bucket{" OUT ",le=\"0.0001\"}") == 0);
	assert_true(sample(f, "tcp_rtt_seconds_bucket{" OUT ",le=\"0.0005\"}") == 2);
	assert_true(sample(f, "tcp_rtt_seconds_count{" OUT "}") == 2);
	assert_true(sample(f, "tcp_sent_bytes_total{" OUT "}") == 1000);
	assert_true(sample(f, "tcp_received_bytes_total{" OUT "}") == 2000);
	assert_true(sample(f, "tcp_retransmitted_segments_total{" OUT "}") == 4);
	assert_true(sample(f, "tcp_resets_sent_total{" OUT "}") == 1);
	assert_true(sample(f, "tcp_resets_received_total{" OUT "}") == 2);
	/* one more connection: a reset received, no close yet */
	t->resets_received = 3;
	harvest(f, 2 * SEC);
	assert_true(sample(f, "tcp_resets_received_total{" OUT "}") == 3);
	assert_true(sample(f, "tcp_connection_duration_seconds_count{" OUT "}") == 3);
	t->closed = 4, t->duration[17] = 1, t->duration_sum_ns += 7200 * SEC;
	harvest(f, 3 * SEC);
	assert_true(sample(f, "tcp_connection_duration_seconds_bucket{" OUT ",le=\"3600\"}") == 3);
	assert_true(sample(f, "tcp_connection_duration_seconds_bucket{" OUT ",le=\"+Inf\"}") == 4);
}

/* A gone owner's entry is taken out of the kernel once idle for forget_ns, its last
 * growth counted; a running owner's entry stays however idle. */
static void test_gone_owner_entries_taken(void **state)
{
	struct fixture *f = *state;

	f->t.forget_ns = 8 * SEC;
	f->k.ak[0] = attempt(200, SONDE_TCP_CONNECTED, 0, 5432), f->k.count[0] = 1;
	f->k.ak[1] = attempt(100, SONDE_TCP_CONNECTED, 0, 5432), f->k.count[1] = 1;
	f->k.tk[0] = (struct sonde_tcp_totals_key){ .tgid = 200, .outbound = 1 };
	f->k.sums[0].closed = 1, f->k.sums[0].duration[0] = 1;
	f->k.a_used[0] = f->k.a_used[1] = f->k.t_used[0] = true;
	harvest(f, 1 * SEC);
	f->k.count[0] = 2; /* a late close before the entry is taken */
	f->k.sums[0].closed = 2, f->k.sums[0].duration[0] = 2;
	harvest(f, 5 * SEC); /* grew at 5 s: idle from there */
	f->k.count[0] = 3;   /* grows again: idle from 14 s */
	harvest(f, 14 * SEC);
	assert_int_equal(f->k.takes, 1); /* the totals, idle since 5 s; the attempts grew */
	harvest(f, 30 * SEC);
	assert_int_equal(f->k.takes, 2);
	assert_false(f->k.a_used[0]);
	assert_false(f->k.t_used[0]);
	assert_true(f->k.a_used[1]); /* the running owner's */
	assert_true(sample(f, CLIENT("established", "worker")) == 3);
	assert_true(sample(f, "tcp_connection_duration_seconds_count{direction=\"outbound\","
			      "service_name=\"worker\"}") == 2);
	/* made again by a close even later: counted from zero, nothing twice */
	f->k.count[0] = 1, f->k.a_used[0] = true;
	harvest(f, 31 * SEC);
	assert_true(sample(f, CLIENT("established", "worker")) == 4);
}

/* With a generation, a harvest reads the maps only when it moved, or when the last walk is
 * TCP_WALK_EVERY_NS old (gone owners' entries still leave): an idle node walks nothing. */
static void test_walks_only_when_the_sums_moved(void **state)
{
	struct fixture *f = *state;

	f->src.generation = generation;
	f->k.gen = 7;
	f->k.ak[0] = attempt(100, SONDE_TCP_CONNECTED, 0, 5432), f->k.count[0] = 1;
	f->k.a_used[0] = true;
	harvest(f, 1 * SEC);
	assert_int_equal(f->k.walks, 1);
	harvest(f, 2 * SEC);
	harvest(f, 3 * SEC);
	assert_int_equal(f->k.walks, 1);
	f->k.count[0] = 4, f->k.gen = 8;
	harvest(f, 4 * SEC);
	assert_int_equal(f->k.walks, 2);
	assert_true(sample(f, CLIENT("established", "api")) == 4);
	harvest(f, 4 * SEC + TCP_WALK_EVERY_NS - 1);
	assert_int_equal(f->k.walks, 2);
	harvest(f, 4 * SEC + TCP_WALK_EVERY_NS);
	assert_int_equal(f->k.walks, 3);
	assert_true(sample(f, CLIENT("established", "api")) == 4);
}

/* The kernel buckets by its own bounds (sonde_abi.h); the families' "le" must be the same
 * values, or a sample would be rendered under the wrong bound. */
static void test_bounds_agree_with_the_kernel(void **state)
{
	static const uint64_t ns[] = { SONDE_TCP_DURATION_BOUNDS_NS };
	static const uint64_t us[] = { SONDE_TCP_RTT_BOUNDS_US };
	(void)state;

	assert_int_equal(sizeof(ns) / sizeof(ns[0]), SONDE_TCP_DURATION_NB);
	assert_int_equal(sizeof(us) / sizeof(us[0]), SONDE_TCP_RTT_NB);
	for (int i = 0; i < SONDE_TCP_DURATION_NB; i++)
		assert_true((uint64_t)llround(tcp_duration_bounds[i] * 1e9) == ns[i]);
	for (int i = 0; i < SONDE_TCP_RTT_NB; i++)
		assert_true((uint64_t)llround(tcp_rtt_bounds[i] * 1e6) == us[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_attempts_count_growth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_totals_buckets_and_sums, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_owner_entries_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walks_only_when_the_sums_moved, setup,
						teardown),
		cmocka_unit_test(test_bounds_agree_with_the_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
