/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TCP health of selected processes: connection attempts and their outcome, and at close
 * each connection's totals (duration, bytes, retransmitted segments, resets, smoothed RTT),
 * added up in the kernel per owner (tcp_attempts, tcp_totals): no record per connection.
 * The kernel runs these tracepoints in softirq as often as in the owner's context, so a
 * socket's owner is recorded where it is known: at connect() (SYN_SENT, in the caller's
 * context) and, for accepted connections, from the listener's owner (LISTEN, in the
 * caller's context; user space adds listeners that existed before sonde). Nothing runs
 * on the data path: totals come from struct tcp_sock at close.
 *
 * The state changes are handled inside process.bpf.c's inet_sock_set_state program, which
 * runs for every socket anyway: TCP health adds no program run of its own there. The
 * owner lives in a preallocated hash keyed by the socket's address, from SYN_SENT or
 * accept to CLOSE, where its entry goes: no allocation per connection (socket-local
 * storage allocated one and cost ~300 ns more per connection, tests/bench/README.md) and
 * no program at destruction. tcp.bpf.c holds the reset programs.
 *
 * Every caller is a tp_btf program, whose struct sock pointer the verifier knows: fields
 * are read with plain (CO-RE relocated) loads, not a bpf_probe_read_kernel call each.
 */
#ifndef SONDE_TCP_BPF_H
#define SONDE_TCP_BPF_H

#include "sonde.bpf.h"

#define TCP_ESTABLISHED_STATE 1
#define TCP_SYN_SENT_STATE 2
#define TCP_SYN_RECV_STATE 3

/* Turns TCP health on (the loader sets it; off: the state program skips it, the reset
 * programs are not loaded). */
const volatile bool tcp_health __weak = false;

struct tcp_owner {
	__u32 tgid;
	__u8 outbound;
	__u8 established;
	__u8 _pad[2];
	__u64 start_ns; /* ESTABLISHED */
};

/* Sockets of selected processes, by address (a socket's address is not reused before its
 * CLOSE, which removes the entry). Preallocated: making an entry allocates nothing, and a
 * full map is counted (SONDE_LOST_TCP_FULL); the loader shrinks it to one entry with TCP
 * health off. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct tcp_owner);
} tcp_owners SEC(".maps") __weak;

/*
 * The last established connections closed on each CPU, with their owners: an abortive
 * close (SO_LINGER 0, or unread data) moves the socket to CLOSE and only then sends its
 * reset, in the same call of the closing process (tcp_close, tcp_disconnect), after the
 * socket's tcp_owners entry went. The reset program finds the owner here, by the socket's
 * address and its sequence numbers, which nothing moves between the two steps (a new
 * socket at the same address starts from a random sequence number: it never matches). A
 * slot is overwritten only after TCP_CLOSED_SLOTS more closes on its CPU: more than could
 * come between those two steps of the kernel, even from softirqs that interrupt them.
 */
#define TCP_CLOSED_SLOTS 16

struct tcp_closed {
	__u64 sk;
	__u32 snd_nxt;
	__u32 rcv_nxt;
	struct tcp_owner owner;
};

struct tcp_closed_ring {
	__u32 next;
	__u32 _pad;
	struct tcp_closed slot[TCP_CLOSED_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcp_closed_ring);
} tcp_closed SEC(".maps") __weak;

/*
 * The aggregates sonde reads (struct sonde_tcp_attempt_key, struct sonde_tcp_totals): per
 * CPU, so that a connection's update is a few plain adds to memory no other CPU writes.
 * Each field is written by one program only (the state program, or one of the reset
 * programs), and a program never runs twice at once on one CPU: plain adds lose nothing.
 * Not preallocated: entries are made at first use and removed by sonde once their owner
 * is long gone (tcp_health.c); the loader shrinks both to one entry with TCP health off.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct sonde_tcp_attempt_key);
	__type(value, __u64);
} tcp_attempts SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, struct sonde_tcp_totals_key);
	__type(value, struct sonde_tcp_totals);
} tcp_totals SEC(".maps") __weak;

/* Moves after every change to the sums above (after the change lands): sonde reads the maps
 * only when it moved (user/metrics/tcp_health.c), so an idle node costs no map walk. */
__u64 tcp_sums_gen __weak;

static __always_inline void sums_changed(void)
{
	__sync_fetch_and_add(&tcp_sums_gen, 1);
}

/* All zeroes, never written: a new tcp_totals entry's first value (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_tcp_totals);
} tcp_totals_zero SEC(".maps") __weak;

/* Listening sockets of selected processes: (network namespace, port) -> owner tgid. */
struct tcp_listener_key {
	__u32 netns; /* inode number of the network namespace */
	__u16 port;
	__u16 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct tcp_listener_key);
	__type(value, __u32);
} tcp_listeners SEC(".maps") __weak;

