/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A parser of the Prometheus text exposition format 0.0.4 (what `sonde top` reads): text in,
 * one callback per sample and one per metric family out. Pure: no I/O, no allocation.
 *
 * It parses in place: text[0..len) is cut into NUL-terminated names and label values
 * (escapes decoded), so text must be writable and NUL-terminated (text[len] == '\0'), and
 * every pointer handed to a callback points into it and stays valid while text does.
 *
 * Grammar, as the reference parser (prometheus/common expfmt) accepts it:
 *   - lines end with '\n' (the last one may not); blank lines and leading blanks (space,
 *     tab) are ignored; a NUL byte anywhere is an error;
 *   - "# HELP name docstring" (escapes \\ and \n) and "# TYPE name counter|gauge|histogram|
 *     summary|untyped" open or describe a family; any other '#' line is a comment. A second
 *     HELP or TYPE for the family, or a TYPE after its samples, is an error;
 *   - a sample is  name [ "{" label="value" { "," label="value" } [ "," ] "}" ] value
 *     [ timestamp ], blanks allowed between tokens; names [a-zA-Z_:][a-zA-Z0-9_:]*, label
 *     names [a-zA-Z_][a-zA-Z0-9_]*, label values escape \\ \" and \n (any other escape is an
 *     error); a label name twice in one sample is an error; the value is a float (also NaN,
 *     +Inf, -Inf); the timestamp an int64 of milliseconds;
 *   - a sample belongs to the current family when its name is the family's name (counter,
 *     gauge, untyped, summary quantiles), name_bucket (histogram: needs an "le" label),
 *     name_sum or name_count (histogram, summary); a summary quantile needs "quantile".
 *     Any other sample opens an untyped family of its own name.
 * Families are not tracked across the whole text (that would need allocation): a family
 * split in two places is reported twice.
 */
#ifndef SONDE_TOP_PROMPARSE_H
#define SONDE_TOP_PROMPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_MAX_LABELS 32 /* labels of one sample; more is an error */

enum prom_type {
	PROM_UNTYPED,
	PROM_COUNTER,
	PROM_GAUGE,
	PROM_HISTOGRAM,
	PROM_SUMMARY,
};

/* Which part of its family a sample is. */
enum prom_suffix {
	PROM_SUFFIX_NONE,   /* the family name itself */
	PROM_SUFFIX_BUCKET, /* histogram name_bucket */
	PROM_SUFFIX_SUM,    /* histogram or summary name_sum */
	PROM_SUFFIX_COUNT,  /* histogram or summary name_count */
};

struct prom_family {
	const char *name;
	const char *help; /* decoded docstring; NULL without a HELP line */
	enum prom_type type;
	size_t nsamples; /* complete when the family callback runs */
};

struct prom_label {
	const char *name;
	const char *value; /* escapes decoded */
	size_t value_len;
};

struct prom_sample {
	const struct prom_family *family; /* valid during the callback (its strings longer) */
	const char *name;		  /* the sample's own name, e.g. "x_bucket" */
	enum prom_suffix suffix;
	size_t nlabels;
	struct prom_label labels[PROM_MAX_LABELS]; /* in text order */
	double value;
	bool has_timestamp;
	int64_t timestamp_ms;
	size_t line; /* 1-based */
};

/* Callbacks return 0 to go on, or a negative errno that ends the parse and is returned. */
struct prom_handler {
	/* Once per family, when it ends (next family or end of text); may be NULL. */
	int (*family)(const struct prom_family *f, void *ctx);
	/* Once per sample; may be NULL. */
	int (*sample)(const struct prom_sample *s, void *ctx);
	void *ctx;
};

struct prom_error {
	size_t line;	    /* 1-based line of the first error */
	const char *reason; /* static text */
};

/*
 * Parses text (len bytes, text[len] == '\0', modified in place, see above). Returns 0,
 * -EINVAL on a syntax error (err, when not NULL, says where and why), or a callback's error.
 */
int prom_parse(char *text, size_t len, const struct prom_handler *h, struct prom_error *err);

/* The value of label name in s, or NULL. */
const char *prom_label(const struct prom_sample *s, const char *name);

/* "counter", "gauge", "histogram", "summary" or "untyped". */
const char *prom_type_name(enum prom_type t);

#endif
