// SPDX-License-Identifier: GPL-2.0-only
/* HTTP/1.1 GET over TCP or TLS, for `sonde top`: see scrape.h. */
#include "top/scrape.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/version.h"

/* ---- URL ------------------------------------------------------------------------------- */

static int copy_part(char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

static int set_reason(const char **reason, const char *why, int err)
{
	if (reason)
		*reason = why;
	return err;
}

/* host[:port] or [v6][:port] of authority a[0..n). */
static int parse_authority(const char *a, size_t n, struct scrape_url *u, const char **reason)
{
	const char *host = a, *colon = NULL, *p;
	size_t hlen;
	long port = u->https ? 443 : 80;

	if (memchr(a, '@', n))
		return set_reason(reason, "user information in the URL is not supported", -EINVAL);
	if (n && a[0] == '[') {
		const char *rb = memchr(a, ']', n);

		if (!rb)
			return set_reason(reason, "unterminated '[' in the URL's host", -EINVAL);
		host = a + 1;
		hlen = (size_t)(rb - host);
		if (rb + 1 < a + n) {
			if (rb[1] != ':')
				return set_reason(reason, "junk after ']' in the URL", -EINVAL);
			colon = rb + 1;
		}
	} else {
		colon = memchr(a, ':', n);
		hlen = colon ? (size_t)(colon - a) : n;
	}
	if (!hlen)
		return set_reason(reason, "the URL has no host", -EINVAL);
	if (colon) {
		port = 0;
		for (p = colon + 1; p < a + n && port <= 65535; p++) {
			if (*p < '0' || *p > '9')
				break;
			port = port * 10 + (*p - '0');
		}
		if (p != a + n || p == colon + 1 || port < 1 || port > 65535)
			return set_reason(reason, "the URL's port is not a number 1-65535",
					  -EINVAL);
	}
	snprintf(u->port, sizeof(u->port), "%ld", port);
	if (copy_part(u->host, sizeof(u->host), host, hlen) ||
	    copy_part(u->authority, sizeof(u->authority), a, n))
		return set_reason(reason, "the URL's host is too long", -ENAMETOOLONG);
	return 0;
}

int scrape_url_parse(const char *url, struct scrape_url *u, const char **reason)
{
	const char *a = url, *end;
	size_t n;
	int err;

	set_reason(reason, NULL, 0);
	memset(u, 0, sizeof(*u));
	if (!strncasecmp(url, "https://", 8)) {
		u->https = true;
		a = url + 8;
	} else if (!strncasecmp(url, "http://", 7))
		a = url + 7;
	else if (strstr(url, "://"))
		return set_reason(reason, "only http:// and https:// URLs are supported", -ENOTSUP);
	end = a + strcspn(a, "/?#");
	err = parse_authority(a, (size_t)(end - a), u, reason);
	if (err)
		return err;
	n = strcspn(end, "#");
	if (!n)
		return copy_part(u->path, sizeof(u->path), "/metrics", 8);
	if (*end == '?') {
		u->path[0] = '/';
		err = copy_part(u->path + 1, sizeof(u->path) - 1, end, n);
	} else {
		err = copy_part(u->path, sizeof(u->path), end, n);
	}
	return err ? set_reason(reason, "the URL's path is too long", err) : 0;
}

/* ---- response decoding ----------------------------------------------------------------- */

struct head {
	int status;
	size_t body_at; /* offset of the body */
	long long clen; /* Content-Length, -1 when absent */
	bool chunked;
	bool no_body; /* 1xx, 204, 304 */
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_digit(char c)
{
	if (is_digit(c))
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int proto(struct scrape_response *r, const char *why)
{
	r->reason = why;
	return -EPROTO;
}

/* Next line of b[*i..n): its start and length without CR LF; false when no '\n' yet. */
static bool next_line(const char *b, size_t n, size_t *i, const char **line, size_t *len)
{
	const char *nl = memchr(b + *i, '\n', n - *i);

	if (!nl)
		return false;
	*line = b + *i;
	*len = (size_t)(nl - *line);
	if (*len && (*line)[*len - 1] == '\r')
		(*len)--;
	*i = (size_t)(nl - b) + 1;
	return true;
}

static bool header_is(const char *line, size_t len, const char *name, const char **val,
		      size_t *vlen)
{
	size_t n = strlen(name);

	if (len <= n || line[n] != ':' || strncasecmp(line, name, n))
		return false;
	*val = line + n + 1;
	*vlen = len - n - 1;
	while (*vlen && (**val == ' ' || **val == '\t')) {
		(*val)++;
		(*vlen)--;
	}
	while (*vlen && ((*val)[*vlen - 1] == ' ' || (*val)[*vlen - 1] == '\t'))
		(*vlen)--;
	return true;
}

static int header_field(struct head *h, const char *line, size_t len, struct scrape_response *r)
{
	const char *v, *p;
	size_t vl;
	long long cl = 0;

	if (header_is(line, len, "content-length", &v, &vl)) {
		for (p = v; p < v + vl && is_digit(*p) && cl <= SCRAPE_MAX_BYTES; p++)
			cl = cl * 10 + (*p - '0');
		if (cl > SCRAPE_MAX_BYTES) {
			r->reason = "response larger than 64 MiB";
			return -EFBIG;
		}
		if (!vl || p != v + vl || (h->clen >= 0 && h->clen != cl))
			return proto(r, "bad Content-Length");
		h->clen = cl;
	} else if (header_is(line, len, "transfer-encoding", &v, &vl)) {
		if (vl != 7 || strncasecmp(v, "chunked", 7)) {
			r->reason = "unsupported Transfer-Encoding (only chunked)";
			return -ENOTSUP;
		}
		h->chunked = true;
	} else if (header_is(line, len, "content-encoding", &v, &vl)) {
		if (vl && (vl != 8 || strncasecmp(v, "identity", 8))) {
			r->reason = "compressed response (no Accept-Encoding was sent)";
			return -ENOTSUP;
		}
	}
	return 0;
}

/* Status line and headers of the response starting at b[*i]. */
static int parse_head(const char *b, size_t n, size_t *i, struct head *h, struct scrape_response *r)
{
	const char *line;
	size_t len;
	int err;

	*h = (struct head){ .clen = -1 };
	if (!next_line(b, n, i, &line, &len))
		return n - *i > 8192 ? proto(r, "no status line") : -EAGAIN;
	if (len < 12 || strncmp(line, "HTTP/1.", 7) || !is_digit(line[7]) || line[8] != ' ' ||
	    !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) ||
	    (len > 12 && line[12] != ' '))
		return proto(r, "not an HTTP/1.x response");
	h->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	h->no_body = h->status < 200 || h->status == 204 || h->status == 304;
	for (;;) {
		if (!next_line(b, n, i, &line, &len))
			return -EAGAIN;
		if (!len)
			break;
		err = header_field(h, line, len, r);
		if (err)
			return err;
	}
	h->body_at = *i;
	return 0;
}

/*
 * Walks a chunked body b[0..n); with dst (<= b) copies the data there, in place. Returns
 * the decoded length, -EAGAIN when incomplete, -EPROTO when malformed.
 */
static long long dechunk(const char *b, size_t n, char *dst)
{
	size_t i = 0, out = 0, size, len;
	const char *line;
	int digits;

	for (;;) {
		for (size = 0, digits = 0; i < n && hex_digit(b[i]) >= 0; i++, digits++) {
			if (size > SCRAPE_MAX_BYTES)
				return -EPROTO;
			size = size * 16 + (size_t)hex_digit(b[i]);
		}
		if (i < n && (!digits || !memchr(";\r\n \t", b[i], 5)))
			return -EPROTO;
		if (!next_line(b, n, &i, &line, &len))
			return -EAGAIN; /* chunk extensions are ignored */
		if (!size)
			break;
		if (n - i < size + 1)
			return -EAGAIN;
		if (dst)
			memmove(dst + out, b + i, size);
		out += size;
		i += size;
		if (b[i] == '\r' && ++i == n)
			return -EAGAIN;
		if (b[i++] != '\n')
			return -EPROTO;
	}
	do { /* trailer fields, up to an empty line */
		if (!next_line(b, n, &i, &line, &len))
			return -EAGAIN;
	} while (len);
	return (long long)out;
}

/* A complete chunked message ends with an empty line: skip the walk until one could. */
static bool may_end_chunked(const char *b, size_t n)
{
	return (n >= 2 && !memcmp(b + n - 2, "\n\n", 2)) ||
	       (n >= 3 && !memcmp(b + n - 3, "\n\r\n", 3));
}

static int decode_body(char *raw, size_t len, bool eof, const struct head *h,
		       struct scrape_response *r)
{
	char *body = raw + h->body_at;
	size_t avail = len - h->body_at;
	long long n;

	if (h->no_body) {
		n = 0;
	} else if (h->chunked) {
		if (!eof && !may_end_chunked(body, avail))
			return -EAGAIN;
		n = dechunk(body, avail, NULL);
		if (n >= 0)
			dechunk(body, avail, body);
	} else if (h->clen >= 0) {
		n = (size_t)h->clen <= avail ? h->clen : -EAGAIN;
	} else {
		n = eof ? (long long)avail : -EAGAIN;
	}
	if (n == -EAGAIN && eof)
		return proto(r, "connection closed before the end of the response");
	if (n < 0)
		return n == -EAGAIN ? -EAGAIN : proto(r, "malformed chunked body");
	r->body = body;
	r->body_len = (size_t)n;
	body[n] = '\0';
	return 0;
}

int scrape_decode(char *raw, size_t len, bool eof, struct scrape_response *r)
{
	struct head h;
	size_t i = 0;
	int err;

	r->reason = NULL;
	do { /* interim 1xx responses precede the final one */
		err = parse_head(raw, len, &i, &h, r);
		if (err == -EAGAIN && eof)
			return proto(r, "connection closed inside the response headers");
		if (err)
			return err;
	} while (h.status < 200);
	r->status = h.status;
	return decode_body(raw, len, eof, &h, r);
}

/* ---- the socket ------------------------------------------------------------------------ */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long long left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int connect_one(const struct addrinfo *ai, long long deadline)
{
	int fd, err = 0;
	socklen_t len = sizeof(err);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		err = errno == EINPROGRESS ? wait_fd(fd, POLLOUT, deadline) : -errno;
		if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		err = err > 0 ? -err : err;
	}
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* A connected socket to u (each resolved address in turn), or -errno. */
static int open_conn(const struct scrape_url *u, long long deadline, struct scrape_response *r)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -EHOSTUNREACH, rc;

	rc = getaddrinfo(u->host, u->port, &hints, &res);
	if (rc) {
		r->reason = "cannot resolve the URL's host";
		return rc == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = connect_one(ai, deadline);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

/* ---- TLS ------------------------------------------------------------------------------- */

/* A connection: the socket, and a GnuTLS session on it for https. */
struct conn {
	int fd;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
};

static void conn_close(struct conn *c)
{
	if (c->tls)
		gnutls_deinit(c->tls);
	if (c->cred)
		gnutls_certificate_free_credentials(c->cred);
	if (c->fd >= 0)
		close(c->fd);
}

/* Waits for what GnuTLS last wanted (it may need to write while reading). */
static int tls_wait(struct conn *c, long long deadline)
{
	return wait_fd(c->fd, gnutls_record_get_direction(c->tls) ? POLLOUT : POLLIN, deadline);
}

static int tls_credentials(struct conn *c, const struct scrape_opts *o, struct scrape_response *r)
{
	int rc;

	if (gnutls_certificate_allocate_credentials(&c->cred) < 0)
		return -ENOMEM;
	if (o && o->insecure)
		return 0;
	if (o && o->ca_file)
		rc = gnutls_certificate_set_x509_trust_file(c->cred, o->ca_file,
							    GNUTLS_X509_FMT_PEM);
	else
		rc = gnutls_certificate_set_x509_system_trust(c->cred);
	if (rc > 0)
		return 0;
	r->reason = o && o->ca_file ? "no PEM certificate in the --ca-file"
				    : "no system CA certificates (use --ca-file)";
	return -EINVAL;
}

static bool is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* TLS handshake on c->fd; the server's certificate must name u->host unless insecure. */
static int tls_start(struct conn *c, const struct scrape_url *u, const struct scrape_opts *o,
		     long long deadline, struct scrape_response *r)
{
	int rc, err = tls_credentials(c, o, r);

	if (err)
		return err;
	if (gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0)
		return -ENOMEM;
	gnutls_set_default_priority(c->tls);
	gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, c->cred);
	if (!is_ip_literal(u->host)) /* SNI carries names only */
		gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, u->host, strlen(u->host));
	if (!o || !o->insecure)
		gnutls_session_set_verify_cert(c->tls, u->host, 0);
	gnutls_transport_set_int(c->tls, c->fd);
	while ((rc = gnutls_handshake(c->tls)) < 0) {
		if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED) {
			r->reason = rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR
					    ? "TLS: the server's certificate does not verify "
					      "(see --ca-file, --insecure)"
					    : "TLS handshake failed (is the URL https?)";
			return -EPROTO;
		}
		err = tls_wait(c, deadline);
		if (err)
			return err;
	}
	return 0;
}

