/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where a function returns: every RET instruction of its x86-64 code, found by decoding
 * the whole function with a real decoder (Capstone). Go functions get no uretprobe (Go
 * moves goroutine stacks, and a uretprobe's rewritten return address on a moved stack
 * crashes the program): they get a uprobe on each RET instead. A function that does not
 * decode fully, to its last byte, gets none: a probe at a guessed address could land in
 * the middle of an instruction and corrupt it.
 */
#ifndef SONDE_KERNEL_X86_RET_H
#define SONDE_KERNEL_X86_RET_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes size bytes of code (the function at addr) and stores the offsets from addr of
 * its RET instructions in rets. Returns how many (<= max), -EILSEQ when the code does not
 * decode to its end, -E2BIG when it has more than max, -ENOMEM/-EINVAL if the decoder
 * cannot start, -ELIBACC if its library (SONDE_CAPSTONE_SONAME) cannot be loaded.
 */
int x86_find_rets(const uint8_t *code, size_t size, uint64_t addr, uint32_t *rets, size_t max);

#endif
