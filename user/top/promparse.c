// SPDX-License-Identifier: GPL-2.0-only
/* Prometheus text format 0.0.4 parser: see promparse.h for the grammar. */
#include "top/promparse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const struct prom_handler *h;
	struct prom_error *err;
	struct prom_family fam;
	bool open;     /* fam is a family (explicit or implicit) */
	bool has_type; /* fam had a TYPE line */
	size_t line;
	struct prom_sample s;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char *skip_blanks(char *q)
{
	while (is_blank(*q))
		q++;
	return q;
}

static bool is_alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* End of the name starting at q: metric names also allow ':'. q itself when none. */
static char *name_end(char *q, bool metric)
{
	if (!is_alpha_(*q) && !(metric && *q == ':'))
		return q;
	for (q++; is_alpha_(*q) || (*q >= '0' && *q <= '9') || (metric && *q == ':'); q++)
		;
	return q;
}

static int fail(struct parser *p, const char *reason)
{
	if (p->err) {
		p->err->line = p->line;
		p->err->reason = reason;
	}
	return -EINVAL;
}

static int finish_family(struct parser *p)
{
	int err = 0;

	if (p->open && p->h && p->h->family)
		err = p->h->family(&p->fam, p->h->ctx);
	p->open = false;
	return err;
}

static int open_family(struct parser *p, const char *name)
{
	int err = finish_family(p);

	if (err)
		return err;
	p->fam = (struct prom_family){ .name = name, .type = PROM_UNTYPED };
	p->open = true;
	p->has_type = false;
	return 0;
}

/* Decodes a HELP docstring in place: \\ and \n are the only escapes. */
static int decode_help(struct parser *p, char *q)
{
	char *w = q;

	for (; *q; q++) {
		if (*q == '\\') {
			q++;
			if (*q == 'n')
				*q = '\n';
			else if (*q != '\\')
				return fail(p, "invalid escape in HELP (only \\\\ and \\n)");
		}
		*w++ = *q;
	}
	*w = '\0';
	return 0;
}

static int parse_type(struct parser *p, char *q, enum prom_type *t)
{
	static const char *const names[] = { "untyped", "counter", "gauge", "histogram",
					     "summary" };
	char *e = q;
	size_t i;

	while (*e && !is_blank(*e))
		e++;
	if (*skip_blanks(e))
		return fail(p, "text after the TYPE");
	*e = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(q, names[i])) {
			*t = (enum prom_type)i;
			return 0;
		}
	}
	return fail(p, "unknown TYPE (counter, gauge, histogram, summary, untyped)");
}

static int apply_meta(struct parser *p, char *name, bool help, char *rest)
{
	enum prom_type t;
	int err;

	if (!p->open || strcmp(p->fam.name, name)) {
		err = open_family(p, name);
		if (err)
			return err;
	}
	if (help) {
		if (p->fam.help)
			return fail(p, "second HELP line for a family");
		err = decode_help(p, rest);
		p->fam.help = rest;
		return err;
	}
	if (p->has_type)
		return fail(p, "second TYPE line for a family");
	if (p->fam.nsamples)
		return fail(p, "TYPE line after the family's samples");
	err = parse_type(p, rest, &t);
	if (err)
		return err;
	p->fam.type = t;
	p->has_type = true;
	return 0;
}

/* q: just after '#'. "# HELP" and "# TYPE" describe a family; other lines are comments. */
static int parse_meta(struct parser *p, char *q)
{
	char *kw, *e, *name;
	bool help;

	if (!is_blank(*q))
		return 0;
	kw = skip_blanks(q);
	if (!strncmp(kw, "HELP", 4))
		help = true;
	else if (!strncmp(kw, "TYPE", 4))
		help = false;
	else
		return 0;
	if (kw[4] && !is_blank(kw[4]))
		return 0; /* "# HELPER ..." is a comment */
	name = skip_blanks(kw + 4);
	e = name_end(name, true);
	if (e == name || (*e && !is_blank(*e)))
		return fail(p,
			    help ? "invalid metric name in HELP" : "invalid metric name in TYPE");
	q = *e ? skip_blanks(e + 1) : e;
	*e = '\0';
	return apply_meta(p, name, help, q);
}

/* Decodes a quoted label value in place; q just after the opening quote. */
static int parse_label_value(struct parser *p, char **qp, struct prom_label *l)
{
	char *q = *qp, *w = q;

	l->value = q;
	for (;;) {
		char c = *q++;

		if (c == '\0')
			return fail(p, "unterminated label value");
		if (c == '"')
			break;
		if (c == '\\') {
			c = *q++;
			if (c == 'n')
				c = '\n';
			else if (c != '\\' && c != '"')
				return fail(p, "invalid escape in label value (\\\\, \\\" or \\n)");
		}
		*w++ = c;
	}
	*w = '\0';
	l->value_len = (size_t)(w - l->value);
	*qp = q;
	return 0;
}

static int add_label(struct parser *p, char **qp)
{
	struct prom_sample *s = &p->s;
	char *q = *qp, *e = name_end(q, false), c;
	struct prom_label *l;
	size_t i;
	int err;

	if (e == q)
		return fail(p, "invalid label name");
	if (s->nlabels == PROM_MAX_LABELS)
		return fail(p, "too many labels");
	l = &s->labels[s->nlabels];
	l->name = q;
	c = *e;
	if (c != '=' && !is_blank(c))
		return fail(p, "expected '=' after a label name");
	*e = '\0';
	q = skip_blanks(e + 1);
	if (c != '=' && *q++ != '=')
		return fail(p, "expected '=' after a label name");
	q = skip_blanks(q);
	if (*q++ != '"')
		return fail(p, "label value not quoted");
	err = parse_label_value(p, &q, l);
	if (err)
		return err;
	for (i = 0; i < s->nlabels; i++) {
		if (!strcmp(s->labels[i].name, l->name))
			return fail(p, "label name repeated in a sample");
	}
	s->nlabels++;
	*qp = q;
	return 0;
}

