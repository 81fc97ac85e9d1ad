// SPDX-License-Identifier: GPL-2.0-only
/* What this kernel allows: the checks behind `sonde --check` and the start-up preflight. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kernel/loader.h"
#include "kernel/probe.h"
#include "util/log.h"

#define CAP_SYS_ADMIN 21
#define CAP_PERFMON 38
#define CAP_BPF 39

static uint64_t effective_caps(void)
{
	char line[256];
	uint64_t caps = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %lx", &caps) == 1)
			break;
	fclose(f);
	return caps;
}

int probe_preflight(void)
{
	uint64_t caps = effective_caps();
	bool admin = caps & (1ULL << CAP_SYS_ADMIN);
	bool bpf_perf = (caps & (1ULL << CAP_BPF)) && (caps & (1ULL << CAP_PERFMON));

	if (!admin && !bpf_perf) {
		log_error("missing privileges: run as root, or grant CAP_BPF, CAP_PERFMON, "
			  "CAP_SYS_RESOURCE, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (the last two "
			  "to read other users' /proc entries; current uid %u)",
			  (unsigned)geteuid());
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		log_error("no kernel BTF at /sys/kernel/btf/vmlinux: sonde needs a kernel built "
			  "with CONFIG_DEBUG_INFO_BTF=y");
		return -ENOENT;
	}
	return 0;
}

static void probe_btf(struct probe_result *r)
{
	struct btf *btf = btf__load_vmlinux_btf();

	r->name = "kernel BTF";
	r->ok = btf != NULL;
	if (btf)
		snprintf(r->detail, sizeof(r->detail), "/sys/kernel/btf/vmlinux, %u types",
			 btf__type_cnt(btf));
	else
		snprintf(r->detail, sizeof(r->detail), "unreadable: %s", strerror(errno));
	btf__free(btf);
}

static void probe_ringbuf(struct probe_result *r)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "sonde_probe", 0, 0, 4096 * 4, NULL);

	r->name = "ring buffer";
	r->ok = fd >= 0;
	snprintf(r->detail, sizeof(r->detail), "%s",
		 fd >= 0 ? "BPF_MAP_TYPE_RINGBUF created" : strerror(errno));
	if (fd >= 0)
		close(fd);
}

static int probe_event(void *ctx, const void *data, size_t size)
{
	return 0;
}

static void probe_path(struct probe_result *r, enum capture_mode mode)
{
	struct loader_opts o = {
		.capture = mode,
		.capture_bytes = SONDE_CAPTURE_DEFAULT,
		.ringbuf_bytes = 1 << 16,
		.on_event = probe_event,
	};
	struct loader l;
	int err;

	r->name = mode == CAPTURE_SOCKET ? "socket tracepoints" : "syscall tracepoints";
	err = loader_open(&l, &o);
	r->ok = err == 0;
	if (err)
		snprintf(r->detail, sizeof(r->detail), "load/attach failed: %s", strerror(-err));
	else
		snprintf(r->detail, sizeof(r->detail), "%u programs loaded and attached%s",
			 l.attached,
			 mode == CAPTURE_SOCKET ? " (tp_btf sock_send_length/sock_recv_length)"
						: " (syscalls/sys_{enter,exit}_*)");
	loader_close(&l);
}

static void probe_uprobe(struct probe_result *r)
{
	/* No uprobe program ships yet (TLS capture is future work): report whether the
	 * kernel offers the uprobe PMU the TLS probes will need. */
	r->name = "uprobes";
	r->ok = access("/sys/bus/event_source/devices/uprobe/type", R_OK) == 0;
	snprintf(r->detail, sizeof(r->detail), "%s",
		 r->ok ? "uprobe PMU present (not used yet: no TLS capture)"
		       : "no uprobe PMU (CONFIG_UPROBE_EVENTS off)");
}

size_t probe_kernel(struct probe_result *res, size_t max)
{
	size_t n = 0;

	if (n < max)
		probe_btf(&res[n++]);
	if (n < max)
		probe_ringbuf(&res[n++]);
	if (n < max)
		probe_path(&res[n++], CAPTURE_SOCKET);
	if (n < max)
		probe_path(&res[n++], CAPTURE_SYSCALLS);
	if (n < max)
		probe_uprobe(&res[n++]);
	return n;
}
