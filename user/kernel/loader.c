// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <linux/membarrier.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kernel/loader.h"
#include "kernel/uprobes.h"
#include "procs/cgroup_ids.h"
#include "util/log.h"
#include "sonde_bpf.skel.h"

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

static struct bpf_program *const *socket_progs(struct sonde_bpf *s, size_t *n)
{
	static struct bpf_program *p[2];

	p[0] = s->progs.sonde_sock_send;
	p[1] = s->progs.sonde_sock_recv;
	*n = 2;
	return p;
}

static struct bpf_program *const *syscall_progs(struct sonde_bpf *s, size_t *n)
{
	static struct bpf_program *p[12];

	p[0] = s->progs.sonde_exit_read;
	p[1] = s->progs.sonde_exit_write;
	p[2] = s->progs.sonde_exit_readv;
	p[3] = s->progs.sonde_exit_writev;
	p[4] = s->progs.sonde_exit_sendto;
	p[5] = s->progs.sonde_exit_recvfrom;
	p[6] = s->progs.sonde_exit_sendmsg;
	p[7] = s->progs.sonde_exit_recvmsg;
	p[8] = s->progs.sonde_sys_exit; /* tail-called by the exit programs */
	/* No user buffer: byte counts only (sendfile, splice). */
	p[9] = s->progs.sonde_exit_sendfile;
	p[10] = s->progs.sonde_exit_splice;
	/* Frees the conns entries of closed TLS connections (bpf/process.bpf.c). */
	p[11] = s->progs.sonde_sock_destroy;
	*n = 12;
	return p;
}

static struct bpf_program *const *tcp_progs(struct sonde_bpf *s, size_t *n)
{
	static struct bpf_program *p[2];

	/* the state changes: sonde_sock_state, always loaded (bpf/tcp.bpf.h) */
	p[0] = s->progs.sonde_tcp_send_reset;
	p[1] = s->progs.sonde_tcp_receive_reset;
	*n = 2;
	return p;
}

/* Loaded only for cgroup= rules: without them a cgroup change costs nothing. */
static struct bpf_program *const *cgroup_progs(struct sonde_bpf *s, size_t *n)
{
	static struct bpf_program *progs[3];

	progs[0] = s->progs.sonde_cgroup_attach;
	progs[1] = s->progs.sonde_cgroup_mkdir;
	progs[2] = s->progs.sonde_cgroup_rmdir;
	*n = 3;
	return progs;
}

static void set_autoload(struct bpf_program *const *progs, size_t n, bool on)
{
	for (size_t i = 0; i < n; i++)
		bpf_program__set_autoload(progs[i], on);
}

/* The socket tracepoints exist from Linux 6.3; decided from BTF, not version numbers. */
static bool kernel_has_socket_tracepoints(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool found;

	if (!btf)
		return false;
	found = btf__find_by_name_kind(btf, "btf_trace_sock_send_length", BTF_KIND_TYPEDEF) >= 0 &&
		btf__find_by_name_kind(btf, "btf_trace_sock_recv_length", BTF_KIND_TYPEDEF) >= 0;
	btf__free(btf);
	return found;
}

/* Syscall tracepoints are found through tracefs, which a fresh node may not have mounted. */
static int ensure_tracefs(void)
{
	/* AT_EACCESS: judge by the effective ids and capabilities, as the open will be, so
	 * a non-root sonde with the right capabilities is not sent to mount. */
	if (faccessat(AT_FDCWD, "/sys/kernel/tracing/events", F_OK, AT_EACCESS) == 0 ||
	    faccessat(AT_FDCWD, "/sys/kernel/debug/tracing/events", F_OK, AT_EACCESS) == 0)
		return 0;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
		return 0;
	return -errno;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN || log_verbosity() >= 2)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* How many bytes of records a CPU writes between two looks at the ring's fill level: at
 * most 64 KiB, and little enough that all CPUs together cannot fill what is left of the
 * ring above the wake-up mark between two looks (see rec_wake_flags in bpf/sonde.bpf.h). */
