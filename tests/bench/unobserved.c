// SPDX-License-Identifier: GPL-2.0-only
/*
 * unobserved ITERATIONS REPS: the cost of syscalls in a process sonde does not select.
 *   socket:  1-byte write + 1-byte read on a AF_UNIX socketpair, ITERATIONS pairs
 *   getppid: ITERATIONS getppid() calls (a syscall no capture hook concerns)
 * Each loop runs REPS times (see unobserved.h for the clock). On a shared VM the CPU time
 * of a repetition is still inflated while the other vCPUs are busy, so the figure kept is
 * the fastest repetition (short repetitions: some land in a quiet moment; interference
 * only ever adds time); medians are reported too. Prints one JSON line.
 * Build: cc -O2 -o unobserved unobserved.c
 */
#include <sys/socket.h>

#include "unobserved.h"

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 2000;
	int reps = argc > 2 ? atoi(argv[2]) : 40;
	double *sock, *ppid, *sock_wall, *ppid_wall;
	int sv[2];

	if (iters < 1 || reps < 1 || reps > 100000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		fprintf(stderr, "usage: %s ITERATIONS REPS\n", argv[0]);
		return 2;
	}
	sock = calloc(4 * (size_t)reps, sizeof(double));
	if (!sock)
		return 1;
	ppid = sock + reps;
	sock_wall = ppid + reps;
	ppid_wall = sock_wall + reps;
	for (int r = 0; r < reps; r++) {
		sock[r] = socket_loop(sv, iters, &sock_wall[r]);
		if (sock[r] < 0)
			return 1;
		ppid[r] = getppid_loop(iters, &ppid_wall[r]);
	}
	printf("{\"socket_ns\": %.1f, \"getppid_ns\": %.1f, \"socket_median_ns\": %.1f, "
	       "\"getppid_median_ns\": %.1f, \"socket_wall_median_ns\": %.1f, "
	       "\"getppid_wall_median_ns\": %.1f, \"iterations\": %ld, \"reps\": %d}\n",
	       minimum(sock, reps), minimum(ppid, reps), median(sock, reps), median(ppid, reps),
	       median(sock_wall, reps), median(ppid_wall, reps), iters, reps);
	return 0;
}
