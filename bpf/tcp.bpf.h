/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TCP health of selected processes: connection attempts and their outcome, and at close
 * each connection's totals (duration, bytes, retransmitted segments, resets, smoothed RTT).
 * The kernel runs these tracepoints in softirq as often as in the owner's context, so a
 * socket's owner is recorded where it is known: at connect() (SYN_SENT, in the caller's
 * context) and, for accepted connections, from the listener's owner (LISTEN, in the
 * caller's context; user space adds listeners that existed before sonde). Nothing runs
 * on the data path: totals come from struct tcp_sock at close.
 *
 * The state changes are handled inside process.bpf.c's inet_sock_set_state program, which
 * runs for every socket anyway: TCP health adds no program run of its own there. The
 * owner lives in socket-local storage, freed with the socket: no program at destruction,
 * no hash look-up for the sockets of other processes (their storage pointer is NULL).
 * tcp.bpf.c holds the reset programs.
 *
 * Every caller is a tp_btf program, whose struct sock pointer the verifier knows: fields
 * are read with plain (CO-RE relocated) loads, not a bpf_probe_read_kernel call each.
 */
#ifndef SONDE_TCP_BPF_H
#define SONDE_TCP_BPF_H

#include "capture.bpf.h" /* addr_v4, addr_v6 */

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
	__u8 closed; /* CLOSE seen, totals sent; kept for a reset sent after it */
	__u8 _pad;
	__u64 start_ns; /* SYN_SENT (outbound) or ESTABLISHED */
	__u32 resets_sent;
	__u32 resets_received;
};

/* Sockets of selected processes, from SYN_SENT or accept until the socket is freed (an
 * abortive close, SO_LINGER 0, sends its reset after CLOSE). */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tcp_owner);
} tcp_owners SEC(".maps") __weak;

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

static __always_inline void tcp_fill_addrs(struct sonde_tcp_event *ev, const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;

	ev->family = family;
	if (family == AF_INET) {
		addr_v4(&ev->local, sk->__sk_common.skc_rcv_saddr);
		addr_v4(&ev->peer, sk->__sk_common.skc_daddr);
	} else {
		addr_v6(&ev->local, &sk->__sk_common.skc_v6_rcv_saddr);
		addr_v6(&ev->peer, &sk->__sk_common.skc_v6_daddr);
	}
	ev->local.port = sk->__sk_common.skc_num;
	ev->peer.port = bpf_ntohs(sk->__sk_common.skc_dport);
}

/* One record about sk, owned by o. */
static __always_inline void tcp_emit(const struct sock *sk, struct tcp_owner *o, __u32 kind,
				     __u64 now)
{
	struct sonde_tcp_event ev = {};
	struct tcp_sock *tp;

	if (!o)
		return;
	ev.hdr.type = SONDE_EV_TCP;
	ev.hdr.abi = SONDE_ABI_VERSION;
	ev.hdr.tgid = o->tgid;
	ev.hdr.ts_ns = now;
	ev.kind = kind;
	ev.outbound = o->outbound;
	tcp_fill_addrs(&ev, sk);
	if (kind == SONDE_TCP_FAILED) {
		ev.duration_ns = now - o->start_ns;
		ev.sk_err = sk->sk_err;
	} else if (kind == SONDE_TCP_CLOSED) {
		ev.duration_ns = now - o->start_ns;
		ev.resets_sent = o->resets_sent;
		ev.resets_received = o->resets_received;
		tp = bpf_skc_to_tcp_sock((void *)sk); /* a typed pointer for the loads below */
		if (tp) {
			ev.bytes_sent = tp->bytes_sent;
			ev.bytes_received = tp->bytes_received;
			ev.srtt_us = tp->srtt_us >> 3; /* stored << 3 (tcp_rtt_estimator) */
			ev.retrans_segs = tp->total_retrans;
		}
	}
	rec_output(&ev, sizeof(ev), REC_PACED);
}

/* sk's owner record, made afresh (a socket connecting again starts over). NULL when the
 * kernel could not allocate it (counted). */
static __always_inline struct tcp_owner *owner_add(const struct sock *sk, __u32 tgid, bool outbound,
						   __u64 now)
{
	struct tcp_owner *o =
		bpf_sk_storage_get(&tcp_owners, (struct sock *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	if (!o) {
		count_lost(SONDE_LOST_TCP_FULL);
		return NULL;
	}
	o->tgid = tgid;
	o->outbound = outbound;
	o->established = !outbound;
	o->closed = 0;
	o->start_ns = now;
	o->resets_sent = 0;
	o->resets_received = 0;
	return o;
}

static __always_inline struct tcp_owner *owner_of(const struct sock *sk)
{
	return bpf_sk_storage_get(&tcp_owners, (struct sock *)sk, 0, 0);
}

/* An inbound connection finished its handshake: owned by its listener's owner. */
static __always_inline void on_accepted(const struct sock *sk, __u64 now)
{
	struct tcp_listener_key k = listener_key(sk);
	__u32 *tgid = bpf_map_lookup_elem(&tcp_listeners, &k);

	if (tgid)
		tcp_emit(sk, owner_add(sk, *tgid, false, now), SONDE_TCP_ACCEPTED, now);
}

static __always_inline void on_close(const struct sock *sk, __u64 now)
{
	struct tcp_owner *o = owner_of(sk);

	if (!o || o->closed)
		return;
	tcp_emit(sk, o, o->established ? SONDE_TCP_CLOSED : SONDE_TCP_FAILED, now);
	o->closed = 1;
}

/* TCP health's part of inet_sock_set_state (process.bpf.c): sk moved to newstate. */
static __always_inline void tcp_health_state(const struct sock *sk, int oldstate, int newstate)
{
	struct tcp_owner *o;
	__u32 tgid;
	__u64 now;

	if (!tcp_health || sk->sk_protocol != IPPROTO_TCP)
		return;
	switch (newstate) {
	case TCP_SYN_SENT_STATE: /* connect(), in the caller's context */
		tgid = bpf_get_current_pid_tgid() >> 32;
		if (tgid_allowed(tgid))
			owner_add(sk, tgid, true, bpf_ktime_get_ns());
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
			on_accepted(sk, bpf_ktime_get_ns());
			return;
		}
		o = owner_of(sk);
		if (!o || o->established)
			return;
		now = bpf_ktime_get_ns();
		o->established = 1;
		o->start_ns = now;
		tcp_emit(sk, o, SONDE_TCP_CONNECTED, now);
		return;
	case TCP_CLOSE_STATE:
		if (oldstate == TCP_LISTEN_STATE) {
			struct tcp_listener_key k = listener_key(sk);

			bpf_map_delete_elem(&tcp_listeners, &k);
			return;
		}
		on_close(sk, bpf_ktime_get_ns());
		return;
	}
}

#endif /* SONDE_TCP_BPF_H */
