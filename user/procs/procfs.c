// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process discovery and selection from /proc.
 *
 * Every read of one process goes through a descriptor of its /proc/PID directory: once the
 * process exits, lookups under that descriptor fail (ENOENT/ESRCH) instead of silently
 * reading a newer process that reused the pid. Both errors mean "gone" and are reported
 * as -ENOENT. Files are streamed through fixed stack buffers: a process costs no
 * allocation beyond its directory listings.
 */
#include "procs/procfs.h"
#include "procs/container.h"
#include "procs/environ.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DELETED_SUFFIX " (deleted)"
/* TCP states as the kernel's tcp_states.h numbers them and net/tcp prints them */
#define TCP_CLOSE 0x07
#define TCP_LISTEN 0x0A
#define NET_TCP_DONE 1 /* net_tcp_line: past the listeners, stop reading */

static bool is_gone(int err)
{
	return err == -ENOENT || err == -ESRCH;
}

static void str_copy(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static int open_pid_dir(const char *proc_root, uint32_t tgid)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%u", proc_root, tgid) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return is_gone(-errno) ? -ENOENT : -errno;
	return fd;
}

/* Reads up to size bytes of a small file. Returns the length read or -errno. */
static ssize_t read_small(int dirfd, const char *name, char *buf, size_t size)
{
	size_t have = 0;
	int fd, err = 0;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (have < size) {
		ssize_t r = read(fd, buf + have, size - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	close(fd);
	return err ? err : (ssize_t)have;
}

typedef int (*line_fn)(void *ctx, char *line);

/*
 * Streams a file line by line (NUL-terminated, without '\n') through a fixed buffer, so a
 * net/tcp of a busy host costs no memory. Lines longer than the buffer are skipped: none
 * of the lines parsed here can be (a "Groups:" line of status can). Returns 0, the first
 * non-zero value of fn (which stops the read), or -errno.
 */
static int read_lines(int dirfd, const char *name, line_fn fn, void *ctx)
{
	char buf[4096];
	size_t have = 0;
	bool skipping = false;
	int fd, err = 0;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);
		char *start = buf, *nl;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0) {
			buf[have] = '\0';
			if (have && !skipping)
				err = fn(ctx, buf);
			break;
		}
		have += (size_t)r;
		while ((nl = memchr(start, '\n', (size_t)(buf + have - start)))) {
			*nl = '\0';
			if (!skipping && (err = fn(ctx, start)))
				goto out;
			skipping = false;
			start = nl + 1;
		}
		have = (size_t)(buf + have - start);
		memmove(buf, start, have);
		if (have == sizeof(buf) - 1) {
			skipping = true;
			have = 0;
		}
	}
out:
	close(fd);
	return err;
}

/* ---- status, comm, exe, cgroup ---------------------------------------------------------- */

enum {
	STATUS_STATE = 1 << 0,
	STATUS_TGID = 1 << 1,
	STATUS_PPID = 1 << 2,
	STATUS_THREADS = 1 << 3,
	STATUS_NSTGID = 1 << 4,
};

struct status_fields {
	unsigned int want, seen;
	char state;
	uint32_t tgid, ppid, threads;
	uint32_t nstgid; /* the innermost pid namespace's number: NStgid's last field */
};

