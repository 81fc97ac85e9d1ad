/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sonde's string hashes: 64-bit FNV-1a (byte-wise, incremental), a word-wise one for the
 * few strings hashed per request (hash_bytes), and a finaliser for tables indexed by the
 * low bits. Nothing hashed here is persisted or sent anywhere, so values may change
 * between versions.
 */
#ifndef SONDE_UTIL_HASH_H
#define SONDE_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FNV1A64_INIT 0xcbf29ce484222325ULL
#define FNV1A64_PRIME 0x100000001b3ULL

/* Continues hash h over p[0..n): fnv1a64_add(fnv1a64_add(FNV1A64_INIT, a), b) hashes a||b. */
static inline uint64_t fnv1a64_add(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * FNV1A64_PRIME;
	return h;
}

static inline uint64_t fnv1a64(const void *p, size_t n)
{
	return fnv1a64_add(FNV1A64_INIT, p, n);
}

/* Continues h over the bytes of s AND its NUL, so a sequence of strings hashes apart from
 * the same bytes split elsewhere ("a","bc" vs "ab","c"). */
static inline uint64_t fnv1a64_str(uint64_t h, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	do
		h = (h ^ *p) * FNV1A64_PRIME;
	while (*p++);
	return h;
}

/* MurmurHash3's fmix64: FNV-1a's low bits depend mostly on the last bytes; a table that
 * takes `h & mask` wants every input bit spread over them. */
static inline uint64_t hash_fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

/* p[0..n) from seed, 8 bytes a step (FNV-1a takes one): for strings hashed per request,
 * such as a route. Not incremental; spread over every bit (hash_fmix64). */
static inline uint64_t hash_bytes(uint64_t seed, const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL), w;

	for (; n >= 8; b += 8, n -= 8) {
		memcpy(&w, b, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	for (w = 0; n; n--)
		w = w << 8 | b[n - 1];
	return hash_fmix64((h ^ w) * 0xc4ceb9fe1a85ec53ULL);
}

#endif
