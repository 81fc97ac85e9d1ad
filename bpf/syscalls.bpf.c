// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fallback capture path for kernels without the socket tracepoints (< 6.3): the exit
 * tracepoints of the syscalls that move socket bytes. At sys_exit the byte count is known
 * and the syscall's arguments are still in the task's saved user registers (the kernel
 * reads them from there and never writes them back), so nothing is stashed at sys_enter:
 * one program run per syscall, as on the socket path. The fd is resolved to file ->
 * socket -> sock (after checking the file is a socket: Go's netpoller reads an eventfd
 * all the time) and handed to the shared data path.
 */
#include "tls.bpf.h"

/* Syscalls that move socket bytes without a user buffer (x86-64 numbers): only their byte
 * count is reported, and user space counts body bytes by length (nginx's sendfile on). */
#define NR_SENDFILE 40
#define NR_SPLICE 275

/* The syscalls that read (the others write). */
static __always_inline bool nr_reads(__u32 nr)
{
	return nr == NR_READ || nr == NR_READV || nr == NR_RECVFROM || nr == NR_RECVMSG;
}

/* The 10 exit programs tail-call this one program: the kernel verifies the data path once
 * instead of once per exit program (load time of this path: 5.3 s -> see commit). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} exit_tail SEC(".maps");

SEC("tracepoint")
int sonde_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	/* x86-64: the arguments in di, si, dx, r10 (the fourth), the number in ctx->id. */
	__u64 nr = ctx->id, fd = regs->di, a1 = regs->si, a2 = regs->dx;
	struct conn_state *conn;
	struct user_io io;
	struct sock *sk;
	__s64 ret = ctx->ret;
	__u64 ino = 0;
	__u8 dir;

	/* A MSG_PEEK read consumes nothing (flags: recvfrom's fourth argument, recvmsg's
	 * third). */
	if ((nr == NR_RECVFROM && (regs->r10 & MSG_PEEK)) || (nr == NR_RECVMSG && (a2 & MSG_PEEK)))
		return 0;
	dir = nr_reads(nr) ? SONDE_DIR_RECV : SONDE_DIR_SEND;
	/* splice(fd_in, off_in, fd_out, ...) writes to a socket (fd_out, the third argument)
	 * or reads from one. */
	sk = fd_to_sock(nr == NR_SPLICE ? a2 : fd, &ino);
	if (!sk && nr == NR_SPLICE) {
		sk = fd_to_sock(fd, &ino);
		dir = SONDE_DIR_RECV;
	}
	if (!sk || (ret == 0 && dir == SONDE_DIR_SEND))
		return 0;
	conn = sys_conn_get(sk, ino, id);
	if (!conn)
		return 0;
	user_io_from_args(&io, nr, a1, a2);
	/* Inside a probed TLS call: ciphertext, not reported (tls.bpf.h). */
	if (!tls_socket_io(sk, id, conn))
		capture_io(id, conn, dir, ret, io, SONDE_SRC_SYSCALL_TP);
	return 0;
}

static __always_inline int sys_exit(struct trace_event_raw_sys_exit *ctx, bool send)
{
	/* Cheap filters before the tail call: a failed syscall (EAGAIN reads of Go's
	 * netpoller) or an empty write, then the tgid bitmap (every exit of these syscalls
	 * of every process lands here). sys_exit lets only ret > 0, or 0 on a read (EOF),
	 * through. */
	if (ctx->ret < 0 || (send && ctx->ret == 0))
		return 0;
	if (tgid_allowed(bpf_get_current_pid_tgid() >> 32))
		bpf_tail_call(ctx, &exit_tail, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int sonde_exit_read(struct trace_event_raw_sys_exit *ctx)
{
	return sys_exit(ctx, false);
}

SEC("tracepoint/syscalls/sys_exit_write")
int sonde_exit_write(struct trace_event_raw_sys_exit *ctx)
{
	return sys_exit(ctx, true);
}

SEC("tracepoint/syscalls/sys_exit_readv")
int sonde_exit_readv(struct trace_event_raw_sys_exit *ctx)
{
	return sys_exit(ctx, false);
}

SEC("tracepoint/syscalls/sys_exit_writev")
int sonde_exit_writev(struct trace_event_raw_sys_exit *ctx)
{
	return sys_exit(ctx, true);
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int sonde_exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
	return sys_exit(ctx, true);
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int sonde_exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	return sys_exit(ctx, false);
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int sonde_exit_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
	return sys_exit(ctx, true);
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int sonde_exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	return sys_exit(ctx, false);
}

SEC("tracepoint/syscalls/sys_exit_sendfile64")
int sonde_exit_sendfile(struct trace_event_raw_sys_exit *ctx)
{
	return sys_exit(ctx, true);
}

/* Either way (see sonde_sys_exit): a 0 may be EOF on a socket read. */
SEC("tracepoint/syscalls/sys_exit_splice")
int sonde_exit_splice(struct trace_event_raw_sys_exit *ctx)
{
	return sys_exit(ctx, false);
}