static bool field_u32(const char *line, const char *key, uint32_t *out)
{
	size_t klen = strlen(key);
	unsigned long v;
	char *end;

	if (strncmp(line, key, klen) != 0)
		return false;
	errno = 0;
	v = strtoul(line + klen, &end, 10);
	if (errno || end == line + klen || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int status_line(void *ctx, char *line)
{
	struct status_fields *st = ctx;

	if (!strncmp(line, "State:", 6)) {
		st->state = line[6 + strspn(line + 6, " \t")];
		st->seen |= STATUS_STATE;
	} else if (field_u32(line, "Tgid:", &st->tgid)) {
		st->seen |= STATUS_TGID;
	} else if (field_u32(line, "PPid:", &st->ppid)) {
		st->seen |= STATUS_PPID;
	} else if (field_u32(line, "Threads:", &st->threads)) {
		st->seen |= STATUS_THREADS;
	} else if (!strncmp(line, "NStgid:", 7)) {
		const char *last = strrchr(line, '\t');

		if (field_u32(last ? last : line + 6, last ? "\t" : ":", &st->nstgid))
			st->seen |= STATUS_NSTGID;
	}
	/* Stop once everything wanted is seen: the rest of status is large. */
	return (st->seen & st->want) == st->want;
}

static int read_status(int dirfd, struct status_fields *st)
{
	int err = read_lines(dirfd, "status", status_line, st);

	if (err < 0)
		return err;
	return (st->seen & st->want) == st->want ? 0 : -EIO;
}

static int read_comm(int dirfd, char *comm, size_t size)
{
	char buf[64];
	ssize_t len = read_small(dirfd, "comm", buf, sizeof(buf));

	if (len < 0)
		return (int)len;
	/* The kernel appends one '\n'; any other byte, '\n' included, belongs to the name. */
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	str_copy(comm, size, buf, (size_t)len);
	return 0;
}

static int read_exe(int dirfd, char *exe, size_t size)
{
	ssize_t len = readlinkat(dirfd, "exe", exe, size - 1);

	if (len < 0) {
		exe[0] = '\0';
		return -errno;
	}
	exe[len] = '\0';
	return 0;
}

struct cgroup_ctx {
	struct proc_info *out;
	struct ctr_ref ctr; /* the first line naming a container, else a pod */
	size_t v1_len;	    /* of out->cgroup_v1_all, its final empty string not counted */
};

/* Appends a v1 path to out->cgroup_v1_all, keeping room for the list's final NUL. */
static void v1_all_add(struct cgroup_ctx *c, const char *path)
{
	size_t n = strlen(path) + 1;

	if (c->v1_len + n + 1 > sizeof(c->out->cgroup_v1_all))
		return;
	memcpy(c->out->cgroup_v1_all + c->v1_len, path, n);
	c->v1_len += n;
	c->out->cgroup_v1_all[c->v1_len] = '\0';
}

/* "hierarchy:controllers:path" per line: cgroup v2 is "0::/path"; on a hybrid host the v1
 * hierarchies hold the containers while every process sits at "/" in the unified tree. */
static int cgroup_line(void *ctx, char *line)
{
	struct cgroup_ctx *c = ctx;
	char *path = strchr(line, ':');
	struct ctr_ref r;

	if (path)
		path = strchr(path + 1, ':');
	if (!path++)
		return 0;
	bool v2 = !strncmp(line, "0::", 3), named = false;

	if (!c->ctr.id[0] &&
	    ((named = cgroup_container(path, &r)) || (r.pod_uid[0] && !c->ctr.pod_uid[0])))
		c->ctr = r;
	if (v2)
		str_copy(c->out->cgroup, sizeof(c->out->cgroup), path, strlen(path));
	/* of the v1 paths, the one naming a container, else the first that is not "/" */
	else if ((strcmp(path, "/") && !c->out->cgroup_v1[0]) || named)
		str_copy(c->out->cgroup_v1, sizeof(c->out->cgroup_v1), path, strlen(path));
	if (!v2 && strcmp(path, "/"))
		v1_all_add(c, path);
	return 0;
}

static int read_cgroup(int dirfd, struct proc_info *out, struct ctr_ref *ctr)
{
	struct cgroup_ctx c = { .out = out };
	int err = read_lines(dirfd, "cgroup", cgroup_line, &c);

	*ctr = c.ctr;
	return err < 0 ? err : 0;
}

/* Whether the process has a UTS namespace of its own (then HOSTNAME is its pod's name, as
 * the runtime set it; a hostNetwork pod shares the node's, and its HOSTNAME names the node). */
static bool own_uts(const char *proc_root, int dirfd)
{
	char mine[64], init[64], path[PATH_MAX];
	ssize_t a, b;

	snprintf(path, sizeof(path), "%s/1/ns/uts", proc_root);
	a = readlinkat(dirfd, "ns/uts", mine, sizeof(mine) - 1);
	b = readlink(path, init, sizeof(init) - 1);
	return a > 0 && b > 0 && (a != b || memcmp(mine, init, (size_t)a));
}

static void resolve_ctx(struct proc_info *out, const struct ctr_ref *ctr,
			const struct env_found *env, bool own_uts)
{
	struct ctx_labels *c = &out->ctx;
	const char *name = env->pod_name[0]		? env->pod_name
			   : ctr->pod_uid[0] && own_uts ? env->hostname
							: "";

	str_copy(c->container_id, sizeof(c->container_id), ctr->id, strlen(ctr->id));
	str_copy(c->pod_uid, sizeof(c->pod_uid), ctr->pod_uid, strlen(ctr->pod_uid));
	str_copy(c->pod_name, sizeof(c->pod_name), name, strlen(name));
	str_copy(c->pod_namespace, sizeof(c->pod_namespace), env->pod_ns, strlen(env->pod_ns));
	str_copy(c->container_name, sizeof(c->container_name), env->container_name,
		 strlen(env->container_name));
}

static void exe_basename(const char *exe, const char **base, size_t *len)
{
	size_t n = strlen(exe), slen = strlen(DELETED_SUFFIX);
	const char *slash;

	if (n > slen && !strcmp(exe + n - slen, DELETED_SUFFIX))
		n -= slen;
	slash = memrchr(exe, '/', n);
	*base = slash ? slash + 1 : exe;
	*len = n - (size_t)(*base - exe);
}

static void resolve_service(struct proc_info *out, const struct env_found *es)
{
	const char *base;
	size_t len;

	exe_basename(out->exe, &base, &len);
	if (es->svc_name[0])
		str_copy(out->service_name, sizeof(out->service_name), es->svc_name,
			 strlen(es->svc_name));
	else if (es->attr_name[0])
		str_copy(out->service_name, sizeof(out->service_name), es->attr_name,
			 strlen(es->attr_name));
	/* The executable's name, unless it is not what the process was started as: comm is
	 * the name exec'd (cut at 15), exe the symlink-resolved file, so Debian's
	 * redis-server, a link to redis-check-rdb, would be named after the link target.
	 * The exe name is kept when comm is its start (cut, or python3 -> python3.11). */
	else if (len && !strncmp(base, out->comm, strlen(out->comm)))
		str_copy(out->service_name, sizeof(out->service_name), base, len);
	else if (out->comm[0] || !len)
		str_copy(out->service_name, sizeof(out->service_name), out->comm,
			 strlen(out->comm));
	else
		str_copy(out->service_name, sizeof(out->service_name), base, len);

	base = es->svc_ns[0] ? es->svc_ns : es->attr_ns;
	str_copy(out->service_namespace, sizeof(out->service_namespace), base, strlen(base));
}

/* ---- one process ------------------------------------------------------------------------- */

/*
 * A missing file is ambiguous: kernel threads have no exe, a kernel without cgroups has no
 * cgroup file, but a process that just exited has none of them. Ask status again.
 */
static bool still_there(int dirfd)
{
	return faccessat(dirfd, "status", F_OK, 0) == 0 || !is_gone(-errno);
}

int proc_read_info(const char *proc_root, uint32_t tgid, struct proc_info *out)
{
	struct status_fields st = { .want = STATUS_TGID | STATUS_PPID | STATUS_NSTGID };
	struct env_found es;
	struct ctr_ref ctr;
	bool missing = false;
	int dirfd, err;

	if (!proc_root || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	dirfd = open_pid_dir(proc_root, tgid);
	if (dirfd < 0)
		return dirfd;

	err = read_status(dirfd, &st);
	if (err == -EIO && (st.seen & (STATUS_TGID | STATUS_PPID)) == (STATUS_TGID | STATUS_PPID))
		err = 0; /* no NStgid: a kernel before 4.1, or a fixture; one namespace then */
	if (!err && st.tgid != tgid)
		err = -ENOENT; /* a thread id, visible in /proc though not listed */
	if (!err)
		err = read_comm(dirfd, out->comm, sizeof(out->comm));
	if (err)
		goto cleanup;
	out->tgid = tgid;
	out->ppid = st.ppid;
	out->nstgid = st.seen & STATUS_NSTGID ? st.nstgid : tgid;

	/* Optional parts: unreadable (EACCES for others' processes when not root) means empty. */
	missing |= is_gone(read_exe(dirfd, out->exe, sizeof(out->exe)));
	missing |= is_gone(read_cgroup(dirfd, out, &ctr));
	missing |= is_gone(env_read_allowed(dirfd, &es));
	if (missing && !still_there(dirfd)) {
		err = -ENOENT;
		goto cleanup;
	}
	resolve_service(out, &es);
	resolve_ctx(out, &ctr, &es, own_uts(proc_root, dirfd));
cleanup:
	explicit_bzero(&es, sizeof(es));
	close(dirfd);
	if (err) {
		memset(out, 0, sizeof(*out));
		return is_gone(err) ? -ENOENT : err;
	}
	return 0;
}

/* ---- listening ports -------------------------------------------------------------------- */

struct listen_sock {
	uint64_t inode;
	uint16_t port;
};

struct listen_table {
	struct listen_sock *v;
	size_t n, cap;
};

/*
 * A row of net/tcp or net/tcp6 (net/ipv4/tcp_ipv4.c get_tcp4_sock, net/ipv6/tcp_ipv6.c
 * get_tcp6_sock): "sl: LOCALHEX:PORT REMHEX:PORT st tx:rx tr:when retr uid timeout inode".
 * The address is 8 or 32 hex digits; the header line does not parse and is skipped.
 */
static int net_tcp_line(void *ctx, char *line)
{
	struct listen_table *t = ctx;
	unsigned int port, state;
	unsigned long long inode;

	if (sscanf(line,
		   " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x %*x %*u %*d %llu",
		   &port, &state, &inode) != 3)
		return 0;
	/* The kernel lists its listening hash first, then the established one (tcp_get_idx):
	 * the first row of a connection ends the listeners, and the rest of the file, every
	 * connection and TIME_WAIT socket of the namespace (tens of thousands on a busy node),
	 * is never generated. A listener closing while it is listed shows CLOSE. */
	if (state != TCP_LISTEN && state != TCP_CLOSE)
		return NET_TCP_DONE;
	if (state != TCP_LISTEN || inode == 0 || port > UINT16_MAX)
		return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		struct listen_sock *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = (struct listen_sock){ .inode = inode, .port = (uint16_t)port };
	return 0;
}

static int listen_cmp(const void *a, const void *b)
{
	const struct listen_sock *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* Keeps ports sorted and distinct; when full, the highest ports are the ones dropped. */
static void ports_insert(uint16_t *ports, size_t max, size_t *n, uint16_t port)
{
	size_t i = 0, last;

	while (i < *n && ports[i] < port)
		i++;
	if ((i < *n && ports[i] == port) || i == max)
		return;
	last = *n < max ? *n : max - 1;
	memmove(&ports[i + 1], &ports[i], (last - i) * sizeof(*ports));
	ports[i] = port;
	if (*n < max)
		(*n)++;
}

/* Parses "socket:[INODE]", the fd link text of a socket (fs/proc/fd.c, sockfs_dname). */
static bool socket_inode(const char *link, uint64_t *inode)
{
	unsigned long long v;
	char *end;

	if (strncmp(link, "socket:[", 8) != 0 || !isdigit((unsigned char)link[8]))
		return false;
	errno = 0;
	v = strtoull(link + 8, &end, 10);
	if (errno || strcmp(end, "]") != 0)
		return false;
	*inode = v;
	return true;
}

static int match_socket_fds(int dirfd, const struct listen_table *t, uint16_t *ports, size_t max,
			    size_t *n)
{
	struct dirent *de;
	DIR *dir;
	int fd;

	fd = openat(dirfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dir))) {
		struct listen_sock key, *hit;
		char link[64];
		ssize_t len;

		if (de->d_name[0] == '.')
			continue;
		len = readlinkat(fd, de->d_name, link, sizeof(link) - 1);
		if (len < 0)
			continue; /* closed since readdir: not an error */
		link[len] = '\0';
		if (!socket_inode(link, &key.inode))
			continue;
		hit = bsearch(&key, t->v, t->n, sizeof(*t->v), listen_cmp);
		if (hit)
			ports_insert(ports, max, n, hit->port);
	}
	closedir(dir);
	return 0;
}

int proc_listening_ports(const char *proc_root, uint32_t tgid, uint16_t *ports, size_t max,
			 size_t *n)
{
	struct listen_table t = { 0 };
	int dirfd, err;

	if (!proc_root || !n || (max && !ports))
		return -EINVAL;
	*n = 0;
	dirfd = open_pid_dir(proc_root, tgid);
	if (dirfd < 0)
		return dirfd;
	/* The process's own network namespace: right for containers too. */
	err = read_lines(dirfd, "net/tcp", net_tcp_line, &t);
	if (!err || err == NET_TCP_DONE) {
		err = read_lines(dirfd, "net/tcp6", net_tcp_line, &t);
		if (err == NET_TCP_DONE || (err == -ENOENT && still_there(dirfd)))
			err = 0; /* -ENOENT: IPv6 disabled */
	}
	/* The fd walk is the costly part; skip it when nothing listens at all. */
	if (!err && t.n) {
		qsort(t.v, t.n, sizeof(*t.v), listen_cmp);
		err = match_socket_fds(dirfd, &t, ports, max, n);
	}
	free(t.v);
	close(dirfd);
	if (err)
		*n = 0;
	return is_gone(err) ? -ENOENT : err;
}

int proc_netns(const char *proc_root, uint32_t tgid, uint32_t *ino)
{
	struct stat st;
	int dirfd, err = 0;

	dirfd = open_pid_dir(proc_root, tgid);
	if (dirfd < 0)
		return dirfd;
	if (fstatat(dirfd, "ns/net", &st, 0))
		err = -errno;
	else
		*ino = (uint32_t)st.st_ino;
	close(dirfd);
	return is_gone(err) ? -ENOENT : err;
}

/* ---- scanning ----------------------------------------------------------------------------- */

static bool parse_tgid(const char *name, uint32_t *tgid)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)name[0]))
		return false;
	errno = 0;
	v = strtoul(name, &end, 10);
	if (errno || *end || v == 0 || v > UINT32_MAX)
		return false;
	*tgid = (uint32_t)v;
	return true;
}

