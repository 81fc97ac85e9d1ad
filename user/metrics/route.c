// SPDX-License-Identifier: GPL-2.0-only
/*
 * Route templating (see route.h for the rules). Three parts: chi-pattern compilation and
 * matching, per-segment heuristics, and the per-service cap (two open-addressing hash
 * tables, so a known route costs one hash and one probe sequence, no allocation).
 */
#include "metrics/route.h"
#include "util/hash.h"
#include "util/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A {param} in a compiled glob: pattern bytes are printable ASCII, so 0x01 cannot clash. */
#define PARAM_MARK '\x01'
/* "{x}" is the shortest parameter, so a pattern shorter than ROUTE_MAX holds fewer. */
#define PARAMS_MAX (ROUTE_MAX / 3 + 1)

struct pattern {
	char *text; /* the route label: the pattern exactly as configured */
	char *glob; /* segments joined by '/', PARAM_MARK for each {param} */
	size_t glen;
	unsigned nseg; /* segments in glob; with rest, the last may be empty */
	bool rest;     /* ended in '*': last glob segment is a prefix, then anything follows */
};

struct service {
	char *name; /* NULL: empty slot */
	uint64_t hash;
	uint32_t id; /* stable across rehashing: route slots refer to it */
};

struct route_slot {
	const char *text; /* NULL: empty slot; owned by route_table.texts */
	uint64_t hash;
	uint32_t svc; /* service id */
	uint32_t len;
	uint32_t id; /* index in route_table.texts */
};

struct route_table {
	struct pattern *pats;
	size_t n_pats;
	unsigned cap;
	struct service *svcs;
	size_t n_svcs, svc_mask; /* slots: mask + 1, a power of two */
	uint32_t next_svc_id;
	unsigned *svc_routes; /* by service id: distinct routes admitted */
	size_t cap_svc_routes;
	struct route_slot *routes;
	size_t n_routes, route_mask;
	char **texts; /* by route id; texts[ROUTE_ID_OVERFLOW] is unused */
	size_t cap_texts;
	uint64_t overflowed; /* __atomic: the exposition thread reads it */
};

struct span {
	size_t off, len;
};

/* ---- pattern compilation ------------------------------------------------------------------ */

static bool fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes the reason a pattern is refused; returns false so callers can return it. */
static bool fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * pat[i] is '{': checks "{name}" or "{name:regexp}" and records the name. chi counts braces
 * so a regexp may hold some ("{y:[0-9]{4}}"). Returns the offset after the closing '}', or 0.
 */
static size_t param_scan(const char *pat, size_t i, struct span *names, size_t *n_names, char *why,
			 size_t whylen)
{
	size_t start = i + 1, j, k, name_end = 0;
	int depth = 1;

	for (j = start; pat[j]; j++) {
		if (pat[j] == '/')
			return fail(
				why, whylen,
				"'/' at offset %zu inside '{...}': a parameter spans one segment",
				j);
		if (pat[j] == '{') {
			depth++;
		} else if (pat[j] == '}') {
			if (--depth == 0)
				break;
		} else if (pat[j] == ':' && !name_end && depth == 1) {
			name_end = j;
		}
	}
	if (!pat[j])
		return fail(why, whylen, "'{' at offset %zu is never closed", i);
	if (!name_end)
		name_end = j;
	if (name_end == start)
		return fail(why, whylen, "empty parameter name at offset %zu", i);
	for (k = start; k < name_end; k++)
		if (!is_alpha(pat[k]) && !is_digit(pat[k]) && pat[k] != '_')
			return fail(why, whylen,
				    "parameter name at offset %zu: letters, digits and '_' only",
				    i);
	if (name_end < j && name_end + 1 == j)
		return fail(why, whylen, "empty regexp after ':' at offset %zu", name_end);
	for (k = 0; k < *n_names; k++)
		if (names[k].len == name_end - start &&
		    !memcmp(pat + names[k].off, pat + start, names[k].len))
			return fail(why, whylen, "parameter {%.*s} appears twice",
				    (int)names[k].len, pat + start);
	names[*n_names].off = start;
	names[*n_names].len = name_end - start;
	(*n_names)++;
	return j + 1;
}

