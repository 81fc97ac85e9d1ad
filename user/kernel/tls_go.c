// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/tls_go.h"
#include "kernel/x86_ret.h"

enum { FN_READ, FN_WRITE, FN_TCP_CLOSE, FN_UNIX_CLOSE, FN_NR };

static const char *const fn_names[FN_NR] = {
	[FN_READ] = "crypto/tls.(*Conn).Read",
	[FN_WRITE] = "crypto/tls.(*Conn).Write",
	/* The first method (by name) of net.Conn: itab.fun[0] of these types as a net.Conn. */
	[FN_TCP_CLOSE] = "net.(*TCPConn).Close",
	[FN_UNIX_CLOSE] = "net.(*UnixConn).Close",
};

/*
 * Offsets the kernel follows, stable from Go 1.17 through 1.23 (checked against each
 * release's sources): tls.Conn's first field is conn net.Conn; TCPConn and UnixConn embed
 * conn{fd *netFD}; netFD starts with pfd poll.FD, whose fdMutex (16 bytes) precedes Sysfd;
 * an itab is {inter, _type, hash uint32, [4]byte, fun[]}.
 */
static const struct sonde_go_proc go_offsets = {
	.conn_off = 0, .fd_off = 0, .sysfd_off = 16, .itab_fun0 = 24
};
#define GO_MINOR_MIN 17
#define GO_MINOR_KNOWN 23 /* newer: the offsets come from the binary's DWARF, or none */

int go_tls_offsets(const struct go_version *v, void *elf, struct sonde_go_proc *out,
		   bool *from_dwarf, enum tls_reason *why, char *detail, size_t size)
{
	struct go_dwarf_offsets d;
	char dw[96];

	*from_dwarf = false;
	if (v->major != 1 || v->minor < GO_MINOR_MIN) {
		*why = TLS_REASON_GO_VERSION;
		snprintf(detail, size, "Go version %s: not 1.17 or later (no register ABI)",
			 v->text);
		return -EPERM;
	}
	if (v->minor <= GO_MINOR_KNOWN) {
		*out = go_offsets;
		return 0;
	}
	if (go_dwarf_offsets(elf, &d, dw, sizeof(dw))) {
		*why = TLS_REASON_GO_VERSION;
		snprintf(detail, size,
			 "Go version %s is newer than the offsets known (1.17..1.23), and the "
			 "binary's own are unreadable: %s",
			 v->text, dw);
		return -EPERM;
	}
	*out = (struct sonde_go_proc){ .conn_off = d.conn_off,
				       .fd_off = d.fd_off,
				       .sysfd_off = d.sysfd_off,
				       .itab_fun0 = d.itab_fun0 };
	*from_dwarf = true;
	return 0;
}

static int fail(enum tls_reason *why, enum tls_reason r, char *detail, size_t size,
		const char *what, const char *arg)
{
	*why = r;
	snprintf(detail, size, "%s%s", what, arg);
	return -EPERM;
}

/* Decodes one function whole and records its RETs. */
static int find_rets(struct elf_file *f, const struct elf_func *fn, struct go_tls_fn *out)
{
	uint8_t *code;
	int n;

	if (!fn->size || fn->size > (1 << 20))
		return -EINVAL;
	code = malloc(fn->size);
	if (!code)
		return -ENOMEM;
	n = elf_file_read(f, fn->vaddr, code, fn->size);
	if (!n)
		n = x86_find_rets(code, fn->size, fn->vaddr, out->rets, GO_RETS_MAX);
	free(code);
	if (n <= 0)
		return n < 0 ? n : -EILSEQ; /* no RET at all: not a function we understand */
	out->n_rets = n;
	out->offset = elf_file_offset(f, fn->vaddr);
	return out->offset ? 0 : -ERANGE;
}

static void load_base(struct elf_file *f, struct go_tls_probes *out)
{
	GElf_Ehdr eh;
	size_t nph = 0;

	out->pie = gelf_getehdr(f->elf, &eh) && eh.e_type == ET_DYN;
	if (elf_getphdrnum(f->elf, &nph))
		return;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(f->elf, i, &ph) && ph.p_type == PT_LOAD && ph.p_offset == 0) {
			out->base_vaddr = ph.p_vaddr;
			return;
		}
	}
}

static int inspect(struct elf_file *f, struct go_tls_probes *out, enum tls_reason *why,
		   char *detail, size_t size)
{
	struct elf_func fns[FN_NR];
	GElf_Ehdr eh;
	int err;

	if (!gelf_getehdr(f->elf, &eh) || eh.e_machine != EM_X86_64)
		return fail(why, TLS_REASON_GO_ARCH, detail, size, "not an x86-64 executable", "");
	for (int i = 0; i < FN_NR; i++)
		fns[i].name = fn_names[i];
	if (elf_file_funcs(f, fns, FN_NR) < 2 && (err = go_pclntab_funcs(f, fns, FN_NR)) < 0)
		return fail(why, TLS_REASON_NO_SYMBOL, detail, size, "no symbols and no pclntab",
			    "");
	if (!fns[FN_READ].vaddr || !fns[FN_WRITE].vaddr)
		return -ENOENT; /* a Go program without crypto/tls */
	if (!fns[FN_TCP_CLOSE].vaddr)
		return fail(why, TLS_REASON_NO_SYMBOL, detail, size, "no symbol ",
			    fn_names[FN_TCP_CLOSE]);
	if (go_tls_offsets(&out->version, f->elf, &out->proc, &out->offsets_from_dwarf, why, detail,
			   size))
		return -EPERM;
	err = find_rets(f, &fns[FN_READ], &out->read);
	if (!err)
		err = find_rets(f, &fns[FN_WRITE], &out->write);
	if (err == -ELIBACC) /* the package libcapstone4 (Debian) is missing */
		return fail(why, TLS_REASON_GO_UNDECODABLE, detail, size,
			    "cannot load the x86 decoder: install ", SONDE_CAPSTONE_SONAME);
	if (err)
		return fail(why, TLS_REASON_GO_UNDECODABLE, detail, size,
			    "crypto/tls.(*Conn).Read/Write did not decode whole", "");
	out->proc.tcp_close = fns[FN_TCP_CLOSE].vaddr;
	out->proc.unix_close = fns[FN_UNIX_CLOSE].vaddr;
	load_base(f, out);
	return 0;
}

int go_tls_inspect(const char *path, struct go_tls_probes *out, enum tls_reason *why, char *detail,
		   size_t detail_size)
{
	struct elf_file f;
	int err = elf_file_open(&f, path);

	memset(out, 0, sizeof(*out));
	*why = TLS_REASON_NONE;
	if (err)
		return -ENOENT; /* not ELF, or gone: not ours to judge here */
	err = go_read_version(&f, &out->version);
	if (err == -ENOENT) {
		elf_file_close(&f);
		return -ENOENT; /* not a Go program */
	}
	if (err) {
		snprintf(out->version.text, sizeof(out->version.text), "unknown");
		out->version.major = out->version.minor = 0;
	}
	err = inspect(&f, out, why, detail, detail_size);
	elf_file_close(&f);
	return err;
}

int go_tls_load_bias(const char *proc_root, uint32_t tgid, const struct go_tls_probes *p,
		     uint64_t ino, uint64_t *bias)
{
	unsigned long start, end, off, inode;
	char path[64], line[4352];
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u/maps", proc_root, tgid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (err && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %lx %*s %lu", &start, &end, &off, &inode) == 4 &&
		    inode == ino && off == 0) {
			*bias = start - (p->base_vaddr & ~0xfffULL);
			err = 0;
		}
	}
	fclose(f);
	return err;
}
