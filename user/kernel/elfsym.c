// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <unistd.h>

#include "kernel/elfsym.h"

int elf_file_open(struct elf_file *f, const char *path)
{
	Elf *e;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	e = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		if (e)
			elf_end(e);
		close(f->fd);
		f->fd = -1;
		return -ENOEXEC;
	}
	f->elf = e;
	return 0;
}

void elf_file_close(struct elf_file *f)
{
	if (f->elf)
		elf_end(f->elf);
	if (f->fd >= 0)
		close(f->fd);
	f->elf = NULL;
	f->fd = -1;
}

static size_t scan_symtab(Elf *e, Elf_Scn *scn, GElf_Shdr *sh, struct elf_func *funcs, size_t n)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t found = 0, count;

	if (!d || !sh->sh_entsize)
		return 0;
	count = sh->sh_size / sh->sh_entsize;
	for (size_t i = 0; i < count; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(d, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		name = elf_strptr(e, sh->sh_link, sym.st_name);
		if (!name)
			continue;
		for (size_t k = 0; k < n; k++) {
			if (funcs[k].vaddr || strcmp(funcs[k].name, name))
				continue;
			funcs[k].vaddr = sym.st_value;
			funcs[k].size = sym.st_size;
			found++;
		}
	}
	return found;
}

size_t elf_file_funcs(struct elf_file *f, struct elf_func *funcs, size_t n)
{
	Elf_Scn *scn = NULL;
	size_t found = 0;

	for (size_t k = 0; k < n; k++)
		funcs[k].vaddr = funcs[k].size = 0;
	/* .symtab first (it has every function), then .dynsym for what is still missing. */
	for (int pass = 0; pass < 2 && found < n; pass++) {
		Elf32_Word want = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;

		scn = NULL;
		while ((scn = elf_nextscn(f->elf, scn)) != NULL) {
			GElf_Shdr sh;

			if (gelf_getshdr(scn, &sh) && sh.sh_type == want)
				found += scan_symtab(f->elf, scn, &sh, funcs, n);
		}
	}
	return found;
}

uint64_t elf_file_offset(struct elf_file *f, uint64_t vaddr)
{
	size_t nph = 0;

	if (elf_getphdrnum(f->elf, &nph))
		return 0;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(f->elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz)
			return vaddr - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

const uint8_t *elf_file_section(struct elf_file *f, const char *name, size_t *size, uint64_t *addr)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(f->elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(f->elf, scn)) != NULL) {
		GElf_Shdr sh;
		const char *n;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		n = elf_strptr(f->elf, shstrndx, sh.sh_name);
		if (!n || strcmp(n, name))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf)
			return NULL;
		*size = d->d_size;
		if (addr)
			*addr = sh.sh_addr;
		return d->d_buf;
	}
	return NULL;
}

int elf_file_read(struct elf_file *f, uint64_t vaddr, void *buf, size_t len)
{
	uint64_t off = elf_file_offset(f, vaddr);
	ssize_t got;

	if (!off && vaddr)
		return -ERANGE;
	got = pread(f->fd, buf, len, (off_t)off);
	if (got < 0)
		return -errno;
	return (size_t)got == len ? 0 : -ERANGE;
}