static __always_inline struct tcp_listener_key listener_key(const struct sock *sk)
{
	struct tcp_listener_key k = {
		.netns = sk->__sk_common.skc_net.net->ns.inum,
		.port = sk->__sk_common.skc_num,
	};

	return k;
}

/* This CPU's value of key in map (a per-CPU hash), made from zero (a value of the map's
 * size, all zeroes) when it is new. NULL when the map is full (counted). */
static __always_inline void *agg_slot(void *map, const void *key, const void *zero)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	/* NOEXIST: when another CPU made the entry since, its values stay and this CPU's
	 * zeroed one is found below */
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(map, key);
	if (!v)
		count_lost(SONDE_LOST_TCP_FULL);
	return v;
}

/* One more attempt of kind by tgid on sk: its server's address and port (outbound), or its
 * listener's port (accepted). */
static __always_inline void attempt_count(const struct sock *sk, __u32 tgid, __u8 kind, int err)
{
	struct sonde_tcp_attempt_key k = { .tgid = tgid, .kind = kind, .sk_err = err };
	__u64 zero = 0, *n;

	if (kind == SONDE_TCP_ACCEPTED) {
		k.port = sk->__sk_common.skc_num;
	} else {
		k.port = bpf_ntohs(sk->__sk_common.skc_dport);
		if (sk->__sk_common.skc_family == AF_INET) {
			__be32 ip = sk->__sk_common.skc_daddr;

			k.addr[10] = 0xff;
			k.addr[11] = 0xff;
			__builtin_memcpy(&k.addr[12], &ip, 4);
		} else {
			bpf_probe_read_kernel(k.addr, 16, &sk->__sk_common.skc_v6_daddr);
		}
	}
	n = agg_slot(&tcp_attempts, &k, &zero);
	if (n) {
		*n += 1;
		sums_changed();
	}
}

/* The totals of the owner's closed connections in its direction. */
static __always_inline struct sonde_tcp_totals *totals_of(__u32 tgid, __u32 outbound)
{
	struct sonde_tcp_totals_key k = { .tgid = tgid, .outbound = outbound };
	__u32 zero_slot = 0;
	void *zero = bpf_map_lookup_elem(&tcp_totals_zero, &zero_slot);

	return zero ? agg_slot(&tcp_totals, &k, zero) : NULL;
}

/* The first of n bounds that holds v (Prometheus' le), n when none does. */
static __always_inline __u32 bucket_of(__u64 v, const __u64 *bounds, __u32 n)
{
	__u32 i;

	for (i = 0; i < n; i++)
		if (v <= bounds[i])
			break;
	return i;
}

/* An established connection of owner o closed at now: its totals added to its owner's. */
static __always_inline void totals_add(const struct tcp_sock *tp, const struct tcp_owner *o,
				       __u64 now)
{
	static const __u64 duration_bounds[SONDE_TCP_DURATION_NB] = {
		SONDE_TCP_DURATION_BOUNDS_NS
	};
	static const __u64 rtt_bounds[SONDE_TCP_RTT_NB] = { SONDE_TCP_RTT_BOUNDS_US };
	struct sonde_tcp_totals *t = totals_of(o->tgid, o->outbound);
	__u64 d = now - o->start_ns, srtt;

	if (!t)
		return;
	t->closed += 1;
	t->duration_sum_ns += d;
	t->duration[bucket_of(d, duration_bounds, SONDE_TCP_DURATION_NB)] += 1;
	t->bytes_sent += tp->bytes_sent;
	t->bytes_received += tp->bytes_received;
	t->retrans_segs += tp->total_retrans;
	srtt = tp->srtt_us >> 3; /* stored << 3 (tcp_rtt_estimator); 0: no sample */
	if (srtt) {
		t->rtt_sum_us += srtt;
		t->rtt[bucket_of(srtt, rtt_bounds, SONDE_TCP_RTT_NB)] += 1;
	}
	sums_changed();
}

/* sk's owner record, written whole (a socket connecting again starts over); a full map is
 * counted. The socket gets a cookie (the kernel makes one on first request): see owner_of. */
static __always_inline void owner_add(const struct sock *sk, const struct tcp_owner *o)
{
	__u64 key = (__u64)sk;

	bpf_get_socket_cookie((void *)sk);
	if (bpf_map_update_elem(&tcp_owners, &key, o, BPF_ANY))
		count_lost(SONDE_LOST_TCP_FULL);
}

