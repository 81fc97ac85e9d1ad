// SPDX-License-Identifier: GPL-2.0-only
/* Finding where Go's crypto/tls functions return, and finding them in a pclntab: RET
 * offsets from whole decodes (x86_ret.c), the pclntab walker on hand-built tables of both
 * layouts (gobin.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/gobin.h"
#include "kernel/x86_ret.h"

/* push rbp; mov rbp,rsp; test eax,eax; je +1; ret; xor eax,eax; pop rbp; ret; int3 x2 */
static const uint8_t two_rets[] = { 0x55, 0x48, 0x89, 0xe5, 0x85, 0xc0, 0x74, 0x01,
				    0xc3, 0x31, 0xc0, 0x5d, 0xc3, 0xcc, 0xcc };

static void test_rets_found(void **state)
{
	uint32_t rets[4];

	assert_int_equal(x86_find_rets(two_rets, sizeof(two_rets), 0x401000, rets, 4), 2);
	assert_int_equal(rets[0], 8);
	assert_int_equal(rets[1], 12);
}

/* A 0xc3 inside another instruction (mov eax, 0xc3c3c3c3) is not a RET. */
static void test_ret_byte_inside_instruction(void **state)
{
	const uint8_t code[] = { 0xb8, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3 };
	uint32_t rets[4];

	assert_int_equal(x86_find_rets(code, sizeof(code), 0, rets, 4), 1);
	assert_int_equal(rets[0], 5);
}

/* A function that stops in the middle of an instruction does not decode whole: no RET
 * offsets at all (a probe at a guessed address could split an instruction). */
static void test_truncated_refused(void **state)
{
	const uint8_t code[] = { 0xc3, 0x48, 0x89 };
	uint32_t rets[4];

	assert_int_equal(x86_find_rets(code, sizeof(code), 0, rets, 4), -EILSEQ);
}

static void test_too_many_rets(void **state)
{
	const uint8_t code[] = { 0xc3, 0xc3, 0xc3 };
	uint32_t rets[2];

	assert_int_equal(x86_find_rets(code, sizeof(code), 0, rets, 2), -E2BIG);
}

static void put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = v >> (8 * i);
}

/*
 * A pclntab of three functions, a at text+0x10 (0x30 long), b at text+0x40 (0x20), and
 * "crypto/tls.(*Conn).Read" at text+0x60 up to the end entry at text+0x100. go118 picks
 * the layout: Go 1.18+ (uint32 offsets from textStart, which PIE files leave 0) or 1.16/17.
 */
static size_t build_pclntab(uint8_t *tab, bool go118, uint64_t text_in_header)
{
	static const char *const names[] = { "main.a", "main.b", "crypto/tls.(*Conn).Read" };
	const uint64_t entries[] = { 0x10, 0x40, 0x60, 0x100 };
	size_t names_at = 0x100, functab = 0x200, funcs = 0x300, off = 0;
	size_t entw = go118 ? 8 : 16;

	memset(tab, 0, 0x400);
	put(tab, go118 ? 0xfffffff0u : 0xfffffffau, 4);
	tab[6] = 1;
	tab[7] = 8;
	put(tab + 8, 3, 8); /* nfunc */
	if (go118) {
		put(tab + 24, text_in_header, 8);
		put(tab + 32, names_at, 8);
		put(tab + 64, functab, 8);
	} else {
		put(tab + 24, names_at, 8);
		put(tab + 56, functab, 8);
	}
	for (int i = 0; i < 3; i++) {
		strcpy((char *)tab + names_at + off, names[i]);
		/* _func: entry (uint32 offset or pointer), then nameOff */
		put(tab + funcs + 16 * i + (go118 ? 4 : 8), off, 4);
		off += strlen(names[i]) + 1;
	}
	for (int i = 0; i <= 3; i++) {
		uint8_t *e = tab + functab + entw * i;
		uint64_t funcoff = funcs + 16 * (i < 3 ? i : 0) - functab;

		if (go118) {
			put(e, entries[i], 4);
			put(e + 4, funcoff, 4);
		} else {
			put(e, 0x400000 + entries[i], 8);
			put(e + 8, funcoff, 8);
		}
	}
	return 0x400;
}

static void check_funcs(const uint8_t *tab, size_t size, uint64_t text, uint64_t base)
{
	struct elf_func fns[] = { { .name = "crypto/tls.(*Conn).Read" },
				  { .name = "main.b" },
				  { .name = "net.(*TCPConn).Close" } };

	assert_int_equal(go_pclntab_parse(tab, size, text, fns, 3), 2);
	assert_int_equal(fns[0].vaddr, base + 0x60);
	assert_int_equal(fns[0].size, 0xa0);
	assert_int_equal(fns[1].vaddr, base + 0x40);
	assert_int_equal(fns[1].size, 0x20);
	assert_int_equal(fns[2].vaddr, 0);
}

static void test_pclntab_go118(void **state)
{
	uint8_t tab[0x400];
	size_t n = build_pclntab(tab, true, 0x401000);

	check_funcs(tab, n, 0x999000, 0x401000); /* the header's textStart wins */
}

static void test_pclntab_go118_pie(void **state)
{
	uint8_t tab[0x400];
	size_t n = build_pclntab(tab, true, 0);

	check_funcs(tab, n, 0x2000, 0x2000); /* textStart 0 in the file: .text's address */
}

static void test_pclntab_go117(void **state)
{
	uint8_t tab[0x400];
	size_t n = build_pclntab(tab, false, 0);

	check_funcs(tab, n, 0, 0x400000);
}

/* Damaged tables are refused, never read out of bounds. */
static void test_pclntab_refused(void **state)
{
	uint8_t tab[0x400];
	struct elf_func fn = { .name = "main.a" };
	size_t n = build_pclntab(tab, true, 0x401000);

	tab[7] = 4; /* 32-bit pointers: not x86-64 */
	assert_int_equal(go_pclntab_parse(tab, n, 0, &fn, 1), -EPROTO);
	n = build_pclntab(tab, true, 0x401000);
	put(tab + 64, 0x3fc, 8); /* functab at the very end: entries out of bounds */
	assert_int_equal(go_pclntab_parse(tab, n, 0, &fn, 1), -EPROTO);
	assert_int_equal(go_pclntab_parse(tab, 40, 0, &fn, 1), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rets_found),
		cmocka_unit_test(test_ret_byte_inside_instruction),
		cmocka_unit_test(test_truncated_refused),
		cmocka_unit_test(test_too_many_rets),
		cmocka_unit_test(test_pclntab_go118),
		cmocka_unit_test(test_pclntab_go118_pie),
		cmocka_unit_test(test_pclntab_go117),
		cmocka_unit_test(test_pclntab_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
