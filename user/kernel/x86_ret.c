// SPDX-License-Identifier: GPL-2.0-only
#include <capstone/capstone.h>
#include <dlfcn.h>
#include <errno.h>

#include "kernel/x86_ret.h"

/*
 * Capstone is opened for each search and closed after it: linked, the loader's relocation
 * of its decoder tables alone keeps 3.2 MB resident for sonde's whole life, and a search
 * 1.5 MB more, for a few functions decoded once per Go executable.
 */
struct capstone {
	void *lib;
	cs_err (*open)(cs_arch arch, cs_mode mode, csh *h);
	cs_insn *(*insn_new)(csh h);
	bool (*disasm_iter)(csh h, const uint8_t **code, size_t *size, uint64_t *addr,
			    cs_insn *insn);
	void (*insn_free)(cs_insn *insn, size_t count);
	cs_err (*close)(csh *h);
};

static int capstone_load(struct capstone *cs)
{
	cs->lib = dlopen(SONDE_CAPSTONE_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!cs->lib)
		return -ELIBACC;
	cs->open = (cs_err(*)(cs_arch, cs_mode, csh *))dlsym(cs->lib, "cs_open");
	cs->insn_new = (cs_insn * (*)(csh)) dlsym(cs->lib, "cs_malloc");
	cs->disasm_iter = (bool (*)(csh, const uint8_t **, size_t *, uint64_t *, cs_insn *))dlsym(
		cs->lib, "cs_disasm_iter");
	cs->insn_free = (void (*)(cs_insn *, size_t))dlsym(cs->lib, "cs_free");
	cs->close = (cs_err(*)(csh *))dlsym(cs->lib, "cs_close");
	if (cs->open && cs->insn_new && cs->disasm_iter && cs->insn_free && cs->close)
		return 0;
	dlclose(cs->lib);
	return -ELIBACC;
}

static int find_rets(const struct capstone *cs, csh h, const uint8_t *code, size_t size,
		     uint64_t addr, uint32_t *rets, size_t max)
{
	const uint8_t *p = code;
	uint64_t at = addr;
	size_t left = size;
	cs_insn *insn = cs->insn_new(h);
	int n = 0;

	if (!insn)
		return -ENOMEM;
	/* cs_disasm_iter advances p, left and at past each instruction it decodes. */
	while (left && cs->disasm_iter(h, &p, &left, &at, insn)) {
		if (insn->id != X86_INS_RET)
			continue;
		if ((size_t)n == max) {
			n = -E2BIG;
			break;
		}
		rets[n++] = (uint32_t)(insn->address - addr);
	}
	if (n >= 0 && left)
		n = -EILSEQ; /* stopped on bytes that are not an instruction */
	cs->insn_free(insn, 1);
	return n;
}

int x86_find_rets(const uint8_t *code, size_t size, uint64_t addr, uint32_t *rets, size_t max)
{
	struct capstone cs;
	csh h;
	int n;

	n = capstone_load(&cs);
	if (n)
		return n;
	if (cs.open(CS_ARCH_X86, CS_MODE_64, &h) == CS_ERR_OK) {
		n = find_rets(&cs, h, code, size, addr, rets, max);
		cs.close(&h);
	} else {
		n = -EINVAL;
	}
	dlclose(cs.lib);
	return n;
}
