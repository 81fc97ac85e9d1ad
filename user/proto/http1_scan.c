// SPDX-License-Identifier: GPL-2.0-only
/*
 * HTTP/1 byte scanners (RFC 9112): message-start probes, request-line, status-line, header
 * and trailer lines, chunk-size lines. Only the request line, the status code and the three
 * framing headers (Content-Length, Transfer-Encoding, Connection) are kept, in small fixed
 * buffers; every other header line is skipped with memchr, never stored.
 */
#include "proto/http1.h"
#include "proto/http1_scan.h"

#include <errno.h>
#include <string.h>

/* RFC 9110 §9 and RFC 5789 */
static const char *const h1_std_methods[] = { "GET",	 "HEAD",    "POST",  "PUT",  "DELETE",
					      "CONNECT", "OPTIONS", "TRACE", "PATCH" };

/* ---- byte classes and probes --------------------------------------------------------- */

static bool is_digit(uint8_t b)
{
	return b >= '0' && b <= '9';
}

static uint8_t to_lower(uint8_t b)
{
	return b >= 'A' && b <= 'Z' ? b | 0x20 : b;
}

/* RFC 9110 §5.6.2: tchar = ALPHA / DIGIT / one of !#$%&'*+-.^_`|~ (a byte per value: one
 * load per test, the run of a header name's bytes is the hottest loop here) */
static const bool tchar_of[256] = {
	['0' ... '9'] = true, ['A' ... 'Z'] = true, ['a' ... 'z'] = true, ['!'] = true,
	['#'] = true,	      ['$'] = true,	    ['%'] = true,	  ['&'] = true,
	['\''] = true,	      ['*'] = true,	    ['+'] = true,	  ['-'] = true,
	['.'] = true,	      ['^'] = true,	    ['_'] = true,	  ['`'] = true,
	['|'] = true,	      ['~'] = true,
};

static bool is_tchar(uint8_t b)
{
	return tchar_of[b];
}

static int hex_value(uint8_t b)
{
	if (is_digit(b))
		return b - '0';
	b = to_lower(b);
	return b >= 'a' && b <= 'f' ? b - 'a' + 10 : -1;
}

/* n bytes of p equal a standard method (or, with prefix, the start of one) */
static bool std_method(const void *p, size_t n, bool prefix)
{
	size_t i, ml;

	for (i = 0; i < sizeof(h1_std_methods) / sizeof(h1_std_methods[0]); i++) {
		ml = strlen(h1_std_methods[i]);
		if ((prefix ? n <= ml : n == ml) && !memcmp(p, h1_std_methods[i], n))
			return true;
	}
	return false;
}

/* p (n bytes) agrees with the first bytes of lit, ignoring ASCII case */
static bool prefix_ci(const uint8_t *p, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n && lit[i]; i++)
		if (to_lower(p[i]) != (uint8_t)lit[i])
			return false;
	return true;
}

/* pattern letters: D digit, S status class digit 1-5 (RFC 9110 §15), E SP / CR / LF */
static enum http1_probe probe_pattern(const uint8_t *p, size_t n, const char *pat)
{
	size_t i;
	bool ok;

	for (i = 0; pat[i]; i++) {
		if (i >= n)
			return HTTP1_PROBE_MAYBE;
		if (pat[i] == 'D')
			ok = is_digit(p[i]);
		else if (pat[i] == 'S')
			ok = p[i] >= '1' && p[i] <= '5';
		else if (pat[i] == 'E')
			ok = p[i] == ' ' || p[i] == '\r' || p[i] == '\n';
		else
			ok = p[i] == (uint8_t)pat[i];
		if (!ok)
			return HTTP1_PROBE_NO;
	}
	return HTTP1_PROBE_YES;
}

static bool target_start_ok(const uint8_t *t, size_t n, const uint8_t *method, size_t mlen)
{
	if (!n || t[0] == '/' || t[0] == '*')
		return true;
	if (prefix_ci(t, n, "http://") || prefix_ci(t, n, "https://"))
		return true;
	/* RFC 9112 §3.2.3: CONNECT takes authority-form, host:port */
	return mlen == 7 && !memcmp(method, "CONNECT", 7) &&
	       (is_digit(t[0]) || (to_lower(t[0]) >= 'a' && to_lower(t[0]) <= 'z') || t[0] == '[');
}

enum http1_probe http1_probe_request(const uint8_t *p, size_t n, bool any_method)
{
	enum http1_probe r;
	size_t i = 0, t0;

