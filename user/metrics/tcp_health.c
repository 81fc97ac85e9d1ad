// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/registry.h"
#include "metrics/tcp_health.h"
#include "util/addr.h"
#include "util/hash.h"
#include "util/log.h"

#define NL(a) (sizeof(a) / sizeof((a)[0]))
#define LABELS_MAX (4 + CTX_LABELS)

static const char *const client_labels[] = { "outcome", "server_address", "server_port",
					     "service_name" };
static const char *const server_labels[] = { "server_port", "service_name" };
static const char *const conn_labels[] = { "direction", "service_name" };

/* Connections last from milliseconds (a health check) to hours (a database pool). The
 * kernel buckets by the same bounds in its units (SONDE_TCP_DURATION_BOUNDS_NS,
 * SONDE_TCP_RTT_BOUNDS_US; test_tcp_health checks they agree). */
const double tcp_duration_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,  1,   2.5,
				       5,     10,   30,	   60,	 300, 600,  1800, 3600 };
/* Loopback answers in tens of microseconds; a distant region in a few hundred ms. */
const double tcp_rtt_bounds[] = { 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				  0.025,  0.05,	  0.1,	 0.25,	 0.5,	1 };

struct family {
	size_t field; /* offset of the struct metric * in struct tcp_health */
	enum metric_kind kind;
	const char *name, *help;
	const char *const *labels;
	size_t n_labels;
	const double *bounds;
	size_t n_bounds;
};

#define FIELD(f) offsetof(struct tcp_health, f)

static const struct family families[] = {
	{ FIELD(client_conns), METRIC_COUNTER, "tcp_client_connections_total",
	  "Outbound TCP connection attempts of the service, by outcome (established, refused, "
	  "timeout, unreachable, canceled, error).",
	  client_labels, NL(client_labels), NULL, 0 },
	{ FIELD(server_conns), METRIC_COUNTER, "tcp_server_connections_total",
	  "Inbound TCP connections the service's listeners completed the handshake of.",
	  server_labels, NL(server_labels), NULL, 0 },
	{ FIELD(duration), METRIC_HISTOGRAM, "tcp_connection_duration_seconds",
	  "Life of established TCP connections, from the handshake to the close.", conn_labels,
	  NL(conn_labels), tcp_duration_bounds, NL(tcp_duration_bounds) },
	{ FIELD(rtt), METRIC_HISTOGRAM, "tcp_rtt_seconds",
	  "Smoothed round-trip time of TCP connections, sampled at close.", conn_labels,
	  NL(conn_labels), tcp_rtt_bounds, NL(tcp_rtt_bounds) },
	{ FIELD(retrans), METRIC_COUNTER, "tcp_retransmitted_segments_total",
	  "TCP segments retransmitted on the service's closed connections.", conn_labels,
	  NL(conn_labels), NULL, 0 },
	{ FIELD(resets_sent), METRIC_COUNTER, "tcp_resets_sent_total",
	  "TCP resets sent on the service's closed connections.", conn_labels, NL(conn_labels),
	  NULL, 0 },
	{ FIELD(resets_received), METRIC_COUNTER, "tcp_resets_received_total",
	  "TCP resets received on the service's closed connections.", conn_labels, NL(conn_labels),
	  NULL, 0 },
	{ FIELD(bytes_sent), METRIC_COUNTER, "tcp_sent_bytes_total",
	  "Payload bytes sent on the service's closed TCP connections (retransmits included).",
	  conn_labels, NL(conn_labels), NULL, 0 },
	{ FIELD(bytes_received), METRIC_COUNTER, "tcp_received_bytes_total",
	  "Bytes received on the service's closed TCP connections, as tcp_info counts them "
	  "(payload, and 1 for a FIN received).",
	  conn_labels, NL(conn_labels), NULL, 0 },
};

_Static_assert(NL(tcp_duration_bounds) == SONDE_TCP_DURATION_NB, "duration bounds");
_Static_assert(NL(tcp_rtt_bounds) == SONDE_TCP_RTT_NB, "rtt bounds");

int tcp_health_init(struct tcp_health *t, struct registry *reg, uint32_t max_series,
		    bool ctx_labels)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->ctx_labels = ctx_labels;
	t->forget_ns = TCP_FORGET_NS;
	if ((err = hashmap_init(&t->attempts, 64)) || (err = hashmap_init(&t->totals, 16)))
		return err;
	for (size_t i = 0; i < NL(families); i++) {
		const struct family *f = &families[i];
		struct metric **slot = (struct metric **)((char *)t + f->field);
		const char *names[LABELS_MAX];
		size_t n = f->n_labels;

		memcpy(names, f->labels, n * sizeof(*names));
		if (ctx_labels) {
			memcpy(names + n, ctx_label_names, sizeof(ctx_label_names));
			n += CTX_LABELS;
		}
		*slot = registry_add(reg, f->kind, f->name, f->help, names, n, f->bounds,
				     f->n_bounds, max_series);
		if (!*slot)
			return -errno;
	}
	return 0;
}

