// SPDX-License-Identifier: GPL-2.0-only
/*
 * Discovery and selection against a fake /proc built in a temporary directory at start
 * (symlinks for exe and fd/N, NUL-separated environ files cannot live in git reliably);
 * the net/tcp and net/tcp6 rows are real kernel output kept in data/proc/net/.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "procs/procfs.h"
#include "procs/selection.h"

static char root[PATH_MAX];

#define SECRET_1 "hunter2-secret"
#define SECRET_2 "tok-s3cr3t-xyz"

static void path_of(char *path, const char *rel)
{
	assert_true(snprintf(path, PATH_MAX, "%s/%s", root, rel) < PATH_MAX);
}

static void put(const char *rel, const void *data, size_t len)
{
	char path[PATH_MAX];
	int fd;

	path_of(path, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void put_str(const char *rel, const char *s)
{
	put(rel, s, strlen(s));
}

static void mkdir_rel(const char *fmt, ...)
{
	char rel[256], path[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	path_of(path, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void link_rel(const char *target, const char *rel)
{
	char path[PATH_MAX];

	path_of(path, rel);
	assert_int_equal(symlink(target, path), 0);
}

/* A status file as fs/proc/array.c writes it, with the fields discovery reads. */
static void put_status(uint32_t pid, const char *state, uint32_t tgid, uint32_t ppid,
		       uint32_t threads, bool long_groups)
{
	static char buf[16384];
	char rel[64];
	int off;

	off = snprintf(buf, sizeof(buf),
		       "Name:\tx\nUmask:\t0022\nState:\t%s\nTgid:\t%u\nNgid:\t0\nPid:\t%u\n"
		       "PPid:\t%u\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n"
		       "FDSize:\t64\nGroups:\t",
		       state, tgid, pid, ppid);
	/* A "Groups:" line longer than discovery's line buffer must be skipped cleanly. */
	for (int g = 0; long_groups && g < 1500; g++)
		off += snprintf(buf + off, sizeof(buf) - off, "%d ", 1000 + g);
	snprintf(buf + off, sizeof(buf) - off, "\nVmRSS:\t1024 kB\nThreads:\t%u\nSigQ:\t0/1\n",
		 threads);
	snprintf(rel, sizeof(rel), "%u/status", pid);
	put_str(rel, buf);
}

static void put_proc(uint32_t pid, const char *comm, const char *exe, const char *cgroup,
		     const void *environ, size_t environ_len)
{
	char rel[64];

	mkdir_rel("%u", pid);
	put_status(pid, "S (sleeping)", pid, 1, 1, false);
	snprintf(rel, sizeof(rel), "%u/comm", pid);
	put_str(rel, comm);
	if (exe) {
		snprintf(rel, sizeof(rel), "%u/exe", pid);
		link_rel(exe, rel);
	}
	if (cgroup) {
		snprintf(rel, sizeof(rel), "%u/cgroup", pid);
		put_str(rel, cgroup);
	}
	snprintf(rel, sizeof(rel), "%u/environ", pid);
	put(rel, environ, environ_len);
}

static void put_fds(uint32_t pid, const char *const *links, size_t n)
{
	char rel[64];

	mkdir_rel("%u/fd", pid);
	for (size_t i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "%u/fd/%zu", pid, i);
		link_rel(links[i], rel);
	}
}

#define ENV(s) s, sizeof(s) - 1 /* keeps the embedded and final NULs */

static void build_big_environ(void)
{
	static const char head[] = "OTEL_SERVICE_NAMESPACE=early\0BIG=";
	static const char tail[] = "\0OTEL_SERVICE_NAME=late\0";
	size_t big = 300 * 1024, len = sizeof(head) - 1 + big + sizeof(tail) - 1;
	char *env = malloc(len);

	assert_non_null(env);
	memcpy(env, head, sizeof(head) - 1);
	memset(env + sizeof(head) - 1, 'x', big);
	memcpy(env + sizeof(head) - 1 + big, tail, sizeof(tail) - 1);
	put_proc(600, "big-env\n", "/srv/bigenv", "0::/\n", env, len);
	free(env);
}

