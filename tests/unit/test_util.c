// SPDX-License-Identifier: GPL-2.0-only
/* util/: the one hash (FNV-1a) and the one UTF-8 validator. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/hash.h"
#include "util/utf8.h"

/* The published FNV-1a 64 test vectors (Fowler, Noll, Vo). */
static void test_fnv1a64_vectors(void **state)
{
	assert_true(fnv1a64("", 0) == 0xcbf29ce484222325ULL);
	assert_true(fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
}

static void test_fnv1a64_incremental(void **state)
{
	uint64_t h = fnv1a64_add(FNV1A64_INIT, "foo", 3);

	assert_true(fnv1a64_add(h, "bar", 3) == fnv1a64("foobar", 6));
	/* _str takes the NUL too: a string list hashes apart from the same bytes split
	 * elsewhere, and equals hashing each string with its terminator. */
	h = fnv1a64_str(fnv1a64_str(FNV1A64_INIT, "a"), "bc");
	assert_true(h == fnv1a64("a\0bc", 5));
	assert_true(h != fnv1a64_str(fnv1a64_str(FNV1A64_INIT, "ab"), "c"));
	/* the finaliser is a bijection: different inputs stay different */
	assert_true(hash_fmix64(1) != hash_fmix64(2));
	assert_true(hash_fmix64(0) == 0);
}

static void check_seq(const char *s, size_t n, bool ok, size_t adv)
{
	size_t got = 99;

	assert_int_equal(utf8_seq(s, n, &got), ok);
	assert_int_equal(got, adv);
}

static void test_utf8_seq(void **state)
{
	check_seq("A", 1, true, 1);
	check_seq("\xc3\xa9", 2, true, 2);	   /* é */
	check_seq("\xe2\x82\xac", 3, true, 3);	   /* € */
	check_seq("\xf4\x8f\xbf\xbf", 4, true, 4); /* U+10FFFF */
	check_seq("\xf0\x9f\x98\x80", 4, true, 4); /* emoji */
	/* ill formed: the maximal subpart is what one U+FFFD replaces */
	check_seq("\x80", 1, false, 1);		    /* lone continuation */
	check_seq("\xc0\x80", 2, false, 1);	    /* overlong NUL */
	check_seq("\xc1\xbf", 2, false, 1);	    /* overlong */
	check_seq("\xe0\x80\x80", 3, false, 1);	    /* overlong: E0 needs A0..BF */
	check_seq("\xed\xa0\x80", 3, false, 1);	    /* surrogate U+D800 */
	check_seq("\xf4\x90\x80\x80", 4, false, 1); /* above U+10FFFF */
	check_seq("\xf5\x80", 2, false, 1);
	check_seq("\xff", 1, false, 1);
	check_seq("\xe2\x82", 2, false, 2); /* truncated by the end */
	check_seq("\xe2\x82"
		  "A",
		  3, false, 2); /* truncated, 'A' survives */
	check_seq("\xf0\x9f\x98"
		  "A",
		  4, false, 3);
}

static void test_utf8_printable(void **state)
{
	assert_true(utf8_printable("", 0));
	assert_true(utf8_printable("orders", 6));
	assert_true(utf8_printable("caf\xc3\xa9", 5));
	assert_true(utf8_printable("\xc2\xa0", 2));  /* NBSP: first code point past C1 */
	assert_false(utf8_printable("\xc2\x85", 2)); /* NEL, a C1 control */
	assert_false(utf8_printable("\xc2\x9f", 2));
	assert_false(utf8_printable("a\xff", 2));
	assert_false(utf8_printable("\xe2\x82", 2));
	assert_false(utf8_printable("\xed\xbf\xbf", 3));
	/* C0 controls are ASCII: the caller decides about them */
	assert_true(utf8_printable("\x01", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fnv1a64_vectors),
		cmocka_unit_test(test_fnv1a64_incremental),
		cmocka_unit_test(test_utf8_seq),
		cmocka_unit_test(test_utf8_printable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