	if (!p)
		return n ? HTTP1_PROBE_NO : HTTP1_PROBE_MAYBE;
	while (i < n && i < H1_METHOD_TOKEN_MAX && is_tchar(p[i]))
		i++;
	if (i == n)
		return any_method || std_method(p, n, true) ? HTTP1_PROBE_MAYBE : HTTP1_PROBE_NO;
	if (!i || p[i] != ' ' || !(any_method || std_method(p, i, false)))
		return HTTP1_PROBE_NO;
	t0 = ++i;
	while (i < n && p[i] > ' ' && p[i] != 0x7f)
		i++;
	if (!target_start_ok(p + t0, i - t0, p, t0 - 1))
		return HTTP1_PROBE_NO;
	if (i == n)
		return HTTP1_PROBE_MAYBE;
	if (i == t0 || p[i] != ' ')
		return HTTP1_PROBE_NO;
	i++;
	r = probe_pattern(p + i, n - i, "HTTP/1.D");
	if (r != HTTP1_PROBE_YES)
		return r;
	i += 8;
	if (i < n && p[i] == '\r')
		i++;
	if (i >= n)
		return HTTP1_PROBE_MAYBE;
	return p[i] == '\n' ? HTTP1_PROBE_YES : HTTP1_PROBE_NO;
}

enum http1_probe http1_probe_response(const uint8_t *p, size_t n)
{
	if (!p)
		return n ? HTTP1_PROBE_NO : HTTP1_PROBE_MAYBE;
	return probe_pattern(p, n, "HTTP/1.D SDDE");
}

/* "HTTP/1." DIGIT, one byte at st->pos */
static bool version_byte(struct h1_stream *st, uint8_t b)
{
	bool ok = st->pos < 7 ? b == (uint8_t) "HTTP/1."[st->pos] : is_digit(b);

	if (st->pos == 7)
		st->version_minor = b - '0';
	st->pos++;
	return ok;
}

/* The bytes of the request-target from p[0]: up to the first SP, control byte or DEL (or
 * n), kept while they fit st->target. Returns how many. */
static size_t target_run(struct h1_stream *st, const uint8_t *p, size_t n)
{
	size_t k = 0, room;

	while (k < n && p[k] > ' ' && p[k] != 0x7f)
		k++;
	room = st->pos < sizeof(st->target) - 1 ? sizeof(st->target) - 1 - st->pos : 0;
	if (room)
		memcpy(st->target + st->pos, p, k < room ? k : room);
	if (k > room)
		st->flags |= HTTP1_TARGET_TRUNCATED;
	st->pos += k; /* bounded by H1_HEAD_MAX */
	return k;
}

int http1_scan_request_line(struct h1_stream *st, const uint8_t *p, size_t n, size_t *used,
			    bool *end)
{
	size_t i, k;
	uint8_t b;

	for (i = 0; i < n && !*end; i++) {
		b = p[i];
		switch (st->sub) {
		case RL_METHOD:
			if (b == ' ' && st->pos) {
				/* out of sync only a standard method starts a message: the
				 * rest of a split line, "ET /x HTTP/1.1", is a token line too */
				if (st->tentative && !std_method(st->method, st->pos, false))
					return -EBADMSG;
				st->mlen = st->pos;
				st->method[st->pos < sizeof(st->method) ? st->pos
									: sizeof(st->method) - 1] =
					'\0';
				st->sub = RL_TARGET;
				st->pos = 0;
				break;
			}
			if (!is_tchar(b) || st->pos >= H1_METHOD_TOKEN_MAX)
				return -EBADMSG;
			if (st->pos < sizeof(st->method) - 1)
				st->method[st->pos] = b;
			else
				st->flags |= HTTP1_METHOD_TRUNCATED;
			st->pos++;
			break;
		case RL_TARGET:
			/* the target's bytes in one run (the bulk of a request line) */
			k = target_run(st, p + i, n - i);
			if (i + k == n) {
				i = n - 1; /* all taken: the loop's i++ makes it n */
				break;
			}
			i += k;
			/* p[i] ended the run: SP, a control byte or DEL */
			if (p[i] != ' ' || !st->pos)
				return -EBADMSG;
			st->tlen = st->pos < sizeof(st->target) ? st->pos : sizeof(st->target) - 1;
			st->target[st->tlen] = '\0';
			st->sub = RL_VERSION;
			st->pos = 0;
			break;
		case RL_VERSION:
			if (!st->pos && n - i >= 8 && !memcmp(p + i, "HTTP/1.", 7) &&
			    is_digit(p[i + 7])) {
				st->version_minor = p[i + 7] - '0';
				st->pos = 8;
				st->sub = RL_EOL;
				i += 7;
				break;
			}
			if (!version_byte(st, b))
				return -EBADMSG;
			if (st->pos == 8)
				st->sub = RL_EOL;
			break;
		case RL_EOL:
		case RL_LF:
			if (b == '\r' && st->sub == RL_EOL)
				st->sub = RL_LF;
			else if (b == '\n') /* RFC 9112 §2.2: a bare LF ends a line too */
				*end = true;
			else
				return -EBADMSG;
			break;
		}
	}
	*used = i;
	return 0;
}

