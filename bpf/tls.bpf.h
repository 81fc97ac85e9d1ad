/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the socket programs share with the TLS uprobes (tls.bpf.c). While a thread is inside
 * a probed OpenSSL call (SSL_read, SSL_write, SSL_do_handshake, ...), its socket I/O is the
 * call's ciphertext: the socket program notes the connection's id into the call, marks the
 * connection SONDE_CONN_TLS and copies nothing; the uretprobe then reports the plaintext
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

/* Marks a connection's socket bytes as ciphertext (see SONDE_CONN_TLS). */
static __always_inline void conn_mark_tls(__u64 id)
{
	struct sonde_conn_val *val = bpf_map_lookup_elem(&conns, &id);

	if (val && val->state == SONDE_CONN_SEEN)
		val->state = SONDE_CONN_TLS;
}

/*
 * Called by the socket programs for every read or write of a selected process. True when
 * the thread is inside a probed OpenSSL call: the connection is announced on first sight,
 * its id noted for the call, and the bytes (ciphertext) are not reported.
 */
static __always_inline bool tls_socket_io(struct sock *sk, __u64 pid_tgid, __u64 id, __u64 ino)
{
	struct tls_call *call;

	if (!tls_tgid(pid_tgid >> 32))
		return false;
	call = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	if (!call)
		return false;
	call->id = id;
	if (conn_seen(sk, id, ino, pid_tgid))
		conn_mark_tls(id);
	return true;
}

#endif /* SONDE_TLS_BPF_H */