/* sk's owner record. A socket without a cookie was never given one (owner_add makes it):
 * most sockets of the node, whose state changes then cost a load from the socket instead
 * of a hash look-up (a cache miss on the bucket array). */
static __always_inline struct tcp_owner *owner_of(const struct sock *sk)
{
	__u64 key = (__u64)sk;

	if (!sk->__sk_common.skc_cookie.counter)
		return NULL;
	return bpf_map_lookup_elem(&tcp_owners, &key);
}

/* The owner of sk if it closed lately on this CPU while established (tcp_closed). */
static __always_inline struct tcp_owner *closed_owner_of(const struct sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	__u32 zero = 0, i;
	struct tcp_closed_ring *r = bpf_map_lookup_elem(&tcp_closed, &zero);

	if (!r || !tp)
		return NULL;
	for (i = 0; i < TCP_CLOSED_SLOTS; i++) {
		struct tcp_closed *c = &r->slot[i];

		if (c->sk == (__u64)sk && c->snd_nxt == tp->snd_nxt && c->rcv_nxt == tp->rcv_nxt)
			return &c->owner;
	}
	return NULL;
}

static __always_inline void closed_add(const struct sock *sk, const struct tcp_sock *tp,
				       const struct tcp_owner *o)
{
	__u32 zero = 0;
	struct tcp_closed_ring *r = bpf_map_lookup_elem(&tcp_closed, &zero);
	struct tcp_closed *c;

	if (!r)
		return;
	c = &r->slot[r->next++ % TCP_CLOSED_SLOTS];
	c->sk = (__u64)sk;
	c->snd_nxt = tp->snd_nxt;
	c->rcv_nxt = tp->rcv_nxt;
	c->owner = *o;
}

/* An inbound connection finished its handshake: owned by its listener's owner. */
static __always_inline void on_accepted(const struct sock *sk)
{
	struct tcp_listener_key k = listener_key(sk);
	__u32 *tgid = bpf_map_lookup_elem(&tcp_listeners, &k);
	struct tcp_owner o = { .established = 1 };

	if (!tgid)
		return;
	o.tgid = *tgid;
	o.start_ns = bpf_ktime_get_ns();
	owner_add(sk, &o);
	attempt_count(sk, o.tgid, SONDE_TCP_ACCEPTED, 0);
}

static __always_inline void on_close(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct tcp_owner *o = owner_of(sk);

	if (!o)
		return;
	if (o->established) {
		/* a typed pointer for the loads of struct tcp_sock */
		struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

		if (tp) {
			totals_add(tp, o, bpf_ktime_get_ns());
			closed_add(sk, tp, o);
		}
	} else {
		attempt_count(sk, o->tgid, SONDE_TCP_FAILED, sk->sk_err);
	}
	bpf_map_delete_elem(&tcp_owners, &key);
}

/* TCP health's part of inet_sock_set_state (process.bpf.c): sk moved to newstate. */
static __always_inline void tcp_health_state(const struct sock *sk, int oldstate, int newstate)
{
	struct tcp_owner *o;
	__u32 tgid;

	if (!tcp_health || sk->sk_protocol != IPPROTO_TCP)
		return;
	switch (newstate) {
	case TCP_SYN_SENT_STATE: /* connect(), in the caller's context */
		tgid = bpf_get_current_pid_tgid() >> 32;
		if (tgid_allowed(tgid)) {
			struct tcp_owner fresh = { .tgid = tgid, .outbound = 1 };

			owner_add(sk, &fresh);
		}
		return;
	case TCP_LISTEN_STATE: /* listen(), in the caller's context */
		tgid = bpf_get_current_pid_tgid() >> 32;
		if (tgid_allowed(tgid)) {
			struct tcp_listener_key k = listener_key(sk);

			bpf_map_update_elem(&tcp_listeners, &k, &tgid, BPF_ANY);
		}
		return;
	case TCP_ESTABLISHED_STATE:
		if (oldstate == TCP_SYN_RECV_STATE) {
			on_accepted(sk);
			return;
		}
		o = owner_of(sk);
		if (!o || o->established)
			return;
		o->established = 1;
		o->start_ns = bpf_ktime_get_ns();
		attempt_count(sk, o->tgid, SONDE_TCP_CONNECTED, 0);
		return;
	case TCP_CLOSE_STATE:
		if (oldstate == TCP_LISTEN_STATE) {
			struct tcp_listener_key k = listener_key(sk);

			bpf_map_delete_elem(&tcp_listeners, &k);
			return;
		}
		on_close(sk);
		return;
	}
}

#endif /* SONDE_TCP_BPF_H */