int http1_scan_status_line(struct h1_stream *st, const uint8_t *p, size_t n, size_t *used,
			   bool *end)
{
	const uint8_t *lf;
	size_t i = 0;
	uint8_t b;

	/* The whole "HTTP/1.x NNN" in this read (nearly always): in one step, to the state
	 * the byte-wise path below reaches after it, which checks everything else. */
	if (st->sub == SL_VERSION && !st->pos && n >= 12 && !memcmp(p, "HTTP/1.", 7) &&
	    is_digit(p[7]) && p[8] == ' ' && p[9] >= '1' && p[9] <= '5' && is_digit(p[10]) &&
	    is_digit(p[11])) {
		st->version_minor = p[7] - '0';
		st->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
		st->sub = SL_CODE;
		st->pos = 3;
		i = 12;
	}
	while (i < n && !*end) {
		b = p[i];
		switch (st->sub) {
		case SL_VERSION:
			if (st->pos == 8) {
				if (b != ' ')
					return -EBADMSG;
				st->sub = SL_CODE;
				st->pos = 0;
			} else if (!version_byte(st, b)) {
				return -EBADMSG;
			}
			break;
		case SL_CODE:
			if (st->pos < 3) {
				/* RFC 9110 §15: three digits, classes 1xx to 5xx */
				if (!is_digit(b) || (!st->pos && (b < '1' || b > '5')))
					return -EBADMSG;
				st->status = st->status * 10 + (b - '0');
				st->pos++;
			} else if (b == ' ') {
				st->sub = SL_REASON; /* reason-phrase is optional (§4) */
			} else if (b == '\r') {
				st->sub = SL_LF;
			} else if (b == '\n') {
				*end = true;
			} else {
				return -EBADMSG;
			}
			break;
		case SL_REASON:
			lf = memchr(p + i, '\n', n - i);
			if (!lf) {
				i = n;
				continue;
			}
			i = lf - p;
			*end = true;
			break;
		case SL_LF:
			if (b != '\n')
				return -EBADMSG;
			*end = true;
			break;
		}
		i++;
	}
	*used = i;
	return 0;
}

/* The len bytes of a header name at p (tchars, as received) equal lit, a lower-case name of
 * 8 to 16 letters and '-' (RFC 9110 field names are case-insensitive): two 8-byte compares
 * with 0x20 set in every byte. Exact for tchars: c | 0x20 is a lower-case letter only for
 * that letter in either case, and '-' only for '-' or CR, which is no tchar. */
static bool name_is(const uint8_t *p, size_t len, const char *lit)
{
	const uint64_t fold = 0x2020202020202020ULL;
	uint64_t a, b, x, y;

	memcpy(&a, p, 8);
	memcpy(&b, p + len - 8, 8);
	memcpy(&x, lit, 8);
	memcpy(&y, lit + len - 8, 8);
	return (a | fold) == x && (b | fold) == y;
}

/* By length first: most header lines (Host, Date, Content-Type, ...) compare nothing. */
static enum h1_hdr header_id(const uint8_t *name, size_t len, bool trailer)
{
	if (trailer)
		return HDR_OTHER;
	switch (len) {
	case 10:
		return name_is(name, len, "connection") ? HDR_CONNECTION : HDR_OTHER;
	case 11:
		return name_is(name, len, "traceparent") ? HDR_TRACEPARENT : HDR_OTHER;
	case 12:
		return name_is(name, len, "x-request-id") ? HDR_REQUEST_ID : HDR_OTHER;
	case 14:
		return name_is(name, len, "content-length") ? HDR_CONTENT_LENGTH : HDR_OTHER;
	case 16:
		return name_is(name, len, "x-correlation-id") ? HDR_CORRELATION_ID : HDR_OTHER;
	case 17:
		return name_is(name, len, "transfer-encoding") ? HDR_TRANSFER_ENCODING : HDR_OTHER;
	default:
		return HDR_OTHER;
	}
}

