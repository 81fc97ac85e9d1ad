// SPDX-License-Identifier: GPL-2.0-only
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "sonde_abi.h"

char LICENSE[] SEC("license") = "GPL";
