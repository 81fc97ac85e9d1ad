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

/* Environments can be megabytes; the OTEL_* variables sit among the first few. */
#define ENVIRON_READ_MAX (256 * 1024)
#define DELETED_SUFFIX " (deleted)"
#define TCP_LISTEN 0x0A /* TCP_LISTEN in the kernel's tcp_states.h, as net/tcp prints it */

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
};

struct status_fields {
	unsigned int want, seen;
	char state;
	uint32_t tgid, ppid, threads;
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
	char *out;
	size_t size;
};

static int cgroup_line(void *ctx, char *line)
{
	struct cgroup_ctx *c = ctx;

	/* cgroup v2 is hierarchy 0 with no controllers: "0::/path". */
	if (strncmp(line, "0::", 3) != 0)
		return 0;
	str_copy(c->out, c->size, line + 3, strlen(line + 3));
	return 1;
}

static int read_cgroup(int dirfd, char *out, size_t size)
{
	struct cgroup_ctx c = { .out = out, .size = size };
	int err = read_lines(dirfd, "cgroup", cgroup_line, &c);

	return err < 0 ? err : 0;
}

/* ---- environment: an allow-list, streamed ------------------------------------------------ */

enum env_var { VAR_SERVICE_NAME, VAR_SERVICE_NAMESPACE, VAR_RESOURCE_ATTRS, VAR_COUNT };

static const char *const env_allowed[VAR_COUNT] = {
	[VAR_SERVICE_NAME] = "OTEL_SERVICE_NAME",
	[VAR_SERVICE_NAMESPACE] = "OTEL_SERVICE_NAMESPACE",
	[VAR_RESOURCE_ATTRS] = "OTEL_RESOURCE_ATTRIBUTES",
};

enum env_state { ENV_NAME, ENV_VALUE, ENV_SKIP };

/*
 * One pass over "NAME=value\0NAME=value\0...": a name is buffered until its '=' (names
 * longer than any allowed one are skipped at once), and only allowed values are kept.
 * A value of any other variable is never copied out of the read buffer.
 */
struct env_scan {
	enum env_state state;
	enum env_var var;
	bool seen[VAR_COUNT]; /* the first occurrence wins, as with getenv(3) */
	char name[32];
	size_t name_len;
	size_t val_len;
	char pair[512]; /* one "key=value" of OTEL_RESOURCE_ATTRIBUTES */
	size_t pair_len;
	bool pair_over;
	char svc_name[128], svc_ns[128];   /* OTEL_SERVICE_NAME, OTEL_SERVICE_NAMESPACE */
	char attr_name[128], attr_ns[128]; /* service.name, service.namespace attributes */
};