/* An id value, cut at HTTP1_ID_MAX bytes (flagged); the first of a repeated header wins. */
static void keep_id(char dst[HTTP1_ID_MAX + 1], const char *v, size_t n, uint8_t *flags,
		    uint8_t cut_flag)
{
	if (dst[0])
		return;
	if (n > HTTP1_ID_MAX) {
		n = HTTP1_ID_MAX;
		*flags |= cut_flag;
	}
	memcpy(dst, v, n);
	dst[n] = 0;
}

/* The end of an id header's line: its value (leading whitespace was never stored) into
 * st->ids. A NUL inside would end the C string early: such a value is not kept. */
static void id_value_done(struct h1_stream *st)
{
	size_t n = st->idval_len;
	struct http1_ids *ids = &st->ids;

	while (n &&
	       (st->idval[n - 1] == ' ' || st->idval[n - 1] == '\t' || st->idval[n - 1] == '\r'))
		n--;
	if (!n || memchr(st->idval, 0, n))
		return;
	if (st->hdr == HDR_REQUEST_ID)
		keep_id(ids->request_id, st->idval, n, &ids->flags, HTTP1_ID_REQUEST_CUT);
	else if (st->hdr == HDR_CORRELATION_ID)
		keep_id(ids->correlation_id, st->idval, n, &ids->flags, HTTP1_ID_CORRELATION_CUT);
	else if (!ids->trace_id[0] && http1_traceparent_parse(st->idval, n, ids))
		ids->flags |= HTTP1_ID_TRACE_BAD;
}

/* One byte of an id header's value: kept (up to one more than fits, to know it was longer),
 * leading whitespace dropped. */
static void id_value_byte(struct h1_stream *st, uint8_t b)
{
	if (!st->idval_len && (b == ' ' || b == '\t'))
		return;
	if (st->idval_len <= H1_IDVAL_MAX)
		st->idval[st->idval_len++] = (char)b;
}

static bool eq_ci(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && prefix_ci((const uint8_t *)p, n, lit);
}

/* One element of a list-valued header (RFC 9110 §5.6.1), or the end of the line. */
static int value_element(struct h1_stream *st, bool line_end)
{
	const char *v = st->val;
	size_t n = st->val_len, i;
	uint64_t cl = 0;

	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
		n--;
	if (n || st->val_over) {
		st->nelem++;
		if (st->hdr == HDR_CONTENT_LENGTH) {
			for (i = 0; i < n; i++) {
				if (!is_digit(v[i]) || cl > (UINT64_MAX - 9) / 10)
					return -EBADMSG;
				cl = cl * 10 + (v[i] - '0');
			}
			/* RFC 9110 §8.6: a list of one repeated value is that value */
			if (st->val_over || (st->has_cl && st->cl != cl))
				return -EBADMSG;
			st->has_cl = true;
			st->cl = cl;
		} else if (st->hdr == HDR_TRANSFER_ENCODING) {
			/* RFC 9112 §6.3: only the final coding decides */
			st->has_te = true;
			st->chunked = !st->val_over && eq_ci(v, n, "chunked");
		} else if (!st->val_over && eq_ci(v, n, "close")) {
			st->conn_close = true;
		}
	}
	st->val_len = 0;
	st->val_over = false;
	if (line_end && st->hdr == HDR_CONTENT_LENGTH && !st->nelem)
		return -EBADMSG; /* empty Content-Length */
	return 0;
}

/* The ':' after a header name: a line of interest goes on to its value, the others are
 * skipped. */
static void name_done(struct h1_stream *st, enum h1_hdr hdr)
{
	st->hdr = hdr;
	st->sub = hdr == HDR_OTHER ? HL_SKIP : HL_VALUE;
	st->val_len = 0;
	st->val_over = false;
	st->nelem = 0;
	st->idval_len = 0;
}