#define CTR_ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define POD_UID "1b9d6b2e-3c4f-4a5b-9c8d-7e6f5a4b3c2d"

/* Two processes of a pod's container on a hybrid host: the container in the v1
 * hierarchies, "/" in the unified tree, pid 7 in its own pid namespace. 1000 has a UTS
 * namespace of its own (HOSTNAME names its pod), 1001 the host's (hostNetwork). */
static void build_containers(void)
{
	static const char cgroup[] =
		"12:cpu,cpuacct:/kubepods/besteffort/pod" POD_UID "/" CTR_ID
		"\n4:memory:/kubepods/besteffort/pod" POD_UID "/" CTR_ID "\n0::/\n";
	static const char status[] = "Name:\tapi\nTgid:\t%u\nPPid:\t1\nGroups:\t\n"
				     "NStgid:\t%u\t7\nNSpid:\t%u\t7\nThreads:\t1\n";
	char buf[256], rel[32];

	mkdir_rel("1");
	mkdir_rel("1/ns");
	link_rel("uts:[4026531838]", "1/ns/uts");
	for (uint32_t pid = 1000; pid <= 1001; pid++) {
		put_proc(pid, "api\n", "/srv/api", cgroup,
			 ENV("DB_PASSWORD=" SECRET_1 "\0POD_NAMESPACE=shop\0HOSTNAME=api-7d9f\0"
			     "CONTAINER_NAME=api\0"));
		snprintf(buf, sizeof(buf), status, pid, pid, pid);
		snprintf(rel, sizeof(rel), "%u/status", pid);
		put_str(rel, buf);
		mkdir_rel("%u/ns", pid);
		snprintf(rel, sizeof(rel), "%u/ns/uts", pid);
		link_rel(pid == 1000 ? "uts:[4026532001]" : "uts:[4026531838]", rel);
	}
}

/* A hybrid host where sonde itself runs in a container (memory hierarchy) and the process
 * was put into a cgroup of another v1 hierarchy (cpu). */
static void build_moved(void)
{
	put_proc(620, "moved\n", "/usr/bin/moved",
		 "9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu:/sonde-it-cgsel-x/app\n0::/\n",
		 "", 0);
}

