/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One HTTP/1.1 GET of a /metrics URL over TCP, or TLS (GnuTLS) for https URLs, optionally
 * with basic auth, for `sonde top` against a sonde run with --web-config.
 *
 * No redirects, no compression: the request carries no Accept-Encoding, so the body
 * comes as identity (a Content-Encoding other than identity is refused). Bodies delimited by
 * Content-Length, by chunked transfer coding or by the connection's close are read; the
 * request says "Connection: close", and the read also stops once a length-delimited
 * response is complete, for servers that keep the connection open anyway.
 */
#ifndef SONDE_TOP_SCRAPE_H
#define SONDE_TOP_SCRAPE_H

#include <stdbool.h>
#include <stddef.h>

#define SCRAPE_MAX_BYTES (64u << 20) /* a larger response is refused (-EFBIG) */

struct scrape_url {
	bool https;
	char host[256];	     /* name or address, IPv6 without brackets */
	char port[6];	     /* "80" ("443" for https) when the URL has none */
	char authority[272]; /* the Host header: host[:port] as the URL spells it */
	char path[2048];     /* path and query; "/metrics" when the URL has no path */
};

/*
 * "http[s]://host[:port][/path[?query]]"; "host:port/path" without a scheme means http.
 * IPv6 literals in brackets. Returns 0, -EINVAL (malformed; *reason says why), -ENOTSUP
 * (another scheme) or -ENAMETOOLONG. reason may be NULL.
 */
int scrape_url_parse(const char *url, struct scrape_url *u, const char **reason);

struct scrape_response {
	int status;	    /* HTTP status code of the final response */
	char *body;	    /* NUL-terminated, inside buf */
	size_t body_len;    /* bytes of the (de-chunked) body */
	const char *reason; /* static text after a failure, else NULL */
	char *buf;	    /* owned: the raw bytes received */
	size_t len, cap;
};

/*
 * Pure decoder of a raw response raw[0..len) (raw[len] must be writable). eof: the peer has
 * closed, so a close-delimited body ends here. Returns 0 with r->status, r->body and
 * r->body_len set (a chunked body is decoded in place), -EAGAIN when more bytes are needed,
 * -EPROTO when malformed or cut short, -ENOTSUP for a compressed body; r->reason says why.
 */
int scrape_decode(char *raw, size_t len, bool eof, struct scrape_response *r);

/*
 * GETs u within timeout_ms (connect, send and the whole read). Returns 0 with *r filled
 * (any status: check r->status), or -errno (-ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH when
 * the name does not resolve, -EPROTO, -ENOTSUP, -EFBIG, -ENOMEM) with r->reason set when
 * the errno alone would not say it. Free r with scrape_response_free() in every case.
 */
int scrape_get(const struct scrape_url *u, int timeout_ms, struct scrape_response *r);

/* How to reach an https or password-protected endpoint; all fields optional. */
struct scrape_opts {
	const char *user; /* with password: an Authorization: Basic header */
	const char *password;
	const char *ca_file; /* PEM CAs to trust (https); NULL: the system's */
	bool insecure;	     /* https without verifying the server's certificate */
};

/*
 * scrape_get with o (NULL: as scrape_get). https verifies the certificate against the
 * URL's host unless o->insecure; a failed handshake or verification is -EPROTO with
 * r->reason saying which, a ca_file that holds no certificate -EINVAL.
 */
int scrape_get_opts(const struct scrape_url *u, const struct scrape_opts *o, int timeout_ms,
		    struct scrape_response *r);

void scrape_response_free(struct scrape_response *r);

#endif
