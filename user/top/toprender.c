// SPDX-License-Identifier: GPL-2.0-only
/* sonde top: the text of one frame (see top_render() in topview.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "top/topview.h"

#define NUM_W 8	      /* each numeric column */
#define NUMS_W 36     /* the four numeric columns with their separating spaces */
#define FIXED_LINES 9 /* header 2, blank, title and heads of 2 sections, blank, spare */

static const char *const titles[TOP_NKINDS] = {
	[TOP_HTTP] = "HTTP server: per service and route; errors are 5xx responses",
	[TOP_DB] = "Database client: per system and operation; errors have an error_type",
};
static const char *const heads[TOP_NKINDS][6] = {
	[TOP_HTTP] = { "SERVICE", "ROUTE", "REQ/S", "ERR%", "P50(ms)", "P99(ms)" },
	[TOP_DB] = { "SYSTEM", "OPERATION", "OPS/S", "ERR/S", "P50(ms)", "P99(ms)" },
};

/* A line writer that cuts at the terminal's width (counted in code points). */
struct out {
	FILE *f;
	int width; /* 0: unlimited */
	int col;
};

static bool is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/* Code points of s (what a terminal mostly shows as one column each). */
static int text_width(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += !is_cont((unsigned char)*s);
	return n;
}

/* Writes s; control bytes become '?' (label values must not drive the terminal). */
static void put(struct out *o, const char *s)
{
	unsigned char c;

	for (; (c = (unsigned char)*s); s++) {
		if (!is_cont(c)) {
			if (o->width && o->col >= o->width)
				return;
			o->col++;
		}
		fputc(c < 0x20 || c == 0x7f ? '?' : c, o->f);
	}
}

static void putf(struct out *o, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	put(o, buf);
}

static void end_line(struct out *o)
{
	fputc('\n', o->f);
	o->col = 0;
}

/* s in exactly w columns: padded, or cut with a final '~'. */
static void put_cell(struct out *o, const char *s, int w)
{
	char buf[1024];
	int n, used = 0;
	size_t i = 0;

	if (!*s)
		s = "\"\""; /* an empty label value */
	n = text_width(s);
	if (n > w) {
		for (; s[i] && i < sizeof(buf) - 2; i++) {
			if (!is_cont((unsigned char)s[i]) && ++used == w)
				break;
			buf[i] = s[i];
		}
		buf[i++] = '~';
		buf[i] = '\0';
		put(o, buf);
		return;
	}
	put(o, s);
	putf(o, "%*s", w - n, "");
}

static void put_num(struct out *o, double v, const char *fmt)
{
	char buf[64];

	if (isnan(v))
		snprintf(buf, sizeof(buf), "-");
	else
		snprintf(buf, sizeof(buf), fmt, v);
	putf(o, " %*s", NUM_W, buf);
}

/* Widths of the two text columns: the widest value, cut to fit a limited width. */
static void text_widths(const struct top_view *v, int width, int *w1, int *w2)
{
	size_t k, i;
	int n;

	*w1 = (int)strlen("SERVICE");
	*w2 = (int)strlen("OPERATION");
	for (k = 0; v && k < TOP_NKINDS; k++) {
		for (i = 0; i < v->nrows[k]; i++) {
			n = text_width(v->rows[k][i].group[0]);
			*w1 = n > *w1 ? n : *w1;
			n = text_width(v->rows[k][i].group[1]);
			*w2 = n > *w2 ? n : *w2;
		}
	}
	if (!width)
		return;
	n = width - NUMS_W - 2;
	if (*w1 + *w2 > n) /* the route gives way first, then the service */
		*w2 = n - *w1 > 9 ? n - *w1 : 9;
	if (*w1 + *w2 > n)
		*w1 = n - *w2 > 7 ? n - *w2 : 7;
}

static void render_row(struct out *o, enum top_kind k, const struct top_row *r, int w1, int w2)
{
	put_cell(o, r->group[0], w1);
	put(o, "  ");
	put_cell(o, r->group[1], w2);
	put_num(o, r->rate, "%.1f");
	if (k == TOP_HTTP)
		put_num(o, r->total > 0 ? 100 * r->errors / r->total : NAN, "%.1f");
	else
		put_num(o, r->error_rate, "%.1f");
	put_num(o, r->p50 * 1000, "%.2f");
	put_num(o, r->p99 * 1000, "%.2f");
	end_line(o);
}

/* Title, column heads and at most max rows (0: all) of section k. */
static void render_section(struct out *o, const struct top_view *v, enum top_kind k, int w1, int w2,
			   size_t max)
{
	size_t n = v ? v->nrows[k] : 0, shown = n, i;

	put(o, titles[k]);
	end_line(o);
	put_cell(o, heads[k][0], w1);
	put(o, "  ");
	put_cell(o, heads[k][1], w2);
	for (i = 2; i < 6; i++)
		putf(o, " %*s", NUM_W, heads[k][i]);
	end_line(o);
	if (!n) {
		put(o, v ? "(none seen)" : "(waiting for the second scrape)");
		end_line(o);
		return;
	}
	if (max && n > max)
		shown = max - 1;
	for (i = 0; i < shown; i++)
		render_row(o, k, &v->rows[k][i], w1, w2);
	if (shown < n) {
		putf(o, "... and %zu more", n - shown);
		end_line(o);
	}
}

/*
 * Rows each section may show within the height (0: all, as without a height). The smaller
 * section shows whole when it needs at most half; otherwise both get half.
 */
static void row_budget(const struct top_view *v, const struct top_frame *f, size_t max[2])
{
	size_t nh = v && v->nrows[TOP_HTTP] ? v->nrows[TOP_HTTP] : 1;
	size_t nd = v && v->nrows[TOP_DB] ? v->nrows[TOP_DB] : 1;
	size_t fixed = FIXED_LINES + !!f->status, b;

	max[0] = max[1] = 0;
	if (!f->height)
		return;
	b = (size_t)f->height > fixed + 2 ? (size_t)f->height - fixed : 2;
	if (nh + nd <= b)
		return;
	if (nd <= b / 2) {
		max[0] = b - nd;
		max[1] = nd;
	} else if (nh <= b / 2) {
		max[0] = nh;
		max[1] = b - nh;
	} else {
		max[0] = b - b / 2;
		max[1] = b / 2;
	}
}

void top_render(FILE *out, const struct top_view *v, const struct top_frame *f)
{
	struct out o = { .f = out, .width = f->width };
	size_t max[2];
	int w1, w2;

	putf(&o, "sonde top  %s", f->url);
	if (v)
		putf(&o, "  rates over %.3f s", v->dt);
	if (f->clock)
		putf(&o, "  %s", f->clock);
	if (f->live)
		put(&o, "  (q quits)");
	end_line(&o);
	put(&o, "p50/p99: linear interpolation inside the bucket, as Prometheus' "
		"histogram_quantile()");
	end_line(&o);
	if (f->status) {
		put(&o, f->status);
		end_line(&o);
	}
	text_widths(v, f->width, &w1, &w2);
	row_budget(v, f, max);
	end_line(&o);
	render_section(&o, v, TOP_HTTP, w1, w2, max[0]);
	end_line(&o);
	render_section(&o, v, TOP_DB, w1, w2, max[1]);
}
