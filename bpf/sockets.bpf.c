// SPDX-License-Identifier: GPL-2.0-only
/*
 * Preferred capture path (kernel >= 6.3): the socket tracepoints sock_send_length and
 * sock_recv_length fire only on socket I/O, after the data moved, with the struct sock.
 * The user buffer comes from the syscall's saved registers: orig_ax is the syscall number,
 * si/dx its second and third arguments.
 */
#include "tls.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * First sight of a socket (no state yet): its state, made in the socket's storage with a
 * new conn_id and announced, or with id 0 when sonde parses no protocol of its kind (its
 * later I/O then costs one lookup). NULL when it cannot be made (counted).
 */
static __always_inline struct conn_state *sock_conn_first(struct sock *sk, __u64 pid_tgid)
{
	struct conn_state init = {}, *st;

	if (sock_wanted(sk))
		init.id = conn_new_id();
	/* The state is made with its id in one step, so no other CPU sees it without. */
	st = bpf_sk_storage_get(&conn_store, sk, &init, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st) {
		/* Another CPU made it first (then it is there now), or no memory. */
		st = bpf_sk_storage_get(&conn_store, sk, 0, 0);
		if (!st) {
			if (init.id)
				count_lost(SONDE_LOST_CONN_FULL);
			return NULL;
		}
	}
	if (init.id && st->id == init.id)
		conn_announce(sk, init.id, 0, pid_tgid);
	return st;
}

static __always_inline int sock_io(struct sock *sk, int ret, int flags, __u8 dir)
{
	struct conn_state *st;
	struct task_struct *task;
	struct user_io io;
	struct pt_regs *regs;
	__u64 pid_tgid;

	/* The tests that need no helper call first: most runs end here (EAGAIN reads of
	 * Go's netpoller). A zero-length read is EOF; a zero-length write says nothing;
	 * a MSG_PEEK read consumed nothing. */
	if (ret < 0)
		return 0;
	if (dir == SONDE_DIR_SEND ? ret == 0 : (flags & MSG_PEEK) != 0)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	if (!tgid_allowed(pid_tgid >> 32))
		return 0;
	st = bpf_sk_storage_get(&conn_store, sk, 0, 0);
	if (!st) {
		st = sock_conn_first(sk, pid_tgid);
		if (!st)
			return 0;
	}
	/* Inside a probed TLS call: ciphertext, not reported (tls.bpf.h). */
	if (tls_socket_io(sk, pid_tgid, st))
		return 0;
	/* The task's saved registers are a trusted BTF pointer here: plain loads, no
	 * bpf_probe_read_kernel calls (three fewer helper calls per event). */
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	user_io_from_args(&io, regs->orig_ax, regs->si, regs->dx);
	return capture_io(pid_tgid, st, dir, ret, io, SONDE_SRC_SOCKET_TP);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sonde_sock_send, struct sock *sk, int ret, int flags)
{
	return sock_io(sk, ret, flags, SONDE_DIR_SEND);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sonde_sock_recv, struct sock *sk, int ret, int flags)
{
	return sock_io(sk, ret, flags, SONDE_DIR_RECV);
}