/* Checks the bytes of a pattern that every later rule relies on. */
static bool pattern_bytes_ok(const char *pat, size_t *lenp, char *why, size_t whylen)
{
	size_t len, i;

	if (!pat)
		return fail(why, whylen, "no pattern");
	len = strnlen(pat, ROUTE_MAX);
	if (len == 0)
		return fail(why, whylen, "empty pattern: a route starts with '/'");
	if (len >= ROUTE_MAX)
		return fail(why, whylen, "longer than %d bytes", ROUTE_MAX - 1);
	if (pat[0] != '/')
		return fail(why, whylen, "must start with '/'");
	/* Paths on the wire are not decoded here, so patterns must be written as sent. */
	for (i = 0; i < len; i++) {
		unsigned char c = pat[i];

		if (c <= 0x20 || c >= 0x7f)
			return fail(why, whylen,
				    "byte 0x%02x at offset %zu: printable ASCII only, no spaces; "
				    "write other bytes percent-encoded as they are sent",
				    c, i);
	}
	*lenp = len;
	return true;
}

/*
 * Validates pat and, when pt is given, compiles it into pt->glob (which must hold
 * strlen(pat) + 1 bytes). The leading '/' is dropped, a trailing '/' too: empty segments
 * never count, in patterns as in paths.
 */
static bool pattern_scan(const char *pat, struct pattern *pt, char *why, size_t whylen)
{
	struct span names[PARAMS_MAX];
	size_t n_names = 0, len = 0, i, g = 0, slashes = 0;
	bool rest = false;
	char c;

	if (!pattern_bytes_ok(pat, &len, why, whylen))
		return false;
	for (i = 1; i < len;) {
		c = pat[i];
		if (c == '/' && pat[i - 1] == '/')
			return fail(why, whylen, "empty segment ('//') at offset %zu", i - 1);
		if (c == '?' || c == '#')
			return fail(why, whylen,
				    "'%c' at offset %zu: a route is a path; queries and fragments "
				    "never reach it",
				    c, i);
		if (c == '}')
			return fail(why, whylen, "'}' at offset %zu has no '{'", i);
		if (c == '*' && i != len - 1)
			return fail(why, whylen,
				    "'*' at offset %zu: chi's wildcard only ends a pattern; use "
				    "{name} for one segment",
				    i);
		if (c == '*') {
			rest = true;
			i++;
			continue;
		}
		if (c == '{') {
			i = param_scan(pat, i, names, &n_names, why, whylen);
			if (!i)
				return false;
			c = PARAM_MARK;
		} else {
			i++;
		}
		if (pt)
			pt->glob[g] = c;
		g++;
		slashes += c == '/';
	}
	if (!pt)
		return true;
	if (!rest && g && pt->glob[g - 1] == '/') {
		g--;
		slashes--;
	}
	pt->glob[g] = '\0';
	pt->glen = g;
	pt->rest = rest;
	pt->nseg = (g || rest) ? slashes + 1 : 0;
	return true;
}

bool route_pattern_valid(const char *pattern, char *why, size_t whylen)
{
	return pattern_scan(pattern, NULL, why, whylen);
}

/* ---- paths and matching ------------------------------------------------------------------- */

/* The path of a request-target: absolute-form loses scheme and authority (RFC 9112 3.2.2);
 * the query and fragment go. */
static const char *target_path(const char *target, size_t *len)
{
	const char *p = target, *s;

	if (is_alpha(p[0])) {
		for (s = p + 1; is_alpha(*s) || is_digit(*s) || *s == '+' || *s == '-' || *s == '.';
		     s++)
			;
		if (s[0] == ':' && s[1] == '/' && s[2] == '/') {
			p = s + 3;
			p += strcspn(p, "/?#");
		}
	}
	*len = strcspn(p, "?#");
	return p;
}

struct segs {
	const char *p, *end;
};

/* Next non-empty '/'-separated segment: this is where repeated slashes collapse. */
static bool seg_next(struct segs *it, const char **s, size_t *n)
{
	const char *e;

	while (it->p < it->end && *it->p == '/')
		it->p++;
	if (it->p == it->end)
		return false;
	e = memchr(it->p, '/', it->end - it->p);
	if (!e)
		e = it->end;
	*s = it->p;
	*n = e - it->p;
	it->p = e;
	return true;
}

/*
 * Matches one segment against a compiled glob segment, where PARAM_MARK is "one byte or
 * more". Treated as '?' followed by '*', the classic single-backtrack wildcard walk stays
 * O(len * glen) whatever the input. prefix: the glob only has to match a prefix of s.
 */
