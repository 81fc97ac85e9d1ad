/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the uprobe attacher needs from an ELF file: function symbols (.symtab, else
 * .dynsym), sections by name, and the file offset of an address (uprobes attach at file
 * offsets). In: a path. Out: names -> address, offset and size; bytes at an address.
 */
#ifndef SONDE_KERNEL_ELFSYM_H
#define SONDE_KERNEL_ELFSYM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct elf_file {
	int fd;
	void *elf; /* Elf * */
};

struct elf_func {
	const char *name; /* in: the symbol's name */
	uint64_t vaddr;	  /* out: its address in the file's view (0: not found) */
	uint64_t size;	  /* out: st_size (0 if the symbol has none) */
};

/* 0 or -errno (-ENOEXEC: not an ELF file). */
int elf_file_open(struct elf_file *f, const char *path);
void elf_file_close(struct elf_file *f); /* accepts a zeroed or failed one */

/* Fills every entry of funcs found among the defined function symbols of .symtab and
 * .dynsym. Returns how many were found. */
size_t elf_file_funcs(struct elf_file *f, struct elf_func *funcs, size_t n);

/* The file offset of vaddr, from the PT_LOAD program headers; 0 when no segment holds it. */
uint64_t elf_file_offset(struct elf_file *f, uint64_t vaddr);

/* A section by name: its data (libelf's copy, valid until close), size and address;
 * NULL when absent. */
const uint8_t *elf_file_section(struct elf_file *f, const char *name, size_t *size, uint64_t *addr);

/* Reads len bytes at vaddr (file-backed bytes only). 0 or -errno. */
int elf_file_read(struct elf_file *f, uint64_t vaddr, void *buf, size_t len);

#endif
