/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Maps, load-time settings and helpers shared by the BPF programs of sonde.
 * The programs live in several .bpf.c files linked into one object by bpftool; every map
 * and setting is defined here __weak, identically in each file, and the linker keeps one.
 */
#ifndef SONDE_BPF_H
#define SONDE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "sonde_abi.h"
#include "sonde_glob.h"

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define MSG_PEEK 0x2
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define TCP_CLOSE_STATE 7
#define TCP_LISTEN_STATE 10
#define SONDE_MAX_IOV 8

/* ---- settings, written by the loader between open and load ---------------------------- */
const volatile __u32 sonde_abi_version __weak = SONDE_ABI_VERSION;
/* payload prefix copied per read/write, <= SONDE_CAPTURE_MAX */
const volatile __u32 capture_bytes __weak = SONDE_CAPTURE_DEFAULT;
/* reads and writes shorter than this go straight into a ring record of their size class
 * (capture.bpf.h: 512 to SONDE_DIRECT_MAX); the loader lowers it for a ring too small to
 * hold many records of the largest classes */
const volatile __u32 direct_payload_max __weak = SONDE_DIRECT_MAX;
/* emit SONDE_EV_LISTEN for every listen() (port= rules need them) */
const volatile bool listen_events __weak = false;
/* where connection state lives: socket storage (socket path) or the conns hash (the
 * syscall-tracepoint path, whose program type cannot use socket storage) */
const volatile bool sock_storage __weak = true;
/* cgroup selection is possible: the cgroup attach/mkdir/rmdir programs are loaded
 * (process.bpf.c). Set for cgroup= rules at start, and with a config file (a SIGHUP may
 * add the first rule). */
const volatile bool cgroup_rules __weak = false;
/* Writable, set by user space at start and on each SIGHUP that changes the cgroup= rules
 * (loader_set_cgroup_rules): whether any rule is in force now (fork and exec look up the
 * task's cgroups only then), and the generation of the cgroup_globs in force, which the
 * mkdir program writes into the cgroup_ids entries it adds. */
volatile bool cgroup_any __weak;
/* Writable (loader_set_exec_events): emit SONDE_EV_PROC_EXEC for every exec, not only for
 * selected processes (exe=, port=, cgroup= rules, or none, need them; comm= rules are
 * matched here, at exec, unless one could not be added to comm_rules). */
volatile bool exec_events __weak;
volatile __u32 cgroup_gen __weak;
/* wake the consumer at once when this much is waiting (a quarter of the ring) */
const volatile __u64 ringbuf_wake_bytes __weak = (8 << 20) / 4;
/* bytes of records a CPU writes between two looks at the ring's fill level (set by the
 * loader: see rec_wake_flags) */
const volatile __u64 ringbuf_check_bytes __weak = 64 << 10;
/* a paced record wakes the consumer when the last wake-up is this old (rec_wake_flags) */
const volatile __u64 ringbuf_wake_ns __weak = 250 * 1000 * 1000;
/* ts_ns of the record that last woke the consumer, any CPU's (written at most about once
 * per ringbuf_wake_ns; two CPUs racing to write it cost one spare wake-up, nothing more) */
__u64 rec_woken_ns __weak;

/* ---- maps -------------------------------------------------------------------------------- */
/* A set of processes: one bit per tgid (tgid_bit()). An mmap-able array, so that user space
 * sets and clears bits with atomic operations while the kernel adds fork children, and
 * the verifier inlines its lookups (a bit test costs no helper call). */
#define TGID_BITMAP(name)                                 \
	struct {                                          \
		__uint(type, BPF_MAP_TYPE_ARRAY);         \
		__uint(map_flags, BPF_F_MMAPABLE);        \
		__uint(max_entries, SONDE_TGID_MAX / 64); \
		__type(key, __u32);                       \
		__type(value, __u64);                     \
	} name SEC(".maps") __weak

/* Selected processes. */
TGID_BITMAP(allow_tgids);

/*
 * Per-connection state, made on first sight (which emits SONDE_EV_CONN_OPEN), forgotten at
 * TCP close (which emits SONDE_EV_CONN_CLOSE) unless it is a TLS connection's (closed).
 * id 0: a socket of no kind sonde parses (socket path only: remembered so its I/O costs a
 * lookup).
 */
struct conn_state {
	__u64 id;     /* conn_id of its records (struct sonde_data_event) */
	__u64 ino;    /* syscall path: the socket's inode (see conns) */
	__u64 off[2]; /* bytes moved so far, by enum sonde_direction: the next record's seq */
	/* Set when its I/O was seen inside a probed TLS call, or a Go probe marked it
	 * (tls.bpf.h): its socket bytes are ciphertext and are no longer reported; the TLS
	 * probes report its plaintext. */
	__u8 tls;
	/* Socket path, Go-TLS-probed process: the id is in tls_socks (tls.bpf.h). */
	__u8 go_copied;
	/* A TLS connection whose TCP close was reported: the state stays (conn_forget in
	 * process.bpf.c) so that ciphertext written after the close (Go's close_notify alert)
	 * is dropped instead of starting a new connection. */
	__u8 closed;
	__u8 _pad[5];
};

