// SPDX-License-Identifier: GPL-2.0-only
/*
 * TCP health (tcp.bpf.h): resets sent and received on the sockets of selected processes.
 * Loaded only with --tcp-health=on; the state changes are counted in process.bpf.c.
 */
#include "tcp.bpf.h"

/* A reset sent or received on an established connection of a selected process (before
 * its close or, for an abortive close, just after it: tcp_closed), added to its owner's
 * totals. */
static __always_inline void count_reset(const struct sock *sk, bool sent)
{
	struct sonde_tcp_totals *t;
	struct tcp_owner *o;

	if (!tcp_health || !sk)
		return;
	o = owner_of(sk);
	if (!o)
		o = closed_owner_of(sk);
	if (!o || !o->established)
		return;
	t = totals_of(o->tgid, o->outbound);
	if (!t)
		return;
	if (sent)
		t->resets_sent += 1;
	else
		t->resets_received += 1;
	sums_changed();
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