static int tgid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* readdir of /proc lists thread-group leaders only; threads are reachable, not listed. */
static int list_tgids(const char *proc_root, uint32_t **out, size_t *n)
{
	uint32_t *v = NULL, tgid;
	size_t cap = 0;
	struct dirent *de;
	DIR *dir;
	int err = 0;

	*n = 0;
	dir = opendir(proc_root);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (!parse_tgid(de->d_name, &tgid))
			continue;
		if (*n == cap) {
			uint32_t *nv = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*v));

			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[(*n)++] = tgid;
	}
	closedir(dir);
	if (err) {
		free(v);
		*n = 0;
		return err;
	}
	qsort(v, *n, sizeof(*v), tgid_cmp);
	*out = v;
	return 0;
}

int proc_scan(const char *proc_root, bool skip_self, proc_scan_fn fn, void *ctx)
{
	uint32_t self = (uint32_t)getpid(), *tgids = NULL;
	struct proc_info info;
	size_t n;
	int err;

	if (!proc_root || !fn)
		return -EINVAL;
	/* Listed first, then read: a slow fn does not hold the directory open. */
	err = list_tgids(proc_root, &tgids, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n && !err; i++) {
		if (skip_self && tgids[i] == self)
			continue;
		if (proc_read_info(proc_root, tgids[i], &info))
			continue; /* gone, or not ours to read */
		err = fn(ctx, &info);
	}
	free(tgids);
	return err;
}
