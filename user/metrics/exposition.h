/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Prometheus text exposition format 0.0.4: escaping, number formatting, gzip and
 * Accept-Encoding negotiation, plus the growable buffer the renderers write into.
 */
#ifndef SONDE_METRICS_EXPOSITION_H
#define SONDE_METRICS_EXPOSITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Prometheus 3 refuses a scrape whose Content-Type does not name a format it knows. */
#define EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Enough for any double expo_format_double() prints ("%.17g" or a 21-digit integer). */
#define EXPO_NUM_MAX 32

/*
 * Growable output buffer with a sticky error: after an allocation failure every append is a
 * no-op and expo_buf_take() reports -ENOMEM, so renderers check once at the end.
 * With a sink, the buffer is a window instead: when an append would outgrow cap, the sink
 * consumes p[0..len) first and the buffer starts again at len 0 (an error it returns is
 * made sticky), so a text of any size passes through cap bytes.
 */
struct expo_buf {
	char *p;
	size_t len, cap;
	int err;
	int (*sink)(void *ctx, const char *p, size_t len);
	void *sink_ctx;
};

/* Makes room for n more bytes plus a NUL; returns 0 or -ENOMEM (also made sticky). */
int expo_buf_reserve(struct expo_buf *b, size_t n);
void expo_buf_put(struct expo_buf *b, const char *s, size_t n);
void expo_buf_puts(struct expo_buf *b, const char *s);
void expo_buf_printf(struct expo_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends v in decimal. */
void expo_buf_u64(struct expo_buf *b, uint64_t v);
/* Appends v as expo_format_double() prints it. */
void expo_buf_double(struct expo_buf *b, double v);
/* Appends s escaped as a label value / as HELP text (see below). */
void expo_buf_label_value(struct expo_buf *b, const char *s, size_t n);
void expo_buf_help(struct expo_buf *b, const char *s, size_t n);
/* Hands the NUL-terminated text to the caller (*out to free()); 0 or the sticky -errno. */
int expo_buf_take(struct expo_buf *b, char **out, size_t *len);
void expo_buf_free(struct expo_buf *b);

/*
 * Label value escaping: '\' -> "\\", '"' -> "\"", newline -> "\n", invalid UTF-8 -> U+FFFD
 * (util/utf8.h's utf8_seq() decides, one U+FFFD per maximal ill-formed subpart).
 * snprintf() semantics: returns the length of the whole escaped text, writes at most
 * outcap - 1 bytes of it and a NUL when outcap > 0. The output is at most 3 * inlen bytes.
 */
size_t expo_escape_label(const char *in, size_t inlen, char *out, size_t outcap);
/* HELP text escaping: '\' -> "\\", newline -> "\n", invalid UTF-8 -> U+FFFD. */
size_t expo_escape_help(const char *in, size_t inlen, char *out, size_t outcap);

/*
 * Formats a sample value: integral values without exponent or decimal point ("3"), others
 * in the shortest "%.15g"/"%.17g" form that reads back exactly, "NaN", "+Inf", "-Inf".
 * Returns the length written into out (EXPO_NUM_MAX bytes).
 */
size_t expo_format_double(double v, char out[EXPO_NUM_MAX]);

/* gzip (RFC 1952) of in[0..len) into a malloc'd *out; 0, -ENOMEM, -EFBIG or -EIO. */
int expo_gzip(const char *in, size_t len, char **out, size_t *outlen);

/*
 * A window: b (empty, no sink yet) gets EXPO_WINDOW bytes, whose contents sink takes each
 * time they fill (see struct expo_buf); the last ones are left in b. 0 or -ENOMEM.
 */
#define EXPO_WINDOW (64u << 10)
int expo_buf_window(struct expo_buf *b, int (*sink)(void *ctx, const char *p, size_t len),
		    void *ctx);

/*
 * gzip as the text is written: expo_gzip_begin() makes b a window whose contents are
 * compressed each time it fills, so a scrape's text never exists whole; expo_gzip_end()
 * compresses the rest and hands over the gzip bytes (*out to free()), or returns b's sticky
 * error. end always frees b and g; begin frees both when it fails.
 */
struct expo_gzip {
	void *zs; /* z_stream */
	struct expo_buf out;
};
int expo_gzip_begin(struct expo_gzip *g, struct expo_buf *b);
int expo_gzip_end(struct expo_gzip *g, struct expo_buf *b, char **out, size_t *outlen);
/* Frees g and b (NULL: only g) without a result: the text failed to render. */
void expo_gzip_free(struct expo_gzip *g, struct expo_buf *b);

/*
 * A text of megabytes in memory mapped for it alone: unmapped when freed, so it never stays
 * in a malloc arena, and asked for in transparent huge pages, since faulting it in 4 KiB at
 * a time costs more than rendering it (9 MB: 43 ms of page faults in a VM, 0.6 ms in 2 MiB
 * pages). expo_map_put() appends (0 or -ENOMEM); expo_map_free() accepts an empty map.
 */
struct expo_map {
	char *p;
	size_t len, cap;
};
int expo_map_put(struct expo_map *m, const char *p, size_t len);
void expo_map_free(struct expo_map *m);

/*
 * True when an Accept-Encoding header value (RFC 9110 12.5.3) accepts gzip: a "gzip" or
 * "x-gzip" element, else a "*" element, with a q-value above 0. NULL or "" accepts nothing.
 */
bool expo_accepts_gzip(const char *accept_encoding);

#endif
