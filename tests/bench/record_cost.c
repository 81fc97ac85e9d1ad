// SPDX-License-Identifier: GPL-2.0-only
/*
 * record_cost OBJECT ROUNDS SENDS [THREADS]
 *
 * Loads record_cost.bpf.o, attaches its program to tp_btf/sock_send_length with
 * kernel.bpf_stats_enabled held on through BPF_ENABLE_STATS (dropped at exit), and for
 * ROUNDS rounds runs each mode of the program (the order rotating from round to round, so
 * a drift of the machine's speed spreads over all of them) for SENDS sends of 64 bytes on a
 * Unix datagram socket pair of this process. Prints one JSON line: per mode, the program's
 * run time per run in each round (run_time_ns / run_cnt deltas), and the median over rounds
 * of that minus the empty mode's in the same round: what the mode's work costs.
 * THREADS 2: a second thread, on the other CPU, sends as many at the same time on a socket
 * pair of its own (the first runs on CPU 0): both CPUs write the one ring at once, as the
 * threads of a real service do, instead of one CPU keeping its lines to itself.
 *
 * Build: cc -O2 -o record_cost record_cost.c -lbpf -lpthread
 */
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MODES 10
static const char *const mode_names[MODES] = { "empty",	     "clock",	      "slot", "reserve",
					       "output",     "reserve_query", "perf", "user",
					       "sk_storage", "emit" };

#define PERF_PAGES 1024 /* per CPU: 4 MiB, a round's 20,000 records of 136 bytes fit */

struct bss { /* record_cost.bpf.c's ctl */
	__u32 mode;
	__u32 target_tgid;
	__u64 failed;
	__u64 buf;
	__u64 len;
};

static int drain(void *ctx, void *data, size_t n)
{
	return 0;
}

static enum bpf_perf_event_ret perf_drain_raw(void *ctx, int cpu, struct perf_event_header *e)
{
	return LIBBPF_PERF_EVENT_CONT;
}

/* One perf buffer per CPU on the object's "pb" map, woken only when a CPU's buffer is
 * half full (as the ring's records are submitted without a wake-up). */
static struct perf_buffer *perf_open(struct bpf_object *obj)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_BPF_OUTPUT,
		.sample_type = PERF_SAMPLE_RAW,
		.sample_period = 1,
		.watermark = 1,
		.wakeup_watermark = PERF_PAGES * 4096 / 2,
	};
	struct bpf_map *m = bpf_object__find_map_by_name(obj, "pb");
	struct perf_buffer *pb;

	if (!m)
		return NULL;
	attr.size = sizeof(attr);
	pb = perf_buffer__new_raw(bpf_map__fd(m), PERF_PAGES, &attr, perf_drain_raw, NULL, NULL);
	return libbpf_get_error(pb) ? NULL : pb;
}

static int run_stats(int prog_fd, __u64 *ns, __u64 *cnt)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -1;
	*ns = info.run_time_ns;
	*cnt = info.run_cnt;
	return 0;
}

/* The object's .bss map (libbpf names it after the object, "record_c.bss"): written and
 * read through the map fd (libbpf 1.1 maps it into memory only for skeletons). */
static int bss_fd_of(struct bpf_object *obj)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj)
	{
		const char *name = bpf_map__name(m);
		size_t n = strlen(name);

		if (n >= 4 && !strcmp(name + n - 4, ".bss"))
			return bpf_map__fd(m);
	}
	return -1;
}

static int bss_io(int fd, struct bss *b, bool write)
{
	__u32 zero = 0;

	return write ? bpf_map_update_elem(fd, &zero, b, BPF_ANY)
		     : bpf_map_lookup_elem(fd, &zero, b);
}

/* One sender: SENDS round trips of 64 bytes on its own socket pair, on its own CPU. */
struct sender {
	int cpu, sends, sv[2];
	pthread_barrier_t *start;
};

