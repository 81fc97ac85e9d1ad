/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel/user ABI of sonde: every struct that crosses the ring buffer or a map.
 * Fixed-width types and explicit padding only, so that the BPF object (clang -target bpf)
 * and the loader (gcc, x86-64) agree byte for byte; each size is asserted below.
 * Bump SONDE_ABI_VERSION on any change; the loader refuses a BPF object of another version.
 */
#ifndef SONDE_ABI_H
#define SONDE_ABI_H

#ifdef __VMLINUX_H__
/* BPF side: the __u* types come from vmlinux.h. */
#else
#include <linux/types.h>
#endif

#define SONDE_ABI_VERSION 12

/* Largest payload prefix one data event carries. A power of two: the BPF side masks
 * lengths with (SONDE_CAPTURE_MAX - 1) to prove the bound to the verifier. */
#define SONDE_CAPTURE_MAX 16384
/* Default prefix copied per socket read/write (settable at load, <= SONDE_CAPTURE_MAX). */
#define SONDE_CAPTURE_DEFAULT 4096
/* A read/write longer than the capture size becomes up to this many data events. */
#define SONDE_MAX_CHUNKS 4
/* Largest size class of the data records a read or write is copied into straight from user
 * memory (a power of two, at least 512); longer ones go through a per-CPU scratch slot. */
#define SONDE_DIRECT_MAX 4096
#define SONDE_COMM_LEN 16
/* Largest tgid the allow bitmap can hold (pid_max on 64-bit is at most 4194304). */
#define SONDE_TGID_MAX 4194304
/* Slots of the "conn_hints" array (a power of two): see struct sonde_conn_event. */
#define SONDE_HINT_SLOTS 65536
/* cgroup= rules the kernel matches at cgroup mkdir (map "cgroup_globs"), the longest glob
 * (with its NUL) and the longest cgroup path it matches there; both lengths powers of two,
 * so the BPF side can mask indexes. Longer paths are counted (SONDE_LOST_CGROUP). */
#define SONDE_CGROUP_GLOBS 8
#define SONDE_CGROUP_GLOB_LEN 256
#define SONDE_CGROUP_PATH_LEN 512

enum sonde_event_type {
	SONDE_EV_DATA = 1,	  /* socket read or write of a selected process */
	SONDE_EV_CONN_OPEN = 2,	  /* first sight of a connection: its addresses */
	SONDE_EV_CONN_CLOSE = 3,  /* TCP socket reached TCP_CLOSE */
	SONDE_EV_PROC_FORK = 4,	  /* a selected process forked: the child is selected too */
	SONDE_EV_PROC_EXEC = 5,	  /* any process exec'ed: user space re-evaluates the rules */
	SONDE_EV_PROC_EXIT = 6,	  /* the last thread of a selected process exited */
	SONDE_EV_LISTEN = 7,	  /* any process put a TCP socket into LISTEN (port= rules) */
	SONDE_EV_TCP_RETIRED = 8, /* unused: TCP health is aggregated in maps (see below) */
	/* a process was moved into a cgroup a cgroup= rule selects: the kernel selected it
	 * (flag SONDE_PROC_CGROUP); or a selected one was moved to where none of its cgroups
	 * is selected (no flag): user space judges it again */
	SONDE_EV_PROC_CGROUP = 9,
	SONDE_EV_LAST = SONDE_EV_PROC_CGROUP,
};

enum sonde_direction {
	SONDE_DIR_RECV = 0, /* bytes the process read from the socket */
	SONDE_DIR_SEND = 1, /* bytes the process wrote to the socket */
};

/* Where the bytes were seen. */
enum sonde_source {
	SONDE_SRC_SOCKET_TP = 0,  /* tp_btf sock_send_length / sock_recv_length */
	SONDE_SRC_SYSCALL_TP = 1, /* syscalls/sys_{enter,exit}_* fallback */
	SONDE_SRC_OPENSSL = 2,	  /* uprobes on SSL_read / SSL_write (plaintext) */
	SONDE_SRC_GO_TLS = 3,	  /* uprobes on crypto/tls.(*Conn).Read / Write (plaintext) */
};