/* q: just after '{'. */
static int parse_labels(struct parser *p, char **qp)
{
	char *q = *qp;
	int err;

	for (;;) {
		q = skip_blanks(q);
		if (*q == '}')
			break;
		err = add_label(p, &q);
		if (err)
			return err;
		q = skip_blanks(q);
		if (*q == ',')
			q++;
		else if (*q != '}')
			return fail(p, "expected ',' or '}' after a label value");
	}
	*qp = q + 1;
	return 0;
}

/* The value, then an optional timestamp; q at the value. */
static int parse_value(struct parser *p, char *q)
{
	char *e = q, *end, c;

	while (*e && !is_blank(*e))
		e++;
	if (e == q)
		return fail(p, "sample without a value");
	c = *e;
	*e = '\0';
	p->s.value = strtod(q, &end);
	if (end != e)
		return fail(p, "invalid sample value");
	q = c ? skip_blanks(e + 1) : e;
	if (!*q)
		return 0;
	e = q;
	while (*e && !is_blank(*e))
		e++;
	c = *e;
	*e = '\0';
	errno = 0;
	p->s.timestamp_ms = strtoll(q, &end, 10);
	if (end != e || errno)
		return fail(p, "invalid timestamp");
	p->s.has_timestamp = true;
	if (c && *skip_blanks(e + 1))
		return fail(p, "text after the timestamp");
	return 0;
}

/* Whether a sample called name belongs to family f, and as which part. */
static bool family_member(const struct prom_family *f, const char *name, enum prom_suffix *suf)
{
	size_t n = strlen(f->name);
	const char *rest = name + n;
	bool hist = f->type == PROM_HISTOGRAM, summ = f->type == PROM_SUMMARY;

	*suf = PROM_SUFFIX_NONE;
	if (strncmp(name, f->name, n))
		return false;
	if (!*rest)
		return !hist;
	if (hist && !strcmp(rest, "_bucket"))
		*suf = PROM_SUFFIX_BUCKET;
	else if ((hist || summ) && !strcmp(rest, "_sum"))
		*suf = PROM_SUFFIX_SUM;
	else if ((hist || summ) && !strcmp(rest, "_count"))
		*suf = PROM_SUFFIX_COUNT;
	return *suf != PROM_SUFFIX_NONE;
}

static int check_required_label(struct parser *p)
{
	const struct prom_sample *s = &p->s;

	if (s->suffix == PROM_SUFFIX_BUCKET && !prom_label(s, "le"))
		return fail(p, "histogram bucket without an \"le\" label");
	if (p->fam.type == PROM_SUMMARY && s->suffix == PROM_SUFFIX_NONE &&
	    !prom_label(s, "quantile"))
		return fail(p, "summary sample without a \"quantile\" label");
	return 0;
}

static int parse_sample(struct parser *p, char *q)
{
	struct prom_sample *s = &p->s;
	char *e = name_end(q, true), c = *e;
	int err;

	if (e == q)
		return fail(p, "invalid metric name");
	if (c != '{' && !is_blank(c))
		return fail(p, c ? "invalid character in a metric name" : "sample without a value");
	*s = (struct prom_sample){ .name = q, .line = p->line };
	*e = '\0';
	q = c == '{' ? e + 1 : skip_blanks(e + 1);
	if (c != '{' && *q == '{') {
		c = '{';
		q++;
	}
	if (c == '{') {
		err = parse_labels(p, &q);
		if (err)
			return err;
	}
	err = parse_value(p, skip_blanks(q));
	if (err)
		return err;
	if (!p->open || !family_member(&p->fam, s->name, &s->suffix)) {
		err = open_family(p, s->name);
		if (err)
			return err;
		s->suffix = PROM_SUFFIX_NONE;
	}
	err = check_required_label(p);
	if (err)
		return err;
	p->fam.nsamples++;
	s->family = &p->fam;
	return p->h && p->h->sample ? p->h->sample(s, p->h->ctx) : 0;
}

static int parse_line(struct parser *p, char *line)
{
	line = skip_blanks(line);
	if (!*line)
		return 0;
	if (*line == '#')
		return parse_meta(p, line + 1);
	return parse_sample(p, line);
}

int prom_parse(char *text, size_t len, const struct prom_handler *h, struct prom_error *err)
{
	struct parser parser = { .h = h, .err = err }, *p = &parser;
	char *line = text, *end = text + len, *nl;
	int rc = 0;

	while (line < end && !rc) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		p->line++;
		if (memchr(line, '\0', (size_t)(nl - line)))
			rc = fail(p, "NUL byte in the text");
		*nl = '\0';
		if (!rc)
			rc = parse_line(p, line);
		line = nl + 1;
	}
	if (!rc)
		rc = finish_family(p);
	return rc;
}

const char *prom_label(const struct prom_sample *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nlabels; i++) {
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	}
	return NULL;
}

const char *prom_type_name(enum prom_type t)
{
	switch (t) {
	case PROM_COUNTER:
		return "counter";
	case PROM_GAUGE:
		return "gauge";
	case PROM_HISTOGRAM:
		return "histogram";
	case PROM_SUMMARY:
		return "summary";
	default:
		return "untyped";
	}
}