static void *send_loop(void *arg)
{
	struct sender *s = arg;
	char buf[64] = { 0 };
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(s->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (s->start)
		pthread_barrier_wait(s->start);
	for (int i = 0; i < s->sends; i++) {
		send(s->sv[0], buf, sizeof(buf), 0);
		recv(s->sv[1], buf, sizeof(buf), 0);
	}
	return NULL;
}

/* Runs the senders (1 or 2) at once and waits for them. */
static void run_senders(struct sender *snd, int threads)
{
	pthread_barrier_t start;
	pthread_t other;

	if (threads == 1) {
		snd[0].start = NULL;
		send_loop(&snd[0]);
		return;
	}
	pthread_barrier_init(&start, NULL, 2);
	snd[0].start = snd[1].start = &start;
	pthread_create(&other, NULL, send_loop, &snd[1]);
	send_loop(&snd[0]);
	pthread_join(other, NULL);
	pthread_barrier_destroy(&start);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct ring_buffer *rb;
	struct perf_buffer *pb;
	struct bss bss = { 0 };
	double *per_run;
	char buf[64] = { 0 };
	struct sender snd[2];
	int rounds, sends, threads = 1, stats_fd, prog_fd, bss_fd;

	if (argc < 4 || argc > 5 || (rounds = atoi(argv[2])) < 1 || (sends = atoi(argv[3])) < 1 ||
	    (argc == 5 && (threads = atoi(argv[4])) != 1 && threads != 2)) {
		fprintf(stderr, "usage: record_cost OBJECT ROUNDS SENDS [THREADS: 1 or 2]\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "record_cost: cannot load %s\n", argv[1]);
		return 1;
	}
	prog = bpf_object__find_program_by_name(obj, "record_cost_send");
	bss_fd = bss_fd_of(obj);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "rb")), drain, NULL,
			      NULL);
	pb = perf_open(obj);
	bss.target_tgid = getpid();
	bss.buf = (__u64)(unsigned long)buf;
	bss.len = sizeof(buf);
	if (!prog || bss_fd < 0 || bss_io(bss_fd, &bss, true) || stats_fd < 0 || !rb || !pb ||
	    !bpf_program__attach(prog) || socketpair(AF_UNIX, SOCK_DGRAM, 0, snd[0].sv) ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, snd[1].sv)) {
		fprintf(stderr, "record_cost: cannot set up (root? Linux >= 6.3?)\n");
		return 1;
	}
	prog_fd = bpf_program__fd(prog);
	for (int t = 0; t < 2; t++)
		snd[t].cpu = t, snd[t].sends = sends;
	per_run = calloc((size_t)rounds * MODES, sizeof(*per_run));
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < MODES; k++) {
			int m = (k + r) % MODES;
			__u64 ns0, n0, ns1, n1, failed = bss.failed;

			bss.mode = m;
			bss_io(bss_fd, &bss, true);
			run_stats(prog_fd, &ns0, &n0);
			run_senders(snd, threads);
			run_stats(prog_fd, &ns1, &n1);
			ring_buffer__consume(rb);
			perf_buffer__consume(pb);
			bss_io(bss_fd, &bss, false);
			if (bss.failed != failed) {
				fprintf(stderr, "record_cost: the ring or a perf buffer filled up; "
						"fewer SENDS\n");
				return 1;
			}
			per_run[r * MODES + m] = n1 > n0 ? (double)(ns1 - ns0) / (n1 - n0) : 0;
		}
	}
	printf("{\"rounds\": %d, \"sends\": %d, \"threads\": %d, \"record_bytes\": 128", rounds,
	       sends, threads);
	for (int m = 0; m < MODES; m++) {
		double d[rounds];

		printf(", \"%s\": {\"ns_per_run\": [", mode_names[m]);
		for (int r = 0; r < rounds; r++) {
			printf("%s%.1f", r ? ", " : "", per_run[r * MODES + m]);
			d[r] = per_run[r * MODES + m] - per_run[r * MODES];
		}
		qsort(d, rounds, sizeof(d[0]), cmp_double);
		printf("], \"above_empty_median\": %.1f}",
		       rounds % 2 ? d[rounds / 2] : (d[rounds / 2 - 1] + d[rounds / 2]) / 2);
	}
	printf("}\n");
	return 0;
}
