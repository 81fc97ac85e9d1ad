// SPDX-License-Identifier: GPL-2.0-only
#include "http/httpd.h"
#include "http/webauth.h"
#include "metrics/exemplar.h"
#include "metrics/exposition.h"
#include "util/utf8.h"
#include "util/version.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Slow or idle clients are cut off so they cannot pin connection threads. */
#define HTTPD_TIMEOUT_S 10u
/* A connection costs a thread: bound them against a flood of scrapers or scanners. */
#define HTTPD_MAX_CONNECTIONS 32u

struct httpd {
	struct MHD_Daemon *daemon;
	const struct web_config *web; /* NULL: plain HTTP, no auth */
	struct webauth *auth;	      /* NULL when web has no users */
	struct registry *reg;
	sonde_status_fn status;
	void *ctx;
	uint16_t port;
	/* /metrics answers by format (0.0.4, OpenMetrics): a thread per connection adds */
	_Atomic uint64_t scrapes[2];
};

/* ---- responses ------------------------------------------------------------------------- */

/* Queues body (len bytes) with a Content-Type; owned bodies are free()d by MHD. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *ctype,
			     const char *body, size_t len, bool owned, const char *hdr,
			     const char *hval)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(
		len, (void *)body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		if (owned)
			free((void *)body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (hdr)
		MHD_add_response_header(resp, hdr, hval);
	ret = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
	return reply(c, code, "text/plain; charset=utf-8", text, strlen(text), false, NULL, NULL);
}

/* ---- /metrics -------------------------------------------------------------------------- */

static enum MHD_Result collect_accept_encoding(void *cls, enum MHD_ValueKind kind, const char *key,
					       const char *value)
{
	struct expo_buf *b = cls;

	/* Repeated header lines mean the same as one comma-joined line (RFC 9110 5.3). */
	if (value && !strcasecmp(key, MHD_HTTP_HEADER_ACCEPT_ENCODING)) {
		if (b->len)
			expo_buf_put(b, ", ", 2);
		expo_buf_puts(b, value);
	}
	return MHD_YES;
}

static bool wants_gzip(struct MHD_Connection *c)
{
	struct expo_buf b = { 0 };
	bool yes;

	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_accept_encoding, &b);
	yes = !b.err && b.p && expo_accepts_gzip(b.p);
	expo_buf_free(&b);
	return yes;
}

/*
 * Both encodings are rendered through a window of EXPO_WINDOW bytes. gzip is compressed as
 * it is rendered: a 1,000-label-set text is 9 MB, for a 180 kB answer. The identity text
 * goes into memory mapped for this answer alone (struct expo_map), unmapped once sent.
 * Either way no megabytes stay in the malloc arena of the connection's thread.
 */
static int render_gzip(struct httpd *h, bool om, char **out, size_t *len)
{
	struct expo_buf b = { 0 };
	struct expo_gzip g;
	int err;

	err = expo_gzip_begin(&g, &b);
	if (err)
		return err;
	err = registry_render_into(h->reg, om, &b);
	if (err) {
		expo_gzip_free(&g, &b);
		return err;
	}
	return expo_gzip_end(&g, &b, out, len);
}

static int map_sink(void *ctx, const char *p, size_t len)
{
	return expo_map_put(ctx, p, len);
}

static void map_release(void *cls)
{
	expo_map_free(cls);
	free(cls);
}

/* The identity answer; *resp NULL with 0 returned: MHD could not make a response. */
static int plain_response(struct httpd *h, bool om, struct MHD_Response **resp)
{
	struct expo_map *m = calloc(1, sizeof(*m));
	struct expo_buf b = { 0 };
	int err;

	*resp = NULL;
	if (!m)
		return -ENOMEM;
	err = expo_buf_window(&b, map_sink, m);
	if (!err)
		err = registry_render_into(h->reg, om, &b);
	if (!err)
		err = expo_map_put(m, b.p, b.len);
	expo_buf_free(&b);
	if (!err)
		*resp = MHD_create_response_from_buffer_with_free_callback_cls(m->len, m->p,
									       map_release, m);
	if (err || !*resp)
		map_release(m);
	return err;
}

