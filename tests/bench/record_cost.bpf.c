// SPDX-License-Identifier: GPL-2.0-only
/*
 * What one ring-buffer record costs a BPF program on this kernel, next to the other things
 * sonde's data path does per emitting run: one program on tp_btf/sock_send_length, doing
 * what `mode` says for the sends of one process (record_cost.c switches the mode between
 * rounds through the mmap'd .bss and reads the program's run time for each).
 *
 * Bench-only (tests/bench/run.py --only record builds it with clang -target bpf): no
 * vmlinux.h needed, the program reads nothing from its context.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define REC_BYTES 128

enum {
	M_EMPTY = 0,	 /* the tgid test only: what every mode pays */
	M_CLOCK = 1,	 /* + bpf_ktime_get_ns() (a record's timestamp) */
	M_SLOT = 2,	 /* + a record's worth of stores into a per-CPU array slot */
	M_RESERVE = 3,	 /* + bpf_ringbuf_reserve / submit (no wake-up), the stores */
	M_OUTPUT = 4,	 /* + bpf_ringbuf_output (no wake-up) from the per-CPU slot */
	M_RESERVE_Q = 5, /* M_RESERVE + bpf_ringbuf_query (what a fill check costs) */
	M_PERF = 6,	 /* + bpf_perf_event_output to this CPU's perf buffer from the slot */
	M_USER = 7,	 /* + bpf_probe_read_user of the sent bytes into the per-CPU slot */
	M_SKSTORE = 8,	 /* + bpf_sk_storage_get of the socket's state */
	M_EMIT = 9,	 /* sonde's minimum per record: the state, a clock read, a ring
			  * record with the sent bytes read into it, submitted */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} rb SEC(".maps");

/* Per-CPU perf buffers (record_cost.c opens one per CPU, woken only past a watermark):
 * the other way to hand records to user space, without the ring's shared lock. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pb SEC(".maps");

/* The socket's state, as sonde keeps its per-connection state (conn_store). */
struct sk_state {
	__u64 off[2];
	__u64 id;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sk_state);
} store SEC(".maps");

struct slot {
	__u64 w[REC_BYTES / 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct slot);
} slots SEC(".maps");

/* The whole .bss, one struct so that its layout is record_cost.c's struct bss: mode and
 * target_tgid written by record_cost.c between rounds; failed counts refused reservations
 * (the ring full: that round would not count). */
struct {
	__u32 mode;
	__u32 target_tgid;
	__u64 failed;
	__u64 buf; /* the sender's buffer (user address) */
	__u64 len; /* bytes sent from it per send, <= REC_BYTES */
} ctl;

static __always_inline void fill(__u64 *w)
{
#pragma unroll
	for (int i = 0; i < REC_BYTES / 8; i++)
		w[i] = i;
}

/* The user-copy length, bounded for the verifier. */
static __always_inline __u64 copy_len(void)
{
	__u64 n = *(volatile __u64 *)&ctl.len;

	return n > REC_BYTES ? REC_BYTES : n;
}

SEC("tp_btf/sock_send_length")
int record_cost_send(__u64 *ctx)
{
	struct bpf_sock *sk = (struct bpf_sock *)ctx[0]; /* struct sock *, trusted */
	struct sk_state *st;
	__u32 zero = 0;
	struct slot *s;
	__u64 *r, n;

	if (bpf_get_current_pid_tgid() >> 32 != *(volatile __u32 *)&ctl.target_tgid)
		return 0;
	switch (*(volatile __u32 *)&ctl.mode) {
	case M_CLOCK:
		return bpf_ktime_get_ns() & 1;
	case M_SLOT:
		s = bpf_map_lookup_elem(&slots, &zero);
		if (s)
			fill(s->w);
		return 0;
	case M_RESERVE:
	case M_RESERVE_Q:
		r = bpf_ringbuf_reserve(&rb, REC_BYTES, 0);
		if (!r) {
			__sync_fetch_and_add(&ctl.failed, 1);
			return 0;
		}
		fill(r);
		if (ctl.mode == M_RESERVE_Q &&
		    bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) > (8 << 20))
			r[0] = 1;
		bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
		return 0;
	case M_PERF:
		s = bpf_map_lookup_elem(&slots, &zero);
		if (s) {
			fill(s->w);
			if (bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, s, REC_BYTES))
				__sync_fetch_and_add(&ctl.failed, 1);
		}
		return 0;
	case M_USER:
		s = bpf_map_lookup_elem(&slots, &zero);
		n = copy_len();
		if (s && n && bpf_probe_read_user(s->w, n, (void *)ctl.buf))
			__sync_fetch_and_add(&ctl.failed, 1);
		return 0;
	case M_SKSTORE:
		st = bpf_sk_storage_get(&store, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		return st ? st->id & 1 : 0;
	case M_EMIT:
		st = bpf_sk_storage_get(&store, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (!st)
			return 0;
		r = bpf_ringbuf_reserve(&rb, REC_BYTES + 32, 0);
		if (!r) {
			__sync_fetch_and_add(&ctl.failed, 1);
			return 0;
		}
		r[0] = bpf_ktime_get_ns();
		r[1] = __sync_fetch_and_add(&st->off[0], 64);
		r[2] = st->id;
		n = copy_len();
		r[3] = n;
		if (n && bpf_probe_read_user(&r[4], n, (void *)ctl.buf))
			r[3] = 0;
		bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
		return 0;
	case M_OUTPUT:
		s = bpf_map_lookup_elem(&slots, &zero);
		if (s && bpf_ringbuf_output(&rb, s, REC_BYTES, BPF_RB_NO_WAKEUP))
			__sync_fetch_and_add(&ctl.failed, 1);
		return 0;
	default:
		return 0;
	}
}
