/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The loops of the unobserved-process measurement, shared by unobserved.c and
 * floor_loader.c: ns of the calling thread's CPU time per syscall (CLOCK_THREAD_CPUTIME_ID:
 * user + kernel time, BPF programs run on its behalf included; the time other processes
 * hold the CPU is left out, though on a shared VM a busy neighbour still inflates it).
 */
#ifndef SONDE_BENCH_UNOBSERVED_H
#define SONDE_BENCH_UNOBSERVED_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline double now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* 1-byte write + 1-byte read on socketpair sv, iters times: CPU ns per syscall (< 0: error). */
static inline double socket_loop(const int sv[2], long iters, double *wall)
{
	double w0 = now_ns(CLOCK_MONOTONIC), t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	char c = 'x';

	for (long i = 0; i < iters; i++) {
		if (write(sv[0], &c, 1) != 1 || read(sv[1], &c, 1) != 1) {
			perror("socketpair I/O");
			return -1;
		}
	}
	if (wall)
		*wall = (now_ns(CLOCK_MONOTONIC) - w0) / (2.0 * iters);
	return (now_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / (2.0 * iters);
}

/* getppid() iters times, the raw syscall (never a cached value): CPU ns per call. */
static inline double getppid_loop(long iters, double *wall)
{
	double w0 = now_ns(CLOCK_MONOTONIC), t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);

	for (long i = 0; i < iters; i++)
		syscall(SYS_getppid);
	if (wall)
		*wall = (now_ns(CLOCK_MONOTONIC) - w0) / iters;
	return (now_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / iters;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts v. */
static inline double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline double minimum(const double *v, int n)
{
	double m = v[0];

	for (int i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

#endif