void tcp_health_free(struct tcp_health *t)
{
	struct hashmap *maps[] = { &t->attempts, &t->totals };

	for (size_t m = 0; m < NL(maps); m++) {
		for (size_t i = 0; i < maps[m]->cap; i++)
			free(maps[m]->vals[i]);
		hashmap_free(maps[m]);
	}
}

const char *tcp_outcome(uint8_t kind, int32_t sk_err)
{
	if (kind == SONDE_TCP_CONNECTED)
		return "established";
	switch (sk_err) {
	case ECONNREFUSED:
		return "refused";
	case ETIMEDOUT:
		return "timeout";
	case EHOSTUNREACH:
	case ENETUNREACH:
		return "unreachable";
	case 0: /* closed by its owner before the handshake completed */
		return "canceled";
	default:
		return "error";
	}
}

/* What was counted so far of one kernel entry. */
struct tcp_snap_attempt {
	struct sonde_tcp_attempt_key key;
	uint64_t count;
	uint64_t changed_ns; /* when it last grew (or was first seen) */
	uint64_t gen;	     /* the last harvest that saw it */
};

struct tcp_snap_totals {
	struct sonde_tcp_totals_key key;
	struct sonde_tcp_totals sums;
	uint64_t changed_ns;
	uint64_t gen;
};

struct harvest {
	struct tcp_health *t;
	tcp_owner_fn owner;
	void *owner_ctx;
	uint64_t now;
};

static uint64_t attempt_hash(const struct sonde_tcp_attempt_key *k)
{
	return fnv1a64(k, sizeof(*k));
}

static uint64_t totals_hash(const struct sonde_tcp_totals_key *k)
{
	return (uint64_t)k->tgid << 32 | k->outbound;
}

/* Label values: family's own, then the owner's context labels (read only by families that
 * have them). */
static const char *owner_labels(const struct harvest *h, uint32_t tgid, const char **v, size_t n)
{
	struct tcp_owner_info o = { 0 };

	h->owner(h->owner_ctx, tgid, &o);
	ctx_label_values(o.ctx, v + n);
	return o.service ? o.service : "unknown";
}

/* count more attempts of the entry k. */
static void add_attempts(const struct harvest *h, const struct sonde_tcp_attempt_key *k,
			 uint64_t count)
{
	char addr[ADDR_TEXT_MAX], port[8];
	const char *v[LABELS_MAX];

	if (!count)
		return;
	snprintf(port, sizeof(port), "%u", k->port);
	if (k->kind == SONDE_TCP_ACCEPTED) {
		v[0] = port;
		v[1] = owner_labels(h, k->tgid, v, 2);
		metric_add(h->t->server_conns, v, (double)count);
		return;
	}
	addr_format(k->addr, addr, sizeof(addr));
	v[0] = tcp_outcome(k->kind, k->sk_err), v[1] = addr, v[2] = port;
	v[3] = owner_labels(h, k->tgid, v, 4);
	metric_add(h->t->client_conns, v, (double)count);
}

/* The growth d (now - then, field by field) of an owner's totals. */
static void add_totals(const struct harvest *h, const struct sonde_tcp_totals_key *k,
		       const struct sonde_tcp_totals *now, const struct sonde_tcp_totals *then)
{
	struct tcp_health *t = h->t;
	const char *v[LABELS_MAX] = { k->outbound ? "outbound" : "inbound" };
	uint64_t dur[SONDE_TCP_DURATION_NB + 1], rtt[SONDE_TCP_RTT_NB + 1], rtt_n = 0;

	if (!memcmp(now, then, sizeof(*now)))
		return;
	v[1] = owner_labels(h, k->tgid, v, 2);
	for (size_t i = 0; i <= SONDE_TCP_DURATION_NB; i++)
		dur[i] = now->duration[i] - then->duration[i];
	for (size_t i = 0; i <= SONDE_TCP_RTT_NB; i++)
		rtt_n += rtt[i] = now->rtt[i] - then->rtt[i];
	if (now->closed != then->closed)
		metric_observe_counts(t->duration, v, dur,
				      (double)(now->duration_sum_ns - then->duration_sum_ns) / 1e9);
	if (rtt_n)
		metric_observe_counts(t->rtt, v, rtt,
				      (double)(now->rtt_sum_us - then->rtt_sum_us) / 1e6);
	/* every family is touched, so a service's series all appear with its first close */
	metric_add(t->retrans, v, (double)(now->retrans_segs - then->retrans_segs));
	metric_add(t->resets_sent, v, (double)(now->resets_sent - then->resets_sent));
	metric_add(t->resets_received, v, (double)(now->resets_received - then->resets_received));
	metric_add(t->bytes_sent, v, (double)(now->bytes_sent - then->bytes_sent));
	metric_add(t->bytes_received, v, (double)(now->bytes_received - then->bytes_received));
}

