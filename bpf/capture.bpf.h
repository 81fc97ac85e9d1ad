/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The data path shared by both capture paths: given a socket, the direction, the byte
 * count and the syscall that moved the bytes, announce the connection on first sight and
 * emit one data event with a bounded prefix of the user buffer.
 */
#ifndef SONDE_CAPTURE_BPF_H
#define SONDE_CAPTURE_BPF_H

#include "sonde.bpf.h"

/* x86-64 syscall numbers whose arguments locate the user buffer. */
#define NR_READ 0
#define NR_WRITE 1
#define NR_READV 19
#define NR_WRITEV 20
#define NR_SENDTO 44
#define NR_RECVFROM 45
#define NR_SENDMSG 46
#define NR_RECVMSG 47

/* Where the bytes of one syscall are: one buffer, or an iovec array. */
struct user_io {
	__u64 nr;	/* syscall number, 0xffff when unknown */
	__u64 vectored; /* base is a struct iovec array of cnt entries */
	__u64 base;	/* buffer or iovec array (user address); 0: no buffer (sendfile, ...) */
	__u64 cnt;	/* iovec count when vectored */
};

/* Turns a syscall's arguments into a user_io; false when it carries no user buffer
 * (sendfile, splice, io_uring, mmsg variants): only the byte count is reported then. */
static __always_inline bool user_io_from_args(struct user_io *io, __u64 nr, __u64 a1, __u64 a2)
{
	io->nr = nr;
	io->vectored = 0;
	io->cnt = 0;
	switch (nr) {
	case NR_READ:
	case NR_WRITE:
	case NR_SENDTO:
	case NR_RECVFROM:
		io->base = a1;
		return true;
	case NR_READV:
	case NR_WRITEV:
		io->base = a1;
		io->cnt = a2;
		io->vectored = 1;
		return true;
	case NR_SENDMSG:
	case NR_RECVMSG: {
		struct user_msghdr msg;

		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)a1)) {
			io->base = 0;
			return false;
		}
		io->base = (__u64)msg.msg_iov;
		io->cnt = msg.msg_iovlen;
		io->vectored = 1;
		return true;
	}
	default:
		io->nr = 0xffff;
		io->base = 0;
		return false;
	}
}

static __always_inline void addr_v6(struct sonde_addr *a, const void *src)
{
	bpf_probe_read_kernel(a->addr, 16, src);
}

static __always_inline void addr_v4(struct sonde_addr *a, __be32 ip)
{
	__builtin_memset(a->addr, 0, 10);
	a->addr[10] = 0xff;
	a->addr[11] = 0xff;
	__builtin_memcpy(&a->addr[12], &ip, 4);
}

static __always_inline void conn_fill_unix(struct sonde_conn_event *ev, struct sock *sk)
{
	struct unix_sock *us = (struct unix_sock *)sk;
	struct unix_address *ua = BPF_CORE_READ(us, addr);
	int len;

	/* A client end is unbound: the path is its peer's (the listener's) address. */
	if (!ua) {
		struct unix_sock *peer = (struct unix_sock *)BPF_CORE_READ(us, peer);

		if (peer)
			ua = BPF_CORE_READ(peer, addr);
	}
	if (!ua)
		return;
	len = BPF_CORE_READ(ua, len);
	if (len <= 2)
		return;
	/* Abstract names start with a NUL: they read as "" here. */
	bpf_probe_read_kernel_str(ev->unix_path, sizeof(ev->unix_path), ua->name[0].sun_path);
}