/* Like send()/recv(): bytes moved, -EAGAIN, or -errno (-EPROTO for a TLS error). */
static ssize_t conn_io(struct conn *c, char *buf, size_t len, bool out)
{
	ssize_t n;

	if (!c->tls) {
		n = out ? send(c->fd, buf, len, MSG_NOSIGNAL) : recv(c->fd, buf, len, 0);
		return n >= 0 ? n : errno == EINTR ? -EAGAIN : -errno;
	}
	n = out ? gnutls_record_send(c->tls, buf, len) : gnutls_record_recv(c->tls, buf, len);
	if (n >= 0)
		return n;
	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
		return -EAGAIN;
	/* A server that closes without close_notify ends the response all the same: the
	 * decoder still checks that it is complete. */
	return n == GNUTLS_E_PREMATURE_TERMINATION ? 0 : -EPROTO;
}

static int conn_wait(struct conn *c, bool out, long long deadline)
{
	return c->tls ? tls_wait(c, deadline) : wait_fd(c->fd, out ? POLLOUT : POLLIN, deadline);
}

static int send_all(struct conn *c, const char *buf, size_t len, long long deadline)
{
	ssize_t n;
	int err;

	while (len) {
		n = conn_io(c, (char *)buf, len, true);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && n != -EAGAIN)
			return (int)n;
		err = conn_wait(c, true, deadline);
		if (err)
			return err;
	}
	return 0;
}

