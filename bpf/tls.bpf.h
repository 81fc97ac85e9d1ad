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

/* Processes whose TLS library sonde probes: one bit per tgid, set by user space; tls_tgids
 * for OpenSSL, go_tls_tgids for Go crypto/tls. Processes without TLS probes pay two bit
 * tests in the socket programs (arrays: the verifier inlines the lookups), no hash lookup. */
TGID_BITMAP(tls_tgids);
TGID_BITMAP(go_tls_tgids);

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

/* Not an LRU (it would evict a live call silently): a call that never returns (the thread
 * was killed) is removed at the thread's exit (process.bpf.c); a full map is counted
 * (SONDE_TLS_STASH_FULL). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tls_call);
} tls_calls SEC(".maps") __weak;

/*
 * Socket path: struct sock address -> its connection, for the Go probes. A uprobe can neither
 * call bpf_sk_storage_get nor bpf_get_socket_cookie, so the socket programs copy the id of
 * each connection of a Go-TLS-probed process here, once (conn_state.go_copied); the Go probes
 * find it from the socket behind a tls.Conn (checking the inode: the address may be an
 * earlier socket's). Not an LRU (it would evict a live connection's entry silently):
 * entries go when the TCP socket closes (process.bpf.c), and user space removes those of a
 * process that exits or leaves the selection (Unix sockets have no close event); a full
 * map is counted (SONDE_LOST_TLS_SOCK_FULL). Mirrored in user/kernel/uprobes.c.
 */
struct tls_sock {
	__u64 id;   /* conn_id */
	__u64 ino;  /* the socket's inode */
	__u32 tgid; /* the process whose I/O published it */
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tls_sock);
} tls_socks SEC(".maps") __weak;

/*
 * The Go probes' TLS marks: a probe that found connection id writes id into slot
 * id % SONDE_HINT_SLOTS; the socket programs take the mark into conn_state.tls at the
 * connection's next I/O (an array read the verifier inlines, where a tls_socks lookup per
 * I/O cost a hash lookup). A later connection sharing the slot only overwrites a mark
 * already taken, or one its owner's probes write again at the next Read or Write.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SONDE_HINT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} go_tls_marks SEC(".maps") __weak;

/*
 * Whether connection st is TLS: marked already, or (socket path) published to the Go probes,
 * one of which has marked it since (the mark is taken now). Asked at each I/O of a
 * Go-TLS-probed process, and at TCP close (process.bpf.c), which may come before the I/O
 * that would have taken a fresh mark.
 */
static __always_inline bool conn_tls(struct conn_state *st)
{
	__u32 slot = st->id & (SONDE_HINT_SLOTS - 1);
	__u64 *mark;

	if (st->tls || !st->go_copied)
		return st->tls;
	mark = bpf_map_lookup_elem(&go_tls_marks, &slot);
	if (mark && *mark == st->id)
		st->tls = 1;
	return st->tls;
}

/* Socket path, Go-TLS-probed process tgid: publishes connection st of socket sk to the Go
 * probes once, and takes their TLS mark. */
static __always_inline void go_sock_sync(struct sock *sk, struct conn_state *st, __u32 tgid)
{
	__u64 key = (__u64)sk;
	struct tls_sock v = { .id = st->id, .tgid = tgid };

	if (!st->go_copied) {
		v.ino = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
		/* full: tried again at the next I/O, each one counted */
		if (bpf_map_update_elem(&tls_socks, &key, &v, BPF_ANY))
			count_lost(SONDE_LOST_TLS_SOCK_FULL);
		else
			st->go_copied = 1;
	}
	conn_tls(st);
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
	__u32 tgid = pid_tgid >> 32;

	if (!st->id)
		return false;
	if (sock_storage && !st->tls && tgid_bit(&go_tls_tgids, tgid))
		go_sock_sync(sk, st, tgid);
	if (!tgid_bit(&tls_tgids, tgid))
		return false;
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
	__u32 slot;

	if (sock_storage) {
		m = bpf_map_lookup_elem(&tls_socks, &key);
		if (!m || m->ino != ino)
			return 0;
		slot = m->id & (SONDE_HINT_SLOTS - 1);
		bpf_map_update_elem(&go_tls_marks, &slot, &m->id, BPF_ANY);
		return m->id;
	}
	st = sys_conn_get(sk, ino, pid_tgid);
	if (!st)
		return 0;
	st->tls = 1;
	return st->id;
}

#endif /* SONDE_TLS_BPF_H */