static int hex_val(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* OTEL_RESOURCE_ATTRIBUTES values are percent-encoded (W3C Baggage octets). */
static void percent_decode(char *dst, size_t size, const char *src, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < size; i++) {
		int hi, lo;

		if (src[i] == '%' && i + 2 < len && (hi = hex_val(src[i + 1])) >= 0 &&
		    (lo = hex_val(src[i + 2])) >= 0) {
			dst[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			dst[o++] = src[i];
		}
	}
	dst[o] = '\0';
}

static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

static void env_attr_pair_end(struct env_scan *es)
{
	const char *key = es->pair, *val, *eq;
	size_t klen, vlen;
	char *dst = NULL;

	if (es->pair_over)
		goto reset;
	eq = memchr(es->pair, '=', es->pair_len);
	if (!eq)
		goto reset;
	klen = (size_t)(eq - es->pair);
	val = eq + 1;
	vlen = es->pair_len - klen - 1;
	trim(&key, &klen);
	trim(&val, &vlen);
	if (klen == 12 && !memcmp(key, "service.name", 12))
		dst = es->attr_name;
	else if (klen == 17 && !memcmp(key, "service.namespace", 17))
		dst = es->attr_ns;
	if (dst && !dst[0] && vlen)
		percent_decode(dst, sizeof(es->attr_name), val, vlen);
reset:
	es->pair_len = 0;
	es->pair_over = false;
}

static void env_value_byte(struct env_scan *es, char c)
{
	char *dst;

	if (es->var == VAR_RESOURCE_ATTRS) {
		if (c == ',')
			env_attr_pair_end(es);
		else if (es->pair_len < sizeof(es->pair))
			es->pair[es->pair_len++] = c;
		else
			es->pair_over = true;
		return;
	}
	dst = es->var == VAR_SERVICE_NAME ? es->svc_name : es->svc_ns;
	if (es->val_len + 1 < sizeof(es->svc_name)) {
		dst[es->val_len++] = c;
		dst[es->val_len] = '\0';
	}
}

static void env_entry_end(struct env_scan *es)
{
	if (es->state == ENV_VALUE && es->var == VAR_RESOURCE_ATTRS)
		env_attr_pair_end(es);
	es->state = ENV_NAME;
	es->name_len = 0;
}

static void env_name_end(struct env_scan *es)
{
	es->state = ENV_SKIP;
	for (int v = 0; v < VAR_COUNT; v++) {
		if (strlen(env_allowed[v]) != es->name_len ||
		    memcmp(env_allowed[v], es->name, es->name_len) != 0 || es->seen[v])
			continue;
		es->seen[v] = true;
		es->var = (enum env_var)v;
		es->val_len = 0;
		es->state = ENV_VALUE;
		break;
	}
}

static void env_feed(struct env_scan *es, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end) {
		char c = *p;

		if (es->state == ENV_SKIP) {
			/* Not ours: jump to the entry's end without looking at its bytes. */
			p = memchr(p, '\0', (size_t)(end - p));
			if (!p)
				return;
			c = '\0';
		}
		p++;
		if (c == '\0')
			env_entry_end(es);
		else if (es->state == ENV_VALUE)
			env_value_byte(es, c);
		else if (c == '=')
			env_name_end(es);
		else if (es->name_len < sizeof(es->name))
			es->name[es->name_len++] = c;
		else
			es->state = ENV_SKIP;
	}
}

static int read_environ(int dirfd, struct env_scan *es)
{
	char chunk[4096];
	size_t total = 0;
	int fd, err = 0;

	fd = openat(dirfd, "environ", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (total < ENVIRON_READ_MAX) {
		size_t want = ENVIRON_READ_MAX - total;
		ssize_t r = read(fd, chunk, want < sizeof(chunk) ? want : sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0) {
			/* An unterminated last entry is complete; one cut by our bound is not. */
			env_feed(es, "", 1);
			break;
		}
		env_feed(es, chunk, (size_t)r);
		total += (size_t)r;
	}
	/* These held other variables' bytes, secrets among them: leave no copy. */
	explicit_bzero(chunk, sizeof(chunk));
	explicit_bzero(es->name, sizeof(es->name));
	close(fd);
	return err;
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

static void resolve_service(struct proc_info *out, const struct env_scan *es)
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
	struct status_fields st = { .want = STATUS_TGID | STATUS_PPID };
	struct env_scan es = { .state = ENV_NAME };
	bool missing = false;
	int dirfd, err;

	if (!proc_root || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	dirfd = open_pid_dir(proc_root, tgid);
	if (dirfd < 0)
		return dirfd;

	err = read_status(dirfd, &st);
	if (!err && st.tgid != tgid)
		err = -ENOENT; /* a thread id, visible in /proc though not listed */
	if (!err)
		err = read_comm(dirfd, out->comm, sizeof(out->comm));
	if (err)
		goto cleanup;
	out->tgid = tgid;
	out->ppid = st.ppid;

	/* Optional parts: unreadable (EACCES for others' processes when not root) means empty. */
	missing |= is_gone(read_exe(dirfd, out->exe, sizeof(out->exe)));
	missing |= is_gone(read_cgroup(dirfd, out->cgroup, sizeof(out->cgroup)));
	missing |= is_gone(read_environ(dirfd, &es));
	if (missing && !still_there(dirfd)) {
		err = -ENOENT;
		goto cleanup;
	}
	resolve_service(out, &es);
cleanup:
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
	if (!err) {
		err = read_lines(dirfd, "net/tcp6", net_tcp_line, &t);
		if (err == -ENOENT && still_there(dirfd))
			err = 0; /* IPv6 disabled */
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
