// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>

#include "util/hashmap.h"

static size_t slot_of(const struct hashmap *m, uint64_t key)
{
	/* splitmix64 finaliser: cookies and tgids are sequential, spread them. */
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ULL;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebULL;
	key ^= key >> 31;
	return key & (m->cap - 1);
}

int hashmap_init(struct hashmap *m, size_t cap_hint)
{
	size_t cap = 16;

	while (cap < cap_hint * 2)
		cap <<= 1;
	m->keys = calloc(cap, sizeof(*m->keys));
	m->vals = calloc(cap, sizeof(*m->vals));
	m->cap = cap;
	m->len = 0;
	if (!m->keys || !m->vals) {
		hashmap_free(m);
		return -ENOMEM;
	}
	return 0;
}

void hashmap_free(struct hashmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->len = 0;
}

void *hashmap_get(const struct hashmap *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (!m->vals[i])
			return NULL;
		if (m->keys[i] == key)
			return m->vals[i];
	}
}

static int grow(struct hashmap *m)
{
	struct hashmap bigger;
	int err = hashmap_init(&bigger, m->cap);

	if (err)
		return err;
	for (size_t i = 0; i < m->cap; i++)
		if (m->vals[i])
			hashmap_put(&bigger, m->keys[i], m->vals[i]);
	hashmap_free(m);
	*m = bigger;
	return 0;
}

int hashmap_put(struct hashmap *m, uint64_t key, void *val)
{
	size_t i;

	if ((m->len + 1) * 4 > m->cap * 3) {
		int err = grow(m);

		if (err)
			return err;
	}
	for (i = slot_of(m, key); m->vals[i]; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key) {
			m->vals[i] = val;
			return 0;
		}
	}
	m->keys[i] = key;
	m->vals[i] = val;
	m->len++;
	return 0;
}

void *hashmap_del(struct hashmap *m, uint64_t key)
{
	size_t i, j, home, mask = m->cap - 1;
	void *val;

	if (!m->cap)
		return NULL;
	for (i = slot_of(m, key);; i = (i + 1) & mask) {
		if (!m->vals[i])
			return NULL;
		if (m->keys[i] == key)
			break;
	}
	val = m->vals[i];
	m->vals[i] = NULL;
	m->len--;
	/* Shift back later entries of the probe run that could live in the freed slot. */
	for (j = (i + 1) & mask; m->vals[j]; j = (j + 1) & mask) {
		home = slot_of(m, m->keys[j]);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			m->vals[j] = NULL;
			i = j;
		}
	}
	return val;
}