static enum MHD_Result serve_metrics(struct httpd *h, struct MHD_Connection *c)
{
	const char *accept =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	bool om = expo_accepts_openmetrics(accept); /* else 0.0.4, for clients that do not ask */
	struct MHD_Response *resp = NULL;
	enum MHD_Result ret;
	bool gzipped;
	char *gz;
	size_t len;

	/* A failed compression still leaves a valid (identity) answer. */
	gzipped = wants_gzip(c) && !render_gzip(h, om, &gz, &len);
	if (gzipped) {
		resp = MHD_create_response_from_buffer(len, gz, MHD_RESPMEM_MUST_FREE);
		if (!resp)
			free(gz);
	} else if (plain_response(h, om, &resp)) {
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "rendering metrics failed\n");
	}
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				om ? EXPO_CONTENT_TYPE_OM : EXPO_CONTENT_TYPE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept, Accept-Encoding");
	if (gzipped)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		atomic_fetch_add_explicit(&h->scrapes[om], 1, memory_order_relaxed);
	return ret;
}

void httpd_scrapes(const struct httpd *h, uint64_t *text, uint64_t *openmetrics)
{
	*text = h ? atomic_load_explicit(&h->scrapes[0], memory_order_relaxed) : 0;
	*openmetrics = h ? atomic_load_explicit(&h->scrapes[1], memory_order_relaxed) : 0;
}

/* ---- /health and / --------------------------------------------------------------------- */

static void read_status(const struct httpd *h, struct sonde_status *st)
{
	memset(st, 0, sizeof(*st));
	if (h->status)
		h->status(h->ctx, st);
	if (st->n_parts > SONDE_STATUS_MAX_PARTS)
		st->n_parts = SONDE_STATUS_MAX_PARTS;
	if (st->n_tls > SONDE_STATUS_MAX_TLS)
		st->n_tls = SONDE_STATUS_MAX_TLS;
}

/* Appends a JSON string; the fixed-size status fields may lack their NUL, hence max. */
static void json_string(struct expo_buf *b, const char *s, size_t max)
{
	size_t n = strnlen(s, max), i, adv;

	expo_buf_put(b, "\"", 1);
	for (i = 0; i < n; i += adv) {
		unsigned char ch = (unsigned char)s[i];

		adv = 1;
		if (ch == '"' || ch == '\\')
			expo_buf_printf(b, "\\%c", ch);
		else if (ch == '\n')
			expo_buf_puts(b, "\\n");
		else if (ch == '\r')
			expo_buf_puts(b, "\\r");
		else if (ch == '\t')
			expo_buf_puts(b, "\\t");
		else if (ch < 0x20)
			expo_buf_printf(b, "\\u%04x", ch);
		else if (utf8_seq(s + i, n - i, &adv))
			expo_buf_put(b, s + i, adv);
		else /* JSON text must be UTF-8 */
			expo_buf_puts(b, "\\ufffd");
	}
	expo_buf_put(b, "\"", 1);
}

/* One process of /health's tls_targets. */
static void json_tls_proc(struct expo_buf *b, const struct sonde_tls_proc *t, bool comma)
{
	expo_buf_printf(b, "%s{\"pid\":%u,\"pid_in_namespace\":%u,\"library\":", comma ? "," : "",
			t->pid, t->pid_in_ns ? t->pid_in_ns : t->pid);
	json_string(b, t->library, sizeof(t->library));
	expo_buf_puts(b, ",\"state\":");
	json_string(b, t->state, sizeof(t->state));
	expo_buf_puts(b, ",\"reason\":");
	json_string(b, t->reason, sizeof(t->reason));
	expo_buf_puts(b, ",\"detail\":");
	json_string(b, t->detail, sizeof(t->detail));
	expo_buf_puts(b, ",\"path\":");
	json_string(b, t->path, sizeof(t->path));
	expo_buf_put(b, "}", 1);
}

