/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A u64-keyed hash map of pointers: open addressing, linear probing, backward-shift
 * deletion (no tombstones, so lookups stay short under churn). Used for processes (tgid)
 * and connections (socket cookie); the values are owned by the caller.
 */
#ifndef SONDE_HASHMAP_H
#define SONDE_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

struct hashmap {
	uint64_t *keys;
	void **vals; /* NULL marks an empty slot */
	size_t cap;  /* power of two */
	size_t len;
};

int hashmap_init(struct hashmap *m, size_t cap_hint);
void hashmap_free(struct hashmap *m);
void *hashmap_get(const struct hashmap *m, uint64_t key);
/* Inserts or replaces; val must not be NULL. Returns 0 or -ENOMEM. */
int hashmap_put(struct hashmap *m, uint64_t key, void *val);
/* Removes key; returns its value or NULL. */
void *hashmap_del(struct hashmap *m, uint64_t key);

/* Iteration: for (size_t i = 0; i < m->cap; i++) if (m->vals[i]) ... */

#endif
