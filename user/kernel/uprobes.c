// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "kernel/elfsym.h"
#include "kernel/link_reaper.h"
#include "kernel/probe.h"
#include "kernel/tls_go.h"
#include "kernel/tls_inspect.h"
#include "kernel/uprobes.h"
#include "util/log.h"
#include "sonde_bpf.skel.h"

/* A process without TLS library is looked at again every RESCAN_NS, but its maps are read
 * (a few hundred lines for a Python) only when its address space changed size since the
 * last reading (/proc/PID/statm: dlopen() of a libssl maps its segments), and at least
 * every RESCAN_ALL_NS, in case a mapping replaced another of the same size meanwhile. */
#define RESCAN_NS (2 * 1000000000ULL)
#define RESCAN_ALL_NS (60 * 1000000000ULL)

/* ---- OpenSSL: which function gets which programs -------------------------------------- */

enum ssl_prog { P_READ, P_WRITE, P_READ_EX, P_WRITE_EX, P_PAIR, P_FREE };

static const struct ssl_fn {
	const char *name;
	enum ssl_prog prog;
	bool required; /* without it the library is not probed (all OpenSSL >= 1.1.1 have it) */
	bool ret;      /* also a uretprobe (sonde_ssl_ret) */
} ssl_fns[] = {
	{ "SSL_read", P_READ, true, true },	    { "SSL_write", P_WRITE, true, true },
	{ "SSL_read_ex", P_READ_EX, false, true },  { "SSL_write_ex", P_WRITE_EX, false, true },
	{ "SSL_do_handshake", P_PAIR, true, true }, { "SSL_shutdown", P_PAIR, true, true },
	{ "SSL_free", P_FREE, true, false },
};
#define SSL_FN_NR (sizeof(ssl_fns) / sizeof(ssl_fns[0]))
_Static_assert(SSL_FN_NR == TLS_SSL_FNS, "struct tls_file's ssl_off");

static struct bpf_program *ssl_prog(struct sonde_bpf *s, enum ssl_prog p)
{
	switch (p) {
	case P_READ:
		return s->progs.sonde_ssl_read;
	case P_WRITE:
		return s->progs.sonde_ssl_write;
	case P_READ_EX:
		return s->progs.sonde_ssl_read_ex;
	case P_WRITE_EX:
		return s->progs.sonde_ssl_write_ex;
	case P_PAIR:
		return s->progs.sonde_ssl_pair;
	default:
		return s->progs.sonde_ssl_free;
	}
}

struct tls_target {
	struct tls_target_info info;
	uint64_t dev, ino; /* of the probed file */
	struct bpf_link **links;
	size_t n_links;
	uint64_t next_scan_ns;
	uint64_t full_scan_ns; /* when its maps are read again whatever vm_pages says */
	uint64_t vm_pages;     /* its address space's size when its maps were last read */
	uint64_t wait_key;     /* the key of the file being inspected for it; 0: none */
};

static void inspect_file(struct tls_file *tf, const char *path);

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t file_key(uint64_t dev, uint64_t ino)
{
	return (ino * 0x9e3779b97f4a7c15ULL) ^ dev;
}

static uint64_t *map_bits(struct bpf_map *map, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);

	return p == MAP_FAILED ? NULL : p;
}

int uprobes_init(struct uprobes *u, struct sonde_bpf *skel, const char *proc_root)
{
	int err;

	memset(u, 0, sizeof(*u));
	u->skel = skel;
	u->proc_root = proc_root;
	u->bits_size = (size_t)bpf_map__max_entries(skel->maps.tls_tgids) * sizeof(uint64_t);
	if (!(u->bits = map_bits(skel->maps.tls_tgids, u->bits_size)) ||
	    !(u->go_bits = map_bits(skel->maps.go_tls_tgids, u->bits_size)))
		return -errno;
	if ((err = hashmap_init(&u->targets, 64)) || (err = hashmap_init(&u->files, 16)) ||
	    (err = hashmap_init(&u->inflight, 16)))
		return err;
	if (!(u->inspector = inspector_start(inspect_file)))
		log_warn("TLS: no thread for inspecting libraries and executables (%s): event "
			 "processing will stall while each is read",
			 strerror(errno));
	if (!(u->reaper = reaper_start()))
		log_warn("TLS: no thread for detaching uprobes (%s): a process's exit will stall "
			 "event processing while its probes are removed",
			 strerror(errno));
	return 0;
}

