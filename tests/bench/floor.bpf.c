// SPDX-License-Identifier: GPL-2.0-only
/*
 * The benchmark's floor: programs on the very hooks sonde uses, doing nothing (or, built
 * with -DFLOOR_LOOKUP, one hash look-up of the tgid: what sonde's filter does for a
 * process it does not select). The cost a process sonde does not observe pays for sonde
 * running is compared with this floor, the price of the hook itself.
 *
 * Bench-only (tests/bench/run.py builds it with clang -target bpf and loads it with
 * floor_loader): no vmlinux.h needed, the programs read nothing from their context.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#ifdef FLOOR_LOOKUP
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} floor_tgids SEC(".maps");

static __always_inline int floor_body(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (bpf_map_lookup_elem(&floor_tgids, &tgid))
		return 1;
	return 0;
}
#else
static __always_inline int floor_body(void)
{
	return 0;
}
#endif

/* Socket capture path (--capture socket). */
SEC("tp_btf/sock_send_length")
int floor_sock_send(void *ctx)
{
	return floor_body();
}
SEC("tp_btf/sock_recv_length")
int floor_sock_recv(void *ctx)
{
	return floor_body();
}

/* Syscall capture path (--capture syscalls): the same exit tracepoints as bpf/syscalls.bpf.c. */
#define FLOOR_SYSCALL(name)                        \
	SEC("tracepoint/syscalls/sys_exit_" #name) \
	int floor_exit_##name(void *ctx)           \
	{                                          \
		return floor_body();               \
	}

FLOOR_SYSCALL(read)
FLOOR_SYSCALL(write)
FLOOR_SYSCALL(readv)
FLOOR_SYSCALL(writev)
FLOOR_SYSCALL(sendto)
FLOOR_SYSCALL(recvfrom)
FLOOR_SYSCALL(sendmsg)
FLOOR_SYSCALL(recvmsg)
