// SPDX-License-Identifier: GPL-2.0-only
/* The u64-keyed map behind processes and connections: growth, replacement, and
 * backward-shift deletion under collisions, checked against a plain array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "util/hashmap.h"

#define N 5000

static void test_put_get_del(void **state)
{
	static int vals[N];
	struct hashmap m;

	assert_int_equal(hashmap_init(&m, 4), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(hashmap_put(&m, (uint64_t)i * 4096, &vals[i]), 0);
	assert_int_equal(m.len, N);
	assert_true(m.cap >= N && (m.cap & (m.cap - 1)) == 0);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(hashmap_get(&m, (uint64_t)i * 4096), &vals[i]);
	assert_null(hashmap_get(&m, 1));
	/* replace keeps the count */
	assert_int_equal(hashmap_put(&m, 0, &vals[1]), 0);
	assert_int_equal(m.len, N);
	assert_ptr_equal(hashmap_get(&m, 0), &vals[1]);
	/* delete every other key; the rest must stay reachable */
	for (int i = 0; i < N; i += 2)
		assert_non_null(hashmap_del(&m, (uint64_t)i * 4096));
	assert_null(hashmap_del(&m, 0));
	assert_int_equal(m.len, N / 2);
	for (int i = 0; i < N; i++) {
		void *v = hashmap_get(&m, (uint64_t)i * 4096);

		if (i % 2)
			assert_ptr_equal(v, &vals[i]);
		else
			assert_null(v);
	}
	hashmap_free(&m);
}

/* Random churn against a reference array: what remains is exactly what should. */
static void test_churn(void **state)
{
	static void *ref[512];
	static int vals[512];
	struct hashmap m;
	unsigned seed = 1;

	assert_int_equal(hashmap_init(&m, 8), 0);
	for (int step = 0; step < 200000; step++) {
		unsigned k = rand_r(&seed) % 512;

		if (rand_r(&seed) % 3) {
			assert_int_equal(hashmap_put(&m, k, &vals[k]), 0);
			ref[k] = &vals[k];
		} else {
			assert_ptr_equal(hashmap_del(&m, k), ref[k]);
			ref[k] = NULL;
		}
	}
	for (unsigned k = 0; k < 512; k++)
		assert_ptr_equal(hashmap_get(&m, k), ref[k]);
	hashmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_del),
		cmocka_unit_test(test_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
