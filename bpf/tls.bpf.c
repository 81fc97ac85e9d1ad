// SPDX-License-Identifier: GPL-2.0-only
/*
 * TLS plaintext through uprobes. User space attaches these programs per process (OpenSSL:
 * only the selected processes trap) at the entry and return of the library's functions.
 *
 * OpenSSL: the entry probe stashes {SSL*, buffer, length pointer, direction} per thread;
 * the socket programs note the connection of the socket I/O made during the call
 * (tls.bpf.h); the return probe remembers SSL* -> connection (a later read served from
 * OpenSSL's own buffer makes no socket I/O) and reports the plaintext the call moved.
 *
 * Go (>= 1.17, register ABI): crypto/tls.(*Conn).Read/Write get a uprobe at their entry,
 * which stashes the receiver (RAX) and the buffer (RBX) by goroutine (R14 holds g), and one
 * on each of their RET instructions (never a uretprobe: Go moves stacks, and the target
 * would crash), where RAX is the byte count. The socket is found from the tls.Conn itself:
 * its net.Conn, when that is a *net.TCPConn or *net.UnixConn, leads to the fd.
 */
#include "tls.bpf.h"

/* (tgid, SSL*) -> connection id: the last socket an SSL object did I/O on. */
struct ssl_key {
	__u32 tgid;
	__u32 _pad;
	__u64 ssl;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ssl_key);
	__type(value, __u64);
} ssl_conns SEC(".maps");

static __always_inline void count_tls_drop(enum sonde_tls_drop why)
{
	struct sonde_stats *s = stats_slot();

	if (s && why < SONDE_TLS_DROP_NR)
		s->tls_dropped[why]++;
}

/* Whether plaintext of connection id is still wanted: not when user space ignores it. */
static __always_inline bool conn_reported(__u64 id)
{
	struct sonde_conn_val *val = bpf_map_lookup_elem(&conns, &id);

	return !val || val->state != SONDE_CONN_IGNORED;
}

/* Reports n plaintext bytes at buf as one read or write of connection id. */
static __always_inline void tls_emit(__u64 pid_tgid, __u64 id, __u8 dir, __u64 buf, __u64 n,
				     __u8 source)
{
	struct user_io io = { .nr = 0xffff, .vectored = 0, .base = buf, .cnt = 0 };

	if (!n || !conn_reported(id))
		return;
	if (n < SMALL_PAYLOAD && n <= capture_bytes)
		capture_small(pid_tgid, id, dir, n, io, source);
	else
		sonde_capture_chunks(pid_tgid, id, n, buf,
				     dir | (__u64)source << 8 | (__u64)0xffff << 32);
}

/* ---- OpenSSL ------------------------------------------------------------------------------ */

static __always_inline int ssl_enter(__u64 ssl, __u64 buf, __u64 len_ptr, __u8 dir, __u8 kind)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct tls_call call = {
		.ssl = ssl, .buf = buf, .len_ptr = len_ptr, .dir = dir, .kind = kind
	};

	if (!tgid_allowed(pid_tgid >> 32))
		return 0;
	if (bpf_map_update_elem(&tls_calls, &pid_tgid, &call, BPF_ANY))
		count_tls_drop(SONDE_TLS_STASH_FULL);
	return 0;
}

/* int SSL_read(SSL *ssl, void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(sonde_ssl_read, void *ssl, void *buf)
{
	return ssl_enter((__u64)ssl, (__u64)buf, 0, SONDE_DIR_RECV, TLS_CALL_DATA);
}

/* int SSL_write(SSL *ssl, const void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(sonde_ssl_write, void *ssl, void *buf)
{
	return ssl_enter((__u64)ssl, (__u64)buf, 0, SONDE_DIR_SEND, TLS_CALL_DATA);
}

/* int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes) */
SEC("uprobe")
int BPF_KPROBE(sonde_ssl_read_ex, void *ssl, void *buf, __u64 num, void *readbytes)
{
	return ssl_enter((__u64)ssl, (__u64)buf, (__u64)readbytes, SONDE_DIR_RECV, TLS_CALL_DATA);
}

/* int SSL_write_ex(SSL *ssl, const void *buf, size_t num, size_t *written) */
SEC("uprobe")
int BPF_KPROBE(sonde_ssl_write_ex, void *ssl, void *buf, __u64 num, void *written)
{
	return ssl_enter((__u64)ssl, (__u64)buf, (__u64)written, SONDE_DIR_SEND, TLS_CALL_DATA);
}

/* int SSL_do_handshake(SSL *ssl), int SSL_shutdown(SSL *ssl): their socket I/O is
 * ciphertext too (not reported) and pairs the SSL* with its connection early. */
SEC("uprobe")
int BPF_KPROBE(sonde_ssl_pair, void *ssl)
{
	return ssl_enter((__u64)ssl, 0, 0, SONDE_DIR_RECV, TLS_CALL_PAIR);
}

/* void SSL_free(SSL *ssl): a later SSL object at the same address is another connection. */
SEC("uprobe")
int BPF_KPROBE(sonde_ssl_free, void *ssl)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct ssl_key key = { .tgid = pid_tgid >> 32, .ssl = (__u64)ssl };

	if (tgid_allowed(key.tgid))
		bpf_map_delete_elem(&ssl_conns, &key);
	return 0;
}

/* The plaintext length of a call that returned rc, 0 if it failed or moved nothing. */
static __always_inline __u64 ssl_moved(const struct tls_call *call, long rc)
{
	__u64 n = 0;

	if (!call->len_ptr)
		return (int)rc > 0 ? (int)rc : 0;
	if ((int)rc != 1 || bpf_probe_read_user(&n, sizeof(n), (void *)call->len_ptr))
		return 0;
	return n;
}

/* Return of every probed OpenSSL function. */
SEC("uretprobe")
int BPF_KRETPROBE(sonde_ssl_ret, long rc)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct ssl_key key = { .tgid = pid_tgid >> 32 };
	struct tls_call *p = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	struct tls_call call;
	__u64 *known, n;

	if (!p)
		return 0;
	call = *p;
	bpf_map_delete_elem(&tls_calls, &pid_tgid);
	key.ssl = call.ssl;
	if (call.id) {
		bpf_map_update_elem(&ssl_conns, &key, &call.id, BPF_ANY);
	} else {
		known = bpf_map_lookup_elem(&ssl_conns, &key);
		call.id = known ? *known : 0;
	}
	if (call.kind != TLS_CALL_DATA)
		return 0;
	n = ssl_moved(&call, rc);
	if (!n)
		return 0;
	if (!call.id) {
		count_tls_drop(SONDE_TLS_UNPAIRED);
		return 0;
	}
	tls_emit(pid_tgid, call.id, call.dir, call.buf, n, SONDE_SRC_OPENSSL);
	return 0;
}
