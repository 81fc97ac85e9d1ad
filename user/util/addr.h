/* SPDX-License-Identifier: GPL-2.0-only */
/* Text form of the addresses the kernel reports (struct sonde_addr). */
#ifndef SONDE_UTIL_ADDR_H
#define SONDE_UTIL_ADDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define ADDR_TEXT_MAX INET6_ADDRSTRLEN

/* addr: 16 bytes, IPv6 or v4-mapped IPv4. Go listens on [::]: IPv4 peers arrive
 * v4-mapped; they are written as IPv4. */
void addr_format(const uint8_t addr[16], char *out, size_t len);

#endif
