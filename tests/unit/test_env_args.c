// SPDX-License-Identifier: GPL-2.0-only
/* env_args(): the SONDE_* variables as flags before the command line's. */
#include "config_runner.h"

static void expect_args(const char *const *env, int argc, char **argv, const char *const *want)
{
	int n = -1, i;
	char **got;

	fake_env = env;
	got = env_args(argc, argv, fake_getenv, &n);
	assert_non_null(got);
	for (i = 0; want[i]; i++)
		assert_string_equal(got[i], want[i]);
	assert_int_equal(n, i);
	assert_null(got[n]);
	free_env_args(got);
}

static void test_no_env_keeps_argv(void **state)
{
	char *argv[] = { "sonde", "--check", NULL };
	const char *const want[] = { "sonde", "--check", NULL };

	expect_args(NULL, 2, argv, want);
}

static void test_env_before_flags(void **state)
{
	const char *const env[] = { "SONDE_LISTEN",
				    "127.0.0.1:9",
				    "SONDE_SELECT",
				    " comm=a  port=80\tpid=3 ",
				    "SONDE_CAPTURE",
				    "syscalls",
				    "SONDE_VERBOSE",
				    "2",
				    "SONDE_CONFIG",
				    "",
				    NULL };
	char *argv[] = { "sonde", "--listen", "0.0.0.0:1", NULL };
	const char *const want[] = { "sonde",	 "--listen", "127.0.0.1:9", "--capture",
				     "syscalls", "--select", "comm=a",	    "--select",
				     "port=80",	 "--select", "pid=3",	    "-v",
				     "-v",	 "--listen", "0.0.0.0:1",   NULL };

	expect_args(env, 3, argv, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_env_keeps_argv),
		cmocka_unit_test(test_env_before_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
