// SPDX-License-Identifier: GPL-2.0-only
#include "util/utf8.h"

bool utf8_seq(const char *p, size_t n, size_t *adv)
{
	const unsigned char *s = (const unsigned char *)p;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] < 0x80) {
		*adv = 1;
		return true;
	}
	/* The second byte's range is what rules out overlongs, surrogates and > U+10FFFF. */
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		*adv = 1; /* continuation byte, C0/C1 (always overlong) or F5..FF */
		return false;
	}
	for (i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*adv = i;
			return false;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	*adv = need + 1;
	return true;
}

bool utf8_printable(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, adv;

	for (i = 0; i < n; i += adv) {
		if (!utf8_seq(s + i, n - i, &adv))
			return false;
		/* U+0080..U+009F are C2 80..C2 9F */
		if (u[i] == 0xc2 && u[i + 1] < 0xa0)
			return false;
	}
	return true;
}
