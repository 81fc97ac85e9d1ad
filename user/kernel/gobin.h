/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a Go executable says about itself, without symbols or DWARF (both gone from
 * binaries built with -ldflags='-s -w'): its Go version from .go.buildinfo, and its
 * functions from the pclntab (.gopclntab, or found by its magic in .data.rel.ro of PIE
 * builds), which the Go runtime itself needs and no linker flag removes.
 * In: an open ELF file. Out: version numbers; function addresses and sizes.
 */
#ifndef SONDE_KERNEL_GOBIN_H
#define SONDE_KERNEL_GOBIN_H

#include "kernel/elfsym.h"

struct go_version {
	int major, minor; /* 1, 19 for "go1.19.8" */
	char text[32];	  /* "go1.19.8" */
};

/* 0, -ENOENT when the file has no Go build info (not Go), -EPROTO when unreadable. */
int go_read_version(struct elf_file *f, struct go_version *out);

/* Fills every entry of funcs found in the pclntab (size: up to the next function).
 * Returns how many were found, or -ENOENT (no pclntab), -EPROTO (a format not known). */
int go_pclntab_funcs(struct elf_file *f, struct elf_func *funcs, size_t n);

/* The pclntab parser on bytes already in memory (tested on its own): text is the address
 * of the text section, for builds whose header does not carry it. */
int go_pclntab_parse(const uint8_t *tab, size_t size, uint64_t text, struct elf_func *funcs,
		     size_t n);

#endif
