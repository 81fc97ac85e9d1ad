// SPDX-License-Identifier: GPL-2.0-only
#include <capstone/capstone.h>
#include <errno.h>

#include "kernel/x86_ret.h"

int x86_find_rets(const uint8_t *code, size_t size, uint64_t addr, uint32_t *rets, size_t max)
{
	const uint8_t *p = code;
	uint64_t at = addr;
	size_t left = size;
	cs_insn *insn;
	csh h;
	int n = 0;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return -EINVAL;
	insn = cs_malloc(h);
	if (!insn) {
		cs_close(&h);
		return -ENOMEM;
	}
	/* cs_disasm_iter advances p, left and at past each instruction it decodes. */
	while (left && cs_disasm_iter(h, &p, &left, &at, insn)) {
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
	cs_free(insn, 1);
	cs_close(&h);
	return n;
}
