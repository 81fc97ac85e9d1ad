// SPDX-License-Identifier: GPL-2.0-only
/* The slow part of the data path: long or vectored reads and writes, chunked through a
 * per-CPU scratch slot (see capture.bpf.h). */
#include "capture.bpf.h"

/* Copies `want` bytes starting `skip` bytes into the syscall's buffer(s) into dst;
 * returns the bytes copied, fewer when the bytes lie past SONDE_MAX_IOV parts (not
 * captured) or a read of user memory failed (*failed set). */
static __always_inline __u32 copy_payload(__u8 *dst, struct user_io io, __u32 skip, __u32 want,
					  bool *failed)
{
	struct iovec iov;
	__u32 off = 0;
	__u64 o, m;

	if (!io.vectored) {
		m = want;
		asm volatile("%[m] &= %[k]" : [m] "+r"(m) : [k] "i"(SONDE_CAPTURE_MAX * 2 - 1));
		if (bpf_probe_read_user(dst, m, (void *)(io.base + skip))) {
			*failed = true;
			return 0;
		}
		return m;
	}
	for (int i = 0; i < SONDE_MAX_IOV; i++) {
		__u64 n, start = 0;

		if (i >= io.cnt || off >= want || off >= SONDE_CAPTURE_MAX)
			break;
		if (bpf_probe_read_user(&iov, sizeof(iov), (struct iovec *)io.base + i)) {
			*failed = true;
			break;
		}
		if (skip >= iov.iov_len) {
			skip -= iov.iov_len;
			continue;
		}
		start = skip;
		skip = 0;
		n = want - off;
		if (iov.iov_len - start < n)
			n = iov.iov_len - start;
		/* The verifier must see dst + off + n < 2 * MAX; clang drops masks it can
		 * prove redundant, so apply them in asm on 64-bit copies. */
		o = off;
		m = n;
		asm volatile("%[o] &= %[k]" : [o] "+r"(o) : [k] "i"(SONDE_CAPTURE_MAX - 1));
		asm volatile("%[m] &= %[k]" : [m] "+r"(m) : [k] "i"(SONDE_CAPTURE_MAX - 1));
		if (m && bpf_probe_read_user(dst + o, m, iov.iov_base + start)) {
			*failed = true;
			break;
		}
		off = o + m;
	}
	return off;
}

__noinline int sonde_capture_chunks(__u64 pid_tgid, __u64 id, __u64 seq, __u64 base, __u64 meta)
{
	struct user_io io = {
		.nr = (meta >> 40) & 0xffff,
		.vectored = (meta >> 35) & 1,
		.base = base,
		.cnt = (meta >> 36) & 0xf,
	};
	struct sonde_data_event *ev;
	struct sonde_scratch *s;
	struct sonde_stats *st;
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 cap = capture_bytes, done = 0, ret = (__u32)meta;
	__u64 size, ts = bpf_ktime_get_ns();

	if (cap > SONDE_CAPTURE_MAX)
		cap = SONDE_CAPTURE_MAX;
	s = bpf_map_lookup_elem(&scratch, &cpu);
	if (!s)
		return 0;
	ev = (struct sonde_data_event *)s->raw;
	if (!io.base && ret > 0) {
		st = stats_slot();
		if (st)
			st->no_buffer++;
	}
	for (int chunk = 0; chunk < SONDE_MAX_CHUNKS; chunk++) {
		__u32 left = ret - done, want = 0;
		bool last = chunk == SONDE_MAX_CHUNKS - 1 || left <= cap;

		fill_hdr(&ev->hdr, SONDE_EV_DATA, pid_tgid, ts);
		ev->conn_id = id;
		ev->seq = seq + done;
		ev->len = last ? left : cap;
		ev->dir = (meta >> 32) & 1;
		ev->source = (meta >> 33) & 3;
		ev->syscall_nr = io.nr;
		ev->_pad0 = 0;
		if (io.base && left > 0) {
			bool failed = false;

			want = left < cap ? left : cap;
			want = copy_payload(ev->data, io, done, want, &failed);
			/* bytes past SONDE_MAX_IOV parts are not captured (truncated, below),
			 * not lost */
			if (!want && failed)
				count_lost(SONDE_LOST_READ_USER);
		}
		if (last && want < left && io.base) {
			st = stats_slot();
			if (st)
				st->truncated++;
		}
		ev->cap_len = want;
		size = want;
		asm volatile("%[s] &= %[k]" : [s] "+r"(size) : [k] "i"(SONDE_CAPTURE_MAX * 2 - 1));
		if (rec_output(ev, sizeof(*ev) + size, REC_PACED))
			count_lost_bytes(ev->dir, ev->source, ev->len);
		if (last)
			break;
		done += cap;
	}
	return 0;
}
