// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: what `sonde top` does with the bytes a /metrics endpoint sends:
 * scrape.c's response decoder (when the input starts with "HTTP/"), promparse.c's
 * exposition parser, and topview.c's snapshots, view and rendering.
 * Input: an HTTP/1 response or an exposition text. Checked:
 *   - a decoded response: status 200..999, its body inside the received bytes and
 *     terminated; decoding never succeeds before the end and differs after it;
 *   - every sample and family the parser reports: names and label names as the grammar
 *     says, label names unique, no more than PROM_MAX_LABELS, every string inside the text
 *     and its value_len exact, the suffix matching the family's type and name, "le" on
 *     buckets and "quantile" on summary quantiles, line numbers in order, and a family's
 *     nsamples equal to the samples reported for it;
 *   - the text parsed as two scrapes (its halves) builds a view that renders.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I include -I user \
 *        -DSONDE_VERSION=\"fuzz\" \
 *        tests/fuzz/fuzz_promparse.c user/top/promparse.c user/top/scrape.c \
 *        user/top/topview.c user/top/toprender.c user/util/version.c -lm
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "top/promparse.h"
#include "top/scrape.h"
#include "top/topview.h"

struct seen {
	const char *text, *end; /* the parsed buffer */
	size_t samples;		/* of the open family */
	size_t line;
};

static bool inside(const struct seen *s, const char *p)
{
	return p >= s->text && p <= s->end;
}

static bool name_ok(const char *p, bool metric)
{
	const char *q = p;

	for (; *q; q++) {
		bool alpha = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '_' ||
			     (metric && *q == ':');

		if (!alpha && !(q > p && *q >= '0' && *q <= '9'))
			return false;
	}
	return q > p;
}

static const char *suffix_text(enum prom_suffix s)
{
	static const char *const text[] = { "", "_bucket", "_sum", "_count" };

	if ((unsigned)s > PROM_SUFFIX_COUNT)
		abort();
	return text[s];
}

static void check_labels(const struct seen *st, const struct prom_sample *s)
{
	if (s->nlabels > PROM_MAX_LABELS)
		abort();
	for (size_t i = 0; i < s->nlabels; i++) {
		const struct prom_label *l = &s->labels[i];

		if (!inside(st, l->name) || !inside(st, l->value) || !name_ok(l->name, false) ||
		    strlen(l->value) != l->value_len || !inside(st, l->value + l->value_len))
			abort();
		for (size_t j = 0; j < i; j++)
			if (!strcmp(s->labels[j].name, l->name))
				abort();
	}
}

static int on_sample(const struct prom_sample *s, void *ctx)
{
	struct seen *st = ctx;
	const struct prom_family *f = s->family;
	const char *suf = suffix_text(s->suffix);
	size_t n;

	if (!f || !inside(st, s->name) || !inside(st, f->name) || !name_ok(s->name, true) ||
	    !name_ok(f->name, true) || s->line < st->line || !s->line)
		abort();
	n = strlen(f->name);
	if (strncmp(s->name, f->name, n) || strcmp(s->name + n, suf))
		abort();
	if (s->suffix == PROM_SUFFIX_BUCKET && (f->type != PROM_HISTOGRAM || !prom_label(s, "le")))
		abort();
	if (f->type == PROM_SUMMARY && s->suffix == PROM_SUFFIX_NONE && !prom_label(s, "quantile"))
		abort();
	if (f->type == PROM_HISTOGRAM && s->suffix == PROM_SUFFIX_NONE)
		abort();
	check_labels(st, s);
	st->line = s->line;
	st->samples++;
	if (f->nsamples != st->samples)
		abort();
	return 0;
}

static int on_family(const struct prom_family *f, void *ctx)
{
	struct seen *st = ctx;

	if (!inside(st, f->name) || !name_ok(f->name, true) || f->nsamples != st->samples ||
	    (f->help && !inside(st, f->help)) || (unsigned)f->type > PROM_SUMMARY)
		abort();
	st->samples = 0;
	return 0;
}

static void parse_checked(const char *text, size_t len)
{
	char *buf = malloc(len + 1);
	struct seen st;
	struct prom_handler h = { on_family, on_sample, &st };
	struct prom_error err = { 0 };
	int rc;

	if (!buf)
		return;
	memcpy(buf, text, len);
	buf[len] = '\0';
	st = (struct seen){ .text = buf, .end = buf + len };
	rc = prom_parse(buf, len, &h, &err);
	if (rc && (rc != -EINVAL || !err.reason || !err.line))
		abort();
	free(buf);
}

/* Parses a copy of text[0..len) into s. */
static void snapshot(struct top_snapshot *s, const char *text, size_t len)
{
	char *buf = malloc(len + 1);

	top_snapshot_init(s);
	if (!buf)
		return;
	memcpy(buf, text, len);
	buf[len] = '\0';
	top_snapshot_parse(s, buf, len, NULL);
	free(buf); /* the snapshot keeps copies of what it needs */
}

static void view_checked(const char *text, size_t len)
{
	static FILE *devnull;
	struct top_snapshot a, b;
	struct top_view v = { 0 };
	struct top_frame frame = { .url = "http://fuzz/metrics", .width = 80, .height = 24 };

	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	snapshot(&a, text, len / 2);
	snapshot(&b, text, len);
	if (top_view_build(&v, &a, &b, 1.5) == 0) {
		for (int k = 0; k < TOP_NKINDS; k++)
			for (size_t i = 0; i < v.nrows[k]; i++)
				if (v.rows[k][i].total < 0 && !isnan(v.rows[k][i].total))
					abort();
		top_render(devnull, &v, &frame);
		frame.width = frame.height = 0;
		top_render(devnull, &v, &frame);
	}
	top_view_free(&v);
	top_snapshot_free(&a);
	top_snapshot_free(&b);
}

/* Decodes raw as a complete response, without and then with the end of the stream. */
static void decode_checked(const uint8_t *data, size_t size)
{
	struct scrape_response early = { 0 }, r = { 0 };
	char *buf = malloc(size + 1), *copy = malloc(size + 1);
	int rc, rc_early;

	if (!buf || !copy)
		goto out;
	memcpy(buf, data, size);
	memcpy(copy, data, size);
	rc_early = scrape_decode(copy, size, false, &early);
	rc = scrape_decode(buf, size, true, &r);
	if (rc == 0) {
		if (r.status < 200 || r.status > 999 || r.body < buf || r.body_len > size ||
		    r.body + r.body_len > buf + size || r.body[r.body_len] != '\0')
			abort();
		parse_checked(r.body, r.body_len);
		view_checked(r.body, r.body_len);
	}
	if (rc_early == 0 && (rc != 0 || early.status != r.status || early.body_len != r.body_len ||
			      memcmp(early.body, r.body, r.body_len)))
		abort();
out:
	free(buf);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 5 && !memcmp(data, "HTTP/", 5)) {
		decode_checked(data, size);
		return 0;
	}
	parse_checked((const char *)data, size);
	view_checked((const char *)data, size);
	return 0;
}
