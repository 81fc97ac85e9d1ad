// SPDX-License-Identifier: GPL-2.0-only
/*
 * Preferred capture path (kernel >= 6.3): the socket tracepoints sock_send_length and
 * sock_recv_length fire only on socket I/O, after the data moved, with the struct sock.
 * The user buffer comes from the syscall's saved registers: orig_ax is the syscall number,
 * si/dx its second and third arguments.
 */
#include "tls.bpf.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline int sock_io(struct sock *sk, int ret, int flags, __u8 dir)
{
	struct task_struct *task;
	struct user_io io;
	struct pt_regs *regs;
	__u64 pid_tgid;
	__u64 id;

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
	/* The task's saved registers are a trusted BTF pointer here: plain loads, no
	 * bpf_probe_read_kernel calls (three fewer helper calls per event). */
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	user_io_from_args(&io, regs->orig_ax, regs->si, regs->dx);
	id = bpf_get_socket_cookie(sk);
	if (tls_socket_io(sk, pid_tgid, id, 0))
		return 0;
	return capture_io(sk, pid_tgid, id, 0, dir, ret, io, SONDE_SRC_SOCKET_TP);
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
