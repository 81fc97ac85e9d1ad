/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one UTF-8 validator: label values, HELP text, the /health page and route segments
 * all classify bytes with it, so they agree on what is well formed.
 */
#ifndef SONDE_UTIL_UTF8_H
#define SONDE_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Classifies the UTF-8 sequence starting at p (n > 0 bytes available). Returns true and sets
 * *adv to its length when it is well formed (Unicode Table 3-7: no overlongs, no surrogates,
 * nothing above U+10FFFF). Otherwise returns false and sets *adv to the length of the maximal
 * ill-formed subpart, which is what one U+FFFD replaces (the WHATWG decoder's rule, so a
 * truncated sequence costs one replacement and does not swallow the next character).
 */
bool utf8_seq(const char *p, size_t n, size_t *adv);

/* True when s[0..n) is well-formed UTF-8 and holds no C1 control (U+0080..U+009F): text a
 * label may show as it is. C0 controls and DEL are the caller's business (ASCII). */
bool utf8_printable(const char *s, size_t n);

#endif
