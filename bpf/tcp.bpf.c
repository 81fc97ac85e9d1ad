// SPDX-License-Identifier: GPL-2.0-only
/*
 * TCP health (tcp.bpf.h): resets sent and received on the sockets of selected processes.
 * Loaded only with --tcp-health=on; the state changes are counted in process.bpf.c.
 */
#include "tcp.bpf.h"

static __always_inline void count_reset(const struct sock *sk, bool sent)
{
	struct tcp_owner *o;

	if (!tcp_health || !sk)
		return;
	o = owner_of(sk);
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
