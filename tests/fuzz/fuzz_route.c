// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: route.c, route patterns (validation, compilation, matching) and route
 * templating of request-targets (heuristics, per-service cap, output cut).
 * Input: [cap byte][pattern count byte] then '\n'-separated lines: the first (count % 5)
 * are patterns (0: heuristics), every later one a request-target whose first byte picks
 * one of four services and one of 16 output sizes. Checked:
 *   - route_table_new() succeeds exactly when route_pattern_valid() accepts every pattern
 *     (an invalid set is fuzzed further as heuristics);
 *   - every route is terminated within ROUTE_MAX, ROUTE_OVERFLOW when the cap says so,
 *     else a configured pattern, ROUTE_UNMATCHED or "*" with patterns, and without them
 *     "*" or a path of valid UTF-8 without control bytes, '?', '#' or empty segments;
 *   - a known route maps the same way again; a service never holds more than cap routes;
 *     a small output buffer gets the route cut on a UTF-8 boundary;
 *   - each valid pattern matches the path written from it ({param} -> "x", final '*'
 *     dropped): that path's route is the pattern or an earlier one.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I include -I user \
 *        tests/fuzz/fuzz_route.c user/metrics/route.c user/util/utf8.c
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/route.h"

#define PATS_MAX 4
#define SERVICES 4
#define LINE_MAX_ 512 /* longer lines are cut: ROUTE_MAX is 256 */

static const char *const services[SERVICES] = { "", "svc-a", "svc-b", "a longer service" };

struct state {
	const char *pats[PATS_MAX];
	size_t npats;
	unsigned cap;
	/* distinct routes seen per service, to check the cap */
	char seen[SERVICES][8][ROUTE_MAX];
	unsigned nseen[SERVICES];
};

/* Next '\n'-terminated line of data as a C string in buf (cut at a NUL or LINE_MAX_). */
static bool next_line(const uint8_t **data, size_t *size, char *buf)
{
	const uint8_t *nl;
	size_t n;

	if (!*size)
		return false;
	nl = memchr(*data, '\n', *size);
	n = nl ? (size_t)(nl - *data) : *size;
	memcpy(buf, *data, n < LINE_MAX_ - 1 ? n : LINE_MAX_ - 1);
	buf[n < LINE_MAX_ - 1 ? n : LINE_MAX_ - 1] = '\0';
	*data += n + (nl != NULL);
	*size -= n + (nl != NULL);
	return true;
}

static bool utf8_ok(const unsigned char *s)
{
	while (*s) {
		size_t k = *s < 0x80 ? 0 : *s >= 0xf0 ? 3 : *s >= 0xe0 ? 2 : *s >= 0xc2 ? 1 : 9;

		if (k == 9 || (*s >= 0xf5))
			return false;
		for (size_t j = 1; j <= k; j++)
			if ((s[j] & 0xc0) != 0x80)
				return false;
		s += k + 1;
	}
	return true;
}

static void check_heuristic(const char *r)
{
	if (!strcmp(r, "*"))
		return;
	if (r[0] != '/' || strstr(r, "//") || strpbrk(r, "?#") || !utf8_ok((const void *)r))
		abort();
	for (const unsigned char *p = (const void *)r; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
}

static void check_route(const struct state *st, int rc, const char *r)
{
	size_t i;

	if (strnlen(r, ROUTE_MAX) == ROUTE_MAX)
		abort();
	if (rc == 1) {
		if (strcmp(r, ROUTE_OVERFLOW))
			abort();
		return;
	}
	if (rc != 0)
		abort();
	if (!st->npats) {
		check_heuristic(r);
		return;
	}
	if (!strcmp(r, ROUTE_UNMATCHED) || !strcmp(r, "*"))
		return;
	for (i = 0; i < st->npats; i++)
		if (!strcmp(r, st->pats[i]))
			return;
	abort();
}

/* Counts r among the service's distinct routes; more than cap is a bug. */
static void count_route(struct state *st, unsigned svc, const char *r)
{
	unsigned i;

	for (i = 0; i < st->nseen[svc]; i++)
		if (!strcmp(st->seen[svc][i], r))
			return;
	if (++st->nseen[svc] > st->cap)
		abort();
	strcpy(st->seen[svc][i], r);
}

static void template_one(struct route_table *t, struct state *st, const char *line)
{
	unsigned svc = (unsigned char)line[0] & 3, small = 1 + ((unsigned char)line[0] >> 4);
	const char *target = line[0] ? line + 1 : line;
	char out[ROUTE_MAX], again[ROUTE_MAX], cut[16];
	int rc = route_template(t, services[svc], target, out, sizeof(out)), rc2;
	size_t n;

	check_route(st, rc, out);
	if (rc == 0)
		count_route(st, svc, out);
	rc2 = route_template(t, services[svc], target, again, sizeof(again));
	if (rc2 != rc || strcmp(out, again))
		abort();
	/* Cut on a UTF-8 boundary: a prefix of the route, no continuation byte after it. */
	route_template(t, services[svc], target, cut, small);
	n = strlen(cut);
	if (n >= small || strncmp(cut, out, n) || ((unsigned char)out[n] & 0xc0) == 0x80)
		abort();
}

/* The path a pattern matches by construction: each {...} one byte, a final '*' nothing. */
static void path_of_pattern(const char *pat, char *out)
{
	size_t o = 0;
	int depth = 0;

	for (; *pat; pat++) {
		if (*pat == '{' && depth++ == 0)
			out[o++] = 'x';
		else if (*pat == '}' && depth > 0)
			depth--;
		else if (!depth && !(*pat == '*' && !pat[1]))
			out[o++] = *pat;
	}
	out[o] = '\0';
}

static void check_self_match(const struct state *st)
{
	struct route_table *t = route_table_new(st->pats, st->npats, 64);
	char path[LINE_MAX_], out[ROUTE_MAX];
	size_t i, j;

	if (!t)
		abort();
	for (i = 0; i < st->npats; i++) {
		path_of_pattern(st->pats[i], path);
		if (route_template(t, "", path, out, sizeof(out)))
			abort();
		for (j = 0; j <= i && strcmp(out, st->pats[j]); j++)
			;
		if (j > i)
			abort();
	}
	route_table_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state st;
	static char pat_buf[PATS_MAX][LINE_MAX_];
	char line[LINE_MAX_];
	struct route_table *t;
	bool valid = true;
	size_t want, i;

	if (size < 2)
		return 0;
	memset(st.nseen, 0, sizeof(st.nseen));
	st.cap = 1 + data[0] % 8;
	want = data[1] % (PATS_MAX + 1);
	data += 2;
	size -= 2;
	for (st.npats = 0; st.npats < want && next_line(&data, &size, pat_buf[st.npats]);
	     st.npats++) {
		st.pats[st.npats] = pat_buf[st.npats];
		valid &= route_pattern_valid(pat_buf[st.npats], line, sizeof(line));
	}
	t = route_table_new(st.pats, st.npats, st.cap);
	if (!t != !valid || (!t && errno != EINVAL))
		abort();
	if (valid && st.npats)
		check_self_match(&st);
	if (!t) {
		st.npats = 0;
		t = route_table_new(NULL, 0, st.cap);
		if (!t)
			abort();
	}
	for (i = 0; next_line(&data, &size, line); i++)
		template_one(t, &st, line);
	route_table_free(t);
	return 0;
}