static bool seg_match(const char *g, size_t gl, const char *s, size_t sl, bool prefix)
{
	size_t gi = 0, si = 0, star_g = SIZE_MAX, star_s = 0;

	while (si < sl) {
		if (gi < gl && g[gi] == PARAM_MARK) {
			gi++;
			si++;
			star_g = gi;
			star_s = si;
		} else if (gi < gl && g[gi] == s[si]) {
			gi++;
			si++;
		} else if (gi == gl && prefix) {
			return true;
		} else if (star_g != SIZE_MAX) {
			gi = star_g;
			si = ++star_s;
		} else {
			return false;
		}
	}
	return gi == gl;
}

static bool pattern_match(const struct pattern *pt, const char *path, size_t plen)
{
	struct segs it = { path, path + plen };
	const char *g = pt->glob, *gend = pt->glob + pt->glen, *ge, *s;
	size_t n;
	unsigned k;

	for (k = 0; k < pt->nseg; k++, g = ge + 1) {
		ge = memchr(g, '/', gend - g);
		if (!ge)
			ge = gend;
		if (pt->rest && k == pt->nseg - 1) {
			/* chi's final "*" also matches nothing: "/static" is under "/static/" "*" */
			if (ge == g)
				return true;
			return seg_next(&it, &s, &n) && seg_match(g, ge - g, s, n, true);
		}
		if (!seg_next(&it, &s, &n) || !seg_match(g, ge - g, s, n, false))
			return false;
	}
	return !seg_next(&it, &s, &n);
}

/* ---- heuristics ------------------------------------------------------------------------- */

static bool is_uuid(const char *s, size_t n)
{
	size_t i;

	if (n != 36)
		return false;
	for (i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !(is_digit(s[i]) || is_hex_alpha(s[i])))
			return false;
	}
	return true;
}

/* What a byte can be part of, for the segment rules: one table load per byte. */
enum {
	B_DIGIT = 1 << 0, /* 0-9 */
	B_HEX = 1 << 1,	  /* 0-9 a-f A-F */
	B_HEXA = 1 << 2,  /* a-f A-F */
	B_ALPHA = 1 << 3, /* a-z A-Z */
	B_B64 = 1 << 4,	  /* base64url: 0-9 a-z A-Z - _ */
	B_CTL = 1 << 5,	  /* C0 controls and DEL */
	B_PCT = 1 << 6,	  /* '%' */
	B_HIGH = 1 << 7,  /* not ASCII */
	B_EQ = 1 << 8,	  /* '=' (base64 padding: seg_class looks at where it is) */
};

static const uint16_t byte_class[256] = {
	[0 ... 0x1f] = B_CTL,
	[0x7f] = B_CTL,
	[0x80 ... 0xff] = B_HIGH,
	['%'] = B_PCT,
	['='] = B_EQ,
	['-'] = B_B64,
	['_'] = B_B64,
	['0' ... '9'] = B_DIGIT | B_HEX | B_B64,
	['a' ... 'f'] = B_HEX | B_HEXA | B_ALPHA | B_B64,
	['A' ... 'F'] = B_HEX | B_HEXA | B_ALPHA | B_B64,
	['g' ... 'z'] = B_ALPHA | B_B64,
	['G' ... 'Z'] = B_ALPHA | B_B64,
};

/* The placeholder for segment seg (n bytes), or NULL to keep it (rules in route.h), from
 * the classes every byte (all) and some byte (any) of it has, '=' padding left out. */
static const char *seg_rules(const char *seg, size_t n, unsigned all, unsigned any)
{
	if (any & B_CTL)
		return "{seg}";
	/* ASCII is valid UTF-8: decode only segments that hold other bytes */
	if ((any & B_PCT) || ((any & B_HIGH) && !utf8_printable(seg, n)))
		return "{seg}";
	if (all & B_DIGIT)
		return "{id}";
	if (is_uuid(seg, n))
		return "{uuid}";
	if ((all & B_HEX) && (n >= 16 || (n >= 8 && (any & B_DIGIT) && (any & B_HEXA))))
		return "{hex}";
	if (n >= 24 && (all & B_B64) && (any & B_DIGIT) && (any & B_ALPHA))
		return "{token}";
	if (n > ROUTE_WORD_MAX)
		return "{seg}";
	return NULL;
}