/* Why an event could not be delivered; index into the lost-counter map. */
enum sonde_lost_reason {
	SONDE_LOST_RINGBUF_FULL = 0,  /* bpf_ringbuf_output failed */
	SONDE_LOST_READ_USER = 1,     /* payload could not be read from user memory */
	SONDE_LOST_ALLOW_FULL = 2,    /* forked child could not be added to the allow map */
	SONDE_LOST_CONN_FULL = 3,     /* connection map update failed */
	SONDE_LOST_STASH_RETIRED = 4, /* unused: the syscall path stashes nothing now */
	SONDE_LOST_TCP_FULL = 5,      /* TCP health: an owner or aggregate map update failed */
	SONDE_LOST_GAP = 6,	      /* user space: a data record's offset skipped bytes */
	SONDE_LOST_RECURSION = 7,     /* user space: runs the kernel skipped (recursion_misses) */
	/* a cgroup= rule could not be decided in the kernel (a cgroup path too long to match,
	 * more hierarchies than the walk covers, the cgroup id map full): the /proc scan
	 * may still select the process, later */
	SONDE_LOST_CGROUP = 8,
	/* OpenSSL: the SSL* -> connection map is full: a later call of that SSL* that does
	 * no socket I/O (served from OpenSSL's buffer) goes unpaired */
	SONDE_LOST_SSL_FULL = 9,
	/* Go TLS, socket path: the socket -> connection map is full: the Go probes of that
	 * connection find no id (no_cookie) */
	SONDE_LOST_TLS_SOCK_FULL = 10,
	SONDE_LOST_NR = 11,
};

/* Why the plaintext of a TLS call was not reported; index into sonde_stats.tls_dropped.
 * None is a lost event: sonde cannot tell which connection the bytes belong to, and says
 * so rather than guess. */
enum sonde_tls_drop {
	SONDE_TLS_UNPAIRED = 0,	  /* OpenSSL: the SSL* never did socket I/O (memory BIOs) */
	SONDE_TLS_WRAPPED = 1,	  /* Go: the tls.Conn wraps a net.Conn other than TCP/Unix */
	SONDE_TLS_NO_SOCKET = 2,  /* Go: its fd is not an open socket */
	SONDE_TLS_NO_COOKIE = 3,  /* Go: the socket has no connection id yet (no I/O) */
	SONDE_TLS_STASH_FULL = 4, /* the per-call stash could not take the call */
	SONDE_TLS_DROP_NR = 5,
};

/* Common header of every ring-buffer record. */
struct sonde_event_hdr {
	__u16 type; /* enum sonde_event_type */
	__u16 abi;  /* SONDE_ABI_VERSION of the producer */
	__u32 tgid; /* process (thread group) id */
	__u32 pid;  /* thread id */
	__u32 _pad0;
	__u64 ts_ns; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) when the event was made */
};
_Static_assert(sizeof(struct sonde_event_hdr) == 24, "sonde_event_hdr ABI");

/* SONDE_EV_DATA: one socket read or write; followed by cap_len payload bytes (the record
 * may be longer: records come in size classes). */
struct sonde_data_event {
	struct sonde_event_hdr hdr;
	/* The connection: a number the kernel side gives it on first sight, unique while this
	 * sonde runs (never reused, unlike socket addresses or cookies of a restarted sonde). */
	__u64 conn_id;
	/* Socket I/O: offset of this record's first byte in its direction's byte stream (the
	 * bytes the process read, or wrote, on this connection before it, counted from the
	 * first I/O sonde saw). A record whose seq is past the end of the previous one of its
	 * direction follows bytes that were never delivered. TLS plaintext (SONDE_SRC_OPENSSL,
	 * SONDE_SRC_GO_TLS): 0, not numbered (its byte stream is not the socket's). */
	__u64 seq;
	__u32 len;	  /* bytes the syscall moved (its return value, > 0; 0 = EOF on read) */
	__u32 cap_len;	  /* payload bytes that follow (<= len, <= capture limit) */
	__u8 dir;	  /* enum sonde_direction */
	__u8 source;	  /* enum sonde_source */
	__u16 syscall_nr; /* syscall that carried the data (x86-64 numbers); 0xffff unknown */
	__u32 _pad0;
	__u8 data[]; /* cap_len bytes: the first bytes of the buffer the syscall moved */
};
_Static_assert(sizeof(struct sonde_data_event) == 56, "sonde_data_event ABI");

/* Address of one end of a connection. IPv4 is stored v4-mapped (::ffff:a.b.c.d). */
struct sonde_addr {
	__u8 addr[16]; /* IPv6 or v4-mapped IPv4, network byte order; zero for AF_UNIX */
	__u16 port;    /* host byte order; 0 for AF_UNIX */
	__u16 _pad0;
	__u32 _pad1;
};
_Static_assert(sizeof(struct sonde_addr) == 24, "sonde_addr ABI");

