// SPDX-License-Identifier: GPL-2.0-only
#include "metrics/exposition.h"
#include "util/utf8.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* ---- growable buffer ------------------------------------------------------------------- */

int expo_buf_reserve(struct expo_buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (b->err)
		return b->err;
	if (n > SIZE_MAX / 2 - b->len) {
		b->err = -ENOMEM;
		return b->err;
	}
	want = b->len + n + 1;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < want)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = -ENOMEM;
		return b->err;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void expo_buf_put(struct expo_buf *b, const char *s, size_t n)
{
	if (!n) /* s may then be NULL, which memcpy() does not allow */
		return;
	if (expo_buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void expo_buf_puts(struct expo_buf *b, const char *s)
{
	expo_buf_put(b, s, strlen(s));
}

void expo_buf_printf(struct expo_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = -EINVAL;
		return;
	}
	if (expo_buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void expo_buf_double(struct expo_buf *b, double v)
{
	char num[EXPO_NUM_MAX];

	expo_buf_put(b, num, expo_format_double(v, num));
}

void expo_buf_u64(struct expo_buf *b, uint64_t v)
{
	char num[20], *p = num + sizeof(num);

	/* Digits from the right: printf's format parsing costs more than the conversion. */
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	expo_buf_put(b, p, (size_t)(num + sizeof(num) - p));
}

/* Both escapers grow the text by at most 3x (one byte -> U+FFFD), so reserve that once. */
static void buf_escape(struct expo_buf *b, const char *s, size_t n,
		       size_t (*esc)(const char *, size_t, char *, size_t))
{
	if (n > SIZE_MAX / 4) {
		b->err = b->err ? b->err : -ENOMEM;
		return;
	}
	if (expo_buf_reserve(b, 3 * n))
		return;
	b->len += esc(s, n, b->p + b->len, b->cap - b->len);
}

void expo_buf_label_value(struct expo_buf *b, const char *s, size_t n)
{
	buf_escape(b, s, n, expo_escape_label);
}

void expo_buf_help(struct expo_buf *b, const char *s, size_t n)
{
	buf_escape(b, s, n, expo_escape_help);
}

int expo_buf_take(struct expo_buf *b, char **out, size_t *len)
{
	int err = b->err;

	if (!err)
		err = expo_buf_reserve(b, 0); /* an empty text still gets its NUL */
	if (err) {
		expo_buf_free(b);
		return err;
	}
	b->p[b->len] = '\0';
	*out = b->p;
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return 0;
}

void expo_buf_free(struct expo_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}

/* ---- UTF-8 and escaping ---------------------------------------------------------------- */

/* Writes as much as fits, counts everything: the snprintf() contract. */
struct sink {
	char *out;
	size_t room, len;
};

static void sink_put(struct sink *k, const char *s, size_t n)
{
	if (k->len < k->room) {
		size_t m = k->room - k->len < n ? k->room - k->len : n;

		memcpy(k->out + k->len, s, m);
	}
	k->len += n;
}

static size_t escape(const char *in, size_t inlen, char *out, size_t outcap, bool quote)
{
	struct sink k = { .out = out, .room = outcap ? outcap - 1 : 0 };
	size_t i = 0, run, adv;

	while (i < inlen) {
		/* Copy the run of bytes that need nothing in one go. */
		for (run = i; run < inlen; run++) {
			unsigned char c = (unsigned char)in[run];

			if (c >= 0x80 || c == '\\' || c == '\n' || (quote && c == '"'))
				break;
		}
		sink_put(&k, in + i, run - i);
		i = run;
		if (i == inlen)
			break;
		if (in[i] == '\\') {
			sink_put(&k, "\\\\", 2);
			adv = 1;
		} else if (in[i] == '\n') {
			sink_put(&k, "\\n", 2);
			adv = 1;
		} else if (in[i] == '"') {
			sink_put(&k, "\\\"", 2);
			adv = 1;
		} else if (utf8_seq(in + i, inlen - i, &adv)) {
			sink_put(&k, in + i, adv);
		} else {
			sink_put(&k, "\xef\xbf\xbd", 3);
		}
		i += adv;
	}
	if (outcap)
		out[k.len < k.room ? k.len : k.room] = '\0';
	return k.len;
}

size_t expo_escape_label(const char *in, size_t inlen, char *out, size_t outcap)
{
	return escape(in, inlen, out, outcap, true);
}

size_t expo_escape_help(const char *in, size_t inlen, char *out, size_t outcap)
{
	return escape(in, inlen, out, outcap, false);
}

/* ---- numbers --------------------------------------------------------------------------- */

/* Assumes the C numeric locale: sonde never calls setlocale(LC_NUMERIC, ...). */
size_t expo_format_double(double v, char out[EXPO_NUM_MAX])
{
	int n;

	if (isnan(v))
		return (size_t)snprintf(out, EXPO_NUM_MAX, "NaN");
	if (isinf(v))
		return (size_t)snprintf(out, EXPO_NUM_MAX, v > 0 ? "+Inf" : "-Inf");
	if (v == 0) /* also -0.0, which "%.0f" would print as "-0" */
		return (size_t)snprintf(out, EXPO_NUM_MAX, "0");
	/* Below 1e21 an integral double prints exactly in at most 22 characters. */
	if (fabs(v) < 1e21 && v == trunc(v))
		return (size_t)snprintf(out, EXPO_NUM_MAX, "%.0f", v);
	n = snprintf(out, EXPO_NUM_MAX, "%.15g", v);
	if (strtod(out, NULL) != v)
		n = snprintf(out, EXPO_NUM_MAX, "%.17g", v);
	return (size_t)n;
}

/* ---- gzip ------------------------------------------------------------------------------ */

int expo_gzip(const char *in, size_t len, char **out, size_t *outlen)
{
	z_stream zs;
	uLong bound;
	char *buf;
	int rc;

	/* One deflate() call: input and output sizes must fit zlib's uInt. */
	if (len > UINT_MAX / 2)
		return -EFBIG;
	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16 asks zlib for the gzip wrapper instead of the zlib one. Level 1:
	 * exposition text is so repetitive that it still shrinks ~40x, in half the time of
	 * the default level (the render + gzip of a 1,000-label-set scrape is budgeted). */
	rc = deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	if (rc != Z_OK)
		return rc == Z_MEM_ERROR ? -ENOMEM : -EIO;
	bound = deflateBound(&zs, (uLong)len);
	buf = malloc(bound);
	if (!buf) {
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)buf;
	zs.avail_out = (uInt)bound;
	rc = deflate(&zs, Z_FINISH);
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*outlen = zs.total_out;
	return 0;
}

/* ---- Accept-Encoding ------------------------------------------------------------------- */

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static size_t token_len(const char *p)
{
	size_t n = 0;

	while (is_tchar(p[n]))
		n++;
	return n;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); thousandths, or -1. */
static int parse_qvalue(const char *p, size_t n)
{
	int q, scale = 100;
	size_t i;

	if (n == 0 || (p[0] != '0' && p[0] != '1'))
		return -1;
	q = (p[0] - '0') * 1000;
	if (n == 1)
		return q;
	if (p[1] != '.' || n > 5)
		return -1;
	for (i = 2; i < n; i++, scale /= 10) {
		if (p[i] < '0' || p[i] > '9' || (q == 1000 && p[i] != '0'))
			return -1;
		q += (p[i] - '0') * scale;
	}
	return q;
}

/* Parses ";name=value" parameters; returns the q-value found (1000 if none) or -1. */
static int parse_params(const char **pp)
{
	const char *p = *pp, *name, *val;
	size_t nlen, vlen;
	int q = 1000;

	while (*p == ';') {
		p = skip_ows(p + 1);
		name = p;
		nlen = token_len(p);
		p = skip_ows(p + nlen);
		if (nlen == 0 || *p != '=')
			return -1;
		p = skip_ows(p + 1);
		val = p;
		if (*p == '"') { /* quoted-string: legal for other parameters, skipped */
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p != '"')
				return -1;
			vlen = (size_t)(++p - val);
		} else {
			vlen = token_len(p);
			p += vlen;
		}
		if (nlen == 1 && (name[0] == 'q' || name[0] == 'Q'))
			q = parse_qvalue(val, vlen);
		if (q < 0)
			return -1;
		p = skip_ows(p);
	}
	*pp = p;
	return q;
}

bool expo_accepts_gzip(const char *accept_encoding)
{
	const char *p = accept_encoding, *tok;
	int gzip_q = -1, star_q = -1, q;
	size_t tlen;

	if (!p)
		return false;
	while (*p) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		tok = p;
		tlen = token_len(p);
		p = skip_ows(p + tlen);
		q = tlen ? parse_params(&p) : -1;
		/* A malformed element is ignored as a whole, not half-understood. */
		if (q < 0 || (*p && *p != ',')) {
			while (*p && *p != ',')
				p++;
			continue;
		}
		if ((tlen == 4 && !strncasecmp(tok, "gzip", 4)) ||
		    (tlen == 6 && !strncasecmp(tok, "x-gzip", 6)))
			gzip_q = q > gzip_q ? q : gzip_q;
		else if (tlen == 1 && tok[0] == '*')
			star_q = q > star_q ? q : star_q;
	}
	/* An explicit gzip element wins over "*" (so "*, gzip;q=0" refuses gzip). */
	if (gzip_q >= 0)
		return gzip_q > 0;
	return star_q > 0;
}
