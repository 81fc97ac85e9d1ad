// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/gobin.h"

/* ---- .go.buildinfo -------------------------------------------------------------------------
 * A 32-byte header: "\xff Go buildinf:", the pointer size, flags. Go >= 1.18 (flag 2) follows
 * it with the version as a varint-prefixed string; older ones store, at offset 16, a pointer
 * to the version's string header {data, len}. */
#define BUILDINFO_MAGIC "\xff Go buildinf:"
#define BUILDINFO_HDR 32

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int parse_version_text(struct go_version *out, const char *s, size_t len)
{
	if (len >= sizeof(out->text))
		return -EPROTO;
	memcpy(out->text, s, len);
	out->text[len] = '\0';
	if (sscanf(out->text, "go%d.%d", &out->major, &out->minor) != 2)
		return -EPROTO;
	return 0;
}

/* Go < 1.18: pointer to a string header. */
static int version_by_pointer(struct elf_file *f, const uint8_t *d, int ptr, struct go_version *out)
{
	uint8_t hdr[16];
	char text[32];
	uint64_t str, len;

	if (ptr != 8 || elf_file_read(f, le(d + 16, 8), hdr, sizeof(hdr)))
		return -EPROTO;
	str = le(hdr, 8);
	len = le(hdr + 8, 8);
	if (!len || len >= sizeof(text) || elf_file_read(f, str, text, len))
		return -EPROTO;
	return parse_version_text(out, text, len);
}

int go_read_version(struct elf_file *f, struct go_version *out)
{
	size_t size = 0;
	const uint8_t *d = elf_file_section(f, ".go.buildinfo", &size, NULL);
	uint64_t len = 0;
	size_t i = BUILDINFO_HDR;
	int shift = 0;

	memset(out, 0, sizeof(*out));
	if (!d || size < BUILDINFO_HDR || memcmp(d, BUILDINFO_MAGIC, 14))
		return -ENOENT;
	if (!(d[15] & 2))
		return version_by_pointer(f, d, d[14], out);
	while (i < size && shift < 64) { /* uvarint */
		len |= (uint64_t)(d[i] & 0x7f) << shift;
		shift += 7;
		if (!(d[i++] & 0x80))
			break;
	}
	if (!len || len > size - i)
		return -EPROTO;
	return parse_version_text(out, (const char *)d + i, len);
}

/* ---- pclntab ---------------------------------------------------------------------------------
 * runtime/symtab.go's pcHeader: magic, two zero bytes, the instruction size quantum, the
 * pointer size, then pointer-sized fields. Go 1.16/1.17 (magic ...fa): nfunc, nfiles,
 * funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset; functab entries are two
 * pointers {entry, funcoff}. Go 1.18+ (...f0, 1.20+ ...f1) add textStart after nfiles, and
 * functab entries are two uint32 {entryoff from textStart, funcoff}. A _func starts with its
 * entry (pointer, or uint32 offset) then nameOff (int32) into the function name table. */
#define PCLN_GO116 0xfffffffau
#define PCLN_GO118 0xfffffff0u
#define PCLN_GO120 0xfffffff1u

struct pcln {
	const uint8_t *tab;
	size_t size;
	bool go118; /* the Go 1.18+ layout */
	uint64_t nfunc, text, funcnames, functab;
};

static int pcln_header(struct pcln *p, const uint8_t *tab, size_t size, uint64_t text)
{
	uint32_t magic;
	uint64_t f;

	if (size < 72)
		return -EPROTO;
	magic = le(tab, 4);
	if ((magic != PCLN_GO116 && magic != PCLN_GO118 && magic != PCLN_GO120) || tab[4] ||
	    tab[5] || tab[6] != 1 || tab[7] != 8)
		return -EPROTO; /* x86-64: quantum 1, 8-byte pointers */
	p->tab = tab;
	p->size = size;
	p->go118 = magic != PCLN_GO116;
	p->nfunc = le(tab + 8, 8);
	f = p->go118 ? 32 : 24; /* funcnameOffset */
	p->text = p->go118 ? le(tab + 24, 8) : 0;
	if (p->go118 && !p->text)
		p->text = text; /* PIE: relocated at load, 0 in the file */
	p->funcnames = le(tab + f, 8);
	p->functab = le(tab + f + 32, 8); /* pclnOffset */
	if (p->funcnames >= size || p->functab >= size || p->nfunc > size)
		return -EPROTO;
	return 0;
}