static uint64_t ringbuf_check_bytes(uint64_t ring, uint64_t wake, int ncpu)
{
	uint64_t n = ncpu > 0 ? ncpu : 1, left = ring > wake ? ring - wake : 0;
	uint64_t b = left / (2 * n);

	return b < 65536 ? b : 65536;
}

/* Below which size a read or write is copied straight into a ring record of its size
 * class (capture.bpf.h): the largest class, 512 to SONDE_DIRECT_MAX, that takes at most an
 * eighth of the ring, so that a small ring (--ringbuf-bytes) still holds several. */
static uint32_t direct_payload_max(uint64_t ring)
{
	uint32_t m = SONDE_DIRECT_MAX;

	while (m > 512 && m > ring / 8)
		m /= 2;
	return m;
}

/* Opens, configures, loads and attaches the object for one capture path. */
static int load_path(struct loader *l, const struct loader_opts *o, enum capture_mode mode)
{
	struct bpf_program *const *progs;
	struct sonde_bpf *s;
	size_t n;
	int err, ncpu = libbpf_num_possible_cpus();

	s = sonde_bpf__open();
	if (!s)
		return -errno;
	if (s->rodata->sonde_abi_version != SONDE_ABI_VERSION) {
		log_error("BPF object has ABI %u, this sonde speaks %u: rebuild sonde",
			  s->rodata->sonde_abi_version, SONDE_ABI_VERSION);
		err = -EPROTO;
		goto cleanup;
	}
	s->rodata->capture_bytes = o->capture_bytes;
	s->rodata->listen_events = o->listen_events;
	s->rodata->sock_storage = mode == CAPTURE_SOCKET;
	s->rodata->tcp_health = o->tcp_health;
	s->rodata->cgroup_rules = o->cgroup_rules;
	bpf_map__set_max_entries(s->maps.scratch, ncpu > 0 ? ncpu : 1);
	/* The socket path keeps connection state in socket storage: no use for the hash. */
	if (mode == CAPTURE_SOCKET)
		bpf_map__set_max_entries(s->maps.conns, 1);
	if (!o->tcp_health) {
		bpf_map__set_max_entries(s->maps.tcp_attempts, 1);
		bpf_map__set_max_entries(s->maps.tcp_totals, 1);
		bpf_map__set_max_entries(s->maps.tcp_owners, 1);
	}
	if (o->ringbuf_bytes) {
		bpf_map__set_max_entries(s->maps.events, o->ringbuf_bytes);
		s->rodata->ringbuf_wake_bytes = o->ringbuf_bytes / 4;
	}
	s->rodata->ringbuf_check_bytes = ringbuf_check_bytes(bpf_map__max_entries(s->maps.events),
							     s->rodata->ringbuf_wake_bytes, ncpu);
	s->rodata->direct_payload_max = direct_payload_max(bpf_map__max_entries(s->maps.events));
	progs = socket_progs(s, &n);
	set_autoload(progs, n, mode == CAPTURE_SOCKET);
	progs = syscall_progs(s, &n);
	set_autoload(progs, n, mode == CAPTURE_SYSCALLS);
	progs = tcp_progs(s, &n);
	set_autoload(progs, n, o->tcp_health);
	progs = cgroup_progs(s, &n);
	set_autoload(progs, n, o->cgroup_rules);
	if (mode == CAPTURE_SYSCALLS && (err = ensure_tracefs())) {
		log_error("cannot mount tracefs on /sys/kernel/tracing: %s", strerror(-err));
		goto cleanup;
	}
	err = sonde_bpf__load(s);
	if (err)
		goto cleanup;
	if (mode == CAPTURE_SYSCALLS) {
		uint32_t key = 0;
		int fd = bpf_program__fd(s->progs.sonde_sys_exit);

		err = bpf_map__update_elem(s->maps.exit_tail, &key, sizeof(key), &fd, sizeof(fd),
					   BPF_ANY);
		if (err)
			goto cleanup;
	}
	err = sonde_bpf__attach(s);
	if (err)
		goto cleanup;
	l->skel = s;
	l->mode = mode;
	l->attached = 0;
	for (size_t i = 0; i < sizeof(s->links) / sizeof(struct bpf_link *); i++)
		l->attached += ((struct bpf_link **)&s->links)[i] != NULL;
	return 0;
cleanup:
	sonde_bpf__destroy(s);
	return err;
}