/*
 * SONDE_EV_CONN_OPEN / SONDE_EV_CONN_CLOSE.
 * User space tells the kernel to stop reporting a connection's reads and writes (no parser
 * wants it) by writing its conn_id into slot conn_id % SONDE_HINT_SLOTS of the mmap-able
 * "conn_hints" array. A slot is shared by every SONDE_HINT_SLOTS-th connection; the kernel
 * obeys a hint only while the slot holds its connection's own id, so a hint never reaches
 * another connection (a later one reusing the slot just stops the older one's hint).
 */
struct sonde_conn_event {
	struct sonde_event_hdr hdr;
	__u64 conn_id;		 /* see struct sonde_data_event */
	struct sonde_addr local; /* this process's end */
	struct sonde_addr peer;	 /* the other end */
	__u16 family;		 /* AF_INET, AF_INET6 or AF_UNIX */
	__u16 sk_type;		 /* SOCK_STREAM ... */
	__u32 _pad0;
	char unix_path[64]; /* AF_UNIX: bound path of the listening end, NUL-padded */
	/* CONN_OPEN, syscall path: the socket's inode (0 on the socket path). For diagnosis:
	 * conn_id is never reused, so nothing needs it to tell sockets apart. */
	__u64 ino;
	/* CONN_CLOSE: bytes the kernel numbered, by enum sonde_direction: the seq the next
	 * data record would have carried. Those of an ignored connection (conn_hints) are
	 * numbered too, so user space accounts for every byte up to here at close. */
	__u64 off[2];
};
_Static_assert(sizeof(struct sonde_conn_event) == 176, "sonde_conn_event ABI");

/* SONDE_EV_PROC_FORK / EXEC / EXIT / CGROUP. */
struct sonde_proc_event {
	struct sonde_event_hdr hdr; /* hdr.tgid: the child (fork), the process (others) */
	__u32 ppid;		    /* parent tgid (fork, cgroup) */
	__u32 flags;		    /* SONDE_PROC_* */
	char comm[SONDE_COMM_LEN];  /* task comm after the event */
};
/* struct sonde_proc_event.flags: the kernel selected the process because one of its
 * cgroups matches a cgroup= rule; user space keeps it even if /proc is gone already. */
#define SONDE_PROC_CGROUP 1
_Static_assert(sizeof(struct sonde_proc_event) == 48, "sonde_proc_event ABI");

/* SONDE_EV_LISTEN. */
struct sonde_listen_event {
	struct sonde_event_hdr hdr;
	__u16 port; /* local port, host byte order */
	__u16 family;
	__u32 _pad0;
};
_Static_assert(sizeof(struct sonde_listen_event) == 32, "sonde_listen_event ABI");

/*
 * TCP health (bpf/tcp.bpf.h) is not sent as records: the kernel adds each connection's
 * outcome and totals into two per-CPU hash maps, and sonde reads them once a
 * second (user/metrics/tcp_health.c), so a connection costs a map update, not a record.
 * Both are keyed by the owner's tgid (the process that connected, or owns the listener).
 */
enum sonde_tcp_kind {
	SONDE_TCP_CONNECTED = 1, /* outbound handshake completed (SYN_SENT -> ESTABLISHED) */
	SONDE_TCP_FAILED = 2,	 /* outbound attempt ended before ESTABLISHED; see sk_err */
	SONDE_TCP_ACCEPTED = 3,	 /* inbound handshake completed on a selected listener */
};

/* Key of the "tcp_attempts" map; its value is a __u64 count per CPU. */
struct sonde_tcp_attempt_key {
	__u32 tgid;
	__s32 sk_err; /* FAILED: the socket's error: ECONNREFUSED, ETIMEDOUT, 0 (canceled) */
	__u8 kind;    /* enum sonde_tcp_kind */
	__u8 _pad;
	__u16 port;    /* CONNECTED, FAILED: the server's port; ACCEPTED: the listener's */
	__u8 addr[16]; /* CONNECTED, FAILED: the server's address (IPv4 v4-mapped); else 0 */
};
_Static_assert(sizeof(struct sonde_tcp_attempt_key) == 28, "sonde_tcp_attempt_key ABI");

