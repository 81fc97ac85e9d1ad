// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "metrics/registry.h"
#include "metrics/self.h"

int self_metrics_init(struct self_metrics *s, struct registry *reg)
{
	static const struct {
		size_t field;
		enum metric_kind kind;
		const char *name, *help;
	} fams[] = {
		{ offsetof(struct self_metrics, cpu), METRIC_COUNTER, "process_cpu_seconds_total",
		  "Total user and system CPU time spent in seconds." },
		{ offsetof(struct self_metrics, rss), METRIC_GAUGE, "process_resident_memory_bytes",
		  "Resident memory size in bytes." },
		{ offsetof(struct self_metrics, start), METRIC_GAUGE, "process_start_time_seconds",
		  "Start time of the process since unix epoch in seconds." },
		{ offsetof(struct self_metrics, fds), METRIC_GAUGE, "process_open_fds",
		  "Number of open file descriptors." },
	};

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		struct metric *m = registry_add(reg, fams[i].kind, fams[i].name, fams[i].help, NULL,
						0, NULL, 0, 1);

		if (!m)
			return -errno;
		*(struct metric **)((char *)s + fams[i].field) = m;
	}
	metric_set(s->start, NULL, (double)time(NULL));
	return 0;
}

/* Process-wide CPU time of every thread, in ns: one syscall, no /proc file to parse, and
 * finer than /proc/self/stat's clock ticks. */
static void read_cpu(struct self_metrics *s)
{
	struct timespec ts;
	double cpu;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts))
		return;
	cpu = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	if (cpu > s->last_cpu_seconds)
		metric_add(s->cpu, NULL, cpu - s->last_cpu_seconds);
	s->last_cpu_seconds = cpu;
}

/* Resident pages, the second field of /proc/self/statm, re-read through a descriptor kept
 * open: one pread per refresh. */
static void read_rss(struct self_metrics *s)
{
	char buf[128], *p, *end;
	ssize_t n;
	long pages;

	if (!s->statm_open) {
		s->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
		s->statm_open = s->statm_fd >= 0;
	}
	if (!s->statm_open || (n = pread(s->statm_fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return;
	buf[n] = '\0';
	p = strchr(buf, ' ');
	if (!p)
		return;
	pages = strtol(p + 1, &end, 10);
	if (end != p + 1)
		metric_set(s->rss, NULL, (double)pages * sysconf(_SC_PAGESIZE));
}

/* Counting /proc/self/fd looks up every descriptor's dentry, and sonde holds one per BPF
 * map, program and link: the costliest reading, taken every FD_EVERY refreshes. */
#define FD_EVERY 10

static void read_fds(struct self_metrics *s)
{
	double fds = 0;
	DIR *d = opendir("/proc/self/fd");

	if (!d)
		return;
	while (readdir(d))
		fds++;
	closedir(d);
	metric_set(s->fds, NULL, fds - 3); /* ".", ".." and the directory's own fd */
}

void self_metrics_refresh(struct self_metrics *s)
{
	read_cpu(s);
	read_rss(s);
	if (s->refreshes++ % FD_EVERY == 0)
		read_fds(s);
}

void self_metrics_free(struct self_metrics *s)
{
	if (s->statm_open)
		close(s->statm_fd);
	s->statm_open = false;
}
