// SPDX-License-Identifier: GPL-2.0-only
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kernel/go_dwarf.h"

/* The struct types whose members the probes follow, as Go's linker names them. */
enum go_type {
	T_CONN,
	T_TCPCONN,
	T_UNIXCONN,
	T_NETCONN,
	T_NETFD,
	T_POLLFD,
	T_ITAB,
	T_ABI_ITAB,
	T_NR
};

static const struct {
	const char *type, *member;
} wanted[T_NR] = {
	[T_CONN] = { "crypto/tls.Conn", "conn" },
	[T_TCPCONN] = { "net.TCPConn", "conn" },
	[T_UNIXCONN] = { "net.UnixConn", "conn" }, /* absent from programs without it */
	[T_NETCONN] = { "net.conn", "fd" },
	[T_NETFD] = { "net.netFD", "pfd" },
	[T_POLLFD] = { "internal/poll.FD", "Sysfd" },
	[T_ITAB] = { "runtime.itab", "fun" },	       /* up to Go 1.21 */
	[T_ABI_ITAB] = { "internal/abi.ITab", "Fun" }, /* from Go 1.22 */
};

#define NOT_FOUND (-1)
#define NOT_CONSTANT (-2)

/* The offset of member `name` of struct die s: >= 0, NOT_FOUND, or NOT_CONSTANT. */
static long member_offset(Dwarf_Die *s, const char *name)
{
	Dwarf_Die m;
	Dwarf_Attribute at;
	Dwarf_Word off;

	if (dwarf_child(s, &m))
		return NOT_FOUND;
	do {
		const char *n = dwarf_diename(&m);

		if (dwarf_tag(&m) != DW_TAG_member || !n || strcmp(n, name))
			continue;
		/* Go writes a plain constant (DWARF 4 form data): no location expression */
		if (!dwarf_attr(&m, DW_AT_data_member_location, &at) ||
		    dwarf_formudata(&at, &off) || off > 0xffff)
			return NOT_CONSTANT;
		return (long)off;
	} while (!dwarf_siblingof(&m, &m));
	return NOT_FOUND;
}

/* Whether type t is needed: net.UnixConn only where the program has it, and one itab. */
static bool required(int t, const long off[T_NR])
{
	if (t == T_UNIXCONN)
		return false;
	if (t == T_ITAB || t == T_ABI_ITAB)
		return off[T_ITAB] == NOT_FOUND && off[T_ABI_ITAB] == NOT_FOUND;
	return true;
}

/* Reads the wanted members of the top-level struct types of one compilation unit; true when
 * every required type has been found (in it or in an earlier one). */
static bool scan_cu(Dwarf_Die *cu, long off[T_NR])
{
	Dwarf_Die d;

	if (dwarf_child(cu, &d))
		return false;
	do {
		const char *n;

		if (dwarf_tag(&d) != DW_TAG_structure_type || !(n = dwarf_diename(&d)))
			continue;
		for (int t = 0; t < T_NR; t++) {
			if (off[t] == NOT_FOUND && !strcmp(n, wanted[t].type)) {
				off[t] = member_offset(&d, wanted[t].member);
				break;
			}
		}
	} while (!dwarf_siblingof(&d, &d));
	for (int t = 0; t < T_NR; t++)
		if (off[t] == NOT_FOUND && required(t, off))
			return false;
	return true;
}

static int missing(char *detail, size_t size, int t, long why)
{
	snprintf(detail, size, "DWARF: %s.%s %s", wanted[t].type, wanted[t].member,
		 why == NOT_CONSTANT ? "has no constant offset" : "not found");
	return why == NOT_CONSTANT ? -EPROTO : -ESRCH;
}

int go_dwarf_offsets(void *elf, struct go_dwarf_offsets *out, char *detail, size_t detail_size)
{
	long off[T_NR];
	Dwarf *dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	Dwarf_Off cu_off = 0, next;
	size_t hsize;
	int itab;

	if (!dw) {
		snprintf(detail, detail_size, "no DWARF");
		return -ENOENT;
	}
	for (int t = 0; t < T_NR; t++)
		off[t] = NOT_FOUND;
	/* Go's linker puts the types in the runtime's unit; any unit is looked at, in order */
	while (!dwarf_nextcu(dw, cu_off, &next, &hsize, NULL, NULL, NULL)) {
		Dwarf_Die cu;

		if (dwarf_offdie(dw, cu_off + hsize, &cu) && scan_cu(&cu, off))
			break;
		cu_off = next;
	}
	dwarf_end(dw);
	itab = off[T_ABI_ITAB] != NOT_FOUND ? T_ABI_ITAB : T_ITAB;
	for (int t = 0; t < T_NR; t++)
		if ((off[t] == NOT_FOUND && required(t, off)) || off[t] == NOT_CONSTANT)
			return missing(detail, detail_size, t, off[t]);
	if (off[T_UNIXCONN] != NOT_FOUND && off[T_TCPCONN] != off[T_UNIXCONN]) {
		snprintf(detail, detail_size,
			 "DWARF: net.TCPConn.conn at %ld, net.UnixConn.conn at %ld", off[T_TCPCONN],
			 off[T_UNIXCONN]);
		return -EPROTO;
	}
	out->conn_off = (uint16_t)off[T_CONN];
	out->fd_off = (uint16_t)(off[T_TCPCONN] + off[T_NETCONN]);
	out->sysfd_off = (uint16_t)(off[T_NETFD] + off[T_POLLFD]);
	out->itab_fun0 = (uint16_t)off[itab];
	return 0;
}
