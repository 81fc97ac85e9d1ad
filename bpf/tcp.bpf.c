// SPDX-License-Identifier: GPL-2.0-only
/*
 * TCP health of selected processes: connection attempts and their outcome, and at close
 * each connection's totals (duration, bytes, retransmitted segments, resets, smoothed RTT).
 * The kernel runs these tracepoints in softirq as often as in the owner's context, so a
 * socket's owner is recorded where it is known: at connect() (SYN_SENT, in the caller's
 * context) and, for accepted connections, from the listener's owner (LISTEN, in the
 * caller's context; user space adds listeners that existed before sonde). Nothing runs
 * on the data path: totals come from struct tcp_sock at close.
 */
#include "capture.bpf.h" /* addr_v4, addr_v6 */

#define TCP_ESTABLISHED_STATE 1
#define TCP_SYN_SENT_STATE 2
#define TCP_SYN_RECV_STATE 3

/* Turns these programs' work on (the loader sets it; off: they return at once). */
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

/* Sockets of selected processes, by struct sock address, from SYN_SENT or accept until
 * the socket is destroyed: an abortive close (SO_LINGER 0) sends its reset after CLOSE. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct tcp_owner);
} tcp_owners SEC(".maps");

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
} tcp_listeners SEC(".maps");

static __always_inline struct tcp_listener_key listener_key(const struct sock *sk)
{
	struct tcp_listener_key k = {
		.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum),
		.port = BPF_CORE_READ(sk, __sk_common.skc_num),
	};

	return k;
}

static __always_inline void tcp_fill_addrs(struct sonde_tcp_event *ev, const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	ev->family = family;
	if (family == AF_INET) {
		addr_v4(&ev->local, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		addr_v4(&ev->peer, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	} else {
		addr_v6(&ev->local, &sk->__sk_common.skc_v6_rcv_saddr);
		addr_v6(&ev->peer, &sk->__sk_common.skc_v6_daddr);
	}
	ev->local.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	ev->peer.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

/* One record about sk, owned by o. */
static __always_inline void tcp_emit(const struct sock *sk, struct tcp_owner *o, __u32 kind,
				     __u64 now)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	struct sonde_tcp_event ev = {};

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
		ev.sk_err = BPF_CORE_READ(sk, sk_err);
	} else if (kind == SONDE_TCP_CLOSED) {
		ev.duration_ns = now - o->start_ns;
		ev.bytes_sent = BPF_CORE_READ(tp, bytes_sent);
		ev.bytes_received = BPF_CORE_READ(tp, bytes_received);
		ev.srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3; /* stored << 3 (tcp_rtt_estimator) */
		ev.retrans_segs = BPF_CORE_READ(tp, total_retrans);
		ev.resets_sent = o->resets_sent;
		ev.resets_received = o->resets_received;
	}
	rec_output(&ev, sizeof(ev), REC_PACED);
}

static __always_inline void owner_add(const struct sock *sk, __u32 tgid, bool outbound, __u64 now)
{
	struct tcp_owner o = { .tgid = tgid, .outbound = outbound, .start_ns = now };
	__u64 key = (__u64)sk;

	if (!outbound)
		o.established = 1;
	if (bpf_map_update_elem(&tcp_owners, &key, &o, BPF_ANY))
		count_lost(SONDE_LOST_TCP_FULL);
}

/* An inbound connection finished its handshake: owned by its listener's owner. */
static __always_inline void on_accepted(const struct sock *sk, __u64 now)
{
	struct tcp_listener_key k = listener_key(sk);
	__u32 *tgid = bpf_map_lookup_elem(&tcp_listeners, &k);
	__u64 key = (__u64)sk;
	struct tcp_owner *o;

	if (!tgid)
		return;
	owner_add(sk, *tgid, false, now);
	o = bpf_map_lookup_elem(&tcp_owners, &key);
	tcp_emit(sk, o, SONDE_TCP_ACCEPTED, now);
}

static __always_inline void on_close(const struct sock *sk, int oldstate, __u64 now)
{
	__u64 key = (__u64)sk;
	struct tcp_owner *o = bpf_map_lookup_elem(&tcp_owners, &key);

	if (!o || o->closed)
		return;
	tcp_emit(sk, o, o->established ? SONDE_TCP_CLOSED : SONDE_TCP_FAILED, now);
	o->closed = 1;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sonde_tcp_state, const struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk, now;
	struct tcp_owner *o;
	__u32 tgid;

	if (!tcp_health || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	switch (newstate) {
	case TCP_SYN_SENT_STATE: /* connect(), in the caller's context */
		tgid = bpf_get_current_pid_tgid() >> 32;
		if (tgid_allowed(tgid))
			owner_add(sk, tgid, true, bpf_ktime_get_ns());
		return 0;
	case TCP_LISTEN_STATE: /* listen(), in the caller's context */
		tgid = bpf_get_current_pid_tgid() >> 32;
		if (tgid_allowed(tgid)) {
			struct tcp_listener_key k = listener_key(sk);

			bpf_map_update_elem(&tcp_listeners, &k, &tgid, BPF_ANY);
		}
		return 0;
	case TCP_ESTABLISHED_STATE:
		now = bpf_ktime_get_ns();
		if (oldstate == TCP_SYN_RECV_STATE) {
			on_accepted(sk, now);
			return 0;
		}
		o = bpf_map_lookup_elem(&tcp_owners, &key);
		if (!o || o->established)
			return 0;
		o->established = 1;
		o->start_ns = now;
		tcp_emit(sk, o, SONDE_TCP_CONNECTED, now);
		return 0;
	case TCP_CLOSE_STATE:
		if (oldstate == TCP_LISTEN_STATE) {
			struct tcp_listener_key k = listener_key(sk);

			bpf_map_delete_elem(&tcp_listeners, &k);
			return 0;
		}
		on_close(sk, oldstate, bpf_ktime_get_ns());
		return 0;
	}
	return 0;
}

static __always_inline void count_reset(const struct sock *sk, bool sent)
{
	__u64 key = (__u64)sk;
	struct tcp_owner *o;

	if (!tcp_health || !sk)
		return;
	o = bpf_map_lookup_elem(&tcp_owners, &key);
	if (!o)
		return;
	if (o->closed) { /* its totals are out: report the reset on its own */
		if (sent && o->established)
			tcp_emit(sk, o, SONDE_TCP_RESET_SENT, bpf_ktime_get_ns());
		return;
	}
	if (sent)
		__sync_fetch_and_add(&o->resets_sent, 1);
	else
		__sync_fetch_and_add(&o->resets_received, 1);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(sonde_tcp_send_reset, const struct sock *sk)
{
	count_reset(sk, true);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(sonde_tcp_receive_reset, struct sock *sk)
{
	count_reset(sk, false);
	return 0;
}

/* The socket is freed: forget its owner (a new socket may reuse the address). */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(sonde_tcp_destroy, struct sock *sk)
{
	__u64 key = (__u64)sk;

	if (tcp_health)
		bpf_map_delete_elem(&tcp_owners, &key);
	return 0;
}