/* The bitmap the socket programs test for t's library: Go's marks connections from its
 * probes, OpenSSL's through its calls in progress (tls.bpf.h). */
static void set_bit(struct uprobes *u, const struct tls_target *t, bool on)
{
	uint64_t *bits = t->info.lib == TLS_LIB_GO ? u->go_bits : u->bits;
	uint32_t tgid = t->info.tgid;
	uint64_t bit = 1ULL << (tgid % 64);

	if (!bits || (size_t)tgid / 64 >= u->bits_size / sizeof(uint64_t))
		return;
	if (on)
		__atomic_fetch_or(&bits[tgid / 64], bit, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(&bits[tgid / 64], ~bit, __ATOMIC_SEQ_CST);
}

/* Mirror bpf/tls.bpf.c's keys of the go_calls and ssl_conns maps, and bpf/tls.bpf.h's
 * value of the tls_socks map. Each starts with the tgid. */
struct go_key {
	uint32_t tgid;
	uint32_t _pad;
	uint64_t g;
};

struct ssl_key {
	uint32_t tgid;
	uint32_t _pad;
	uint64_t ssl;
};

struct tls_sock {
	uint64_t id, ino;
	uint32_t tgid;
	uint32_t _pad;
};

/* Removes the entries of map (keys of key_size bytes, at most 16) that belong to tgid:
 * those whose key starts with it, or (value_size > 0) whose value of value_size bytes ends
 * with it and 4 bytes of padding. Collected first: deleting while walking restarts the
 * walk. */
static void map_forget(const struct bpf_map *map, size_t key_size, size_t value_size, uint32_t tgid)
{
	uint8_t k[16], start[16] = { 0 }, v[sizeof(struct tls_sock)], *gone = NULL, *more;
	size_t n = 0, cap = 0;
	/* a key not in the map (no tgid is 0, no socket at address 0) starts the walk at the
	 * first key, as NULL does, without the NULL key valgrind takes for a bad address */
	const void *prev = start;

	while (!bpf_map__get_next_key(map, prev, k, key_size)) {
		uint32_t owner;

		prev = k;
		if (!value_size)
			memcpy(&owner, k, sizeof(owner));
		else if (bpf_map__lookup_elem(map, k, key_size, v, value_size, 0))
			continue; /* gone meanwhile */
		else
			memcpy(&owner, v + value_size - 8, sizeof(owner));
		if (owner != tgid)
			continue;
		if (n == cap && (more = realloc(gone, (cap ? 2 * cap : 16) * key_size))) {
			gone = more;
			cap = cap ? 2 * cap : 16;
		}
		if (n < cap)
			memcpy(gone + n++ * key_size, k, key_size);
	}
	for (size_t i = 0; i < n; i++)
		bpf_map__delete_elem(map, gone + i * key_size, key_size, 0);
	free(gone);
}

/* Stops t's probes at once (its bit, its go_procs entry, its open calls, its pairings);
 * its links go to the reaper. Plain hashes (an LRU would evict live entries silently): the
 * Read/Write calls its goroutines were inside, the sockets it published to the Go probes
 * (Unix sockets have no close event) and its SSL objects never freed are removed here. */
static void detach(struct uprobes *u, struct tls_target *t)
{
	uint32_t tgid = t->info.tgid;

	set_bit(u, t, false); /* first: the socket programs publish and pair no more */
	if (u->closing) {
		/* nothing to clean in maps about to go */
	} else if (t->info.lib == TLS_LIB_GO) {
		bpf_map__delete_elem(u->skel->maps.go_procs, &tgid, sizeof(tgid), 0);
		map_forget(u->skel->maps.go_calls, sizeof(struct go_key), 0, tgid);
		map_forget(u->skel->maps.tls_socks, sizeof(uint64_t), sizeof(struct tls_sock),
			   tgid);
	} else if (t->info.lib == TLS_LIB_OPENSSL) {
		map_forget(u->skel->maps.ssl_conns, sizeof(struct ssl_key), 0, tgid);
	}
	u->links -= t->n_links;
	if (t->n_links && !reaper_take(u->reaper, t->info.tgid, t->links, t->n_links)) {
		destroy_links(t->links, t->n_links);
		free(t->links);
	} else if (!t->n_links) {
		free(t->links);
	}
	t->links = NULL;
	t->n_links = 0;
}

/* At exit: the reaper's queue and every target's links, destroyed together in parallel;
 * a target keeps its other state for detach(). On an allocation failure detach()
 * destroys them one by one. */
static void destroy_all_links(struct uprobes *u)
{
	struct bpf_link **links;
	size_t n = 0, k;

	reaper_stop(u->reaper, &links, &k);
	u->reaper = NULL;
	for (size_t i = 0; i < u->targets.cap; i++)
		if (u->targets.vals[i])
			n += ((struct tls_target *)u->targets.vals[i])->n_links;
	if (n) {
		struct bpf_link **all = realloc(links, (k + n) * sizeof(*all));

		if (!all) {
			destroy_links(links, k);
			free(links);
			return;
		}
		links = all;
	}
	for (size_t i = 0; n && i < u->targets.cap; i++) {
		struct tls_target *t = u->targets.vals[i];

		if (!t)
			continue;
		memcpy(links + k, t->links, t->n_links * sizeof(*links));
		k += t->n_links;
		u->links -= t->n_links;
		t->n_links = 0;
	}
	destroy_links(links, k);
	free(links);
}

void uprobes_free(struct uprobes *u)
{
	u->closing = true;
	inspector_stop(u->inspector); /* frees the files it still had */
	u->inspector = NULL;
	if (u->inflight.cap)
		hashmap_free(&u->inflight);
	destroy_all_links(u);
	if (u->targets.cap) {
		for (size_t i = 0; i < u->targets.cap; i++) {
			if (u->targets.vals[i]) {
				detach(u, u->targets.vals[i]);
				free(u->targets.vals[i]);
			}
		}
		hashmap_free(&u->targets);
	}
	if (u->files.cap) {
		for (size_t i = 0; i < u->files.cap; i++) {
			free(u->files.vals[i]);
		}
		hashmap_free(&u->files);
	}
	if (u->bits)
		munmap(u->bits, u->bits_size);
	if (u->go_bits)
		munmap(u->go_bits, u->bits_size);
	memset(u, 0, sizeof(*u));
}

/* ---- finding the library ----------------------------------------------------------------- */

/* The size of process tgid's address space, in pages (the first field of /proc/PID/statm):
 * three system calls, where its maps take one read per page of text. 0: unknown. */
static uint64_t vm_pages(const char *proc_root, uint32_t tgid)
{
	char path[64], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%u/statm", proc_root, tgid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoull(buf, NULL, 10);
}

/* The libssl a process maps: its path (as /proc/PID/maps shows it, for the log) and the
 * map_files link of its first mapping, which opens the very file mapped whatever the
 * process's root or mount namespace (a maps path is relative to the reader's root). */
static bool find_libssl(const char *proc_root, uint32_t tgid, char *out, size_t size, char *link,
			size_t link_size)
{
	char path[64], line[4352], range[64];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u/maps", proc_root, tgid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/'), *base, *nl;

		if (!p || sscanf(line, "%63s", range) != 1)
			continue;
		if ((nl = strchr(p, '\n')))
			*nl = '\0';
		base = strrchr(p, '/') + 1;
		if (strncmp(base, "libssl.so", 9) || strstr(p, " (deleted)"))
			continue;
		snprintf(out, size, "%s", p);
		snprintf(link, link_size, "%s/%u/map_files/%s", proc_root, tgid, range);
		found = true;
	}
	fclose(f);
	return found;
}

