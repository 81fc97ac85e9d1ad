// SPDX-License-Identifier: GPL-2.0-only
/*
 * The benchmark's floor programs (floor.bpf.c) on the hooks of one capture path:
 *   socket:   the tp_btf programs (sections "tp_btf/...")
 *   syscalls: the syscall tracepoint programs (sections "tracepoint/...")
 *
 * floor_loader OBJECT MODE hold
 *     attaches them, prints "ready N" (N programs attached), holds them until SIGTERM or
 *     SIGINT, at most 600 s.
 * floor_loader OBJECT MODE toggle ITERATIONS REPS BLOCK
 *     measures in this process (unobserved by sonde) the loops of unobserved.h with the
 *     programs attached and detached, REPS times each, alternating (attached first on odd
 *     repetitions) so a drift of the machine's speed cancels. Each measure is the fastest
 *     of BLOCK runs of ITERATIONS (detaching syscall tracepoints waits for an RCU grace
 *     period, so toggling is slow: BLOCK amortises it). Prints one JSON line with the
 *     medians of the per-repetition differences (hooked - bare), ns per syscall, and
 *     bpf_ns_per_syscall: the programs' mean run time (kernel.bpf_stats_enabled) for one
 *     write and one read, halved.
 *
 * Build: cc -O2 -o floor_loader floor_loader.c -lbpf
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>

#include "unobserved.h"

#define MAX_LINKS 64

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static struct bpf_link *links[MAX_LINKS];
static int n_links;

static int attach_all(struct bpf_object *obj)
{
	struct bpf_program *prog;

	for (prog = bpf_object__next_program(obj, NULL); prog;
	     prog = bpf_object__next_program(obj, prog)) {
		if (!bpf_program__autoload(prog))
			continue;
		if (n_links == MAX_LINKS)
			return -1;
		links[n_links] = bpf_program__attach(prog);
		if (!links[n_links]) {
			fprintf(stderr, "floor_loader: attach %s: %s\n",
				bpf_program__section_name(prog), strerror(errno));
			return -1;
		}
		n_links++;
	}
	return n_links;
}

static void detach_all(void)
{
	while (n_links > 0)
		bpf_link__destroy(links[--n_links]);
}

/* The fastest of block runs of each loop. */
static int measure(const int sv[2], long iters, int block, double *sock, double *ppid)
{
	*sock = *ppid = 1e300;
	for (int b = 0; b < block; b++) {
		double s = socket_loop(sv, iters, NULL), p = getppid_loop(iters, NULL);

		if (s < 0)
			return -1;
		*sock = s < *sock ? s : *sock;
		*ppid = p < *ppid ? p : *ppid;
	}
	return 0;
}

/* Mean run time (bpf_stats) of the programs one write and one read run, halved; -1 if
 * unknown (stats disabled, or a program did not run). */
static double bpf_ns_per_syscall(struct bpf_object *obj, const char *mode)
{
	static const char *const socket_progs[] = { "floor_sock_send", "floor_sock_recv", NULL };
	static const char *const syscall_progs[] = { "floor_exit_write", "floor_exit_read", NULL };
	const char *const *names = strcmp(mode, "socket") ? syscall_progs : socket_progs;
	double total = 0;

	for (int i = 0; names[i]; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(obj, names[i]);
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (!prog || bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) ||
		    !info.run_cnt)
			return -1;
		total += (double)info.run_time_ns / info.run_cnt;
	}
	return total / 2;
}

static int toggle(struct bpf_object *obj, const char *mode, long iters, int reps, int block)
{
	double *d = calloc(4 * (size_t)reps, sizeof(double));
	double *d_sock = d, *d_ppid = d + reps, *bare_sock = d + 2 * reps,
	       *bare_ppid = d + 3 * reps;
	int sv[2], err;

	if (!d || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return 1;
	for (int r = 0; r < reps; r++) {
		double s[2], p[2]; /* [0] bare, [1] hooked */

		for (int k = 0; k < 2; k++) {
			int hooked = (r % 2) ? !k : k;

			if (hooked && attach_all(obj) < 0)
				return 1;
			err = measure(sv, iters, block, &s[hooked], &p[hooked]);
			if (hooked)
				detach_all();
			if (err)
				return 1;
		}
		d_sock[r] = s[1] - s[0];
		d_ppid[r] = p[1] - p[0];
		bare_sock[r] = s[0];
		bare_ppid[r] = p[0];
	}
	printf("{\"added_socket_ns\": %.1f, \"added_getppid_ns\": %.1f, \"bare_socket_ns\": %.1f, "
	       "\"bare_getppid_ns\": %.1f, \"bpf_ns_per_syscall\": %.1f, \"iterations\": %ld, "
	       "\"reps\": %d, \"block\": %d}\n",
	       median(d_sock, reps), median(d_ppid, reps), median(bare_sock, reps),
	       median(bare_ppid, reps), bpf_ns_per_syscall(obj, mode), iters, reps, block);
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	const char *prefix;
	int err, rc = 0;
	time_t deadline;

	if (argc < 4 || (strcmp(argv[2], "socket") && strcmp(argv[2], "syscalls")) ||
	    (strcmp(argv[3], "hold") && strcmp(argv[3], "toggle")) ||
	    (!strcmp(argv[3], "toggle") && argc != 7)) {
		fprintf(stderr,
			"usage: %s OBJECT socket|syscalls hold\n"
			"       %s OBJECT socket|syscalls toggle ITERATIONS REPS BLOCK\n",
			argv[0], argv[0]);
		return 2;
	}
	prefix = strcmp(argv[2], "socket") ? "tracepoint/" : "tp_btf/";
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "floor_loader: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (prog = bpf_object__next_program(obj, NULL); prog;
	     prog = bpf_object__next_program(obj, prog))
		bpf_program__set_autoload(
			prog, !strncmp(bpf_program__section_name(prog), prefix, strlen(prefix)));
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "floor_loader: load: %s\n", strerror(-err));
		return 1;
	}
	if (!strcmp(argv[3], "toggle")) {
		long iters = atol(argv[4]);
		int reps = atoi(argv[5]), block = atoi(argv[6]);

		if (iters < 1 || reps < 1 || reps > 100000 || block < 1 || block > 1000) {
			fprintf(stderr, "floor_loader: bad ITERATIONS, REPS or BLOCK\n");
			return 2;
		}
		rc = toggle(obj, argv[2], iters, reps, block);
		detach_all();
		bpf_object__close(obj);
		return rc;
	}
	if (attach_all(obj) < 0)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready %d\n", n_links);
	fflush(stdout);
	deadline = time(NULL) + 600;
	while (!stop && time(NULL) < deadline)
		usleep(100 * 1000);
	detach_all();
	bpf_object__close(obj);
	return 0;
}
