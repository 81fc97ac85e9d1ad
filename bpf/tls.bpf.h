/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the socket programs share with the TLS uprobes (tls.bpf.c). While a thread is inside
 * a probed OpenSSL call (SSL_read, SSL_write, SSL_do_handshake, ...), its socket I/O is the
 * call's ciphertext: the socket program notes the connection's id into the call, marks the
 * connection TLS (conn_state.tls) and copies nothing; the uretprobe then reports the plaintext
 * under that id. OpenSSL's structs are never read: their layout changes per release.
 */
#ifndef SONDE_TLS_BPF_H
#define SONDE_TLS_BPF_H

#include "capture.bpf.h"

/* Processes whose TLS library sonde probes: one bit per tgid, set by user space. Processes
 * without TLS probes pay one bit test in the socket programs, no map lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, SONDE_TGID_MAX / 64);
	__type(key, __u32);
	__type(value, __u64);
} tls_tgids SEC(".maps") __weak;

enum tls_call_kind {
	TLS_CALL_DATA = 0, /* SSL_read/SSL_write (_ex): reports plaintext at return */
	TLS_CALL_PAIR = 1, /* SSL_do_handshake/SSL_shutdown: only pairs SSL* and connection */
};

/* One OpenSSL call in progress on a thread (key: pid_tgid). */
struct tls_call {
	__u64 ssl;     /* the SSL* argument */
	__u64 buf;     /* plaintext buffer */
	__u64 len_ptr; /* _ex variants: size_t *readbytes / *written; 0 otherwise */
	__u64 id;      /* connection id, noted by the socket program during the call; 0: none */
	__u8 dir;      /* enum sonde_direction */
	__u8 kind;     /* enum tls_call_kind */
	__u8 _pad[6];
};

/* LRU: a call that never returns (the thread was killed) must not keep its slot. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tls_call);
} tls_calls SEC(".maps") __weak;

static __always_inline bool tls_tgid(__u32 tgid)
{
	__u32 word = tgid / 64;
	__u64 *bits = bpf_map_lookup_elem(&tls_tgids, &word);

	return bits && (*bits & (1ULL << (tgid % 64)));
}

/*
 * Socket path: struct sock address -> its connection, for the Go probes. A uprobe cannot
 * call bpf_sk_storage_get, so the socket programs copy the id of each connection of a
 * TLS-probed process here; the Go probes find it from the socket behind a tls.Conn (and
 * check the inode: the address may be an earlier socket's) and set tls, which the socket
 * programs copy back into the connection's state. An LRU: a copy, rewritten by the next
 * I/O of its socket if it was evicted. (The syscall path's conns hash serves the probes
 * directly.)
 */
struct tls_sock {
	__u64 id;  /* conn_id */
	__u64 ino; /* the socket's inode */
	__u8 tls;  /* set by the Go probes: the connection's socket bytes are ciphertext */
	__u8 _pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tls_sock);
} tls_socks SEC(".maps") __weak;

/* Socket path: keeps the tls_socks copy of connection st of socket sk up to date, and
 * takes the Go probes' TLS mark from it. */
static __always_inline void tls_sock_sync(struct sock *sk, struct conn_state *st)
{
	__u64 key = (__u64)sk;
	struct tls_sock *m = bpf_map_lookup_elem(&tls_socks, &key);
	struct tls_sock v = { .id = st->id };

	if (m && m->id == st->id) {
		if (m->tls)
			st->tls = 1;
		return;
	}
	v.ino = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
	bpf_map_update_elem(&tls_socks, &key, &v, BPF_ANY);
}

/*
 * Called by the socket programs for every read or write of a selected process on a
 * connection of a wanted kind (state st). True when the thread is inside a probed OpenSSL
 * call: the connection's id is noted for the call, the connection is marked TLS, and the
 * bytes (ciphertext) are not reported.
 */
static __always_inline bool tls_socket_io(struct sock *sk, __u64 pid_tgid, struct conn_state *st)
{
	struct tls_call *call;

	if (!st->id || !tls_tgid(pid_tgid >> 32))
		return false;
	if (sock_storage && !st->tls)
		tls_sock_sync(sk, st);
	call = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	if (!call)
		return false;
	call->id = st->id;
	st->tls = 1;
	return true;
}

/*
 * The Go probes: the connection id of socket sk (inode ino), marked TLS; 0 when it has
 * none yet (socket path: no socket I/O seen yet) or is of no wanted kind. On the syscall
 * path the connection is made and announced on first sight, as by a read or write.
 */
static __always_inline __u64 tls_sock_conn(struct sock *sk, __u64 ino, __u64 pid_tgid)
{
	struct conn_state *st;
	struct tls_sock *m;
	__u64 key = (__u64)sk;

	if (sock_storage) {
		m = bpf_map_lookup_elem(&tls_socks, &key);
		if (!m || m->ino != ino)
			return 0;
		m->tls = 1;
		return m->id;
	}
	st = sys_conn_get(sk, ino, pid_tgid);
	if (!st)
		return 0;
	st->tls = 1;
	return st->id;
}

#endif /* SONDE_TLS_BPF_H */
