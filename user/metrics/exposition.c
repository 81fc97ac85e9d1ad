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
#include <sys/mman.h>
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
	if (b->sink && b->len) {
		int err = b->sink(b->sink_ctx, b->p, b->len);

		if (err) {
			b->err = err;
			return err;
		}
		b->len = 0;
		want = n + 1;
		if (want <= b->cap)
			return 0;
	}
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
	*b = (struct expo_buf){ 0 };
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

/*
 * windowBits 15 + 16 asks zlib for the gzip wrapper instead of the zlib one. Level 1:
 * exposition text is so repetitive that it still shrinks ~40x, in half the time of the
 * default level (the render + gzip of a 1,000-label-set scrape is budgeted). memLevel 5,
 * not 8: level 1 rarely follows a hash chain, and a 4,096-entry hash table stays in L1 and
 * costs less to slide every 32 KiB. On that 9 MB scrape: 8.5 ms of CPU instead of 11-14,
 * and 182 kB instead of 185.
 */
#define GZIP_LEVEL Z_BEST_SPEED
#define GZIP_MEM_LEVEL 5
/* Output is added in steps of at least this much: deflate() must never lack room to end. */
#define GZIP_OUT_STEP (16u << 10)

static int gz_init(struct expo_gzip *g)
{
	z_stream *zs = calloc(1, sizeof(*zs));
	int rc;

	*g = (struct expo_gzip){ 0 };
	if (!zs)
		return -ENOMEM;
	rc = deflateInit2(zs, GZIP_LEVEL, Z_DEFLATED, 15 + 16, GZIP_MEM_LEVEL, Z_DEFAULT_STRATEGY);
	if (rc != Z_OK) {
		free(zs);
		return rc == Z_MEM_ERROR ? -ENOMEM : -EIO;
	}
	g->zs = zs;
	return 0;
}

/* Compresses p[0..len) into g->out; flush is Z_NO_FLUSH or Z_FINISH. */
static int gz_write(struct expo_gzip *g, const char *p, size_t len, int flush)
{
	struct expo_buf *o = &g->out;
	z_stream *zs = g->zs;
	size_t room;
	int rc;

	if (len > UINT_MAX)
		return -EFBIG;
	zs->next_in = (Bytef *)p;
	zs->avail_in = (uInt)len;
	for (;;) {
		if (expo_buf_reserve(o, GZIP_OUT_STEP))
			return o->err;
		room = o->cap - o->len - 1;
		if (room > UINT_MAX)
			room = UINT_MAX;
		zs->next_out = (Bytef *)o->p + o->len;
		zs->avail_out = (uInt)room;
		rc = deflate(zs, flush);
		o->len += room - zs->avail_out;
		if (rc == Z_STREAM_END)
			return 0;
		if (rc != Z_OK)
			return -EIO;
		/* Input all taken with output room to spare: nothing is held back. */
		if (flush == Z_NO_FLUSH && !zs->avail_in && zs->avail_out)
			return 0;
	}
}

static int gz_sink(void *ctx, const char *p, size_t len)
{
	return gz_write(ctx, p, len, Z_NO_FLUSH);
}

void expo_gzip_free(struct expo_gzip *g, struct expo_buf *b)
{
	if (g->zs)
		deflateEnd(g->zs);
	free(g->zs);
	expo_buf_free(&g->out);
	*g = (struct expo_gzip){ 0 };
	if (b)
		expo_buf_free(b);
}

/* Ends the stream after the text in b (if any) and hands over the gzip bytes. */
static int gz_finish(struct expo_gzip *g, struct expo_buf *b, int err, char **out, size_t *outlen)
{
	if (!err && b)
		err = b->err ? b->err : gz_write(g, b->p, b->len, Z_FINISH);
	if (!err)
		err = expo_buf_take(&g->out, out, outlen);
	expo_gzip_free(g, b);
	return err;
}

int expo_gzip(const char *in, size_t len, char **out, size_t *outlen)
{
	struct expo_gzip g;
	int err = gz_init(&g);

	if (err)
		return err;
	return gz_finish(&g, NULL, gz_write(&g, in, len, Z_FINISH), out, outlen);
}

int expo_buf_window(struct expo_buf *b, int (*sink)(void *ctx, const char *p, size_t len),
		    void *ctx)
{
	if (expo_buf_reserve(b, EXPO_WINDOW - 1))
		return b->err;
	b->sink = sink;
	b->sink_ctx = ctx;
	return 0;
}

int expo_gzip_begin(struct expo_gzip *g, struct expo_buf *b)
{
	int err = gz_init(g);

	if (!err)
		err = expo_buf_window(b, gz_sink, g);
	if (err)
		expo_gzip_free(g, b);
	return err;
}

int expo_gzip_end(struct expo_gzip *g, struct expo_buf *b, char **out, size_t *outlen)
{
	return gz_finish(g, b, 0, out, outlen);
}

/* ---- mapped text ----------------------------------------------------------------------- */

/* A transparent huge page: the mapping grows in whole ones. */
#define MAP_STEP (2u << 20)

int expo_map_put(struct expo_map *m, const char *p, size_t len)
{
	size_t want, cap;
	void *q;

	if (len > SIZE_MAX / 4 - m->len)
		return -ENOMEM;
	want = m->len + len;
	if (want > m->cap) {
		cap = m->cap ? m->cap : MAP_STEP;
		while (cap < want)
			cap *= 2;
		/* mremap moves page tables, not bytes */
		q = m->p ? mremap(m->p, m->cap, cap, MREMAP_MAYMOVE)
			 : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
				0);
		if (q == MAP_FAILED)
			return -ENOMEM;
		madvise(q, cap, MADV_HUGEPAGE); /* a hint: without THP, 4 KiB pages do */
		m->p = q;
		m->cap = cap;
	}
	if (len)
		memcpy(m->p + m->len, p, len);
	m->len += len;
	return 0;
}

void expo_map_free(struct expo_map *m)
{
	if (m->p)
		munmap(m->p, m->cap);
	*m = (struct expo_map){ 0 };
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