static void build_procs(void)
{
	static const char *const fds100[] = {
		"/dev/null",	  "pipe:[999]",	    "socket:[17584]",	      "socket:[17583]",
		"socket:[17586]", "socket:[17583]", "anon_inode:[eventpoll]", "socket:[1758]"
	};
	static const char *const fds200[] = { "socket:[17589]", "socket:[182]", "socket:[17588]" };

	put_proc(100, "trade-engine\n", "/opt/trade/bin/trade-engine",
		 "12:memory:/legacy\n0::/system.slice/trade.service\n",
		 ENV("PATH=/usr/bin\0DB_PASSWORD=" SECRET_1 "\0OTEL_SERVICE_NAME=orders\0"
		     "NOEQUALS\0OTEL_SERVICE_NAMESPACE=shop\0OTEL_SERVICE_NAME=other\0"
		     "OTEL_RESOURCE_ATTRIBUTES=service.name=ignored\0"));
	put_status(100, "S (sleeping)", 100, 42, 4, true);
	link_rel(SONDE_TEST_DATA "/proc/net", "100/net");
	put_fds(100, fds100, sizeof(fds100) / sizeof(*fds100));

	put_proc(200, "nginx\n", "/usr/sbin/nginx (deleted)",
		 "0::/kubepods.slice/pod1/cri-containerd-abc.scope\n",
		 ENV("SECRET_TOKEN=" SECRET_2 "\0OTEL_RESOURCE_ATTRIBUTES=deployment.environment="
		     "prod, service.name = web%2Dfront ,service.namespace=edge\0"));
	link_rel(SONDE_TEST_DATA "/proc/net", "200/net");
	put_fds(200, fds200, sizeof(fds200) / sizeof(*fds200));

	/* Empty OTEL_SERVICE_NAME counts as unset; no LISTEN rows; no IPv6. */
	put_proc(300, "my worker\n", "/usr/local/bin/worker", "0::/user.slice\n",
		 ENV("NOEQ\0OTEL_SERVICE_NAME=\0=weird\0HOME=/root\0"));
	mkdir_rel("300/net");
	put_str("300/net/tcp", "  sl  local_address rem_address   st tx_queue rx_queue tr "
			       "tm->when retrnsmt   uid  timeout inode\n");

	/* Listeners, one closing while listed (CLOSE), then connections: the listening hash
	 * ends at the first connection (the kernel lists it first), so a LISTEN row after one,
	 * which the kernel never prints, shows that the rest was not read. */
	put_proc(610, "lister\n", "/usr/bin/lister", "0::/\n", "", 0);
	mkdir_rel("610/net");
	put_str("610/net/tcp",
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid "
		" "
		"timeout inode\n"
		"   0: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     "
		"0        0 6101 1 0000000000000000 100 0 0 10 0\n"
		"   1: 00000000:0BB9 00000000:0000 07 00000000:00000000 00:00000000 00000000     "
		"0        0 6102 1 0000000000000000 100 0 0 10 0\n"
		"   2: 0100007F:0BBA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     "
		"0        0 6103 1 0000000000000000 100 0 0 10 0\n"
		"   3: 0100007F:98AA 0100007F:0BB8 06 00000000:00000000 03:00000100 00000000     "
		"0        0 0 3 0000000000000000\n"
		"   4: 0100007F:0BBB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     "
		"0        0 6104 1 0000000000000000 100 0 0 10 0\n");
	{
		static const char *const fds610[] = { "socket:[6101]", "socket:[6102]",
						      "socket:[6103]", "socket:[6104]" };

		put_fds(610, fds610, sizeof(fds610) / sizeof(*fds610));
	}

	/* A kernel thread: no exe, empty environ, no cgroup file. */
	put_proc(2, "kthreadd\n", NULL, NULL, "", 0);
	/* comm bytes are kept as they are: newline inside, invalid UTF-8. */
	put_proc(400, "a\nb\xff\n", NULL, "0::/\n", "", 0);
	build_big_environ();
	put_proc(700, "trade-engine-se\n", "/srv/te", "0::/\n", ENV("OTEL_SERVICE_NAME=unterm"));
	put_proc(800, "zombie-lead\n", NULL, "0::/\n", "", 0);
	put_status(800, "Z (zombie)", 800, 1, 3, false);
	put_proc(801, "zombie\n", NULL, "0::/\n", "", 0);
	put_status(801, "Z (zombie)", 801, 1, 1, false);
	/* A thread of 500, reachable by its id though not a process of its own. */
	mkdir_rel("501");
	put_status(501, "S (sleeping)", 500, 1, 2, false);
	put_str("501/comm", "thread\n");
	build_containers();
	/* Vanished between reading status and comm. */
	mkdir_rel("900");
	put_status(900, "S (sleeping)", 900, 1, 1, false);
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char self[16], path[PATH_MAX];

	snprintf(root, sizeof(root), "%s/sonde-proc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root))
		return -1;
	build_procs();
	build_moved();
	mkdir_rel("net");
	mkdir_rel("123abc");
	link_rel("100", "self");
	/* This test's own pid, for skip_self (unless a fixture process already has it). */
	snprintf(self, sizeof(self), "%d", getpid());
	path_of(path, self);
	if (access(path, F_OK) != 0)
		put_proc((uint32_t)getpid(), "self\n", "/bin/self", "0::/\n", "", 0);
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	return nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- proc_read_info ------------------------------------------------------------------------ */

static void test_read_info_full(void **state)
{
	struct proc_info p;

	assert_int_equal(proc_read_info(root, 100, &p), 0);
	assert_int_equal(p.tgid, 100);
	assert_int_equal(p.ppid, 42);
	assert_string_equal(p.comm, "trade-engine");
	assert_string_equal(p.exe, "/opt/trade/bin/trade-engine");
	assert_string_equal(p.cgroup, "/system.slice/trade.service");
	/* OTEL_SERVICE_NAME beats OTEL_RESOURCE_ATTRIBUTES; its first occurrence wins. */
	assert_string_equal(p.service_name, "orders");
	assert_string_equal(p.service_namespace, "shop");
	assert_null(memmem(&p, sizeof(p), "hunter2", 7));
	assert_null(memmem(&p, sizeof(p), "DB_PASSWORD", 11));
	assert_null(memmem(&p, sizeof(p), "/usr/bin", 8));
}

static void test_read_info_resource_attributes(void **state)
{
	struct proc_info p;

	assert_int_equal(proc_read_info(root, 200, &p), 0);
	assert_string_equal(p.comm, "nginx");
	assert_string_equal(p.exe, "/usr/sbin/nginx (deleted)");
	assert_string_equal(p.cgroup, "/kubepods.slice/pod1/cri-containerd-abc.scope");
	/* Trimmed and percent-decoded. */
	assert_string_equal(p.service_name, "web-front");
	assert_string_equal(p.service_namespace, "edge");
	assert_null(memmem(&p, sizeof(p), "s3cr3t", 6));
	assert_null(memmem(&p, sizeof(p), "prod", 4));
}

static struct select_rule rule(enum select_kind kind, uint32_t num, const char *text);

static void test_read_info_container(void **state)
{
	struct select_rule r;
	struct proc_info p;

	assert_int_equal(proc_read_info(root, 1000, &p), 0);
	assert_int_equal(p.nstgid, 7);
	assert_string_equal(p.cgroup, "/");
	assert_string_equal(p.cgroup_v1, "/kubepods/besteffort/pod" POD_UID "/" CTR_ID);
	assert_string_equal(p.ctx.container_id, CTR_ID);
	assert_string_equal(p.ctx.pod_uid, POD_UID);
	assert_string_equal(p.ctx.pod_name, "api-7d9f"); /* HOSTNAME: no POD_NAME */
	assert_string_equal(p.ctx.pod_namespace, "shop");
	assert_string_equal(p.ctx.container_name, "api");
	assert_null(memmem(&p, sizeof(p), SECRET_1, strlen(SECRET_1)));
	r = rule(SELECT_CGROUP, 0, "/kubepods/*");
	assert_true(selection_match(&r, 1, &p, NULL, 0));
	/* the node's UTS namespace: HOSTNAME is the node's name, not the pod's */
	assert_int_equal(proc_read_info(root, 1001, &p), 0);
	assert_string_equal(p.ctx.pod_name, "");
	assert_string_equal(p.ctx.container_id, CTR_ID);
	/* outside containers: nothing, and the pid is the host's */
	assert_int_equal(proc_read_info(root, 100, &p), 0);
	assert_int_equal(p.nstgid, 100);
	assert_true(ctx_labels_empty(&p.ctx));
}

static void test_read_info_fallbacks(void **state)
{
	struct proc_info p;

	/* Empty OTEL_SERVICE_NAME: the exe's name only if comm (the name exec'd) is its
	 * start; here the process was started under another name (a symlink, as Debian's
	 * redis-server -> redis-check-rdb): comm. */
	assert_int_equal(proc_read_info(root, 300, &p), 0);
	assert_string_equal(p.comm, "my worker");
	assert_string_equal(p.service_name, "my worker");
	assert_string_equal(p.service_namespace, "");
	assert_null(memmem(&p, sizeof(p), "/root", 5));

	/* Kernel thread: no exe, no cgroup file, service named after comm. */
	assert_int_equal(proc_read_info(root, 2, &p), 0);
	assert_string_equal(p.comm, "kthreadd");
	assert_string_equal(p.exe, "");
	assert_string_equal(p.cgroup, "");
	assert_string_equal(p.service_name, "kthreadd");

	assert_int_equal(proc_read_info(root, 400, &p), 0);
	assert_string_equal(p.comm, "a\nb\xff");
	assert_string_equal(p.service_name, "a\nb\xff");

	/* Environ without a final NUL: the last entry still counts. */
	assert_int_equal(proc_read_info(root, 700, &p), 0);
	assert_string_equal(p.comm, "trade-engine-se");
	assert_string_equal(p.service_name, "unterm");
}

static void test_read_info_environ_bounded(void **state)
{
	struct proc_info p;

	/* OTEL_SERVICE_NAME sits past the 256 KiB read bound. */
	assert_int_equal(proc_read_info(root, 600, &p), 0);
	assert_string_equal(p.service_namespace, "early");
	assert_string_equal(p.service_name, "big-env"); /* comm: not the start of "bigenv" */
}

static void test_read_info_gone(void **state)
{
	struct proc_info p;

	memset(&p, 0x55, sizeof(p));
	assert_int_equal(proc_read_info(root, 12345, &p), -ENOENT);
	assert_int_equal(p.tgid, 0);
	assert_int_equal(proc_read_info(root, 900, &p), -ENOENT); /* status, then no comm */
	assert_int_equal(proc_read_info(root, 501, &p), -ENOENT); /* a thread, not a process */
	assert_int_equal(proc_read_info("/nonexistent-proc", 1, &p), -ENOENT);
	assert_int_equal(proc_read_info(root, 100, NULL), -EINVAL);
}

/* ---- proc_listening_ports ------------------------------------------------------------------ */

static void test_listening_ports(void **state)
{
	uint16_t ports[8];
	size_t n = 99;

	/* v4 127.0.0.1:5432 and v6 [::]:8080 (an fd dup'ed); established, TIME_WAIT,
	   other processes' listeners and non-socket fds are not ports of 100. */
	assert_int_equal(proc_listening_ports(root, 100, ports, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ports[0], 5432);
	assert_int_equal(ports[1], 8080);

	/* v6 [::1]:9090 and v4 0.0.0.0:2024, ascending. */
	assert_int_equal(proc_listening_ports(root, 200, ports, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ports[0], 2024);
	assert_int_equal(ports[1], 9090);

	/* Room for one: the lowest is kept. */
	assert_int_equal(proc_listening_ports(root, 100, ports, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ports[0], 5432);
	assert_int_equal(proc_listening_ports(root, 200, ports, 0, &n), 0);
	assert_int_equal(n, 0);
}

static void test_listening_ports_stop_at_connections(void **state)
{
	uint16_t ports[8];
	size_t n = 99;

	(void)state;
	/* 3000 and 3002 listen; 3001 was closing; 3003 comes after a TIME_WAIT row; no tcp6 */
	assert_int_equal(proc_listening_ports(root, 610, ports, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ports[0], 3000);
	assert_int_equal(ports[1], 3002);
}

static void test_listening_ports_none_and_gone(void **state)
{
	uint16_t ports[8];
	size_t n = 99;

	/* No LISTEN rows and no net/tcp6: no fd walk (300 has no fd directory at all). */
	assert_int_equal(proc_listening_ports(root, 300, ports, 8, &n), 0);
	assert_int_equal(n, 0);
	n = 99;
	assert_int_equal(proc_listening_ports(root, 12345, ports, 8, &n), -ENOENT);
	assert_int_equal(n, 0);
	assert_int_equal(proc_listening_ports(root, 100, NULL, 8, &n), -EINVAL);
}

/* ---- selection ----------------------------------------------------------------------------- */

static struct select_rule rule(enum select_kind kind, uint32_t num, const char *text)
{
	struct select_rule r = { .kind = kind, .num = num };

	snprintf(r.text, sizeof(r.text), "%s", text);
	return r;
}

static bool match1(struct select_rule r, uint32_t pid, const uint16_t *ports, size_t n)
{
	struct proc_info p;

	assert_int_equal(proc_read_info(root, pid, &p), 0);
	return selection_match(&r, 1, &p, ports, n);
}

static void test_select_pid_comm(void **state)
{
	assert_true(match1(rule(SELECT_PID, 100, ""), 100, NULL, 0));
	assert_false(match1(rule(SELECT_PID, 100, ""), 200, NULL, 0));
	assert_true(match1(rule(SELECT_COMM, 0, "trade-engine"), 100, NULL, 0));
	assert_false(match1(rule(SELECT_COMM, 0, "trade-engin"), 100, NULL, 0));
	assert_false(match1(rule(SELECT_COMM, 0, "trade-engine2"), 100, NULL, 0));
	assert_true(match1(rule(SELECT_COMM, 0, "my worker"), 300, NULL, 0));
	/* A rule longer than 15 bytes names what the kernel cut. */
	assert_true(match1(rule(SELECT_COMM, 0, "trade-engine-server"), 700, NULL, 0));
	assert_false(match1(rule(SELECT_COMM, 0, "trade-engine-server"), 100, NULL, 0));
}

static void test_select_exe(void **state)
{
	assert_true(match1(rule(SELECT_EXE, 0, "/opt/trade/bin/*"), 100, NULL, 0));
	assert_true(match1(rule(SELECT_EXE, 0, "/opt/trade/bin/trade-engine"), 100, NULL, 0));
	/* '*' crosses '/'. */
	assert_true(match1(rule(SELECT_EXE, 0, "/opt/*-engine"), 100, NULL, 0));
	assert_false(match1(rule(SELECT_EXE, 0, "/opt/trade/bin/trade"), 100, NULL, 0));
	/* Replaced binary: both the path and the raw link text match. */
	assert_true(match1(rule(SELECT_EXE, 0, "/usr/sbin/nginx"), 200, NULL, 0));
	assert_true(match1(rule(SELECT_EXE, 0, "*/nginx"), 200, NULL, 0));
	assert_true(match1(rule(SELECT_EXE, 0, "/usr/sbin/nginx (deleted)"), 200, NULL, 0));
	assert_false(match1(rule(SELECT_EXE, 0, "/usr/sbin/ngin"), 200, NULL, 0));
	/* Kernel threads have no exe: not even "*" selects them. */
	assert_false(match1(rule(SELECT_EXE, 0, "*"), 2, NULL, 0));
	assert_true(match1(rule(SELECT_EXE, 0, "*"), 300, NULL, 0));
}

static void test_select_port_cgroup(void **state)
{
	static const uint16_t ports[] = { 5432, 8080 };

	assert_true(match1(rule(SELECT_PORT, 8080, ""), 100, ports, 2));
	assert_true(match1(rule(SELECT_PORT, 5432, ""), 100, ports, 2));
	assert_false(match1(rule(SELECT_PORT, 9090, ""), 100, ports, 2));
	assert_false(match1(rule(SELECT_PORT, 8080, ""), 100, NULL, 2));
	assert_false(match1(rule(SELECT_PORT, 8080, ""), 100, ports, 0));

	assert_true(match1(rule(SELECT_CGROUP, 0, "/system.slice/trade.service"), 100, NULL, 0));
	assert_true(match1(rule(SELECT_CGROUP, 0, "/kubepods.slice/*"), 200, NULL, 0));
	assert_false(match1(rule(SELECT_CGROUP, 0, "/kubepods.slice/*"), 100, NULL, 0));
	assert_true(match1(rule(SELECT_CGROUP, 0, "/legacy"), 100, NULL, 0)); /* v1 tree */
	assert_false(match1(rule(SELECT_CGROUP, 0, "*"), 2, NULL, 0));	      /* no cgroup known */
}

/* An exec is decided from its comm alone only when every rule is pid= or comm=. */
static void test_select_none_by_comm(void **state)
{
	struct select_rule only[] = { rule(SELECT_COMM, 0, "nginx"), rule(SELECT_PID, 300, ""),
				      rule(SELECT_COMM, 0, "a-very-long-process-name") };
	struct select_rule mixed[] = { rule(SELECT_COMM, 0, "nginx"),
				       rule(SELECT_EXE, 0, "/usr/bin/*") };
	struct select_rule port[] = { rule(SELECT_PORT, 8080, "") };
	struct select_rule cgroup[] = { rule(SELECT_CGROUP, 0, "/kubepods/*") };

	assert_true(selection_none_by_comm(only, 3, 100, "bash"));
	assert_false(selection_none_by_comm(only, 3, 100, "nginx"));
	assert_false(selection_none_by_comm(only, 3, 300, "bash"));
	/* the kernel cuts comms to 15 bytes: the cut comm is named by the long rule */
	assert_false(selection_none_by_comm(only, 3, 100, "a-very-long-pro"));
	assert_true(selection_none_by_comm(only, 1, 300, "bash"));
	/* exe=, port= and cgroup= need /proc: never decided from the comm */
	assert_false(selection_none_by_comm(mixed, 2, 100, "bash"));
	assert_false(selection_none_by_comm(port, 1, 100, "bash"));
	assert_false(selection_none_by_comm(cgroup, 1, 100, "bash"));
	assert_true(selection_none_by_comm(NULL, 0, 100, "bash"));
}

/* cgroup= rules match every hierarchy's path, as the kernel's selection does, not only the
 * v1 path kept for the container labels. */
static void test_select_cgroup_any_hierarchy(void **state)
{
	struct proc_info p;

	assert_int_equal(proc_read_info(root, 620, &p), 0);
	assert_string_equal(p.cgroup_v1, "/process_api/abc");
	assert_string_equal(p.cgroup_v1_all, "/process_api/abc");
	assert_string_equal(p.cgroup_v1_all + strlen("/process_api/abc") + 1,
			    "/sonde-it-cgsel-x/app");
	assert_true(match1(rule(SELECT_CGROUP, 0, "/sonde-it-cgsel-*"), 620, NULL, 0));
	assert_true(match1(rule(SELECT_CGROUP, 0, "/process_api/*"), 620, NULL, 0));
	assert_true(match1(rule(SELECT_CGROUP, 0, "/"), 620, NULL, 0)); /* the v2 root */
	assert_false(match1(rule(SELECT_CGROUP, 0, "/sonde-it-cgsel-y*"), 620, NULL, 0));
	assert_false(match1(rule(SELECT_CGROUP, 0, "/app"), 620, NULL, 0));
}

static void test_select_any_rule(void **state)
{
	struct select_rule rules[] = { rule(SELECT_COMM, 0, "nginx"), rule(SELECT_PORT, 8080, ""),
				       rule(SELECT_PID, 300, "") };
	static const uint16_t ports[] = { 8080 };
	struct proc_info p;

	assert_int_equal(proc_read_info(root, 100, &p), 0);
	assert_false(selection_match(rules, 3, &p, NULL, 0));
	assert_true(selection_match(rules, 3, &p, ports, 1));
	assert_false(selection_match(rules, 0, &p, ports, 1));
	assert_true(selection_has_port_rules(rules, 3));
	assert_false(selection_has_port_rules(rules, 1));
	assert_false(selection_has_port_rules(NULL, 0));
	assert_int_equal(proc_read_info(root, 300, &p), 0);
	assert_true(selection_match(rules, 3, &p, NULL, 0));
}

/* ---- proc_scan ----------------------------------------------------------------------- */

struct seen {
	uint32_t tgids[32];
	size_t n;
	uint32_t stop_at;
};

static int collect(void *ctx, const struct proc_info *p)
{
	struct seen *s = ctx;

	assert_true(s->n < 32);
	s->tgids[s->n++] = p->tgid;
	return p->tgid == s->stop_at ? 7 : 0;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* What a scan must report: the readable processes of the tree, which setup() gave this
   test's own pid too, without it when skip_self, in ascending order. */
static size_t expected_tgids(uint32_t *out, bool skip_self)
{
	static const uint32_t ok[] = { 2,   100, 200, 300, 400,	 600, 610,
				       620, 700, 800, 801, 1000, 1001 };
	uint32_t self = (uint32_t)getpid();
	struct proc_info p;
	bool self_listed = false;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		self_listed |= ok[i] == self;
		if (!skip_self || ok[i] != self)
			out[n++] = ok[i];
	}
	if (!skip_self && !self_listed && proc_read_info(root, self, &p) == 0)
		out[n++] = self;
	qsort(out, n, sizeof(*out), u32_cmp);
	return n;
}

static void test_scan(void **state)
{
	uint32_t want[32];
	struct seen s = { 0 };
	size_t n;

	assert_int_equal(proc_scan(root, false, collect, &s), 0);
	n = expected_tgids(want, false);
	assert_true(n >= 9);
	assert_int_equal(s.n, n);
	assert_memory_equal(s.tgids, want, n * sizeof(*want));

	memset(&s, 0, sizeof(s));
	assert_int_equal(proc_scan(root, true, collect, &s), 0);
	n = expected_tgids(want, true);
	assert_int_equal(s.n, n);
	assert_memory_equal(s.tgids, want, n * sizeof(*want));
}

static void test_scan_early_stop(void **state)
{
	struct seen s = { .stop_at = 200 };
	uint32_t want[32];
	size_t n = 0;

	expected_tgids(want, true);
	while (want[n] != 200)
		n++;
	assert_int_equal(proc_scan(root, true, collect, &s), 7);
	assert_int_equal(s.n, n + 1);
	assert_memory_equal(s.tgids, want, (n + 1) * sizeof(*want));
	assert_int_equal(proc_scan("/nonexistent-proc", true, collect, &s), -ENOENT);
}

/* ---- the real /proc ------------------------------------------------------------------------ */

static void test_real_proc(void **state)
{
	struct proc_info p;
	uint16_t ports[PROC_PORTS_MAX];
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	size_t n;
	int fd;
	bool found = false;
	const char *base;

	assert_int_equal(proc_read_info("/proc", (uint32_t)getpid(), &p), 0);
	assert_int_equal(p.tgid, (uint32_t)getpid());
	assert_int_equal(p.ppid, (uint32_t)getppid());
	assert_string_equal(p.comm, "test_procfs");
	base = strrchr(p.exe, '/');
	assert_non_null(base);
	assert_string_equal(base, "/test_procfs");
	if (!getenv("OTEL_SERVICE_NAME") && !getenv("OTEL_RESOURCE_ATTRIBUTES"))
		assert_string_equal(p.service_name, "test_procfs");

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(
		proc_listening_ports("/proc", (uint32_t)getpid(), ports, PROC_PORTS_MAX, &n), 0);
	for (size_t i = 0; i < n; i++)
		found |= ports[i] == ntohs(sa.sin_port);
	assert_true(found);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_info_full),
		cmocka_unit_test(test_read_info_resource_attributes),
		cmocka_unit_test(test_read_info_fallbacks),
		cmocka_unit_test(test_read_info_environ_bounded),
		cmocka_unit_test(test_read_info_container),
		cmocka_unit_test(test_read_info_gone),
		cmocka_unit_test(test_listening_ports),
		cmocka_unit_test(test_listening_ports_stop_at_connections),
		cmocka_unit_test(test_listening_ports_none_and_gone),
		cmocka_unit_test(test_select_pid_comm),
		cmocka_unit_test(test_select_exe),
		cmocka_unit_test(test_select_port_cgroup),
		cmocka_unit_test(test_select_cgroup_any_hierarchy),
		cmocka_unit_test(test_select_any_rule),
		cmocka_unit_test(test_select_none_by_comm),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_scan_early_stop),
		cmocka_unit_test(test_real_proc),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