static int choose_and_load(struct loader *l, const struct loader_opts *o)
{
	bool have_sock = kernel_has_socket_tracepoints();
	int err;

	if (o->capture == CAPTURE_SYSCALLS)
		return load_path(l, o, CAPTURE_SYSCALLS);
	if (o->capture == CAPTURE_SOCKET) {
		if (!have_sock) {
			log_error(
				"--capture socket: this kernel has no sock_send_length/"
				"sock_recv_length tracepoints (Linux >= 6.3); use --capture auto");
			return -EOPNOTSUPP;
		}
		return load_path(l, o, CAPTURE_SOCKET);
	}
	if (have_sock) {
		err = load_path(l, o, CAPTURE_SOCKET);
		if (!err)
			return 0;
		log_warn("socket tracepoints failed to load (%s); falling back to syscalls",
			 strerror(-err));
	}
	return load_path(l, o, CAPTURE_SYSCALLS);
}

/* A read-write shared mapping of an mmap-able array map; NULL (errno set) on failure. */
static void *map_shared(const struct bpf_map *m)
{
	size_t size = (size_t)bpf_map__max_entries(m) * bpf_map__value_size(m);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);

	return p == MAP_FAILED ? NULL : p;
}

int loader_open(struct loader *l, const struct loader_opts *o)
{
	int err, fd;

	memset(l, 0, sizeof(*l));
	libbpf_set_print(libbpf_quiet);
	err = choose_and_load(l, o);
	if (err) {
		log_error("loading the BPF programs failed: %s (run sonde --check for details)",
			  strerror(-err));
		return err;
	}
	fd = bpf_map__fd(l->skel->maps.allow_tgids);
	l->allow_size = (size_t)bpf_map__max_entries(l->skel->maps.allow_tgids) * sizeof(uint64_t);
	l->allow = mmap(NULL, l->allow_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (l->allow == MAP_FAILED) {
		err = -errno;
		l->allow = NULL;
		log_error("cannot map the process allow map: %s", strerror(-err));
		goto cleanup;
	}
	l->hints = map_shared(l->skel->maps.conn_hints);
	if (!l->hints) {
		err = -errno;
		log_error("cannot map the connection hints: %s", strerror(-err));
		goto cleanup;
	}
	l->tls = calloc(1, sizeof(*l->tls));
	if (!l->tls || (err = uprobes_init(l->tls, l->skel, "/proc"))) {
		err = l->tls ? err : -ENOMEM;
		log_error("cannot set up the TLS probes: %s", strerror(-err));
		goto cleanup;
	}
	l->rb = ring_buffer__new(bpf_map__fd(l->skel->maps.events),
				 (ring_buffer_sample_fn)o->on_event, o->ctx, NULL);
	if (!l->rb) {
		err = -errno;
		log_error("cannot open the ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	return 0;
cleanup:
	loader_close(l);
	return err;
}

void loader_close(struct loader *l)
{
	if (!l)
		return;
	ring_buffer__free(l->rb);
	if (l->tls)
		uprobes_free(l->tls); /* its links before the skeleton's programs */
	free(l->tls);
	if (l->allow)
		munmap(l->allow, l->allow_size);
	if (l->hints)
		munmap(l->hints, SONDE_HINT_SLOTS * sizeof(uint64_t));
	sonde_bpf__destroy(l->skel); /* detaches every link first */
	memset(l, 0, sizeof(*l));
}

static int loader_allow(void *ctx, uint32_t tgid, bool on)
{
	struct loader *l = ctx;
	uint64_t bit;

	if (!l->allow || tgid >= SONDE_TGID_MAX)
		return -EINVAL;
	bit = 1ULL << (tgid % 64);
	/* The kernel sets bits of fork children concurrently: atomic read-modify-write. */
	if (on)
		__atomic_fetch_or(&l->allow[tgid / 64], bit, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(&l->allow[tgid / 64], ~bit, __ATOMIC_SEQ_CST);
	return 0;
}

int loader_add_comm_rule(struct loader *l, const char *comm)
{
	char key[SONDE_COMM_LEN] = { 0 };
	uint8_t one = 1;

	if (!l->skel)
		return -EINVAL;
	strncpy(key, comm, sizeof(key) - 1); /* the kernel keeps 15 bytes + NUL */
	return bpf_map__update_elem(l->skel->maps.comm_rules, key, sizeof(key), &one, sizeof(one),
				    BPF_ANY);
}

struct cgroup_fill {
	struct loader *l;
	uint32_t gen; /* the value of the entries added */
	int full;     /* ids the map refused */
};

static int cgroup_id_add(void *ctx, uint64_t id, const char *path)
{
	struct cgroup_fill *f = ctx;

	(void)path;
	if (bpf_map__update_elem(f->l->skel->maps.cgroup_ids, &id, sizeof(id), &f->gen,
				 sizeof(f->gen), BPF_ANY))
		f->full++;
	return 0;
}

/* Waits until every run of a BPF program that began before the call has ended: the
 * GLOBAL membarrier is a synchronize_rcu() (kernel/sched/membarrier.c), and tracing
 * programs run inside an RCU read-side section (bpf_trace_run*). The kernel refuses it
 * with nohz_full: then a pause thousands of times longer than a program run. */
static void bpf_runs_drain(void)
{
	struct timespec pause = { .tv_nsec = 20 * 1000 * 1000 };

	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		nanosleep(&pause, NULL);
}

static int cgroup_glob_write(struct loader *l, uint32_t slot, const char *glob)
{
	char g[SONDE_CGROUP_GLOB_LEN] = { 0 };

	snprintf(g, sizeof(g), "%s", glob);
	if (bpf_map__update_elem(l->skel->maps.cgroup_globs, &slot, sizeof(slot), g, sizeof(g),
				 BPF_ANY))
		return -errno;
	return 0;
}

/* The globs the kernel matches at mkdir, in slot order; the slots left over emptied. */
static int cgroup_globs_write(struct loader *l, const char *const *globs, size_t n)
{
	uint32_t slot = 0;
	int err;

	for (size_t i = 0; i < n && slot < SONDE_CGROUP_GLOBS; i++)
		if (cgroup_glob_kernel_ok(globs[i]) &&
		    (err = cgroup_glob_write(l, slot++, globs[i])))
			return err;
	for (; slot < SONDE_CGROUP_GLOBS; slot++)
		if ((err = cgroup_glob_write(l, slot, "")))
			return err;
	return 0;
}

/* Drops the cgroup_ids entries of another generation than gen. */
static int cgroup_ids_sweep(struct loader *l, uint32_t gen)
{
	int fd = bpf_map__fd(l->skel->maps.cgroup_ids);
	uint64_t key, next;
	uint32_t val;
	int more = bpf_map_get_next_key(fd, NULL, &next);

	while (!more) {
		key = next;
		/* the next key before a delete: a deleted key would restart the walk */
		more = bpf_map_get_next_key(fd, &key, &next);
		if (!bpf_map_lookup_elem(fd, &key, &val) && val != gen &&
		    bpf_map_delete_elem(fd, &key) && errno != ENOENT)
			return -errno;
	}
	return 0;
}

void loader_set_exec_events(struct loader *l, bool all)
{
	if (l->skel)
		__atomic_store_n(&l->skel->bss->exec_events, all, __ATOMIC_RELAXED);
}

/*
 * The order makes a reload safe against cgroups made, and tasks moved, meanwhile:
 * 1. the new globs, then the new generation, then cgroup_any: a mkdir program reads the
 *    generation first, so an entry of the new generation was matched by the new globs;
 * 2. a grace period: every mkdir program that read an older generation has stored its
 *    entry (a cgroup being made is in the map, or will be matched by the new globs);
 * 3. the walk writes the new generation into the entries of every existing cgroup the new
 *    globs match (a cgroup made during the walk is found by it or by the kernel, step 1);
 * 4. the entries left with an older generation match no new glob: dropped;
 * 5. a grace period again: a fork, exec or attach that found a dropped entry has written
 *    its record, so the caller reads every such record before it scans /proc.
 * Until step 4 the old rules still select. A cgroup whose mkdir tracepoint ran before
 * step 1 but which the kernel had not activated (made visible) when step 3 walked its
 * parent is missed, the same instant as at start-up; its processes are still selected
 * by the /proc scan at their exec.
 */
int loader_set_cgroup_rules(struct loader *l, const char *const *globs, size_t n,
			    const char *mountinfo)
{
	struct cgroup_fill f = { .l = l, .gen = l->cgroup_gen + 1 };
	int err;

	if (!l->skel || !l->skel->rodata->cgroup_rules)
		return -EINVAL;
	if ((err = cgroup_globs_write(l, globs, n)))
		return err;
	__atomic_store_n(&l->skel->bss->cgroup_gen, f.gen, __ATOMIC_SEQ_CST);
	__atomic_store_n(&l->skel->bss->cgroup_any, n > 0, __ATOMIC_SEQ_CST);
	l->cgroup_gen = f.gen;
	bpf_runs_drain();
	for (size_t i = 0; i < n; i++) {
		int m = cgroup_ids_match(mountinfo, globs[i], cgroup_id_add, &f);

		if (m < 0)
			return m; /* the old entries stay: better too many than none */
	}
	if ((err = cgroup_ids_sweep(l, f.gen)))
		return err;
	bpf_runs_drain();
	return f.full ? -ENOSPC : 0;
}

int loader_del_comm_rule(struct loader *l, const char *comm)
{
	char key[SONDE_COMM_LEN] = { 0 };
	int err;

	if (!l->skel)
		return -EINVAL;
	strncpy(key, comm, sizeof(key) - 1);
	err = bpf_map__delete_elem(l->skel->maps.comm_rules, key, sizeof(key), 0);
	return err == -ENOENT ? 0 : err;
}

static int loader_ignore_conn(void *ctx, uint64_t id, uint64_t *prev)
{
	struct loader *l = ctx;

	if (!l->hints || !id)
		return -EINVAL;
	/* The slot's owner is whichever connection's id it holds (see sonde_abi.h). Only
	 * this thread writes the slots: the kernel reads them. */
	*prev = __atomic_exchange_n(&l->hints[id % SONDE_HINT_SLOTS], id, __ATOMIC_RELAXED);
	return 0;
}

/* Mirrors bpf/tcp.bpf.h's key of the tcp_listeners map. */
struct tcp_listener_key {
	uint32_t netns;
	uint16_t port;
	uint16_t _pad;
};

static int loader_listener(void *ctx, uint32_t netns, uint16_t port, uint32_t tgid, bool on)
{
	struct loader *l = ctx;
	struct tcp_listener_key k = { .netns = netns, .port = port };

	if (!l->skel)
		return -EINVAL;
	if (!on)
		return bpf_map__delete_elem(l->skel->maps.tcp_listeners, &k, sizeof(k), 0);
	return bpf_map__update_elem(l->skel->maps.tcp_listeners, &k, sizeof(k), &tgid, sizeof(tgid),
				    BPF_ANY);
}

static int loader_tls_track(void *ctx, uint32_t tgid, uint32_t nstgid, bool on)
{
	struct loader *l = ctx;

	if (!l->tls)
		return 0;
	if (!on) {
		uprobes_untrack(l->tls, tgid);
		return 0;
	}
	return uprobes_track(l->tls, tgid, nstgid);
}

static bool loader_tls_probed(void *ctx, uint32_t tgid)
{
	struct loader *l = ctx;

	return l->tls && uprobes_probed(l->tls, tgid);
}

void loader_tls_rescan(struct loader *l)
{
	struct timespec ts;

	if (!l->tls)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uprobes_rescan(l->tls, (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec);
}

void loader_tls_collect(struct loader *l)
{
	if (l->tls)
		uprobes_collect(l->tls);
}

bool loader_tls_pending(const struct loader *l)
{
	return l->tls && uprobes_pending(l->tls);
}

void loader_tls_settle(struct loader *l, unsigned timeout_ms)
{
	if (l->tls)
		uprobes_settle(l->tls, timeout_ms);
}

struct kernel_ctl loader_ctl(struct loader *l)
{
	return (struct kernel_ctl){ .ctx = l,
				    .allow = loader_allow,
				    .ignore_conn = loader_ignore_conn,
				    .listener = loader_listener,
				    .tls_track = loader_tls_track,
				    .tls_probed = loader_tls_probed };
}

int loader_poll(struct loader *l, int timeout_ms)
{
	int n = ring_buffer__poll(l->rb, timeout_ms);

	/* The kernel side mostly writes without waking us (BPF_RB_NO_WAKEUP): what arrived
	 * since the last wake-up is taken here, after the timeout. */
	if (n >= 0) {
		int more = ring_buffer__consume(l->rb);

		n = more < 0 ? more : n + more;
	}
	return n;
}

/* Runs of sonde's loaded programs the kernel skipped because the program was already
 * running on that CPU: each is an I/O (or a TLS call, a process event) never seen. */
static uint64_t recursion_misses(const struct loader *l)
{
	struct bpf_object *obj = l->skel->obj;
	struct bpf_program *prog;
	uint64_t n = 0;

	for (prog = bpf_object__next_program(obj, NULL); prog;
	     prog = bpf_object__next_program(obj, prog)) {
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);
		int fd = bpf_program__fd(prog);

		memset(&info, 0, sizeof(info));
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			n += info.recursion_misses;
	}
	return n;
}

int loader_stats(const struct loader *l, struct sonde_stats *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct sonde_stats per[ncpu > 0 ? ncpu : 1];
	uint32_t zero = 0;
	int err;

	memset(out, 0, sizeof(*out));
	/* The kernel fills every CPU's copy, but valgrind knows a lookup writes one value. */
	memset(per, 0, sizeof(per));
	err = bpf_map__lookup_elem(l->skel->maps.stats, &zero, sizeof(zero), per,
				   sizeof(per[0]) * (ncpu > 0 ? ncpu : 1), 0);
	if (err)
		return err;
	for (int c = 0; c < ncpu; c++) {
		for (int r = 0; r < SONDE_LOST_NR; r++)
			out->lost[r] += per[c].lost[r];
		out->truncated += per[c].truncated;
		out->no_buffer += per[c].no_buffer;
		for (int r = 0; r < SONDE_TLS_DROP_NR; r++)
			out->tls_dropped[r] += per[c].tls_dropped[r];
		for (int d = 0; d < 2; d++)
			out->lost_bytes[d] += per[c].lost_bytes[d];
	}
	out->lost[SONDE_LOST_RECURSION] = recursion_misses(l);
	return 0;
}