/* Entry address and _func offset of functab entry i (i <= nfunc). False: out of bounds. */
static bool pcln_entry(const struct pcln *p, uint64_t i, uint64_t *entry, uint64_t *funcoff)
{
	uint64_t w = p->go118 ? 8 : 16, at = p->functab + i * w;

	if (at + w > p->size)
		return false;
	if (p->go118) {
		*entry = p->text + le(p->tab + at, 4);
		*funcoff = le(p->tab + at + 4, 4);
	} else {
		*entry = le(p->tab + at, 8);
		*funcoff = le(p->tab + at + 8, 8);
	}
	return true;
}

static const char *pcln_name(const struct pcln *p, uint64_t funcoff)
{
	uint64_t at = p->functab + funcoff + (p->go118 ? 4 : 8), name;
	int32_t off;

	if (at + 4 > p->size)
		return NULL;
	off = (int32_t)le(p->tab + at, 4);
	name = p->funcnames + (uint64_t)(int64_t)off;
	if (off < 0 || name >= p->size || !memchr(p->tab + name, '\0', p->size - name))
		return NULL;
	return (const char *)p->tab + name;
}

int go_pclntab_parse(const uint8_t *tab, size_t size, uint64_t text, struct elf_func *funcs,
		     size_t n)
{
	struct pcln p;
	uint64_t entry, funcoff, next, nextoff;
	int found = 0, err = pcln_header(&p, tab, size, text);

	if (err)
		return err;
	for (size_t k = 0; k < n; k++)
		funcs[k].vaddr = funcs[k].size = 0;
	for (uint64_t i = 0; i < p.nfunc && found < (int)n; i++) {
		const char *name;

		if (!pcln_entry(&p, i, &entry, &funcoff) || !pcln_entry(&p, i + 1, &next, &nextoff))
			return -EPROTO;
		if (!(name = pcln_name(&p, funcoff)))
			continue;
		for (size_t k = 0; k < n; k++) {
			if (funcs[k].vaddr || strcmp(funcs[k].name, name) || next <= entry)
				continue;
			funcs[k].vaddr = entry;
			funcs[k].size = next - entry;
			found++;
		}
	}
	return found;
}

/* PIE builds keep the pclntab inside .data.rel.ro: find it by its header. */
static const uint8_t *find_pclntab(struct elf_file *f, size_t *size)
{
	static const uint32_t magics[] = { PCLN_GO116, PCLN_GO118, PCLN_GO120 };
	const uint8_t *d = elf_file_section(f, ".gopclntab", size, NULL), *sec;
	size_t secsize = 0;

	if (d)
		return d;
	sec = elf_file_section(f, ".data.rel.ro", &secsize, NULL);
	for (size_t off = 0; sec && off + 72 <= secsize; off += 8) {
		uint32_t m = le(sec + off, 4);

		for (size_t i = 0; i < 3; i++) {
			if (m == magics[i] && !sec[off + 4] && !sec[off + 5] && sec[off + 6] == 1 &&
			    sec[off + 7] == 8) {
				*size = secsize - off;
				return sec + off;
			}
		}
	}
	return NULL;
}

int go_pclntab_funcs(struct elf_file *f, struct elf_func *funcs, size_t n)
{
	size_t size = 0, tsize = 0;
	uint64_t text = 0;
	const uint8_t *tab = find_pclntab(f, &size);

	if (!tab)
		return -ENOENT;
	elf_file_section(f, ".text", &tsize, &text);
	return go_pclntab_parse(tab, size, text, funcs, n);
}
