/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The struct offsets the Go TLS probes follow, read from a Go executable's DWARF (libdw)
 * when it has any: tls.Conn -> conn, net.TCPConn/UnixConn -> conn.fd, netFD -> pfd.Sysfd,
 * itab -> fun. They describe the very binary, so they hold for Go releases newer than the
 * table in tls_go.c was checked against; a binary built with -ldflags=-w has no DWARF and
 * keeps the table.
 * In: an open ELF (libelf). Out: struct go_dwarf_offsets, or why not.
 */
#ifndef SONDE_KERNEL_GO_DWARF_H
#define SONDE_KERNEL_GO_DWARF_H

#include <stdint.h>

struct go_dwarf_offsets {
	uint16_t conn_off;  /* crypto/tls.Conn.conn */
	uint16_t fd_off;    /* net.TCPConn.conn + net.conn.fd (the same in net.UnixConn) */
	uint16_t sysfd_off; /* net.netFD.pfd + internal/poll.FD.Sysfd */
	uint16_t itab_fun0; /* runtime.itab.fun, internal/abi.ITab.Fun from Go 1.22 */
};

/*
 * Reads the offsets from elf (an Elf *). 0 with out filled; -ENOENT when the file has no
 * DWARF; -ESRCH when a type or member is missing (detail names it); -EPROTO when TCPConn
 * and UnixConn disagree or a member's offset is not a constant.
 */
int go_dwarf_offsets(void *elf, struct go_dwarf_offsets *out, char *detail, size_t detail_size);

#endif