static void openssl_offsets(struct tls_file *tf, const char *path)
{
	struct elf_func funcs[SSL_FN_NR];
	struct elf_file ef;
	int err = elf_file_open(&ef, path);

	tf->lib = TLS_LIB_OPENSSL;
	if (err) {
		tf->reason = TLS_REASON_UNREADABLE;
		snprintf(tf->detail, sizeof(tf->detail), "unreadable: %s%s", strerror(-err),
			 probe_uprobe_hint(err));
		return;
	}
	for (size_t i = 0; i < SSL_FN_NR; i++)
		funcs[i].name = ssl_fns[i].name;
	elf_file_funcs(&ef, funcs, SSL_FN_NR);
	for (size_t i = 0; i < SSL_FN_NR; i++) {
		tf->ssl_off[i] = funcs[i].vaddr ? elf_file_offset(&ef, funcs[i].vaddr) : 0;
		if (!tf->ssl_off[i] && ssl_fns[i].required && !tf->reason) {
			tf->reason = TLS_REASON_NO_SYMBOL;
			snprintf(tf->detail, sizeof(tf->detail), "no symbol %s", ssl_fns[i].name);
		}
	}
	elf_file_close(&ef);
}

static void go_inspect(struct tls_file *tf, const char *path)
{
	int err = go_tls_inspect(path, &tf->go, &tf->reason, tf->detail, sizeof(tf->detail));

	tf->lib = err == -ENOENT ? TLS_LIB_NONE : TLS_LIB_GO;
}

