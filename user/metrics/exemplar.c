// SPDX-License-Identifier: GPL-2.0-only
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "metrics/exemplar.h"
#include "metrics/exposition.h"

_Static_assert(sizeof("correlation_id") - 1 + HTTP1_ID_MAX <= 128 &&
		       sizeof("trace_idspan_id") - 1 + 32 + 16 <= 128,
	       "exemplar label sets fit OpenMetrics' 128 characters");

bool exemplar_set(struct exemplar *e, const struct http1_ids *ids, double value, int64_t wall_ns)
{
	uint8_t kind = ids->trace_id[0]		? EXEMPLAR_TRACE
		       : ids->request_id[0]	? EXEMPLAR_REQUEST
		       : ids->correlation_id[0] ? EXEMPLAR_CORRELATION
						: EXEMPLAR_NONE;
	const char *id = kind == EXEMPLAR_TRACE	    ? ids->trace_id
			 : kind == EXEMPLAR_REQUEST ? ids->request_id
						    : ids->correlation_id;

	if (kind == EXEMPLAR_NONE)
		return false;
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	e->kind = kind;
	e->value = value;
	e->wall_ns = wall_ns;
	/* both fit: HTTP1_ID_MAX + 1 bytes, NUL-terminated */
	strcpy(e->id, id);
	strcpy(e->span, kind == EXEMPLAR_TRACE ? ids->span_id : "");
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELEASE);
	return true;
}

/* A consistent copy of the slot; false when the writer kept it busy (skip it this time). */
static bool exemplar_read(const struct exemplar *e, struct exemplar *out)
{
	for (int tries = 0; tries < 64; tries++) {
		uint32_t s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);

		if (!(s1 & 1)) {
			memcpy(out, e, sizeof(*out));
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) == s1)
				return true;
		}
		sched_yield();
	}
	return false;
}

void exemplar_render(struct expo_buf *b, const struct exemplar *slot)
{
	static const char *const names[] = { "", "trace_id", "request_id", "correlation_id" };
	struct exemplar e;
	int64_t ns;

	if (!exemplar_read(slot, &e) || e.kind == EXEMPLAR_NONE || e.kind > EXEMPLAR_CORRELATION)
		return;
	e.id[HTTP1_ID_MAX] = 0; /* a torn copy was refused; this only bounds the strlen */
	e.span[16] = 0;
	expo_buf_printf(b, " # {%s=\"", names[e.kind]);
	expo_buf_label_value(b, e.id, strlen(e.id));
	if (e.span[0])
		expo_buf_printf(b, "\",span_id=\"%s", e.span);
	expo_buf_puts(b, "\"} ");
	expo_buf_double(b, e.value);
	ns = e.wall_ns < 0 ? 0 : e.wall_ns;
	expo_buf_printf(b, " %" PRId64 ".%09" PRId64, ns / 1000000000, ns % 1000000000);
}

/* One Accept element "type/subtype; p=v; q=0.5": does it name OpenMetrics with q > 0? */
static bool element_is_om(const char *p, size_t n)
{
	static const char om[] = "application/openmetrics-text";
	const char *q, *end = p + n;
	size_t tl;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	tl = strcspn(p, ";, \t");
	if (tl != sizeof(om) - 1 || strncasecmp(p, om, tl))
		return false;
	for (q = p + tl; q < end; q++) {
		if (*q != ';')
			continue;
		while (q + 1 < end && (q[1] == ' ' || q[1] == '\t'))
			q++;
		if (q + 2 < end && (q[1] == 'q' || q[1] == 'Q') && q[2] == '=')
			return strtod(q + 3, NULL) > 0;
	}
	return true;
}

bool expo_accepts_openmetrics(const char *accept)
{
	const char *p = accept;
	size_t n;

	if (!p)
		return false;
	while (*p) {
		n = strcspn(p, ",");
		if (element_is_om(p, n))
			return true;
		p += n;
		if (*p)
			p++;
	}
	return false;
}

size_t om_counter_family_len(const char *name)
{
	size_t n = strlen(name);

	return n > 6 && !strcmp(name + n - 6, "_total") ? n - 6 : n;
}
