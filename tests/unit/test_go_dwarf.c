// SPDX-License-Identifier: GPL-2.0-only
/*
 * Go struct offsets from DWARF (go_dwarf.c) and which offsets a binary gets (tls_go.c), on
 * the Go test programs Debian's Go built (SONDE_GO_BIN): their DWARF must give the table's
 * offsets; a binary built with -s -w has none; a release newer than the table is probed
 * only with its own DWARF.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/elfsym.h"
#include "kernel/go_dwarf.h"
#include "kernel/tls_go.h"

static void open_bin(struct elf_file *f, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", SONDE_GO_BIN, name);
	if (elf_file_open(f, path))
		fail_msg("cannot open %s: build the Go test programs (cmake --build)", path);
}

/* The offsets the table gives Go 1.17..1.23 (tls_go.c), as the binary's own version. */
static struct sonde_go_proc table_offsets(struct elf_file *f)
{
	struct go_version v;
	struct sonde_go_proc p;
	enum tls_reason why = TLS_REASON_NONE;
	char detail[160];
	bool dwarf = true;

	assert_int_equal(go_read_version(f, &v), 0);
	assert_int_equal(go_tls_offsets(&v, f->elf, &p, &dwarf, &why, detail, sizeof(detail)), 0);
	assert_false(dwarf);
	return p;
}

static void test_dwarf_equals_table(void **state)
{
	static const char *const bins[] = { "trade-engine", "trade-engine-pie", "pgx-mix" };

	for (size_t i = 0; i < sizeof(bins) / sizeof(bins[0]); i++) {
		struct go_dwarf_offsets d;
		struct sonde_go_proc t;
		struct elf_file f;
		char detail[160] = "";

		open_bin(&f, bins[i]);
		t = table_offsets(&f);
		if (go_dwarf_offsets(f.elf, &d, detail, sizeof(detail)))
			fail_msg("%s: %s", bins[i], detail);
		assert_int_equal(d.conn_off, t.conn_off);
		assert_int_equal(d.fd_off, t.fd_off);
		assert_int_equal(d.sysfd_off, t.sysfd_off);
		assert_int_equal(d.itab_fun0, t.itab_fun0);
		/* and what the table says, so that a table change shows here too */
		assert_int_equal(d.conn_off, 0);
		assert_int_equal(d.fd_off, 0);
		assert_int_equal(d.sysfd_off, 16);
		assert_int_equal(d.itab_fun0, 24);
		elf_file_close(&f);
	}
}

static void test_no_dwarf(void **state)
{
	struct go_dwarf_offsets d;
	struct elf_file f;
	char detail[160] = "";

	open_bin(&f, "trade-engine-stripped"); /* -ldflags='-s -w' */
	assert_int_equal(go_dwarf_offsets(f.elf, &d, detail, sizeof(detail)), -ENOENT);
	assert_string_equal(detail, "no DWARF");
	elf_file_close(&f);
	/* DWARF without Go's types: this test program */
	assert_int_equal(elf_file_open(&f, "/proc/self/exe"), 0);
	assert_int_equal(go_dwarf_offsets(f.elf, &d, detail, sizeof(detail)), -ESRCH);
	assert_string_equal(detail, "DWARF: crypto/tls.Conn.conn not found");
	elf_file_close(&f);
}

/* A release newer than the table: probed with its DWARF, refused without. */
static void test_newer_go_needs_dwarf(void **state)
{
	const struct go_version newer = { 1, 25, "go1.25.3" }, old = { 1, 16, "go1.16.15" };
	enum tls_reason why = TLS_REASON_NONE;
	struct sonde_go_proc p;
	struct elf_file f;
	char detail[200] = "";
	bool dwarf = false;

	open_bin(&f, "trade-engine");
	assert_int_equal(go_tls_offsets(&newer, f.elf, &p, &dwarf, &why, detail, sizeof(detail)),
			 0);
	assert_true(dwarf);
	assert_int_equal(p.sysfd_off, 16);
	assert_int_equal(p.itab_fun0, 24);
	assert_int_equal(go_tls_offsets(&old, f.elf, &p, &dwarf, &why, detail, sizeof(detail)),
			 -EPERM);
	assert_int_equal(why, TLS_REASON_GO_VERSION);
	assert_string_equal(detail, "Go version go1.16.15: not 1.17 or later (no register ABI)");
	elf_file_close(&f);

	open_bin(&f, "trade-engine-stripped");
	why = TLS_REASON_NONE;
	assert_int_equal(go_tls_offsets(&newer, f.elf, &p, &dwarf, &why, detail, sizeof(detail)),
			 -EPERM);
	assert_int_equal(why, TLS_REASON_GO_VERSION);
	assert_string_equal(detail, "Go version go1.25.3 is newer than the offsets known "
				    "(1.17..1.23), and the binary's own are unreadable: no DWARF");
	elf_file_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dwarf_equals_table),
		cmocka_unit_test(test_no_dwarf),
		cmocka_unit_test(test_newer_go_needs_dwarf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