/* The inspector's work (tls_inspect.h), or the event loop's when it has no thread. */
static void inspect_file(struct tls_file *tf, const char *path)
{
	if (tf->asked == TLS_LIB_GO)
		go_inspect(tf, path);
	else
		openssl_offsets(tf, path);
}

static bool same_file(const struct tls_file *tf, const struct stat *st, enum tls_library asked)
{
	return tf->dev == st->st_dev && tf->ino == st->st_ino && tf->asked == asked;
}

/* Caches tf (replacing another file or kind at its key); false (tf freed) on no memory. */
static bool file_put(struct uprobes *u, struct tls_file *tf)
{
	uint64_t key = file_key(tf->dev, tf->ino);

	free(hashmap_del(&u->files, key));
	if (hashmap_put(&u->files, key, tf)) {
		free(tf);
		return false;
	}
	return true;
}

/*
 * The description of the file at path (opened through the process's root) as a libssl
 * (OPENSSL) or an executable (GO), cached per file. A file not seen yet is handed to the
 * inspector with an fd of its own (the path may be another file by the time it is read):
 * NULL, *pending set to its key; uprobes_collect() takes the result. Without an inspector
 * it is inspected here. NULL with *pending 0 and errno: the file cannot be opened.
 */
static struct tls_file *file_get(struct uprobes *u, const char *path, enum tls_library asked,
				 uint64_t *pending)
{
	struct tls_file *tf;
	struct stat st;
	uint64_t key;
	int fd, err;

	*pending = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st)) {
		err = errno;
		close(fd);
		errno = err;
		return NULL;
	}
	key = file_key(st.st_dev, st.st_ino);
	tf = hashmap_get(&u->files, key);
	if (tf && same_file(tf, &st, asked)) {
		close(fd);
		return tf;
	}
	tf = hashmap_get(&u->inflight, key);
	if (tf && same_file(tf, &st, asked)) {
		close(fd);
		*pending = key;
		return NULL;
	}
	tf = calloc(1, sizeof(*tf));
	if (!tf) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	tf->dev = st.st_dev;
	tf->ino = st.st_ino;
	tf->asked = asked;
	/* a key inspected already for another file (or kind) waits for its turn here */
	if (!hashmap_get(&u->inflight, key) && !hashmap_put(&u->inflight, key, tf)) {
		if (inspector_queue(u->inspector, tf, fd)) {
			*pending = key;
			return NULL;
		}
		hashmap_del(&u->inflight, key);
	}
	inspect_file(tf, path);
	close(fd);
	return file_put(u, tf) ? tf : NULL;
}

/* ---- attaching ---------------------------------------------------------------------------- */

