/* SPDX-License-Identifier: GPL-2.0-only */
/* What this kernel allows: the checks behind `sonde --check` and the start-up preflight. */
#ifndef SONDE_KERNEL_PROBE_H
#define SONDE_KERNEL_PROBE_H

#include <stdbool.h>
#include <stddef.h>

/* What --check reports for one capability of this kernel. */
struct probe_result {
	const char *name;
	bool ok;
	char detail[160];
};

/* Probes this kernel: BTF, ring buffer, each capture path, uprobes. Fills up to max
 * results; returns how many. */
size_t probe_kernel(struct probe_result *res, size_t max);

/* Checks that we may load BPF at all (root or CAP_BPF+CAP_PERFMON); prints why not. */
int probe_preflight(void);

/* Whether cap (CAP_*) is in sonde's effective set. */
bool probe_has_cap(int cap);

/* What to add to a TLS failure of err (negative errno) in a log line or /health: this kernel
 * refuses uprobe perf events without CAP_SYS_ADMIN (EACCES with CAP_PERFMON alone, measured
 * on 6.18), and /proc/PID/map_files too; the hint names it when sonde lacks it, else "". */
const char *probe_uprobe_hint(int err);

#endif