/* Key of the "tcp_totals" map: the closed connections of one owner, by direction. */
struct sonde_tcp_totals_key {
	__u32 tgid;
	__u32 outbound; /* 1: it connected; 0: it accepted */
};
_Static_assert(sizeof(struct sonde_tcp_totals_key) == 8, "sonde_tcp_totals_key ABI");

/* Histogram bounds of the connection duration (ns) and the smoothed RTT at close (us),
 * inclusive upper bounds as Prometheus' "le"; the kernel counts into bucket i the first
 * bound that holds the value, into the last one what none holds (+Inf). */
#define SONDE_TCP_DURATION_BOUNDS_NS                                                       \
	5000000ULL, 10000000ULL, 25000000ULL, 50000000ULL, 100000000ULL, 250000000ULL,     \
		500000000ULL, 1000000000ULL, 2500000000ULL, 5000000000ULL, 10000000000ULL, \
		30000000000ULL, 60000000000ULL, 300000000000ULL, 600000000000ULL,          \
		1800000000000ULL, 3600000000000ULL
#define SONDE_TCP_DURATION_NB 17
#define SONDE_TCP_RTT_BOUNDS_US                                                             \
	100ULL, 500ULL, 1000ULL, 2500ULL, 5000ULL, 10000ULL, 25000ULL, 50000ULL, 100000ULL, \
		250000ULL, 500000ULL, 1000000ULL
#define SONDE_TCP_RTT_NB 12

/* Value of "tcp_totals", per CPU: running sums, never reset while the entry lives. */
struct sonde_tcp_totals {
	__u64 closed;	       /* established connections closed (the duration's count) */
	__u64 duration_sum_ns; /* from ESTABLISHED to CLOSE */
	__u64 duration[SONDE_TCP_DURATION_NB + 1];
	__u64 rtt_sum_us; /* smoothed RTT at close of those that had a sample */
	__u64 rtt[SONDE_TCP_RTT_NB + 1];
	__u64 bytes_sent;      /* tcp_sock.bytes_sent (payload, retransmits included) */
	__u64 bytes_received;  /* tcp_sock.bytes_received (+1 for a FIN) */
	__u64 retrans_segs;    /* tcp_sock.total_retrans (segments) */
	__u64 resets_sent;     /* RSTs sent on established connections (tcp_send_reset) */
	__u64 resets_received; /* RSTs received on them (tcp_receive_reset) */
};
_Static_assert(sizeof(struct sonde_tcp_totals) ==
		       8 * (8 + (SONDE_TCP_DURATION_NB + 1) + (SONDE_TCP_RTT_NB + 1)),
	       "sonde_tcp_totals ABI");

/* Value of the "go_procs" map (tgid -> this): what the Go TLS probes of one process need to
 * find the socket under a crypto/tls.Conn, written by user space when it attaches them. */
struct sonde_go_proc {
	/* Runtime addresses of net.(*TCPConn).Close and net.(*UnixConn).Close: the first method
	 * of the itab of each as a net.Conn. A tls.Conn over anything else is not followed. */
	__u64 tcp_close;
	__u64 unix_close;
	__u16 conn_off;	 /* tls.Conn -> conn (net.Conn interface: itab, data) */
	__u16 fd_off;	 /* net.TCPConn / net.UnixConn -> fd (*netFD) */
	__u16 sysfd_off; /* netFD -> pfd.Sysfd (int) */
	__u16 itab_fun0; /* itab -> fun[0] */
	__u32 _pad;
};
_Static_assert(sizeof(struct sonde_go_proc) == 32, "sonde_go_proc ABI");

/* Value of the per-CPU "sonde_stats" array, index 0. */
struct sonde_stats {
	__u64 lost[SONDE_LOST_NR]; /* events not delivered, by enum sonde_lost_reason */
	__u64 truncated;	   /* data events whose payload was cut to the capture limit */
	__u64 no_buffer; /* socket I/O without a user buffer (sendfile, splice, io_uring) */
	/* TLS plaintext that was not reported, by enum sonde_tls_drop */
	__u64 tls_dropped[SONDE_TLS_DROP_NR];
	/* Socket bytes (numbered: not TLS plaintext) of the data records the ring buffer could
	 * not take, by enum sonde_dir: what user space finds missing from the offsets, counted
	 * where it is lost. */
	__u64 lost_bytes[2];
};
_Static_assert(sizeof(struct sonde_stats) == 120 + 8 * SONDE_TLS_DROP_NR, "sonde_stats ABI");

#endif /* SONDE_ABI_H */
