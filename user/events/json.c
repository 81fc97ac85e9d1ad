// SPDX-License-Identifier: GPL-2.0-only
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "events/json.h"
#include "metrics/ctx_labels.h"
#include "proto/http1.h"
#include "util/utf8.h"

/* The escaped form of one character: its bytes, or an escape; returns its length. */
static size_t escape_char(const char *s, size_t n, char e[8], size_t *adv)
{
	unsigned char c = (unsigned char)s[0];

	*adv = 1;
	if (c == '"' || c == '\\') {
		e[0] = '\\';
		e[1] = (char)c;
		return 2;
	}
	if (c < 0x20) {
		if (c == '\n' || c == '\r' || c == '\t') {
			e[0] = '\\';
			e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			return 2;
		}
		return (size_t)snprintf(e, 8, "\\u%04x", c);
	}
	if (c < 0x80) {
		e[0] = (char)c;
		return 1;
	}
	if (!utf8_seq(s, n, adv)) {
		memcpy(e, "\\ufffd", 6);
		return 6;
	}
	memcpy(e, s, *adv);
	return *adv;
}

size_t json_escape(const char *s, size_t n, char *out, size_t cap, size_t max)
{
	size_t w = 0, i = 0, adv, k;
	char e[8];

	if (max > cap)
		max = cap;
	while (i < n) {
		/* printable ASCII but '"' and '\\' stays as it is: copied a run at a time */
		size_t run = i;

		while (run < n && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x80 &&
		       s[run] != '"' && s[run] != '\\')
			run++;
		if (run > i) {
			k = run - i < max - w ? run - i : max - w;
			memcpy(out + w, s + i, k);
			w += k;
			i += k;
			if (i < run)
				break; /* out of room */
			continue;
		}
		k = escape_char(s + i, n - i, e, &adv);
		if (w + k > max)
			break;
		memcpy(out + w, e, k);
		w += k;
		i += adv;
	}
	return w;
}

size_t json_rfc3339_ns(int64_t wall_ns, char out[32])
{
	/* the date and time of day change once a second: formatted once per second and
	 * thread (gmtime_r and strftime are most of a line's cost otherwise) */
	static _Thread_local int64_t cached_sec = -1;
	static _Thread_local char head[24];
	static _Thread_local size_t head_len;
	int64_t sec, frac;

	if (wall_ns < 0)
		wall_ns = 0;
	sec = wall_ns / 1000000000;
	frac = wall_ns % 1000000000;
	if (sec != cached_sec) {
		time_t t = (time_t)sec;
		struct tm tm;

		gmtime_r(&t, &tm);
		head_len = strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S.", &tm);
		cached_sec = sec;
	}
	memcpy(out, head, head_len);
	for (int i = 8; i >= 0; i--, frac /= 10)
		out[head_len + (size_t)i] = (char)('0' + frac % 10);
	out[head_len + 9] = 'Z';
	out[head_len + 10] = '\0';
	return head_len + 10;
}

struct line {
	char *p;
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	memcpy(l->p + l->len, s, n);
	l->len += n;
}

/* ,"key": (keys are the fixed names of json.h: nothing to escape). No sprintf on this
 * path: a line of a dozen fields took ~15,000 instructions with it, ~3,000 without. */
static void put_key(struct line *l, const char *key)
{
	size_t n = strlen(key);

	l->p[l->len++] = ',';
	l->p[l->len++] = '"';
	put(l, key, n);
	l->p[l->len++] = '"';
	l->p[l->len++] = ':';
}

/* ,"key":"value" (nothing when value is NULL or empty) */
static void put_str(struct line *l, const char *key, const char *v)
{
	if (!v || !*v)
		return;
	put_key(l, key);
	l->p[l->len++] = '"';
	l->len += json_escape(v, strlen(v), l->p + l->len, EVENT_STR_MAX, EVENT_STR_MAX);
	put(l, "\"", 1);
}

static void put_digits(struct line *l, uint64_t v)
{
	char d[20];
	size_t n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		l->p[l->len++] = d[--n];
}

static void put_u64(struct line *l, const char *key, uint64_t v)
{
	put_key(l, key);
	put_digits(l, v);
}

/* ,"key":N for a port the connection table formatted (digits only) */
static void put_port(struct line *l, const char *key, const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (!n || n > 5 || strspn(v, "0123456789") != n)
		return;
	put_key(l, key);
	put(l, v, n);
}

/* A URL path: the request-target up to its query or fragment. */
static void put_path(struct line *l, const char *target)
{
	size_t n = strcspn(target, "?#");

	if (!n)
		return;
	put(l, ",\"url_path\":\"", 13);
	l->len += json_escape(target, n, l->p + l->len, EVENT_STR_MAX, EVENT_STR_MAX);
	put(l, "\"", 1);
}

/*
 * Bound: 17 strings and the CTX_LABELS context values of at most EVENT_STR_MAX + 24 bytes
 * (key, quotes), 5 numbers of at most 48, the time and kind: under EVENT_LINE_MAX.
 */
_Static_assert((17 + CTX_LABELS) * (EVENT_STR_MAX + 24) + 5 * 48 + 64 < EVENT_LINE_MAX,
	       "a line fits");

size_t event_render(const struct event_record *r, char out[EVENT_LINE_MAX])
{
	struct line l = { .p = out };
	char ts[32];

	put(&l, "{\"time\":\"", 9);
	put(&l, ts, json_rfc3339_ns(r->wall_ns, ts));
	put(&l, "\"", 1);
	put_str(&l, "kind", r->kind);
	put_str(&l, "service_name", r->service);
	if (r->ctx) {
		const char *v[CTX_LABELS];

		ctx_label_values(r->ctx, v);
		for (size_t i = 0; i < CTX_LABELS; i++)
			put_str(&l, ctx_label_names[i], v[i]);
	}
	put_str(&l, "http_request_method", r->method);
	put_str(&l, "http_route", r->route);
	if (r->path)
		put_path(&l, r->path);
	if (r->status)
		put_u64(&l, "http_response_status_code", r->status);
	if (r->has_bodies & EVENT_REQ_BODY)
		put_u64(&l, "request_body_size", r->req_body);
	if (r->has_bodies & EVENT_RESP_BODY)
		put_u64(&l, "response_body_size", r->resp_body);
	put_str(&l, "db_system_name", r->db_system);
	put_str(&l, "db_operation_name", r->db_operation);
	put_str(&l, "error_type", r->error_type);
	put_u64(&l, "duration_ns", r->duration_ns);
	put_str(&l, "server_address", r->server_address);
	put_port(&l, "server_port", r->server_port);
	put_str(&l, "client_address", r->client_address);
	put_port(&l, "client_port", r->client_port);
	if (r->ids) {
		put_str(&l, "request_id", r->ids->request_id);
		put_str(&l, "correlation_id", r->ids->correlation_id);
		put_str(&l, "trace_id", r->ids->trace_id);
		put_str(&l, "span_id", r->ids->span_id);
	}
	put(&l, "}\n", 2);
	return l.len;
}