/* Room for at least 64 KiB more (and the decoder's NUL) in r->buf. */
static int grow(struct scrape_response *r)
{
	size_t cap = r->cap ? r->cap : 64 * 1024;
	char *p;

	while (cap - r->len < 64 * 1024 + 1)
		cap *= 2;
	if (cap == r->cap)
		return 0;
	if (cap > SCRAPE_MAX_BYTES + 64 * 1024 + 1) {
		r->reason = "response larger than 64 MiB";
		return -EFBIG;
	}
	p = realloc(r->buf, cap);
	if (!p)
		return -ENOMEM;
	r->buf = p;
	r->cap = cap;
	return 0;
}

static int read_response(struct conn *c, long long deadline, struct scrape_response *r)
{
	ssize_t n;
	int err;

	for (;;) {
		err = grow(r);
		if (err)
			return err;
		n = conn_io(c, r->buf + r->len, r->cap - r->len - 1, false);
		if (n == -EAGAIN) {
			err = conn_wait(c, false, deadline);
			if (err)
				return err;
			continue;
		}
		if (n < 0) {
			if (n == -EPROTO)
				r->reason = "TLS error while reading the response";
			return (int)n;
		}
		r->len += (size_t)n;
		err = scrape_decode(r->buf, r->len, n == 0, r);
		if (err != -EAGAIN)
			return err;
	}
}

