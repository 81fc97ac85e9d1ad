// SPDX-License-Identifier: GPL-2.0-only
/* What this kernel allows: the checks behind `sonde --check` and the start-up preflight. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kernel/loader.h"
#include "kernel/probe.h"
#include "util/log.h"
#include "sonde_bpf.skel.h"

/* The capabilities sonde needs, in the order they are checked; measured as a non-root user
 * with the systemd unit's set, each one dropped in turn (README, "Privileges"). Kernels
 * before 5.8 have no CAP_BPF/CAP_PERFMON: CAP_SYS_ADMIN stands in for both there. Not
 * listed: CAP_SYS_RESOURCE, which only kernels before 5.11 (BPF memory charged to
 * RLIMIT_MEMLOCK, not to the cgroup) need, and only without LimitMEMLOCK=infinity. */
static const struct {
	int cap;
	const char *name, *why;
	bool admin_will_do;
} needed_caps[] = {
	{ CAP_BPF, "CAP_BPF", "to load BPF programs and create maps", true },
	{ CAP_PERFMON, "CAP_PERFMON", "to load and attach tracing programs", true },
	{ CAP_SYS_PTRACE, "CAP_SYS_PTRACE",
	  "to read /proc/PID/exe, maps, root and environ of other users' processes", false },
	{ CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH",
	  "to read /proc/PID/fd of other users' processes and tracefs", false },
};

/* The effective capability set, from capget(2); 0 if it fails. */
static uint64_t effective_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };

	if (syscall(SYS_capget, &hdr, data))
		return 0;
	return (uint64_t)data[1].effective << 32 | data[0].effective;
}

bool probe_has_cap(int cap)
{
	return effective_caps() & (1ULL << cap);
}

const char *probe_uprobe_hint(int err)
{
	if ((err == -EACCES || err == -EPERM) && !probe_has_cap(CAP_SYS_ADMIN))
		return " (TLS capture needs CAP_SYS_ADMIN: this kernel attaches uprobes, and opens "
		       "/proc/PID/map_files, only with it)";
	return "";
}

int probe_preflight(void)
{
	uint64_t caps = effective_caps();
	bool admin = caps & (1ULL << CAP_SYS_ADMIN);

	for (size_t i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++) {
		if (caps & (1ULL << needed_caps[i].cap) || (admin && needed_caps[i].admin_will_do))
			continue;
		log_error("missing capability %s (needed %s); run as root or grant it (see "
			  "deploy/systemd/sonde.service)",
			  needed_caps[i].name, needed_caps[i].why);
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

/* A function of sonde itself for the uprobe check to attach to. */
__attribute__((noinline)) int probe_uprobe_target(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x + 1;
}

/* The file offset of code at addr in this process's executable (sonde may be stripped:
 * /proc/self/maps, not symbols). 0 if not found. */
static uint64_t self_file_offset(const void *addr)
{
	unsigned long start, end, off;
	uint64_t found = 0;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && !found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %lx", &start, &end, &off) == 3 &&
		    (unsigned long)addr >= start && (unsigned long)addr < end)
			found = off + ((unsigned long)addr - start);
	if (f)
		fclose(f);
	return found;
}

/* The TLS probes attach uprobes and uretprobes: attach the real programs to a function of
 * sonde (sonde is not selected: they do nothing) and call it once. */
static void probe_uprobe(struct probe_result *r, struct sonde_bpf *s)
{
	uint64_t off = self_file_offset((const void *)probe_uprobe_target);
	struct bpf_link *in = NULL, *out = NULL;

	int err = 0;

	r->name = "uprobes";
	if (off) {
		in = bpf_program__attach_uprobe(s->progs.sonde_ssl_pair, false, getpid(),
						"/proc/self/exe", off);
		err = in ? 0 : -errno;
		out = in ? bpf_program__attach_uprobe(s->progs.sonde_ssl_ret, true, getpid(),
						      "/proc/self/exe", off)
			 : NULL;
		err = err ? err : out ? 0 : -errno;
	}
	r->ok = in && out && probe_uprobe_target(1) == 2;
	if (r->ok)
		snprintf(r->detail, sizeof(r->detail),
			 "uprobe and uretprobe attached to a sonde function (TLS capture)");
	else if (!off)
		snprintf(r->detail, sizeof(r->detail),
			 "cannot find sonde's own code in /proc/self/maps");
	else if (*probe_uprobe_hint(err))
		snprintf(r->detail, sizeof(r->detail), "no TLS capture: %s%s", strerror(-err),
			 probe_uprobe_hint(err));
	else
		snprintf(r->detail, sizeof(r->detail),
			 "attaching a uprobe failed (%s; CONFIG_UPROBE_EVENTS?): no TLS capture",
			 strerror(-err));
	bpf_link__destroy(out);
	bpf_link__destroy(in);
}

/* uprobe_res: where to report the uprobe check, done with this path's programs; NULL: none. */
static void probe_path(struct probe_result *r, enum capture_mode mode,
		       struct probe_result *uprobe_res)
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
	if (!err && uprobe_res)
		probe_uprobe(uprobe_res, l.skel);
	loader_close(&l);
}

size_t probe_kernel(struct probe_result *res, size_t max)
{
	size_t n = 0;

	if (n < max)
		probe_btf(&res[n++]);
	if (n < max)
		probe_ringbuf(&res[n++]);
	struct probe_result up = { .name = "uprobes", .detail = "no capture path loaded" };

	if (n < max)
		probe_path(&res[n++], CAPTURE_SOCKET, &up);
	if (n < max)
		probe_path(&res[n++], CAPTURE_SYSCALLS, up.ok ? NULL : &up);
	if (n < max)
		res[n++] = up;
	return n;
}