static __always_inline void conn_fill(struct sonde_conn_event *ev, struct sock *sk, __u64 id)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	ev->conn_id = id;
	ev->family = family;
	ev->sk_type = BPF_CORE_READ(sk, sk_type);
	if (family == AF_INET) {
		addr_v4(&ev->local, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		addr_v4(&ev->peer, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	} else if (family == AF_INET6) {
		addr_v6(&ev->local, &sk->__sk_common.skc_v6_rcv_saddr);
		addr_v6(&ev->peer, &sk->__sk_common.skc_v6_daddr);
	} else {
		conn_fill_unix(ev, sk);
		return;
	}
	ev->local.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	ev->peer.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

/* A new conn_id: unique while this sonde runs. */
static __always_inline __u64 conn_new_id(void)
{
	return __sync_fetch_and_add(&conn_last_id, 1) + 1;
}

/*
 * Emits SONDE_EV_CONN_OPEN for a connection seen for the first time (ino: the socket's
 * inode on the syscall path, 0 on the socket path). Not inlined: its 160-byte record is
 * built (and zeroed) in its own stack frame, only on first sight, instead of in every run
 * of the data path. Static, so that the verifier checks it with the caller's argument
 * types (sk is a trusted pointer on the socket path).
 */
static __noinline void conn_announce(struct sock *sk, __u64 id, __u64 ino, __u64 pid_tgid)
{
	struct sonde_conn_event ev = {};

	fill_hdr(&ev.hdr, SONDE_EV_CONN_OPEN, pid_tgid, bpf_ktime_get_ns());
	conn_fill(&ev, sk, id);
	ev.ino = ino;
	rec_output(&ev, sizeof(ev), REC_PACED);
}

/* Whether user space asked to stop reporting connection id (see conn_hints). */
static __always_inline bool conn_ignored(__u64 id)
{
	__u32 slot = id & (SONDE_HINT_SLOTS - 1);
	__u64 *hint = bpf_map_lookup_elem(&conn_hints, &slot);

	return hint && *hint == id;
}

/* The struct sock behind fd of the current task, or NULL when fd is not a socket (the
 * syscall path and the Go TLS probes: neither is handed the socket). The task, its file
 * table and the table's size are read by plain loads through the task's BTF pointer; the
 * fd array holds plain pointers the verifier does not follow, so from there on each field
 * is one bpf_probe_read_kernel (6 helper calls in all, where every hop was one: 12). */
static __always_inline struct sock *fd_to_sock(__u64 fd, __u64 *ino)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file **fds, *f = NULL;
	struct inode *inode = NULL;
	struct socket *sock = NULL;
	struct sock *sk = NULL;
	umode_t mode = 0;

	if (!fdt || fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	if (bpf_core_read(&inode, sizeof(inode), &f->f_inode) || !inode ||
	    bpf_core_read(&mode, sizeof(mode), &inode->i_mode) || (mode & S_IFMT) != S_IFSOCK)
		return NULL;
	if (bpf_core_read(ino, sizeof(*ino), &inode->i_ino) ||
	    bpf_core_read(&sock, sizeof(sock), &f->private_data) || !sock ||
	    bpf_core_read(&sk, sizeof(sk), &sock->sk))
		return NULL;
	return sk;
}

/*
 * Syscall path (and the Go TLS probes on it): the state of the socket sk whose inode is
 * ino, made with a new conn_id and announced on first sight, or when the state at sk's
 * address is an earlier socket's (another inode: even a closed TLS connection's, whose
 * socket is gone, is replaced whole). NULL when sonde parses no protocol of its kind, or
 * the map is full (counted).
 */
static __always_inline struct conn_state *sys_conn_get(struct sock *sk, __u64 ino, __u64 pid_tgid)
{
	struct conn_state init = { .ino = ino }, *st;
	__u64 key = (__u64)sk;
	bool stale;

	st = bpf_map_lookup_elem(&conns, &key);
	if (st && st->ino == ino)
		return st;
	stale = st != NULL;
	if (!sock_wanted(sk))
		return NULL;
	init.id = conn_new_id();
	/* NOEXIST: when two CPUs see a new socket at once, the first one's state stays and
	 * the other finds it below. (Replacing a stale state has no such guard: that needs
	 * two threads' first I/O on a new Unix socket at a reused address at once.) */
	bpf_map_update_elem(&conns, &key, &init, stale ? BPF_EXIST : BPF_NOEXIST);
	st = bpf_map_lookup_elem(&conns, &key);
	if (!st || st->ino != ino) {
		count_lost(SONDE_LOST_CONN_FULL);
		return NULL;
	}
	if (st->id == init.id)
		conn_announce(sk, init.id, ino, pid_tgid);
	return st;
}

/*
 * A read or write shorter than direct_payload_max bytes (HTTP heads and most bodies,
 * database messages, a pipeline of Redis commands) is written straight into a ring-buffer
 * record sized to it, with no scratch copy. The verifier wants a constant size per
 * reservation: seven size classes (64 bytes to SONDE_DIRECT_MAX), chosen by branch. Records
 * hold the payload and at most class - 1 bytes of slack; user space takes cap_len from the
 * header, whatever the record's length.
 */

/* A record of size class n (a constant at each call); *mask: n - 1. */
static __always_inline struct sonde_data_event *reserve_class(__u64 n, __u64 *mask)
{
	*mask = n - 1;
	return rec_reserve(sizeof(struct sonde_data_event) + n);
}

/* A record for a payload of len < SONDE_DIRECT_MAX bytes; *mask: its class size - 1. */
static __always_inline struct sonde_data_event *reserve_small(__u32 len, __u64 *mask)
{
	/* unrolled: each branch reserves a constant size */
#pragma unroll
	for (__u64 n = 64; n < SONDE_DIRECT_MAX; n *= 2)
		if (len < n)
			return reserve_class(n, mask);
	return reserve_class(SONDE_DIRECT_MAX, mask);
}

/* A data record of n stream bytes did not fit in the ring: counted by direction when its
 * bytes are numbered (socket records; TLS plaintext is not), as user space will find them
 * missing from the offsets. */
static __always_inline void count_lost_bytes(__u8 dir, __u8 source, __u64 n)
{
	struct sonde_stats *s;

	if (source > SONDE_SRC_SYSCALL_TP || !(s = stats_slot()))
		return;
	s->lost_bytes[dir & 1] += n;
}

static __always_inline int capture_small(__u64 pid_tgid, __u64 id, __u64 seq, __u8 dir, __u32 len,
					 struct user_io io, __u8 source)
{
	struct sonde_data_event *ev;
	__u64 m = len, mask = 0;

	ev = reserve_small(len, &mask);
	if (!ev) {
		count_lost_bytes(dir, source, len);
		return -1;
	}
	fill_hdr(&ev->hdr, SONDE_EV_DATA, pid_tgid, bpf_ktime_get_ns());
	ev->conn_id = id;
	ev->seq = seq;
	ev->len = len;
	ev->dir = dir;
	ev->source = source;
	ev->syscall_nr = io.nr;
	ev->_pad0 = 0;
	/* mask is a known constant on each path: the verifier sees m fit the record. */
	asm volatile("%[m] &= %[k]" : [m] "+r"(m) : [k] "r"(mask));
	if (m && bpf_probe_read_user(ev->data, m, (void *)io.base)) {
		count_lost(SONDE_LOST_READ_USER);
		m = 0;
	}
	ev->cap_len = m;
	rec_submit(ev, sizeof(*ev) + mask + 1, REC_PACED);
	return 0;
}

/*
 * Long or vectored I/O: copied through a scratch slot, chunked (capture.bpf.c). A global
 * function, so the verifier checks it once on its own instead of in every caller's state.
 * At most 5 arguments: meta packs ret (32 bits: a read or write moves less than 2 GiB) |
 * dir << 32 | source << 33 (2 bits) | vectored << 35 | iovec count << 36 (4 bits: at most
 * SONDE_MAX_IOV are read) | nr << 40 (16 bits).
 */
int sonde_capture_chunks(__u64 pid_tgid, __u64 id, __u64 seq, __u64 base, __u64 meta);

/*
 * One socket read or write of `ret` bytes (ret >= 0; 0 on a read: EOF) on the connection
 * whose state is st, by the task pid_tgid. io.base is 0 when the syscall has no user
 * buffer. A long read or write becomes up to SONDE_MAX_CHUNKS data events of capture_bytes
 * each, as if it had been that many syscalls; only the last one may carry fewer bytes than
 * it counts (cap_len < len).
 */
static __always_inline int capture_io(__u64 pid_tgid, struct conn_state *st, __u8 dir, __s64 ret,
				      struct user_io io, __u8 source)
{
	__u64 cnt = io.cnt < SONDE_MAX_IOV ? io.cnt : SONDE_MAX_IOV;
	__u64 id = st->id, seq;

	/* tls: its socket bytes are ciphertext; the TLS probes report its plaintext. So are
	 * those after its TCP close (conn_state.closed): nothing starts a new connection. */
	if (!id || st->tls)
		return 0;
	/* Atomic: Go reads (or writes) one socket from whichever thread runs the goroutine. */
	dir &= 1;
	seq = ret ? __sync_fetch_and_add(&st->off[dir], ret) : st->off[dir];
	/* An ignored connection's bytes are numbered all the same (the add above is all
	 * they cost): its close record carries them, so user space counts them as unparsed
	 * instead of never hearing of them. */
	if (conn_ignored(id))
		return 0;
	if (io.base && !io.vectored && ret < direct_payload_max && ret <= capture_bytes)
		return capture_small(pid_tgid, id, seq, dir, ret, io, source);
	return sonde_capture_chunks(pid_tgid, id, seq, io.base,
				    (__u32)ret | (__u64)dir << 32 | (__u64)source << 33 |
					    io.vectored << 35 | cnt << 36 | io.nr << 40);
}

#endif /* SONDE_CAPTURE_BPF_H */