/* Named header lines of interest go to value_element(); the others are skipped. */
static int scan_header_byte(struct h1_stream *st, uint8_t b, bool *end)
{
	switch (st->sub) {
	case HL_START:
		if (b == '\r')
			st->sub = HL_END_LF;
		else if (b == '\n')
			*end = true;
		else if (!is_tchar(b))
			return -EBADMSG;
		else
			st->sub = HL_NAME;
		st->name[0] = (char)b;
		st->name_len = 1;
		return 0;
	case HL_NAME:
		if (b == ':') {
			name_done(st,
				  header_id((const uint8_t *)st->name, st->name_len, st->trailer));
		} else if (!is_tchar(b)) {
			return -EBADMSG; /* RFC 9112 §5.1: no whitespace before the colon */
		} else if (st->name_len < H1_NAME_MAX) {
			st->name[st->name_len++] = (char)b;
		} else {
			st->name_len = H1_NAME_MAX + 1; /* too long to be one we want */
		}
		return 0;
	case HL_VALUE:
		if (st->hdr >= HDR_REQUEST_ID) {
			if (b != '\n') {
				id_value_byte(st, b);
				return 0;
			}
			id_value_done(st);
			st->sub = HL_START;
			return 0;
		}
		if (b == '\n' || b == ',') {
			if (b == '\n')
				st->sub = HL_START;
			return value_element(st, b == '\n');
		}
		if (st->val_len < H1_VALUE_MAX)
			st->val[st->val_len++] = b;
		else
			st->val_over = true;
		return 0;
	case HL_END_LF:
		if (b != '\n')
			return -EBADMSG;
		*end = true;
		return 0;
	}
	return -EINVAL;
}

/* The bulk of a header name: tchars, kept as received while they fit (header_id() folds
 * the case). Returns how many. */
static size_t scan_name(struct h1_stream *st, const uint8_t *p, size_t n)
{
	size_t k = 0;

	while (k < n && is_tchar(p[k]))
		k++;
	if (st->name_len + k <= H1_NAME_MAX) {
		memcpy(st->name + st->name_len, p, k);
		st->name_len += k;
	} else {
		st->name_len = H1_NAME_MAX + 1; /* too long to be one we want */
	}
	return k;
}

/*
 * A header line from its first byte, when its name and ':' are all in p (n bytes): the name
 * is compared where it lies, and a line of no interest whose end is in p too is skipped in
 * the same step (sub stays HL_START). Returns the bytes consumed (through the ':' or the
 * line's LF), 0 when the byte-wise path takes the line: a name cut at the end of p, a byte
 * other than ':' after it (then an error or the empty line), or an id or framing header
 * of which a part was stored before.
 */
static size_t line_name(struct h1_stream *st, const uint8_t *p, size_t n)
{
	const uint8_t *lf;
	size_t k = 0;

	while (k < n && is_tchar(p[k]))
		k++;
	if (!k || k == n || p[k] != ':')
		return 0;
	name_done(st, header_id(p, k, st->trailer));
	if (st->sub != HL_SKIP)
		return k + 1;
	lf = memchr(p + k + 1, '\n', n - k - 1);
	if (!lf)
		return n; /* HL_SKIP: the rest of the line comes in a later piece */
	st->sub = HL_START;
	return (size_t)(lf - p) + 1;
}

/* The bulk of a kept header value from p[0], up to the byte that ends an element or the
 * line (left for scan_header_byte()), or n: framing headers keep it in st->val, id headers
 * in st->idval (leading whitespace dropped), as byte by byte. Returns how many. */
static size_t value_run(struct h1_stream *st, const uint8_t *p, size_t n)
{
	size_t k = 0, j = 0, room, take;

	if (st->hdr >= HDR_REQUEST_ID) {
		const uint8_t *lf = memchr(p, '\n', n);

		k = lf ? (size_t)(lf - p) : n;
		if (!st->idval_len)
			while (j < k && (p[j] == ' ' || p[j] == '\t'))
				j++;
		room = H1_IDVAL_MAX + 1 - st->idval_len;
		take = k - j < room ? k - j : room;
		if (take)
			memcpy(st->idval + st->idval_len, p + j, take);
		st->idval_len += take;
		return k;
	}
	while (k < n && p[k] != '\n' && p[k] != ',')
		k++;
	room = H1_VALUE_MAX - st->val_len;
	take = k < room ? k : room;
	if (take)
		memcpy(st->val + st->val_len, p, take);
	st->val_len += take;
	if (k > room)
		st->val_over = true;
	return k;
}

