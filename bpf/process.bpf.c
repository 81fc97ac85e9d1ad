// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process and connection lifecycle: fork children of selected processes are selected in
 * the kernel (prefork servers such as nginx workers never exec, and user space would see
 * them too late); exec and listen are reported so user space can re-evaluate its rules; a
 * process leaves the allow map when its last thread exits; TCP close ends a connection.
 */
#include "tls.bpf.h"

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sonde_fork, struct task_struct *parent, struct task_struct *child)
{
	struct sonde_proc_event ev = {};
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);

	/* A new thread shares its tgid: nothing to do. */
	if (ptgid == ctgid || !tgid_allowed(ptgid))
		return 0;
	if (tgid_allow(ctgid, true)) {
		count_lost(SONDE_LOST_ALLOW_FULL);
		return 0;
	}
	fill_hdr(&ev.hdr, SONDE_EV_PROC_FORK, (__u64)ctgid << 32 | (__u32)BPF_CORE_READ(child, pid),
		 bpf_ktime_get_ns());
	ev.ppid = ptgid;
	BPF_CORE_READ_STR_INTO(&ev.comm, child, comm);
	rec_output(&ev, sizeof(ev), REC_URGENT);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sonde_exec, struct task_struct *p)
{
	struct sonde_proc_event ev = {};
	__u32 tgid = BPF_CORE_READ(p, tgid);

	bpf_probe_read_kernel_str(ev.comm, sizeof(ev.comm), p->comm);
	if (bpf_map_lookup_elem(&comm_rules, ev.comm))
		tgid_allow(tgid, true);
	if (!exec_events && !tgid_allowed(tgid))
		return 0;
	fill_hdr(&ev.hdr, SONDE_EV_PROC_EXEC, bpf_get_current_pid_tgid(), bpf_ktime_get_ns());
	ev.ppid = BPF_CORE_READ(p, real_parent, tgid);
	rec_output(&ev, sizeof(ev), REC_URGENT);
	return 0;
}

/* Only the task argument is read: it exists on every kernel (a group_dead flag was added
 * later), and signal->live, decremented before this tracepoint, says whether the whole
 * thread group is gone. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(sonde_exit, struct task_struct *p)
{
	struct sonde_proc_event ev = {};
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (!tgid_allowed(tgid) || BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	tgid_allow(tgid, false);
	fill_hdr(&ev.hdr, SONDE_EV_PROC_EXIT, bpf_get_current_pid_tgid(), bpf_ktime_get_ns());
	BPF_CORE_READ_STR_INTO(&ev.comm, p, comm);
	rec_output(&ev, sizeof(ev), REC_URGENT);
	return 0;
}

/* The id of a connection sonde reported, forgetting its state; 0 for any other socket. An
 * I/O after this (a late EOF) starts a new connection. */
static __always_inline __u64 conn_forget(struct sock *sk)
{
	struct conn_state *st;
	__u64 key = (__u64)sk, id;

	if (sock_storage) {
		st = bpf_sk_storage_get(&conn_store, sk, 0, 0);
		if (!st)
			return 0;
		id = st->id;
		if (st->go_copied)
			bpf_map_delete_elem(&tls_socks, &key);
		bpf_sk_storage_delete(&conn_store, sk);
		return id;
	}
	st = bpf_map_lookup_elem(&conns, &key);
	if (!st)
		return 0;
	id = st->id;
	bpf_map_delete_elem(&conns, &key);
	return id;
}

static __always_inline void conn_closed(struct sock *sk, __u64 id)
{
	struct sonde_conn_event ev = {};

	fill_hdr(&ev.hdr, SONDE_EV_CONN_CLOSE, bpf_get_current_pid_tgid(), bpf_ktime_get_ns());
	ev.conn_id = id;
	ev.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	rec_output(&ev, sizeof(ev), REC_PACED);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sonde_sock_state, struct sock *sk, int oldstate, int newstate)
{
	__u64 id;

	if (newstate == TCP_LISTEN_STATE && listen_events) {
		struct sonde_listen_event ev = {};

		fill_hdr(&ev.hdr, SONDE_EV_LISTEN, bpf_get_current_pid_tgid(), bpf_ktime_get_ns());
		ev.port = BPF_CORE_READ(sk, __sk_common.skc_num);
		ev.family = BPF_CORE_READ(sk, __sk_common.skc_family);
		rec_output(&ev, sizeof(ev), REC_URGENT);
		return 0;
	}
	if (newstate == TCP_CLOSE_STATE) {
		id = conn_forget(sk);
		if (id)
			conn_closed(sk, id);
	}
	return 0;
}