static int add_link(struct uprobes *u, struct tls_target *t, struct bpf_program *prog, bool ret,
		    pid_t pid, const char *path, uint64_t off)
{
	struct bpf_link **links = realloc(t->links, (t->n_links + 1) * sizeof(*links));
	struct bpf_link *l;

	if (!links)
		return -ENOMEM;
	t->links = links;
	l = bpf_program__attach_uprobe(prog, ret, pid, path, off);
	if (!l)
		return -errno;
	t->links[t->n_links++] = l;
	u->links++;
	return 0;
}

static int attach_openssl(struct uprobes *u, struct tls_target *t, const struct tls_file *tf,
			  const char *path)
{
	int err = 0;

	for (size_t i = 0; i < SSL_FN_NR && !err; i++) {
		if (!tf->ssl_off[i])
			continue;
		err = add_link(u, t, ssl_prog(u->skel, ssl_fns[i].prog), false, t->info.tgid, path,
			       tf->ssl_off[i]);
		if (!err && ssl_fns[i].ret)
			err = add_link(u, t, u->skel->progs.sonde_ssl_ret, true, t->info.tgid, path,
				       tf->ssl_off[i]);
	}
	return err;
}

/* Go: entry and RET probes of Read and Write for this process, and its go_procs entry
 * (addresses moved by the process's load bias when the executable is PIE). */
static int attach_go(struct uprobes *u, struct tls_target *t, const struct tls_file *tf,
		     const char *path)
{
	const struct go_tls_fn *fns[2] = { &tf->go.read, &tf->go.write };
	struct bpf_program *enter[2] = { u->skel->progs.sonde_go_read,
					 u->skel->progs.sonde_go_write };
	struct sonde_go_proc gp = tf->go.proc;
	uint64_t bias = 0;
	int err = 0;

	if (tf->go.pie &&
	    (err = go_tls_load_bias(u->proc_root, t->info.tgid, &tf->go, tf->ino, &bias)))
		return err;
	gp.tcp_close += bias;
	gp.unix_close += gp.unix_close ? bias : 0;
	err = bpf_map__update_elem(u->skel->maps.go_procs, &t->info.tgid, sizeof(t->info.tgid), &gp,
				   sizeof(gp), BPF_ANY);
	for (int f = 0; f < 2 && !err; f++) {
		err = add_link(u, t, enter[f], false, t->info.tgid, path, fns[f]->offset);
		for (size_t i = 0; i < fns[f]->n_rets && !err; i++)
			err = add_link(u, t, u->skel->progs.sonde_go_ret, false, t->info.tgid, path,
				       fns[f]->offset + fns[f]->rets[i]);
	}
	return err;
}

/* " (pid N in its namespace)" when the process sees itself under another number, as the
 * other log lines about a process say it. */
static const char *nspid(const struct tls_target *t, char buf[48])
{
	if (!t->info.nstgid || t->info.nstgid == t->info.tgid)
		return "";
	snprintf(buf, 48, " (pid %u in its namespace)", t->info.nstgid);
	return buf;
}

static void target_fail(struct uprobes *u, struct tls_target *t, enum tls_reason why,
			const char *detail)
{
	char ns[48];

	detach(u, t);
	t->info.state = TLS_STATE_FAILED;
	t->info.reason = why;
	snprintf(t->info.detail, sizeof(t->info.detail), "%s", detail);
	log_warn("TLS: pid %u%s, %s: not probed: %s", t->info.tgid, nspid(t, ns), t->info.path,
		 t->info.detail);
}

