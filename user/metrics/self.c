// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <errno.h>
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

static void read_cpu(struct self_metrics *s)
{
	unsigned long utime, stime;
	char buf[1024], *p;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n;
	double cpu;

	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the comm, which may hold spaces: state is field 3 */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
			 &stime) != 2)
		return;
	cpu = (double)(utime + stime) / sysconf(_SC_CLK_TCK);
	if (cpu > s->last_cpu_seconds)
		metric_add(s->cpu, NULL, cpu - s->last_cpu_seconds);
	s->last_cpu_seconds = cpu;
}

void self_metrics_refresh(struct self_metrics *s)
{
	long rss_pages;
	double fds = 0;
	FILE *f;
	DIR *d;

	read_cpu(s);
	f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%*u %ld", &rss_pages) == 1)
			metric_set(s->rss, NULL, (double)rss_pages * sysconf(_SC_PAGESIZE));
		fclose(f);
	}
	d = opendir("/proc/self/fd");
	if (d) {
		while (readdir(d))
			fds++;
		closedir(d);
		metric_set(s->fds, NULL, fds - 3); /* ".", ".." and the directory's own fd */
	}
}