static int render_health(const struct sonde_status *st, time_t now, struct expo_buf *b)
{
	unsigned long long uptime = 0;
	bool ok = true;
	char ts[32];
	struct tm tm;
	size_t i;

	for (i = 0; i < st->n_parts; i++)
		ok = ok && st->parts[i].ok;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (st->started_unix && (unsigned long long)now > st->started_unix)
		uptime = (unsigned long long)now - st->started_unix;

	expo_buf_printf(b, "{\"status\":\"%s\",\"timestamp\":\"%s\",\"version\":",
			ok ? "ok" : "degraded", ts);
	json_string(b, sonde_version(), 64);
	expo_buf_printf(b, ",\"uptime_seconds\":%llu,\"checks\":{", uptime);
	for (i = 0; i < st->n_parts; i++) {
		const struct sonde_part *p = &st->parts[i];

		if (i)
			expo_buf_put(b, ",", 1);
		json_string(b, p->name, sizeof(p->name));
		expo_buf_printf(b, ":{\"status\":\"%s\",\"detail\":", p->ok ? "ok" : "fail");
		json_string(b, p->detail, sizeof(p->detail));
		expo_buf_put(b, "}", 1);
	}
	expo_buf_puts(b, "},\"tls_targets\":[");
	for (i = 0; i < st->n_tls; i++)
		json_tls_proc(b, &st->tls[i], i > 0);
	expo_buf_printf(b, "],\"tls_targets_total\":%zu}\n", st->tls_total);
	return ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
}

static enum MHD_Result serve_health(struct httpd *h, struct MHD_Connection *c)
{
	struct expo_buf b = { 0 };
	struct sonde_status st;
	unsigned code;
	char *body;
	size_t len;

	read_status(h, &st);
	code = (unsigned)render_health(&st, time(NULL), &b);
	if (expo_buf_take(&b, &body, &len))
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	/* A probe must see the current state, never a cached one. */
	return reply(c, code, "application/json", body, len, true, MHD_HTTP_HEADER_CACHE_CONTROL,
		     "no-store");
}

static void html_text(struct expo_buf *b, const char *s, size_t max)
{
	size_t n = strnlen(s, max), i, adv;

	for (i = 0; i < n; i += adv) {
		adv = 1;
		switch (s[i]) {
		case '&':
			expo_buf_puts(b, "&amp;");
			break;
		case '<':
			expo_buf_puts(b, "&lt;");
			break;
		case '>':
			expo_buf_puts(b, "&gt;");
			break;
		case '"':
			expo_buf_puts(b, "&quot;");
			break;
		case '\'':
			expo_buf_puts(b, "&#39;");
			break;
		default:
			if (utf8_seq(s + i, n - i, &adv))
				expo_buf_put(b, s + i, adv);
			else
				expo_buf_puts(b, "\xef\xbf\xbd");
		}
	}
}

static enum MHD_Result serve_index(struct httpd *h, struct MHD_Connection *c)
{
	struct expo_buf b = { 0 };
	struct sonde_status st;
	char *body;
	size_t len;

	read_status(h, &st);
	expo_buf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
			  "<title>sonde</title></head>\n<body><h1>sonde</h1>\n<p>version ");
	html_text(&b, sonde_version(), 64);
	expo_buf_puts(&b, "</p>\n<table>\n<tr><th>capture mode</th><td>");
	html_text(&b, st.capture_mode[0] ? st.capture_mode : "none", sizeof(st.capture_mode));
	expo_buf_printf(&b,
			"</td></tr>\n<tr><th>tracked processes</th><td>%u</td></tr>\n"
			"<tr><th>attached programs</th><td>%u</td></tr>\n</table>\n",
			st.tracked_processes, st.attached_programs);
	expo_buf_puts(&b, "<ul>\n<li><a href=\"/metrics\">/metrics</a> Prometheus metrics</li>\n"
			  "<li><a href=\"/health\">/health</a> health of each part (JSON)</li>\n"
			  "<li><a href=\"/healthz\">/healthz</a> liveness</li>\n</ul>\n"
			  "</body></html>\n");
	if (expo_buf_take(&b, &body, &len))
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", body, len, true, NULL, NULL);
}