/* "Authorization: Basic BASE64(user:password)\r\n" into out, or "" without a user. */
static int auth_header(const struct scrape_opts *o, char *out, size_t size)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char plain[1024];
	size_t n, i, j = 0;
	int len;

	out[0] = '\0';
	if (!o || !o->user)
		return 0;
	len = snprintf(plain, sizeof(plain), "%s:%s", o->user, o->password ? o->password : "");
	if (len < 0 || (size_t)len >= sizeof(plain) || size < 32 + (size_t)len * 4 / 3)
		return -ENAMETOOLONG;
	n = (size_t)len;
	j = (size_t)snprintf(out, size, "Authorization: Basic ");
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)plain[i] << 16 |
			     (i + 1 < n ? (unsigned char)plain[i + 1] << 8 : 0) |
			     (i + 2 < n ? (unsigned char)plain[i + 2] : 0);

		out[j++] = b64[v >> 18 & 63];
		out[j++] = b64[v >> 12 & 63];
		out[j++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[j++] = i + 2 < n ? b64[v & 63] : '=';
	}
	memcpy(out + j, "\r\n", 3);
	explicit_bzero(plain, sizeof(plain));
	return 0;
}

int scrape_get(const struct scrape_url *u, int timeout_ms, struct scrape_response *r)
{
	return scrape_get_opts(u, NULL, timeout_ms, r);
}

int scrape_get_opts(const struct scrape_url *u, const struct scrape_opts *o, int timeout_ms,
		    struct scrape_response *r)
{
	long long deadline = now_ms() + timeout_ms;
	char req[sizeof(u->path) + sizeof(u->authority) + 1800], auth[1500];
	struct conn c = { .fd = -1 };
	int err, n;

	memset(r, 0, sizeof(*r));
	if (auth_header(o, auth, sizeof(auth)))
		return -ENAMETOOLONG;
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sonde-top/%s\r\n%s"
		     "Accept: text/plain;version=0.0.4\r\nConnection: close\r\n\r\n",
		     u->path, u->authority, sonde_version(), auth);
	explicit_bzero(auth, sizeof(auth));
	if (n < 0 || (size_t)n >= sizeof(req))
		return -ENAMETOOLONG;
	c.fd = open_conn(u, deadline, r);
	if (c.fd < 0)
		return c.fd;
	err = u->https ? tls_start(&c, u, o, deadline, r) : 0;
	if (!err)
		err = send_all(&c, req, (size_t)n, deadline);
	if (!err)
		err = read_response(&c, deadline, r);
	explicit_bzero(req, sizeof(req));
	conn_close(&c);
	return err;
}

void scrape_response_free(struct scrape_response *r)
{
	if (!r)
		return;
	free(r->buf);
	memset(r, 0, sizeof(*r));
}
