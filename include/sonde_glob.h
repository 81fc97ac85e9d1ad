/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The glob matcher the kernel runs at cgroup mkdir (bpf/process.bpf.c) for cgroup= rules,
 * shared with user space so that it is unit-tested against fnmatch(3) (flags 0: '*'
 * also matches '/', a backslash quotes the next character). Bracket expressions are not
 * supported: user space keeps such globs out of the kernel (sonde_glob_kernel_ok).
 *
 * One call of sonde_glob_step is one step of the classic matcher with a single
 * backtracking point (the last star), so the BPF side can drive it from bpf_loop: a
 * verifier-friendly bounded loop needs no recursion and no stack of stars. Steps are
 * at most (glob length + 1) * (string length + 1) + glob length. Indexes are masked
 * with the power-of-two buffer sizes so the verifier sees every read in bounds.
 */
#ifndef SONDE_GLOB_H
#define SONDE_GLOB_H

#include "sonde_abi.h"

#define SONDE_GLOB_STEPS \
	((SONDE_CGROUP_GLOB_LEN + 1) * (SONDE_CGROUP_PATH_LEN + 1) + SONDE_CGROUP_GLOB_LEN)

struct sonde_glob_state {
	__u32 g;      /* next glob byte */
	__u32 s;      /* next string byte */
	__u32 star;   /* glob index of the last star + 1, 0 if none seen */
	__u32 mark;   /* string index that star is matched up to */
	__s32 result; /* -1 while undecided, then 1 (match) or 0 */
	__u32 _pad;
};

#define SONDE_GLOB_AT(buf, len, i) ((buf)[(i) & ((len)-1)])

/* Backtracks to the last star, which then covers one more byte; 1 if there is none. */
static inline __attribute__((always_inline)) int sonde_glob_retry(struct sonde_glob_state *st)
{
	if (!st->star) {
		st->result = 0;
		return 1;
	}
	st->g = st->star;
	st->s = ++st->mark;
	return 0;
}

/* One step; 0 to go on, 1 once st->result is decided. glob and str are NUL-terminated
 * within SONDE_CGROUP_GLOB_LEN and SONDE_CGROUP_PATH_LEN bytes. */
static inline __attribute__((always_inline)) int sonde_glob_step(struct sonde_glob_state *st,
								 const char *glob, const char *str)
{
	char gc = SONDE_GLOB_AT(glob, SONDE_CGROUP_GLOB_LEN, st->g);
	char sc = SONDE_GLOB_AT(str, SONDE_CGROUP_PATH_LEN, st->s);
	char lit;

	if (st->g >= SONDE_CGROUP_GLOB_LEN || st->s >= SONDE_CGROUP_PATH_LEN) {
		st->result = 0; /* cannot happen for terminated inputs */
		return 1;
	}
	if (gc == '*') {
		st->g++;
		st->star = st->g;
		st->mark = st->s;
		return 0;
	}
	if (!sc) {
		/* the string is used up: only a used-up glob matches (trailing stars went above) */
		st->result = gc == 0;
		return 1;
	}
	if (gc == '?') {
		st->g++;
		st->s++;
		return 0;
	}
	lit = gc;
	if (gc == '\\') {
		lit = SONDE_GLOB_AT(glob, SONDE_CGROUP_GLOB_LEN, st->g + 1);
		if (!lit) {
			st->result = 0; /* a trailing backslash matches nothing, as in glibc */
			return 1;
		}
		st->g++;
	}
	if (gc && lit == sc) {
		st->g++;
		st->s++;
		return 0;
	}
	return sonde_glob_retry(st);
}

#endif /* SONDE_GLOB_H */