/* ---- --web-config: client certificates, basic auth ------------------------------------ */

/*
 * MHD asks for a client certificate once it has trust CAs, but leaves verifying it to the
 * application: a missing (when required) or unverified one refuses the request.
 */
static bool client_cert_ok(const struct httpd *h, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t s;
	unsigned n = 0, status = 0;

	if (!h->web || h->web->client_auth == WEB_CLIENT_NONE)
		return true;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	s = ci ? (gnutls_session_t)ci->tls_session : NULL;
	if (!s)
		return false;
	if (!gnutls_certificate_get_peers(s, &n) || !n)
		return h->web->client_auth == WEB_CLIENT_VERIFY_IF_GIVEN;
	return gnutls_certificate_verify_peers2(s, &status) >= 0 && !status;
}

static bool authorized(const struct httpd *h, struct MHD_Connection *c)
{
	char *pass = NULL, *user;
	bool ok;

	if (!h->auth)
		return true;
	user = MHD_basic_auth_get_username_password(c, &pass);
	ok = webauth_check(h->auth, user, pass);
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user)
		MHD_free(user);
	return ok;
}

static enum MHD_Result refuse_auth(struct MHD_Connection *c)
{
	static const char body[] = "unauthorized\n";
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	ret = MHD_queue_basic_auth_fail_response(c, "sonde", resp); /* 401, WWW-Authenticate */
	MHD_destroy_response(resp);
	return ret;
}

/* ---- dispatch -------------------------------------------------------------------------- */

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct httpd *h = cls;

	/* MHD leaves HEAD's body out itself, so HEAD is served as GET. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
			     "method not allowed\n", 19, false, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (!client_cert_ok(h, c))
		return reply_text(c, MHD_HTTP_FORBIDDEN, "client certificate required\n");
	/* url is the path alone: MHD has already split off the query string. Liveness probes
	 * (kubelet, systemd) carry no credentials: /healthz says only "ok", so it stays open. */
	if (!strcmp(url, "/healthz"))
		return reply_text(c, MHD_HTTP_OK, "ok\n");
	if (!authorized(h, c))
		return refuse_auth(c);
	if (!strcmp(url, "/metrics"))
		return serve_metrics(h, c);
	if (!strcmp(url, "/health"))
		return serve_health(h, c);
	if (!strcmp(url, "/"))
		return serve_index(h, c);
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	fputs("sonde: httpd: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* Numeric addresses only: a listen address that needs DNS is a configuration error. */
static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	char buf[INET6_ADDRSTRLEN + 32];
	size_t n;

	if (!host)
		host = "0.0.0.0";
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		if (n - 2 >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	if (!*host || getaddrinfo(host, NULL, &hints, &ai))
		return -EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	return 0;
}

/*
 * Binds here rather than through MHD_OPTION_SOCK_ADDR: MHD_start_daemon() only logs why a
 * bind failed, and the caller needs the errno (EADDRINUSE: the user must pick another port).
 */
static int open_listener(const struct sockaddr_storage *ss, socklen_t len, uint16_t *port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int fd, one = 1, zero = 0, err;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A restarted sonde must not wait for the old instance's TIME_WAIT connections. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "::" serves IPv4 peers too, whatever net.ipv6.bindv6only says. */
	if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (const struct sockaddr *)ss, len) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen))
		goto fail;
	*port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
						 : ((struct sockaddr_in6 *)&bound)->sin6_port);
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