/* seg_rules for a segment holding '=': base64 padding (up to two at its end) ends a token,
 * and the rules look at the bytes before it; an '=' elsewhere is a byte of no class. */
static const char *seg_class(const char *seg, size_t n)
{
	const unsigned char *s = (const unsigned char *)seg;
	size_t i, pad = 0;
	unsigned all = 0xffff, any = 0;

	while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
		pad++;
	for (i = 0; i < n - pad; i++) {
		all &= byte_class[s[i]];
		any |= byte_class[s[i]];
	}
	all &= ~(unsigned)B_EQ; /* an '=' before the padding left no other class in all */
	if (pad)		/* '=' is no digit: the all-digit and all-hex rules cannot hold */
		all &= ~(unsigned)(B_DIGIT | B_HEX);
	return seg_rules(seg, n, all, any & ~(unsigned)B_EQ);
}

/* Heuristic route into buf (ROUTE_MAX bytes); returns its length. Segments are never cut:
 * when the depth or the size runs out, ROUTE_REST says the rest was left out. One pass over
 * the path: a segment's bytes are classed as they are walked (this runs per request). */
static size_t heuristic_route(const char *path, size_t plen, char *buf)
{
	const unsigned char *p = (const unsigned char *)path, *end = p + plen, *s;
	const char *piece;
	size_t n, m, len = 0;
	unsigned depth = 0, all, any;

	for (;;) {
		while (p < end && *p == '/') /* repeated slashes collapse: no empty segment */
			p++;
		if (p == end)
			break;
		all = 0xffff;
		any = 0;
		for (s = p; p < end && *p != '/'; p++) {
			all &= byte_class[*p];
			any |= byte_class[*p];
		}
		n = (size_t)(p - s);
		piece = any & B_EQ ? seg_class((const char *)s, n)
				   : seg_rules((const char *)s, n, all, any);
		m = piece ? strlen(piece) : n;
		if (depth == ROUTE_DEPTH_MAX || len + 1 + m > ROUTE_MAX - 1 - 2) {
			memcpy(buf + len, ROUTE_REST, 2);
			len += 2;
			break;
		}
		buf[len++] = '/';
		memcpy(buf + len, piece ? piece : (const char *)s, m);
		len += m;
		depth++;
	}
	if (!len)
		buf[len++] = '/';
	buf[len] = '\0';
	return len;
}

static size_t put(char *buf, const char *s)
{
	size_t len = strlen(s);

	memcpy(buf, s, len + 1);
	return len;
}

/* The route of target, before the cap, into buf (ROUTE_MAX bytes); returns its length. */
static size_t route_build(const struct route_table *t, const char *target, char *buf)
{
	const char *path;
	size_t plen, i;

	path = target_path(target ? target : "", &plen);
	if (plen == 1 && path[0] == '*')
		return put(buf, "*");
	if (!t->n_pats)
		return heuristic_route(path, plen, buf);
	for (i = 0; i < t->n_pats; i++)
		if (pattern_match(&t->pats[i], path, plen))
			return put(buf, t->pats[i].text);
	return put(buf, ROUTE_UNMATCHED);
}