/* Socket path: the state lives in the socket (freed with it: nothing to evict). */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct conn_state);
} conn_store SEC(".maps") __weak;

/*
 * Syscall path (its program type cannot use socket storage): keyed by struct sock address.
 * A plain hash, not an LRU: an LRU would evict a live connection's state under pressure,
 * and its next I/O would start a new connection mid-stream in user space. Entries go at
 * TCP close (a TLS connection's, kept closed past it, when the socket is destroyed), or
 * when a new socket (another inode) turns up at the same address (Unix sockets have no
 * close event); a full map is counted (SONDE_LOST_CONN_FULL) for every read or write it
 * keeps from being reported, and no live connection is ever reset.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* 1 on the socket path (the loader) */
	__type(key, __u64);
	__type(value, struct conn_state);
} conns SEC(".maps") __weak;

/* User space's "ignore this connection" hints: see struct sonde_conn_event in the ABI. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, SONDE_HINT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} conn_hints SEC(".maps") __weak;

/* The last conn_id given out (ids start at 1). */
__u64 conn_last_id __weak = 0;

/* comm= selection rules (comm, NUL-padded to 16 bytes -> 1): a process that execs into
 * a matching comm is selected here, before its first socket I/O, instead of when user
 * space gets to the exec event (a short-lived client would be done by then). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[SONDE_COMM_LEN]);
	__type(value, __u8);
} comm_rules SEC(".maps") __weak;

/* cgroup= selection (process.bpf.c): the ids (kernfs node id = inode number of the cgroupfs
 * directory, in any hierarchy, v2 or v1) of the cgroups whose path matches a rule -> the
 * cgroup_gen it was matched under. User space fills it from the cgroups that exist at
 * start and at a reload (then drops the entries of older generations); the kernel adds
 * those made later (cgroup_globs) and forgets removed ones, so pod churn does not fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u32);
} cgroup_ids SEC(".maps") __weak;

/* The cgroup= globs the kernel matches at mkdir, NUL-padded; an empty slot is unused. */
struct sonde_cgroup_glob {
	char glob[SONDE_CGROUP_GLOB_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SONDE_CGROUP_GLOBS);
	__type(key, __u32);
	__type(value, struct sonde_cgroup_glob);
} cgroup_globs SEC(".maps") __weak;

/* Per CPU: the path of the cgroup being made (too big for the BPF stack) and the state of
 * the glob match running over it. The state lives here, not on the stack, because the
 * verifier follows a stack value through every bpf_loop iteration (a new state each step:
 * it never converges), while map memory is just "some scalar". */
struct sonde_cgroup_path {
	char path[SONDE_CGROUP_PATH_LEN];
	struct sonde_glob_state st;
	__u32 slot; /* the cgroup_globs entry being matched */
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_cgroup_path);
} cgroup_path_buf SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by the loader */
} events SEC(".maps") __weak;

/* Per CPU: bytes of paced records written since this CPU last looked at the fill level. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} rec_pace SEC(".maps") __weak;

/* Per-CPU counters (struct sonde_stats). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_stats);
} stats SEC(".maps") __weak;

/* Scratch for one data event: header + twice the capture limit, so that a copy at any
 * offset below SONDE_CAPTURE_MAX of any length below it stays in bounds for the verifier.
 * Too big for a per-CPU array (32 KiB limit): a plain array, one slot per CPU (the
 * loader sets max_entries to the number of possible CPUs). Socket I/O runs in process
 * context, so nothing on the same CPU can interleave with a program using its slot. */
struct sonde_scratch {
	__u8 raw[sizeof(struct sonde_data_event) + 2 * SONDE_CAPTURE_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_scratch);
} scratch SEC(".maps") __weak;

