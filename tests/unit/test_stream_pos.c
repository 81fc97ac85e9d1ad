// SPDX-License-Identifier: GPL-2.0-only
/* stream_pos: the per-direction offsets of data records turn a missing record into a gap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "consumer/stream_pos.h"

static void test_in_order(void **state)
{
	struct stream_pos p = { 0 };

	(void)state;
	stream_pos_open(&p);
	assert_int_equal(stream_pos_take(&p, 0, 100), 0);
	assert_int_equal(stream_pos_take(&p, 100, 1), 0);
	assert_int_equal(stream_pos_take(&p, 101, 0), 0); /* EOF: no bytes */
	assert_int_equal(stream_pos_take(&p, 101, 4096), 0);
	assert_int_equal(p.next, 4197);
}

static void test_gap(void **state)
{
	struct stream_pos p = { 0 };

	(void)state;
	stream_pos_open(&p);
	assert_int_equal(stream_pos_take(&p, 0, 40), 0);
	/* the record [40, 100) never came */
	assert_int_equal(stream_pos_take(&p, 100, 10), 60);
	assert_int_equal(stream_pos_take(&p, 110, 10), 0);
}

static void test_first_record_lost(void **state)
{
	struct stream_pos p = { 0 };

	(void)state;
	stream_pos_open(&p);
	assert_int_equal(stream_pos_take(&p, 7, 1), 7);
}

/* Joined without the open record (expired while idle, or seen before a restart): the
 * first record sets the start. */
static void test_joined_late(void **state)
{
	struct stream_pos p = { 0 };

	(void)state;
	assert_int_equal(stream_pos_take(&p, 123456, 10), 0);
	assert_int_equal(stream_pos_take(&p, 123466, 10), 0);
	stream_pos_open(&p); /* an open record racing behind data changes nothing */
	assert_int_equal(p.next, 123476);
}

static void test_late_record_never_moves_back(void **state)
{
	struct stream_pos p = { 0 };

	(void)state;
	stream_pos_open(&p);
	assert_int_equal(stream_pos_take(&p, 10, 10), 10);
	assert_int_equal(stream_pos_take(&p, 0, 10), 0); /* the late one */
	assert_int_equal(p.next, 20);
	assert_int_equal(stream_pos_take(&p, 20, 5), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_gap),
		cmocka_unit_test(test_first_record_lost),
		cmocka_unit_test(test_joined_late),
		cmocka_unit_test(test_late_record_never_moves_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