/* Copies s into out, cut to outlen - 1 bytes without splitting a UTF-8 sequence. */
static void copy_out(char *out, size_t outlen, const char *s, size_t len)
{
	if (!out || !outlen)
		return;
	if (len > outlen - 1) {
		len = outlen - 1;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(out, s, len);
	out[len] = '\0';
}

/* ---- per-service cap -------------------------------------------------------------------- */

/* Keeps the load under 3/4 so linear probes stay short. */
static bool needs_growth(size_t n, size_t mask)
{
	return (n + 1) * 4 > (mask + 1) * 3;
}

static int services_grow(struct route_table *t)
{
	size_t slots = (t->svc_mask + 1) * 2, i, j;
	struct service *svcs = calloc(slots, sizeof(*svcs));

	if (!svcs)
		return -ENOMEM;
	for (i = 0; i <= t->svc_mask; i++) {
		if (!t->svcs[i].name)
			continue;
		for (j = t->svcs[i].hash & (slots - 1); svcs[j].name; j = (j + 1) & (slots - 1))
			;
		svcs[j] = t->svcs[i];
	}
	free(t->svcs);
	t->svcs = svcs;
	t->svc_mask = slots - 1;
	return 0;
}

static int routes_grow(struct route_table *t)
{
	size_t slots = (t->route_mask + 1) * 2, i, j;
	struct route_slot *routes = calloc(slots, sizeof(*routes));

	if (!routes)
		return -ENOMEM;
	for (i = 0; i <= t->route_mask; i++) {
		if (!t->routes[i].text)
			continue;
		for (j = t->routes[i].hash & (slots - 1); routes[j].text; j = (j + 1) & (slots - 1))
			;
		routes[j] = t->routes[i];
	}
	free(t->routes);
	t->routes = routes;
	t->route_mask = slots - 1;
	return 0;
}

/* Room for service id `id` in svc_routes; 0 or -ENOMEM. */
static int svc_routes_room(struct route_table *t, uint32_t id)
{
	size_t cap = t->cap_svc_routes ? t->cap_svc_routes : 16;
	unsigned *v;

	if (id < t->cap_svc_routes)
		return 0;
	while (cap <= id)
		cap *= 2;
	v = realloc(t->svc_routes, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(v + t->cap_svc_routes, 0, (cap - t->cap_svc_routes) * sizeof(*v));
	t->svc_routes = v;
	t->cap_svc_routes = cap;
	return 0;
}

uint32_t route_service(struct route_table *t, const char *name)
{
	uint64_t h;
	struct service *svc;
	size_t i;

	if (!t)
		return ROUTE_SVC_NONE;
	name = name ? name : "";
	h = hash_fmix64(fnv1a64(name, strlen(name)));
	for (i = h & t->svc_mask; t->svcs[i].name; i = (i + 1) & t->svc_mask)
		if (t->svcs[i].hash == h && !strcmp(t->svcs[i].name, name))
			return t->svcs[i].id;
	if (svc_routes_room(t, t->next_svc_id))
		return ROUTE_SVC_NONE;
	if (needs_growth(t->n_svcs, t->svc_mask)) {
		if (services_grow(t))
			return ROUTE_SVC_NONE;
		for (i = h & t->svc_mask; t->svcs[i].name; i = (i + 1) & t->svc_mask)
			;
	}
	svc = &t->svcs[i];
	svc->name = strdup(name);
	if (!svc->name)
		return ROUTE_SVC_NONE;
	svc->hash = h;
	svc->id = t->next_svc_id++;
	t->n_svcs++;
	return svc->id;
}

/* A new route id for text (copied); ROUTE_ID_OVERFLOW when out of memory. */
static uint32_t text_add(struct route_table *t, const char *route, size_t len)
{
	size_t id = t->n_routes + 1; /* ids are dense: 1, 2, ... in order of admission */

	if (id >= t->cap_texts) {
		size_t cap = t->cap_texts ? 2 * t->cap_texts : 64;
		char **v = id < UINT32_MAX ? realloc(t->texts, cap * sizeof(*v)) : NULL;

		if (!v)
			return ROUTE_ID_OVERFLOW;
		t->texts = v;
		t->cap_texts = cap;
	}
	t->texts[id] = strndup(route, len);
	return t->texts[id] ? (uint32_t)id : ROUTE_ID_OVERFLOW;
}

/* The id of route for service svc: known, or added within its cap; ROUTE_ID_OVERFLOW else. */
static uint32_t route_admit(struct route_table *t, uint32_t svc, const char *route, size_t len)
{
	uint64_t h = hash_bytes(svc, route, len);
	struct route_slot *r;
	uint32_t id;
	size_t i;

	for (i = h & t->route_mask; t->routes[i].text; i = (i + 1) & t->route_mask) {
		r = &t->routes[i];
		if (r->hash == h && r->svc == svc && r->len == len && !memcmp(r->text, route, len))
			return r->id;
	}
	if (t->svc_routes[svc] >= t->cap)
		return ROUTE_ID_OVERFLOW;
	if (needs_growth(t->n_routes, t->route_mask)) {
		if (routes_grow(t))
			return ROUTE_ID_OVERFLOW;
		for (i = h & t->route_mask; t->routes[i].text; i = (i + 1) & t->route_mask)
			;
	}
	id = text_add(t, route, len);
	if (id == ROUTE_ID_OVERFLOW)
		return id;
	t->routes[i] = (struct route_slot){
		.text = t->texts[id], .hash = h, .svc = svc, .len = (uint32_t)len, .id = id
	};
	t->svc_routes[svc]++;
	t->n_routes++;
	return id;
}

/* ---- public ------------------------------------------------------------------------------ */

uint32_t route_id(struct route_table *t, uint32_t svc, const char *target)
{
	char buf[ROUTE_MAX];
	uint32_t id = ROUTE_ID_OVERFLOW;
	size_t len;

	/* No table means no cap to enforce: the only safe label is the overflow one. */
	if (!t)
		return ROUTE_ID_OVERFLOW;
	if (svc < t->next_svc_id) {
		len = route_build(t, target, buf);
		id = route_admit(t, svc, buf, len);
	}
	/* also when memory ran out, which must not let routes past the cap */
	if (id == ROUTE_ID_OVERFLOW)
		__atomic_fetch_add(&t->overflowed, 1, __ATOMIC_RELAXED);
	return id;
}

const char *route_text(const struct route_table *t, uint32_t id)
{
	if (!t || id == ROUTE_ID_OVERFLOW || id > t->n_routes)
		return ROUTE_OVERFLOW;
	return t->texts[id];
}

int route_template(struct route_table *t, const char *service, const char *target, char *out,
		   size_t outlen)
{
	uint32_t id = route_id(t, route_service(t, service), target);
	const char *r = route_text(t, id);

	copy_out(out, outlen, r, strlen(r));
	return id == ROUTE_ID_OVERFLOW;
}

uint64_t route_overflowed(const struct route_table *t)
{
	return t ? __atomic_load_n(&t->overflowed, __ATOMIC_RELAXED) : 0;
}

static int patterns_compile(struct route_table *t, const char *const *patterns, size_t n)
{
	struct pattern *pt;
	size_t i;

	t->pats = calloc(n, sizeof(*t->pats));
	if (!t->pats)
		return -ENOMEM;
	t->n_pats = n;
	for (i = 0; i < n; i++) {
		pt = &t->pats[i];
		if (!route_pattern_valid(patterns[i], NULL, 0))
			return -EINVAL;
		pt->text = strdup(patterns[i]);
		pt->glob = malloc(strlen(patterns[i]) + 1);
		if (!pt->text || !pt->glob)
			return -ENOMEM;
		pattern_scan(patterns[i], pt, NULL, 0);
	}
	return 0;
}

struct route_table *route_table_new(const char *const *patterns, size_t n, unsigned cap)
{
	struct route_table *t;
	int err;

	if (!cap || (n && !patterns)) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->cap = cap;
	t->svc_mask = 15;
	t->route_mask = 63;
	t->svcs = calloc(t->svc_mask + 1, sizeof(*t->svcs));
	t->routes = calloc(t->route_mask + 1, sizeof(*t->routes));
	err = (!t->svcs || !t->routes) ? -ENOMEM : 0;
	if (!err && n)
		err = patterns_compile(t, patterns, n);
	if (err) {
		route_table_free(t);
		errno = -err;
		return NULL;
	}
	return t;
}

static void patterns_free(struct pattern *pats, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(pats[i].text);
		free(pats[i].glob);
	}
	free(pats);
}

int route_table_reconfigure(struct route_table *t, const char *const *patterns, size_t n,
			    unsigned cap)
{
	struct route_table fresh = { 0 };
	int err = 0;

	if (!cap || (n && !patterns))
		return -EINVAL;
	if (n)
		err = patterns_compile(&fresh, patterns, n);
	if (err) {
		patterns_free(fresh.pats, fresh.n_pats);
		return err;
	}
	/* Admitted routes keep their ids (series and connections hold them); only the
	 * mapping of paths not yet seen changes. */
	patterns_free(t->pats, t->n_pats);
	t->pats = fresh.pats;
	t->n_pats = fresh.n_pats;
	t->cap = cap;
	return 0;
}

void route_table_free(struct route_table *t)
{
	size_t i;

	if (!t)
		return;
	patterns_free(t->pats, t->n_pats);
	if (t->svcs)
		for (i = 0; i <= t->svc_mask; i++)
			free(t->svcs[i].name);
	for (i = 1; i <= t->n_routes; i++)
		free(t->texts[i]);
	free(t->texts);
	free(t->svc_routes);
	free(t->svcs);
	free(t->routes);
	free(t);
}
