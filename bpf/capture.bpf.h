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

	ev->cookie = id;
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

/*
 * First sight of a connection: if it is of a wanted kind, remember it and announce it.
 * Not inlined: its 160-byte record is built (and zeroed) in its own stack frame, only on
 * first sight, instead of in every run of the data path. Static, so that the verifier
 * checks it with the caller's argument types (sk is a trusted pointer on the socket path).
 */
static __noinline bool conn_announce(struct sock *sk, __u64 id, __u64 ino, __u64 pid_tgid)
{
	struct sonde_conn_val seen = { .state = SONDE_CONN_SEEN, .ino = ino };
	struct sonde_conn_event ev = {};

	if (!sock_wanted(sk))
		return false;
	/* New, or a new socket at a reused address (syscall path): announce it; user space
	 * drops whatever it kept under this id. */
	if (bpf_map_update_elem(&conns, &id, &seen, BPF_ANY)) {
		count_lost(SONDE_LOST_CONN_FULL);
		return true;
	}
	fill_hdr(&ev.hdr, SONDE_EV_CONN_OPEN, pid_tgid, bpf_ktime_get_ns());
	conn_fill(&ev, sk, id);
	ev.ino = ino;
	rec_output(&ev, sizeof(ev), REC_PACED);
	return true;
}

/* Whether a connection's socket I/O is reported: false when it is of no wanted kind, user
 * space marked it SONDE_CONN_IGNORED (its bytes are of no protocol sonde parses), or it is
 * SONDE_CONN_TLS (its plaintext comes from the TLS probes). */
static __always_inline bool conn_seen(struct sock *sk, __u64 id, __u64 ino, __u64 pid_tgid)
{
	struct sonde_conn_val *val = bpf_map_lookup_elem(&conns, &id);

	/* The kind was checked on first sight: a known connection is of a wanted kind.
	 * IGNORED: no parser wants it; TLS: its socket bytes are ciphertext (tls.bpf.h). */
	if (val && val->ino == ino)
		return val->state == SONDE_CONN_SEEN;
	return conn_announce(sk, id, ino, pid_tgid);
}

/*
 * A read or write shorter than SMALL_PAYLOAD bytes (most HTTP heads, database messages) is
 * written straight into a ring-buffer record sized to it, with no scratch copy. The
 * verifier wants a constant size per reservation: four size classes, chosen by branch.
 * Records hold the payload and at most class - 1 bytes of slack; user space takes cap_len
 * from the header, whatever the record's length.
 */
#define SMALL_PAYLOAD 512

/* A record for a payload of len < SMALL_PAYLOAD bytes; *mask: its class size - 1. */
static __always_inline struct sonde_data_event *reserve_small(__u32 len, __u64 *mask)
{
	if (len < 64) {
		*mask = 63;
		return rec_reserve(sizeof(struct sonde_data_event) + 64);
	}
	if (len < 128) {
		*mask = 127;
		return rec_reserve(sizeof(struct sonde_data_event) + 128);
	}
	if (len < 256) {
		*mask = 255;
		return rec_reserve(sizeof(struct sonde_data_event) + 256);
	}
	*mask = SMALL_PAYLOAD - 1;
	return rec_reserve(sizeof(struct sonde_data_event) + SMALL_PAYLOAD);
}

static __always_inline int capture_small(__u64 pid_tgid, __u64 id, __u8 dir, __u32 len,
					 struct user_io io, __u8 source)
{
	struct sonde_data_event *ev;
	__u64 m = len, mask = 0;

	ev = reserve_small(len, &mask);
	if (!ev)
		return -1;
	fill_hdr(&ev->hdr, SONDE_EV_DATA, pid_tgid, bpf_ktime_get_ns());
	ev->cookie = id;
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
 * At most 5 arguments: meta packs dir | source << 8 | vectored << 16 | iovec count << 24
 * (at most SONDE_MAX_IOV are read) | nr << 32.
 */
int sonde_capture_chunks(__u64 pid_tgid, __u64 id, __u64 ret, __u64 base, __u64 meta);

/*
 * One socket read or write of `ret` bytes (ret >= 0; 0 on a read: EOF) on connection `id`
 * (ino: see struct sonde_conn_val); pid_tgid of the task that moved them.
 * io.base is 0 when the syscall has no user buffer. A long read or write becomes up to
 * SONDE_MAX_CHUNKS data events of capture_bytes each, as if it had been that many
 * syscalls; only the last one may carry fewer bytes than it counts (cap_len < len).
 */
static __always_inline int capture_io(struct sock *sk, __u64 pid_tgid, __u64 id, __u64 ino,
				      __u8 dir, __s64 ret, struct user_io io, __u8 source)
{
	__u64 cnt = io.cnt < SONDE_MAX_IOV ? io.cnt : SONDE_MAX_IOV;

	if (!conn_seen(sk, id, ino, pid_tgid))
		return 0;
	if (io.base && !io.vectored && ret < SMALL_PAYLOAD && ret <= capture_bytes)
		return capture_small(pid_tgid, id, dir, ret, io, source);
	return sonde_capture_chunks(pid_tgid, id, ret, io.base,
				    dir | (__u64)source << 8 | io.vectored << 16 | cnt << 24 |
					    io.nr << 32);
}

#endif /* SONDE_CAPTURE_BPF_H */
