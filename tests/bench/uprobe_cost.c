// SPDX-License-Identifier: GPL-2.0-only
/*
 * The cost of one uprobe hit here: a function of this program called N times, timed with
 * no probe and with an empty BPF program (r0 = 0; exit) on a uprobe at its entry,
 * alternating REPS times. Prints JSON: ns per call without and with, per repetition.
 * The difference is the trap, the uprobe dispatch and the empty program: the price a TLS
 * probe pays before doing anything.
 *
 *   usage: uprobe_cost N REPS
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile long sink;

__attribute__((noinline)) void uprobe_cost_target(long i)
{
	sink += i;
	__asm__ volatile("" ::: "memory");
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double per_call(long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		uprobe_cost_target(i);
	return (now_ns() - t0) / n;
}

/* File offset of fn in this executable, from /proc/self/maps. */
static long file_offset(uintptr_t fn)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi, off;
	char perm[8], line[512];
	long res = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s %lx", &lo, &hi, perm, &off) == 4 && fn >= lo &&
		    fn < hi && perm[2] == 'x') {
			res = (long)(fn - lo + off);
			break;
		}
	fclose(f);
	return res;
}

static int prog_load(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_KPROBE;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = 2;
	a.license = (uintptr_t) "GPL";
	return (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
}

static int uprobe_type(void)
{
	FILE *f = fopen("/sys/bus/event_source/devices/uprobe/type", "r");
	int t = -1;

	if (f && fscanf(f, "%d", &t) != 1)
		t = -1;
	if (f)
		fclose(f);
	return t;
}

/* A uprobe at path+off for this process only, running prog; its perf fd. */
static int attach(const char *path, long off, int prog)
{
	struct perf_event_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = uprobe_type();
	a.config1 = (uintptr_t)path;
	a.config2 = off;
	fd = (int)syscall(SYS_perf_event_open, &a, getpid(), -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog) || ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 0, off;
	int reps = argc > 2 ? atoi(argv[2]) : 0, prog, fd;
	char path[4096];
	ssize_t len;

	if (n <= 0 || reps <= 0) {
		fprintf(stderr, "usage: %s N REPS\n", argv[0]);
		return 2;
	}
	len = readlink("/proc/self/exe", path, sizeof(path) - 1);
	off = file_offset((uintptr_t)uprobe_cost_target);
	prog = prog_load();
	if (len < 0 || off < 0 || prog < 0) {
		fprintf(stderr, "uprobe_cost: setup: %s\n", strerror(errno));
		return 1;
	}
	path[len] = '\0';
	per_call(n / 10); /* warm */
	printf("{\"calls\": %ld, \"without_ns\": [", n);
	for (int r = 0; r < reps; r++)
		printf("%s%.2f", r ? ", " : "", per_call(n));
	printf("], \"with_ns\": [");
	for (int r = 0; r < reps; r++) {
		fd = attach(path, off, prog);
		if (fd < 0) {
			fprintf(stderr, "uprobe_cost: attach: %s\n", strerror(errno));
			return 1;
		}
		printf("%s%.2f", r ? ", " : "", per_call(n));
		close(fd);
	}
	printf("]}\n");
	return 0;
}
