// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fallback capture path for kernels without the socket tracepoints (< 6.3): syscall
 * tracepoints. sys_enter stashes the arguments by thread; sys_exit, knowing how many bytes
 * moved, resolves fd -> file -> socket -> sock (after checking the file is a socket: Go's
 * netpoller reads an eventfd all the time) and hands it to the shared data path.
 */
#include "tls.bpf.h"

/* Syscalls that move socket bytes without a user buffer (x86-64 numbers): only their byte
 * count is reported, and user space counts body bytes by length (nginx's sendfile on). */
#define NR_SENDFILE 40
#define NR_SPLICE 275

static __always_inline int sys_enter(struct trace_event_raw_sys_enter *ctx, __u32 nr, __u64 flags)
{
	struct io_stash st;
	struct io_slot *slot;
	__u64 id, owner;

	/* A MSG_PEEK read consumes nothing: not stashed, so its exit reports nothing. */
	if (flags & MSG_PEEK)
		return 0;
	id = bpf_get_current_pid_tgid();
	if (!tgid_allowed(id >> 32))
		return 0;
	st.fd = ctx->args[0];
	st.a1 = ctx->args[1];
	st.a2 = ctx->args[2];
	st.nr = nr;
	/* The thread's slot when it is free or already its own (a stash its last exit did
	 * not take: the tgid was deselected in between); else the hash. */
	slot = io_slot_of(id);
	if (slot) {
		owner = __sync_val_compare_and_swap(&slot->owner, 0, id);
		if (owner == 0 || owner == id) {
			slot->io = st;
			return 0;
		}
	}
	if (bpf_map_update_elem(&io_stash, &id, &st, BPF_ANY))
		count_lost(SONDE_LOST_STASH_FULL);
	return 0;
}

/*
 * Takes thread id's stash out of its slot or the hash into *st; false when it has none
 * (a MSG_PEEK read, or a syscall entered before the tgid was selected).
 */
static __always_inline bool stash_take(__u64 id, struct io_stash *st)
{
	struct io_slot *slot = io_slot_of(id);
	struct io_stash *h;

	if (slot && slot->owner == id) {
		*st = slot->io;
		/* Only this thread writes a slot it owns: a plain store frees it. */
		*(volatile __u64 *)&slot->owner = 0;
		return true;
	}
	h = bpf_map_lookup_elem(&io_stash, &id);
	if (!h)
		return false;
	*st = *h;
	bpf_map_delete_elem(&io_stash, &id);
	return true;
}

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
	struct conn_state *conn;
	struct io_stash st;
	struct user_io io;
	struct sock *sk;
	__s64 ret = ctx->ret;
	__u64 ino = 0;
	__u8 dir;

	if (!stash_take(id, &st) || ret < 0)
		return 0;
	dir = nr_reads(st.nr) ? SONDE_DIR_RECV : SONDE_DIR_SEND;
	/* sys_exit lets only ret > 0, or 0 on a read (EOF), through. splice(fd_in, off_in,
	 * fd_out, ...) writes to a socket (fd_out, stashed in a2) or reads from one. */
	sk = fd_to_sock(st.nr == NR_SPLICE ? st.a2 : st.fd, &ino);
	if (!sk && st.nr == NR_SPLICE) {
		sk = fd_to_sock(st.fd, &ino);
		dir = SONDE_DIR_RECV;
	}
	if (!sk || (ret == 0 && dir == SONDE_DIR_SEND))
		return 0;
	conn = sys_conn_get(sk, ino, id);
	if (!conn)
		return 0;
	user_io_from_args(&io, st.nr, st.a1, st.a2);
	/* Inside a probed TLS call: ciphertext, not reported (tls.bpf.h). */
	if (!tls_socket_io(sk, id, conn))
		capture_io(id, conn, dir, ret, io, SONDE_SRC_SYSCALL_TP);
	return 0;
}

static __always_inline int sys_exit(struct trace_event_raw_sys_exit *ctx, bool send)
{
	/* Cheap filters before the tail call: the tgid bitmap first (every syscall exit of
	 * every process lands here), then only threads with a stash. A failed syscall
	 * (EAGAIN reads of Go's netpoller) or an empty write only drops its stash. */
	__u64 id = bpf_get_current_pid_tgid();
	struct io_slot *slot;
	struct io_stash st;

	if (!tgid_allowed(id >> 32))
		return 0;
	if (ctx->ret < 0 || (send && ctx->ret == 0)) {
		stash_take(id, &st);
		return 0;
	}
	slot = io_slot_of(id);
	if ((slot && slot->owner == id) || bpf_map_lookup_elem(&io_stash, &id))
		bpf_tail_call(ctx, &exit_tail, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int sonde_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return sys_enter(ctx, NR_READ, 0);
}

SEC("tracepoint/syscalls/sys_enter_write")
int sonde_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return sys_enter(ctx, NR_WRITE, 0);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int sonde_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	return sys_enter(ctx, NR_READV, 0);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int sonde_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return sys_enter(ctx, NR_WRITEV, 0);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int sonde_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return sys_enter(ctx, NR_SENDTO, 0);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int sonde_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return sys_enter(ctx, NR_RECVFROM, ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int sonde_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return sys_enter(ctx, NR_SENDMSG, 0);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int sonde_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	return sys_enter(ctx, NR_RECVMSG, ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_sendfile64")
int sonde_enter_sendfile(struct trace_event_raw_sys_enter *ctx)
{
	return sys_enter(ctx, NR_SENDFILE, 0);
}

SEC("tracepoint/syscalls/sys_enter_splice")
int sonde_enter_splice(struct trace_event_raw_sys_enter *ctx)
{
	return sys_enter(ctx, NR_SPLICE, 0);
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
