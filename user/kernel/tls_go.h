/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where to probe Go's crypto/tls in one executable: the entries of (*Conn).Read and
 * (*Conn).Write and every RET of each (x86_ret.c), the functions whose addresses identify
 * a net.Conn that is a *net.TCPConn or *net.UnixConn, and the struct offsets the kernel
 * follows to the socket. Symbols from .symtab, else the pclntab (gobin.c); Go version from
 * the build info: < 1.17 has no register ABI and is not probed; struct offsets from a table
 * for the releases it was checked against, from the binary's DWARF for newer ones.
 * In: an executable's path. Out: struct go_tls_probes, or why it cannot be probed.
 */
#ifndef SONDE_KERNEL_TLS_GO_H
#define SONDE_KERNEL_TLS_GO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/go_dwarf.h"
#include "kernel/gobin.h"
#include "kernel/uprobes.h"
#include "sonde_abi.h"

#define GO_RETS_MAX 64

struct go_tls_fn {
	uint64_t offset;	    /* file offset of the entry */
	uint32_t rets[GO_RETS_MAX]; /* RET instructions, offsets from the entry */
	size_t n_rets;
};

struct go_tls_probes {
	struct go_version version;
	struct go_tls_fn read, write;
	bool pie;		   /* ET_DYN: addresses move by the load bias of each process */
	uint64_t base_vaddr;	   /* the address the file's offset 0 is linked at */
	struct sonde_go_proc proc; /* link-time addresses; the bias is added per process */
	bool offsets_from_dwarf;   /* proc's offsets: the binary's DWARF, not the table */
};

/*
 * The struct offsets the probes follow in an executable of Go version v (elf: its Elf *):
 * the table checked against Go 1.17..1.23 for those releases, the binary's DWARF for newer
 * ones (go_dwarf.h). 0, or -EPERM with *why and detail: older than 1.17 (no register ABI),
 * or newer without readable DWARF (built with -ldflags=-w).
 */
int go_tls_offsets(const struct go_version *v, void *elf, struct sonde_go_proc *out,
		   bool *from_dwarf, enum tls_reason *why, char *detail, size_t size);

/*
 * Inspects the executable at path. Returns 0 when it can be probed (out filled), -ENOENT
 * when it is not a Go program or does not use crypto/tls (nothing to probe), or -EPERM
 * with *why and detail saying why it must not be probed.
 */
int go_tls_inspect(const char *path, struct go_tls_probes *out, enum tls_reason *why, char *detail,
		   size_t detail_size);

/* The load bias of a PIE executable (inode ino) in process tgid, from its mappings:
 * where the file's offset 0 is mapped minus where it was linked. 0 or -errno. */
int go_tls_load_bias(const char *proc_root, uint32_t tgid, const struct go_tls_probes *p,
		     uint64_t ino, uint64_t *bias);

#endif