/* The snapshot of k, or a new one counting nothing yet; NULL: no memory, or another key
 * holds k's hash (counted in unmatched). */
static struct tcp_snap_attempt *attempt_snap(struct tcp_health *t,
					     const struct sonde_tcp_attempt_key *k, uint64_t now)
{
	uint64_t hk = attempt_hash(k);
	struct tcp_snap_attempt *s = hashmap_get(&t->attempts, hk);

	if (s) {
		if (!memcmp(&s->key, k, sizeof(*k)))
			return s;
		if (!t->unmatched++)
			log_warn("TCP health: two kernel entries share a hash; one is not counted");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || hashmap_put(&t->attempts, hk, s)) {
		free(s);
		return NULL;
	}
	s->key = *k;
	s->changed_ns = now;
	return s;
}

static void on_attempt(void *ctx, const struct sonde_tcp_attempt_key *k, uint64_t count)
{
	struct harvest *h = ctx;
	struct tcp_snap_attempt *s = attempt_snap(h->t, k, h->now);

	if (!s)
		return;
	s->gen = h->t->gen;
	if (count <= s->count)
		return;
	add_attempts(h, k, count - s->count);
	s->count = count;
	s->changed_ns = h->now;
}

static void on_totals(void *ctx, const struct sonde_tcp_totals_key *k,
		      const struct sonde_tcp_totals *sums)
{
	struct harvest *h = ctx;
	uint64_t hk = totals_hash(k);
	struct tcp_snap_totals *s = hashmap_get(&h->t->totals, hk);

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s || hashmap_put(&h->t->totals, hk, s)) {
			free(s);
			return;
		}
		s->key = *k;
		s->changed_ns = h->now;
	}
	s->gen = h->t->gen;
	if (!memcmp(&s->sums, sums, sizeof(*sums)))
		return;
	add_totals(h, k, sums, &s->sums);
	s->sums = *sums;
	s->changed_ns = h->now;
}

static bool owner_alive(const struct harvest *h, uint32_t tgid)
{
	struct tcp_owner_info o = { 0 };

	h->owner(h->owner_ctx, tgid, &o);
	return o.alive;
}

/* Whether snapshot s (not seen by this harvest: gone from the kernel; or of an owner gone
 * and idle for forget_ns: its entry taken now, the last growth counted) is done with. */
static bool attempt_done(const struct harvest *h, const struct tcp_source *src,
			 struct tcp_snap_attempt *s)
{
	uint64_t count;

	if (s->gen != h->t->gen)
		return true;
	if (h->now - s->changed_ns < h->t->forget_ns || owner_alive(h, s->key.tgid))
		return false;
	if (src->take_attempt(src->ctx, &s->key, &count))
		return true; /* gone meanwhile */
	if (count > s->count)
		add_attempts(h, &s->key, count - s->count);
	return true;
}

static bool totals_done(const struct harvest *h, const struct tcp_source *src,
			struct tcp_snap_totals *s)
{
	struct sonde_tcp_totals last;

	if (s->gen != h->t->gen)
		return true;
	if (h->now - s->changed_ns < h->t->forget_ns || owner_alive(h, s->key.tgid))
		return false;
	if (src->take_totals(src->ctx, &s->key, &last))
		return true;
	add_totals(h, &s->key, &last, &s->sums);
	return true;
}

/* Drops the snapshots done() says are done with (each at most once per call: a deletion
 * may move a later entry into an earlier slot, which waits for the next harvest). */
static void sweep(struct hashmap *m, const struct harvest *h, const struct tcp_source *src,
		  bool attempts)
{
	for (size_t i = 0; i < m->cap; i++) {
		void *s = m->vals[i];
		bool done;

		if (!s)
			continue;
		done = attempts ? attempt_done(h, src, s) : totals_done(h, src, s);
		if (done) {
			hashmap_del(m, m->keys[i]);
			free(s);
		}
	}
}

int tcp_health_harvest(struct tcp_health *t, const struct tcp_source *src, tcp_owner_fn owner,
		       void *owner_ctx, uint64_t now_ns)
{
	struct harvest h = { .t = t, .owner = owner, .owner_ctx = owner_ctx, .now = now_ns };
	struct tcp_visit v = { .ctx = &h, .attempt = on_attempt, .totals = on_totals };
	/* read before the walk: a change landing during it moves it again */
	uint64_t src_gen = src->generation ? src->generation(src->ctx) : t->src_gen + 1;
	int err;

	if (src_gen == t->src_gen && t->walked_ns && now_ns - t->walked_ns < TCP_WALK_EVERY_NS)
		return 0;
	t->gen++;
	err = src->walk(src->ctx, &v);
	if (err)
		return err; /* nothing swept: a snapshot not seen may just not have been reached */
	t->src_gen = src_gen;
	t->walked_ns = now_ns;
	sweep(&t->attempts, &h, src, true);
	sweep(&t->totals, &h, src, false);
	return 0;
}