int http1_scan_header(struct h1_stream *st, const uint8_t *p, size_t n, size_t *used, bool *end)
{
	const uint8_t *lf;
	size_t i = 0, k;
	int err;

	while (i < n && !*end) {
		if (st->sub == HL_START && (k = line_name(st, p + i, n - i))) {
			i += k;
			if (st->sub == HL_START || i == n)
				continue;
		}
		if (st->sub == HL_NAME) {
			i += scan_name(st, p + i, n - i);
			if (i == n)
				break;
		}
		if (st->sub == HL_VALUE) {
			i += value_run(st, p + i, n - i);
			if (i == n)
				break;
		}
		if (st->sub == HL_START && (p[i] == ' ' || p[i] == '\t'))
			st->sub = HL_SKIP; /* obs-fold (RFC 9112 §5.2): nothing we need */
		if (st->sub == HL_SKIP) {
			lf = memchr(p + i, '\n', n - i);
			if (!lf) {
				i = n;
				break;
			}
			i = lf - p + 1;
			st->sub = HL_START;
			continue;
		}
		err = scan_header_byte(st, p[i++], end);
		if (err)
			return err;
	}
	*used = i;
	return 0;
}

int http1_scan_chunk_size(struct h1_stream *st, const uint8_t *p, size_t n, size_t *used, bool *end)
{
	const uint8_t *lf;
	size_t i = 0;
	int d;

	while (i < n && !*end) {
		if (st->sub == CS_EXT) {
			/* chunk-ext (RFC 9112 §7.1.1) carries nothing we need: skip to LF */
			lf = memchr(p + i, '\n', n - i);
			st->pos += (lf ? (size_t)(lf - p) + 1 : n) - i;
			if (st->pos > H1_CHUNK_EXT_MAX)
				return -E2BIG;
			i = lf ? (size_t)(lf - p) + 1 : n;
			*end = lf != NULL;
			continue;
		}
		d = hex_value(p[i]);
		if (st->sub == CS_LF) {
			if (p[i] != '\n')
				return -EBADMSG;
			*end = true;
		} else if (d >= 0) {
			if (st->left > (UINT64_MAX >> 4))
				return -EOVERFLOW;
			st->left = st->left << 4 | (uint64_t)d;
			st->pos++;
		} else if (!st->pos) {
			return -EBADMSG;
		} else if (p[i] == ';' || p[i] == ' ' || p[i] == '\t') {
			st->sub = CS_EXT;
			st->pos = 0;
			continue;
		} else if (p[i] == '\r') {
			st->sub = CS_LF;
		} else if (p[i] == '\n') {
			*end = true;
		} else {
			return -EBADMSG;
		}
		i++;
	}
	*used = i;
	return 0;
}

int http1_scan_chunk_end(struct h1_stream *st, const uint8_t *p, size_t n, size_t *used, bool *end)
{
	size_t i;

	for (i = 0; i < n && !*end; i++) {
		if (p[i] == '\r' && st->sub == CE_CR)
			st->sub = CE_LF;
		else if (p[i] == '\n')
			*end = true;
		else
			return -EBADMSG;
	}
	*used = i;
	return 0;
}

/* ---- W3C Trace Context ---------------------------------------------------------------- */

static bool lower_hex(const char *p, size_t n, bool *all_zero)
{
	*all_zero = true;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit((uint8_t)p[i]) && (p[i] < 'a' || p[i] > 'f'))
			return false;
		if (p[i] != '0')
			*all_zero = false;
	}
	return true;
}

int http1_traceparent_parse(const char *v, size_t n, struct http1_ids *ids)
{
	bool zero;

	/* version "-" trace-id(32) "-" parent-id(16) "-" flags(2) */
	if (n < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
		return -EINVAL;
	if (!lower_hex(v, 2, &zero) || (v[0] == 'f' && v[1] == 'f'))
		return -EINVAL;
	if (zero && n != 55) /* version 00 has exactly these four fields */
		return -EINVAL;
	if (n > 55 && v[55] != '-') /* later versions may only append "-..." */
		return -EINVAL;
	if (!lower_hex(v + 53, 2, &zero))
		return -EINVAL;
	if (!lower_hex(v + 3, 32, &zero) || zero)
		return -EINVAL;
	if (!lower_hex(v + 36, 16, &zero) || zero)
		return -EINVAL;
	memcpy(ids->trace_id, v + 3, 32);
	ids->trace_id[32] = 0;
	memcpy(ids->span_id, v + 36, 16);
	ids->span_id[16] = 0;
	return 0;
}