/* Probes the library or executable tf, at path (seen through the process's root). */
static void target_probe(struct uprobes *u, struct tls_target *t, struct tls_file *tf,
			 const char *path)
{
	enum tls_library lib = tf->lib;
	char ns[48];
	uint64_t t0;
	int err;

	if (t->info.state == TLS_STATE_PROBED && t->dev == tf->dev && t->ino == tf->ino)
		return; /* the same file, probed already (an exec of the same program) */
	detach(u, t);
	t->info.lib = lib;
	t->dev = tf->dev;
	t->ino = tf->ino;
	if (tf->reason) {
		target_fail(u, t, tf->reason, tf->detail);
		return;
	}
	reaper_wait(u->reaper, t->info.tgid); /* its earlier probes gone: no call seen twice */
	t0 = now_ns();
	err = lib == TLS_LIB_GO ? attach_go(u, t, tf, path) : attach_openssl(u, t, tf, path);
	log_debug("TLS: pid %u: %zu uprobes attached in %.2f ms", t->info.tgid, t->n_links,
		  (double)(now_ns() - t0) / 1e6);
	if (err) {
		char detail[TLS_DETAIL_LEN];

		snprintf(detail, sizeof(detail), "attaching uprobes failed: %s%s", strerror(-err),
			 probe_uprobe_hint(err));
		target_fail(u, t, TLS_REASON_ATTACH, detail);
		return;
	}
	t->info.state = TLS_STATE_PROBED;
	t->info.reason = TLS_REASON_NONE;
	t->info.detail[0] = '\0';
	set_bit(u, t, true);
	log_info("TLS: pid %u%s: %s probed (%s, %zu uprobes%s)", t->info.tgid, nspid(t, ns),
		 tls_library_name(lib), t->info.path, t->n_links,
		 lib == TLS_LIB_GO && tf->go.offsets_from_dwarf ? ", struct offsets from DWARF"
								: "");
}

/* Looks for the TLS library of t's process (Go's crypto/tls in its executable, else a
 * libssl it maps) and probes it. */
static void target_examine(struct uprobes *u, struct tls_target *t)
{
	char lib[sizeof(t->info.path)], full[128];
	uint64_t now = now_ns();
	struct tls_file *tf;
	ssize_t n;

	t->next_scan_ns = now + RESCAN_NS;
	t->full_scan_ns = now + RESCAN_ALL_NS;
	t->vm_pages = vm_pages(u->proc_root, t->info.tgid); /* before the maps: see RESCAN_NS */
	snprintf(full, sizeof(full), "%s/%u/exe", u->proc_root, t->info.tgid);
	tf = file_get(u, full, TLS_LIB_GO, &t->wait_key);
	if (t->wait_key)
		return; /* examined again when the inspector is done with it */
	if (tf && tf->lib == TLS_LIB_GO) {
		n = readlink(full, t->info.path, sizeof(t->info.path) - 1);
		t->info.path[n > 0 ? n : 0] = '\0';
		target_probe(u, t, tf, full);
		return;
	}
	if (find_libssl(u->proc_root, t->info.tgid, lib, sizeof(lib), full, sizeof(full))) {
		snprintf(t->info.path, sizeof(t->info.path), "%s", lib);
		tf = file_get(u, full, TLS_LIB_OPENSSL, &t->wait_key);
		if (t->wait_key)
			return;
		if (tf) {
			target_probe(u, t, tf, full);
		} else {
			int err = -errno;
			char detail[TLS_DETAIL_LEN];

			snprintf(detail, sizeof(detail), "cannot read the file: %s%s",
				 strerror(-err), probe_uprobe_hint(err));
			t->info.lib = TLS_LIB_OPENSSL; /* counted in sonde_tls_targets as such */
			target_fail(u, t, TLS_REASON_UNREADABLE, detail);
		}
		return;
	}
	if (t->info.state != TLS_STATE_NONE)
		detach(u, t);
	t->info.lib = TLS_LIB_NONE;
	t->info.state = TLS_STATE_NONE;
	t->info.reason = TLS_REASON_NONE;
	t->info.detail[0] = t->info.path[0] = '\0';
}

int uprobes_track(struct uprobes *u, uint32_t tgid, uint32_t nstgid)
{
	struct tls_target *t;

	if (!u->skel)
		return 0;
	t = hashmap_get(&u->targets, tgid);
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t || hashmap_put(&u->targets, tgid, t)) {
			free(t);
			return -ENOMEM;
		}
		t->info.tgid = tgid;
	}
	t->info.nstgid = nstgid;
	target_examine(u, t);
	return 0;
}

void uprobes_untrack(struct uprobes *u, uint32_t tgid)
{
	struct tls_target *t;

	if (!u->skel || !(t = hashmap_del(&u->targets, tgid)))
		return;
	detach(u, t);
	free(t);
}

