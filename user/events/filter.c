// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "events/filter.h"

#define TERM_MAX 64

static int bad(char *err, size_t errlen, const char *term, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "term '%s': %s", term, why);
	return -EINVAL;
}

/* "250ms", "1.5s", "100us", "42ns" -> ns */
static int parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		double scale;
	} units[] = { { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 } };
	char *end;
	double v;

	if (!(*s >= '0' && *s <= '9'))
		return -EINVAL;
	v = strtod(s, &end);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		v *= units[i].scale;
		if (!isfinite(v) || v >= 1.8e19)
			return -EINVAL;
		*ns = (uint64_t)llround(v);
		return 0;
	}
	return -EINVAL;
}

static int parse_status(const char *s, uint16_t *out)
{
	char *end;
	long v;

	if (s[0] >= '1' && s[0] <= '5' && !strcmp(s + 1, "xx")) {
		*out = (uint16_t)(s[0] - '0');
		return 0;
	}
	if (!(s[0] >= '0' && s[0] <= '9'))
		return -EINVAL;
	v = strtol(s, &end, 10);
	if (*end || v < 100 || v > 999)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static int parse_sample(struct events_filter *f, const char *s)
{
	char *end;
	double r;

	if (!((*s >= '0' && *s <= '9') || *s == '.'))
		return -EINVAL;
	r = strtod(s, &end);
	if (*end || !(r >= 0 && r <= 1))
		return -EINVAL;
	f->sample_all = r == 1;
	f->sample = r >= 1 ? UINT32_MAX : (uint32_t)(r * 4294967296.0);
	return 0;
}

static int parse_term(struct events_filter *f, const char *t, char *err, size_t errlen)
{
	uint64_t ns;

	if (!strcmp(t, "all")) {
		f->all = true;
	} else if (!strcmp(t, "error")) {
		f->error = true;
	} else if (!strncmp(t, "status=", 7)) {
		if (f->n_status == EVENTS_FILTER_STATUS_MAX)
			return bad(err, errlen, t, "at most 8 status terms");
		if (parse_status(t + 7, &f->status[f->n_status]))
			return bad(err, errlen, t, "a status code 100..999 or a class 1xx..5xx");
		f->n_status++;
	} else if (!strncmp(t, "duration>=", 10)) {
		if (parse_duration(t + 10, &ns))
			return bad(err, errlen, t,
				   "a duration with unit ns, us, ms or s, e.g. 250ms");
		if (ns < f->min_ns)
			f->min_ns = ns;
	} else if (!strncmp(t, "sample=", 7)) {
		if (parse_sample(f, t + 7))
			return bad(err, errlen, t, "a fraction from 0 to 1, e.g. 0.01");
	} else {
		return bad(err, errlen, t,
			   "not one of all, error, status=C, duration>=D, sample=R");
	}
	return 0;
}

int events_filter_parse(struct events_filter *f, const char *text, char *err, size_t errlen)
{
	char term[TERM_MAX + 1];
	const char *p = text, *comma;
	size_t n;
	int rc;

	memset(f, 0, sizeof(*f));
	f->min_ns = UINT64_MAX;
	f->rng = 0x9e3779b97f4a7c15ULL;
	if (!*text)
		return bad(err, errlen, "", "empty filter (use 'all')");
	for (;;) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		snprintf(term, sizeof(term), "%.*s", (int)(n > TERM_MAX ? TERM_MAX : n), p);
		if (!n)
			return bad(err, errlen, term, "empty term");
		if (n > TERM_MAX)
			return bad(err, errlen, term, "too long");
		if ((rc = parse_term(f, term, err, errlen)))
			return rc;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static bool status_match(const struct events_filter *f, unsigned status)
{
	for (unsigned i = 0; i < f->n_status; i++)
		if (f->status[i] < 10 ? status / 100 == f->status[i] : status == f->status[i])
			return true;
	return false;
}

bool events_filter_pass(struct events_filter *f, uint64_t duration_ns, unsigned status,
			bool db_error)
{
	if (f->all || duration_ns >= f->min_ns)
		return true;
	if (f->error && (db_error || status >= 500))
		return true;
	if (status && status_match(f, status))
		return true;
	if (f->sample_all)
		return true;
	if (!f->sample)
		return false;
	/* xorshift64: cheap, and sampling needs no cryptographic quality */
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return (uint32_t)(f->rng >> 32) < f->sample;
}