/*
 * MHD closes the listen socket it was given when it stops, and when its start fails late
 * (e.g. no thread) but not when it fails early. So it gets a duplicate, and after a failure
 * the duplicate is closed only if it still is our socket (same inode: a descriptor number
 * reused by another thread would name a different file).
 */
static struct MHD_Daemon *start_daemon(struct httpd *h, int fd, int family)
{
	const struct web_config *w = h->web;
	bool tls = w && w->tls;
	/* Options an empty MHD_OPTION_ARRAY would end early: unused ones repeat a harmless
	 * timeout, so one call covers plain HTTP, TLS, and TLS with client CAs. */
	struct MHD_OptionItem filler = { MHD_OPTION_CONNECTION_TIMEOUT, HTTPD_TIMEOUT_S, NULL };
	struct MHD_OptionItem tls_opts[] = {
		tls ? (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, w->key_pem } : filler,
		tls ? (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, w->cert_pem } : filler,
		tls && w->ca_pem
			? (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, w->ca_pem }
			: filler,
		{ MHD_OPTION_END, 0, NULL },
	};
	unsigned flags;
	struct MHD_Daemon *d;
	struct stat a, b;
	int mine = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (mine < 0)
		return NULL;
	/* poll(), not select(): sonde may hold more than FD_SETSIZE descriptors. */
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
		MHD_USE_ERROR_LOG | (family == AF_INET6 ? MHD_USE_IPv6 : 0) |
		(tls ? MHD_USE_TLS : 0);
	d = MHD_start_daemon(flags, h->port, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER,
			     log_mhd, NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mine,
			     MHD_OPTION_CONNECTION_TIMEOUT, HTTPD_TIMEOUT_S,
			     MHD_OPTION_CONNECTION_LIMIT, HTTPD_MAX_CONNECTIONS, MHD_OPTION_ARRAY,
			     tls_opts, MHD_OPTION_END);
	if (!d && !fstat(fd, &a) && !fstat(mine, &b) && a.st_ino == b.st_ino &&
	    a.st_dev == b.st_dev)
		close(mine);
	return d;
}

struct httpd *httpd_start(const char *host, uint16_t port, struct registry *reg,
			  sonde_status_fn status, void *ctx)
{
	return httpd_start_web(host, port, NULL, reg, status, ctx);
}

struct httpd *httpd_start_web(const char *host, uint16_t port, const struct web_config *web,
			      struct registry *reg, sonde_status_fn status, void *ctx)
{
	struct sockaddr_storage ss;
	struct httpd *h = NULL;
	socklen_t len;
	int err, fd;

	err = reg ? resolve(host, port, &ss, &len) : -EINVAL;
	if (!err && web && web->tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		err = -ENOTSUP; /* a libmicrohttpd built without GnuTLS */
	if (err)
		goto fail;
	h = calloc(1, sizeof(*h));
	if (!h) {
		err = -ENOMEM;
		goto fail;
	}
	*h = (struct httpd){ .reg = reg, .status = status, .ctx = ctx, .web = web };
	if (web && web->n_users && !(h->auth = webauth_new(web))) {
		err = -ENOMEM;
		goto fail;
	}
	fd = open_listener(&ss, len, &h->port);
	if (fd < 0) {
		err = fd;
		goto fail;
	}
	h->daemon = start_daemon(h, fd, ss.ss_family);
	err = h->daemon ? 0 : -EIO; /* MHD logged why; its errno is not reliable */
	close(fd);
	if (err)
		goto fail;
	return h;
fail:
	if (h)
		webauth_free(h->auth);
	free(h);
	errno = -err;
	return NULL;
}

uint16_t httpd_port(const struct httpd *h)
{
	return h ? h->port : 0;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	/* Joins the connection threads, so in-flight requests finish first; closes the socket. */
	MHD_stop_daemon(h->daemon);
	webauth_free(h->auth);
	free(h);
}