void uprobes_rescan(struct uprobes *u, uint64_t now)
{
	if (!u->skel)
		return;
	for (size_t i = 0; i < u->targets.cap; i++) {
		struct tls_target *t = u->targets.vals[i];

		if (!t || t->wait_key || t->info.state != TLS_STATE_NONE || now < t->next_scan_ns)
			continue;
		if (now < t->full_scan_ns && t->vm_pages &&
		    vm_pages(u->proc_root, t->info.tgid) == t->vm_pages) {
			t->next_scan_ns = now + RESCAN_NS; /* nothing was mapped or unmapped */
			continue;
		}
		target_examine(u, t);
	}
}

void uprobes_collect(struct uprobes *u)
{
	struct tls_file *got[16];
	size_t n;

	while ((n = inspector_done(u->inspector, got, 16))) {
		for (size_t k = 0; k < n; k++) {
			uint64_t key = file_key(got[k]->dev, got[k]->ino);

			if (hashmap_get(&u->inflight, key) == got[k])
				hashmap_del(&u->inflight, key);
			log_debug("TLS: file %llu:%llu inspected as %s in %.1f ms, off the event "
				  "loop",
				  (unsigned long long)got[k]->dev, (unsigned long long)got[k]->ino,
				  got[k]->asked == TLS_LIB_GO ? "an executable" : "a libssl",
				  got[k]->took_ms);
			if (!file_put(u, got[k]))
				log_warn("TLS: no memory to keep what a file offers");
			/* even without it: each waiting process is examined again (inline) */
			for (size_t i = 0; i < u->targets.cap; i++) {
				struct tls_target *t = u->targets.vals[i];

				if (t && t->wait_key == key)
					target_examine(u, t);
			}
		}
	}
}

bool uprobes_pending(const struct uprobes *u)
{
	return u->skel && u->inflight.len > 0;
}

void uprobes_settle(struct uprobes *u, unsigned timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ULL;

	while (uprobes_pending(u) && now_ns() < end) {
		uprobes_collect(u);
		if (uprobes_pending(u))
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	uprobes_collect(u);
}

bool uprobes_probed(const struct uprobes *u, uint32_t tgid)
{
	uint64_t bit = 1ULL << (tgid % 64);
	const struct tls_target *t;

	if (!u->bits || !u->go_bits || (size_t)tgid / 64 >= u->bits_size / sizeof(uint64_t))
		return false;
	if ((__atomic_load_n(&u->bits[tgid / 64], __ATOMIC_RELAXED) |
	     __atomic_load_n(&u->go_bits[tgid / 64], __ATOMIC_RELAXED)) &
	    bit)
		return true;
	/* being inspected: its TLS connections wait for plaintext (a connection that then
	 * gets none counts as unsupported TLS at its close) */
	t = hashmap_get(&u->targets, tgid);
	return t && t->wait_key;
}

size_t uprobes_list(const struct uprobes *u, struct tls_target_info *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < u->targets.cap; i++) {
		const struct tls_target *t = u->targets.vals[i];

		if (!t)
			continue;
		if (n < max)
			out[n] = t->info;
		n++;
	}
	return n;
}

const char *tls_library_name(enum tls_library lib)
{
	static const char *const names[TLS_LIB_NR] = { "none", "openssl", "go" };

	return lib < TLS_LIB_NR ? names[lib] : "unknown";
}

const char *tls_state_name(enum tls_state st)
{
	static const char *const names[TLS_STATE_NR] = { "none", "probed", "failed" };

	return st < TLS_STATE_NR ? names[st] : "unknown";
}

const char *tls_reason_name(enum tls_reason r)
{
	static const char *const names[TLS_REASON_NR] = {
		[TLS_REASON_NONE] = "",
		[TLS_REASON_UNREADABLE] = "unreadable",
		[TLS_REASON_NO_SYMBOL] = "no_symbol",
		[TLS_REASON_ATTACH] = "attach_failed",
		[TLS_REASON_GO_VERSION] = "go_version",
		[TLS_REASON_GO_UNDECODABLE] = "undecodable",
		[TLS_REASON_GO_ARCH] = "not_x86_64",
	};

	return r < TLS_REASON_NR ? names[r] : "unknown";
}