/* ---- helpers -------------------------------------------------------------------------------- */
static __always_inline struct sonde_stats *stats_slot(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

static __always_inline void count_lost(enum sonde_lost_reason why)
{
	struct sonde_stats *s = stats_slot();

	if (s && why < SONDE_LOST_NR)
		s->lost[why]++;
}

/*
 * The ring buffer. Every record goes through rec_reserve/rec_submit or rec_output, so the
 * ring's layout is decided here alone. A record that cannot be written is counted.
 *
 * Waking the consumer for every record costs a context switch per socket I/O under load;
 * instead a paced record wakes it only when the last wake-up is ringbuf_wake_ns (250 ms)
 * old, by the record's own clock read: under load the consumer wakes four times a second
 * (more often only when records come faster than a quarter of the ring per 250 ms), and a
 * record after a quiet spell wakes it at once, so that the consumer, which takes what
 * arrived since with a short timed poll after any activity, can sleep through idle time
 * instead of polling. Each drain starts on caches the services have since filled: drains
 * every 250 ms cost 13-17 % less of sonde's CPU per round trip than every 100 ms
 * (tests/bench/README.md). The buffer a quarter full (ringbuf_wake_bytes) also wakes
 * it, so it can never fill up unnoticed. Urgent records (process events: user space
 * must act on them quickly) wake it at once. Every record starts with a struct
 * sonde_event_hdr.
 *
 * The fill level is not read for every record (bpf_ringbuf_query reads the consumer's
 * position, a cache line user space writes from another CPU): each CPU reads it once per
 * ringbuf_check_bytes of records it wrote. The loader sets that to at most
 * (ring size - ringbuf_wake_bytes) / (2 * CPUs), so that once the wake-up mark is passed,
 * all CPUs together write at most half of what is left before one of them looks and wakes
 * the consumer: the ring still cannot fill up unnoticed.
 */
enum rec_wake {
	REC_PACED = 0,
	REC_URGENT = 1,
};

static __always_inline __u64 rec_wake_flags(enum rec_wake wake, const void *rec, __u64 size)
{
	__u64 ts = ((const struct sonde_event_hdr *)rec)->ts_ns;
	__u32 zero = 0;
	__u64 *since;

	/* Signed: another CPU's ts may be a little older than the last wake-up's. */
	if (wake == REC_URGENT || (__s64)(ts - rec_woken_ns) >= (__s64)ringbuf_wake_ns) {
		rec_woken_ns = ts;
		return BPF_RB_FORCE_WAKEUP;
	}
	since = bpf_map_lookup_elem(&rec_pace, &zero);
	if (since) {
		*since += size;
		if (*since < ringbuf_check_bytes)
			return BPF_RB_NO_WAKEUP;
		*since = 0;
	}
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= ringbuf_wake_bytes
		       ? BPF_RB_FORCE_WAKEUP
		       : BPF_RB_NO_WAKEUP;
}

/* size must be a constant (the verifier wants one). NULL when the ring is full. */
static __always_inline void *rec_reserve(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&events, size, 0);

	if (!rec)
		count_lost(SONDE_LOST_RINGBUF_FULL);
	return rec;
}

/* size: what rec_reserve was given. */
static __always_inline void rec_submit(void *rec, __u64 size, enum rec_wake wake)
{
	bpf_ringbuf_submit(rec, rec_wake_flags(wake, rec, size));
}

/* Copies size bytes at data into a new record. 0, or -1 when the ring is full. */
static __always_inline int rec_output(void *data, __u64 size, enum rec_wake wake)
{
	if (bpf_ringbuf_output(&events, data, size, rec_wake_flags(wake, data, size))) {
		count_lost(SONDE_LOST_RINGBUF_FULL);
		return -1;
	}
	return 0;
}

/* Whether tgid is in bitmap (a TGID_BITMAP map). */
static __always_inline bool tgid_bit(void *bitmap, __u32 tgid)
{
	__u32 word = tgid / 64;
	__u64 *bits = bpf_map_lookup_elem(bitmap, &word);

	return bits && (*bits & (1ULL << (tgid % 64)));
}

static __always_inline bool tgid_allowed(__u32 tgid)
{
	return tgid_bit(&allow_tgids, tgid);
}

static __always_inline int tgid_allow(__u32 tgid, bool on)
{
	__u32 word = tgid / 64;
	__u64 *bits = bpf_map_lookup_elem(&allow_tgids, &word);

	if (!bits)
		return -1;
	if (on)
		__sync_fetch_and_or(bits, 1ULL << (tgid % 64));
	else
		__sync_fetch_and_and(bits, ~(1ULL << (tgid % 64)));
	return 0;
}

/* pid_tgid: bpf_get_current_pid_tgid(), ts: bpf_ktime_get_ns(), each read once per run. */
static __always_inline void fill_hdr(struct sonde_event_hdr *h, __u16 type, __u64 pid_tgid,
				     __u64 ts)
{
	h->type = type;
	h->abi = SONDE_ABI_VERSION;
	h->tgid = pid_tgid >> 32;
	h->pid = (__u32)pid_tgid;
	h->_pad0 = 0;
	h->ts_ns = ts;
}

/* Only stream sockets of the families sonde parses are worth an event. */
static __always_inline bool sock_wanted(struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 type = BPF_CORE_READ(sk, sk_type);

	if (type != SOCK_STREAM)
		return false;
	return family == AF_INET || family == AF_INET6 || family == AF_UNIX;
}

#endif /* SONDE_BPF_H */
