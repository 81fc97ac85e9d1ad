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

/* (tgid, SSL*) -> connection id: the last socket an SSL object did I/O on. Not an LRU (it
 * would evict a live SSL object's pairing silently): entries go at SSL_free, and user space
 * removes those of a process that exits or leaves the selection; a full map is counted
 * (SONDE_LOST_SSL_FULL). */
struct ssl_key {
	__u32 tgid;
	__u32 _pad;
	__u64 ssl;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
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

/*
 * Reports n plaintext bytes at buf as one read or write of connection id, unless user space
 * ignores it. seq 0: plaintext is a byte stream of its own, not the socket's (whose offsets
 * count ciphertext), and is not numbered; user space checks offsets on socket records only.
 */
static __always_inline void tls_emit(__u64 pid_tgid, __u64 id, __u8 dir, __u64 buf, __u64 n,
				     __u8 source)
{
	struct user_io io = { .nr = 0xffff, .vectored = 0, .base = buf, .cnt = 0 };

	if (!n || conn_ignored(id))
		return;
	/* A read or write moves less than 4 GiB (sonde_data_event.len). */
	if (n > 0xffffffffULL)
		n = 0xffffffffULL;
	dir &= 1;
	if (n < direct_payload_max && n <= capture_bytes)
		capture_small(pid_tgid, id, 0, dir, n, io, source);
	else
		sonde_capture_chunks(pid_tgid, id, 0, buf,
				     n | (__u64)dir << 32 | (__u64)source << 33 |
					     (__u64)0xffff << 40);
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
	known = bpf_map_lookup_elem(&ssl_conns, &key);
	/* Written only when the pairing is new or changed: an update takes the bucket's lock
	 * and a fresh element, and most calls with socket I/O find their pairing in place. */
	if (call.id && (!known || *known != call.id) &&
	    bpf_map_update_elem(&ssl_conns, &key, &call.id, BPF_ANY))
		count_lost(SONDE_LOST_SSL_FULL);
	else if (!call.id)
		call.id = known ? *known : 0;
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

/* ---- Go crypto/tls ------------------------------------------------------------------------ */

struct go_key {
	__u32 tgid;
	__u32 _pad;
	__u64 g; /* the goroutine (R14): goroutines move between threads */
};

struct go_call {
	__u64 conn; /* *tls.Conn */
	__u64 buf;
	__u64 len;
	__u8 dir;
	__u8 reported; /* a Write reported at its entry */
	__u8 _pad[6];
};

/* Not an LRU (it would evict a live call silently): the calls of a process that exits inside
 * Read or Write are removed by user space when it detaches its probes (uprobes.c); a full
 * map is counted (SONDE_TLS_STASH_FULL). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_key);
	__type(value, struct go_call);
} go_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct sonde_go_proc);
} go_procs SEC(".maps");

/*
 * The connection id of the socket a *tls.Conn reads and writes: tls.Conn.conn is a net.Conn
 * interface {itab, data}; only a *net.TCPConn or *net.UnixConn (told by the itab's first
 * method) is followed to its netFD's Sysfd, then to the socket. 0 when unknown; the reason
 * is counted when count is set.
 */
static __always_inline __u64 go_conn_id(const struct sonde_go_proc *gp, __u64 conn, __u64 pid_tgid,
					bool count)
{
	__u64 iface[2] = {}, fun0 = 0, netfd = 0, fd = 0, id, ino = 0;
	enum sonde_tls_drop why;
	struct sock *sk;

	if (bpf_probe_read_user(iface, sizeof(iface), (void *)(conn + gp->conn_off)) ||
	    bpf_probe_read_user(&fun0, sizeof(fun0), (void *)(iface[0] + gp->itab_fun0)) ||
	    (fun0 != gp->tcp_close && fun0 != gp->unix_close)) {
		why = SONDE_TLS_WRAPPED;
		goto unknown;
	}
	if (bpf_probe_read_user(&netfd, sizeof(netfd), (void *)(iface[1] + gp->fd_off)) ||
	    bpf_probe_read_user(&fd, sizeof(fd), (void *)(netfd + gp->sysfd_off)) ||
	    !(sk = fd_to_sock(fd, &ino))) {
		why = SONDE_TLS_NO_SOCKET;
		goto unknown;
	}
	/* uprobes cannot call bpf_get_socket_cookie nor reach socket storage: see
	 * tls_sock_conn (0 on the socket path before the socket's first I/O: a Write that
	 * starts the handshake; its RET finds it). */
	id = tls_sock_conn(sk, ino, pid_tgid);
	if (!id) {
		why = SONDE_TLS_NO_COOKIE;
		goto unknown;
	}
	return id;
unknown:
	if (count)
		count_tls_drop(why);
	return 0;
}

/*
 * Writes are reported at their entry, reads at their return. A Write returns only after
 * its bytes left, and the goroutine reading the same connection may see the answer and
 * return first: reported at the Write's return, a request would come after its response.
 * A Write reports all of b: it returns n < len(b) only with an error, the connection
 * broken. The entry probe can fire twice for one call (a stack growth in the prologue
 * restarts the function): the second finds the call reported and does nothing.
 */
static __always_inline int go_enter(struct pt_regs *ctx, __u8 dir)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct go_key key = { .tgid = pid_tgid >> 32, .g = ctx->r14 };
	struct go_call call = { .conn = ctx->ax, .buf = ctx->bx, .len = ctx->cx, .dir = dir };
	const struct sonde_go_proc *gp;
	struct go_call *prev;
	__u64 id;

	if (!tgid_allowed(key.tgid) || !(gp = bpf_map_lookup_elem(&go_procs, &key.tgid)))
		return 0;
	if (dir == SONDE_DIR_SEND && call.len) {
		prev = bpf_map_lookup_elem(&go_calls, &key);
		if (prev && prev->reported && prev->conn == call.conn && prev->buf == call.buf &&
		    prev->len == call.len)
			return 0;
		id = go_conn_id(gp, call.conn, pid_tgid, false);
		if (id) {
			tls_emit(pid_tgid, id, dir, call.buf, call.len, SONDE_SRC_GO_TLS);
			call.reported = 1;
		}
	}
	if (bpf_map_update_elem(&go_calls, &key, &call, BPF_ANY))
		count_tls_drop(SONDE_TLS_STASH_FULL);
	return 0;
}

/* func (c *Conn) Read(b []byte) (int, error) */
SEC("uprobe")
int sonde_go_read(struct pt_regs *ctx)
{
	return go_enter(ctx, SONDE_DIR_RECV);
}

/* func (c *Conn) Write(b []byte) (int, error) */
SEC("uprobe")
int sonde_go_write(struct pt_regs *ctx)
{
	return go_enter(ctx, SONDE_DIR_SEND);
}

/* Every RET of crypto/tls.(*Conn).Read and Write: RAX is the byte count (Read may return
 * bytes with io.EOF: they count). */
SEC("uprobe")
int sonde_go_ret(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct go_key key = { .tgid = pid_tgid >> 32, .g = ctx->r14 };
	const struct sonde_go_proc *gp;
	struct go_call *p = bpf_map_lookup_elem(&go_calls, &key);
	struct go_call call;
	__s64 n = ctx->ax;
	__u64 id;

	if (!p)
		return 0;
	call = *p;
	bpf_map_delete_elem(&go_calls, &key);
	if (call.reported || n <= 0 || !(gp = bpf_map_lookup_elem(&go_procs, &key.tgid)))
		return 0;
	id = go_conn_id(gp, call.conn, pid_tgid, true);
	if (id)
		tls_emit(pid_tgid, id, call.dir, call.buf, n, SONDE_SRC_GO_TLS);
	return 0;
}
