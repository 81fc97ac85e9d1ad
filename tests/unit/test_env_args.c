// SPDX-License-Identifier: GPL-2.0-only
/* env_args(): the SONDE_* variables as flags before the command line's, alone and then
 * through config_parse() as main() runs them. */
#include "config_runner.h"

#define DATA SONDE_TEST_DATA

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

/* What main() gets: flags win over single values and add to the environment's rules. */
static void test_env_then_parse(void **state)
{
	const char *const env[] = { "SONDE_LISTEN",
				    "127.0.0.1:9",
				    "SONDE_SELECT",
				    "comm=a port=80",
				    "SONDE_CAPTURE",
				    "syscalls",
				    "SONDE_VERBOSE",
				    "2",
				    "SONDE_ROUTES_FILE",
				    DATA "/routes_one.conf",
				    NULL };
	struct run r;

	assert_int_equal(RUN_ENV(&r, env, "--listen", "0.0.0.0:1", "--select", "pid=3"), 0);
	assert_string_equal(r.err, "");
	assert_string_equal(r.cfg.listen_host, "0.0.0.0");
	assert_int_equal(r.cfg.listen_port, 1);
	assert_int_equal(r.cfg.n_rules, 3);
	assert_int_equal(r.cfg.rules[0].kind, SELECT_COMM);
	assert_string_equal(r.cfg.rules[0].text, "a");
	assert_int_equal(r.cfg.rules[1].kind, SELECT_PORT);
	assert_int_equal(r.cfg.rules[1].num, 80);
	assert_int_equal(r.cfg.rules[2].kind, SELECT_PID);
	assert_int_equal(r.cfg.rules[2].num, 3);
	assert_int_equal(r.cfg.capture, CAPTURE_SYSCALLS);
	assert_int_equal(r.cfg.verbose, 2);
	assert_int_equal(r.cfg.n_routes, 1);
	assert_string_equal(r.cfg.routes[0], "/one");
	done(&r);

	/* SONDE_CONFIG names the file; a flag still wins over its keys */
	assert_int_equal(
		RUN_ENV(&r,
			((const char *const[]){ "SONDE_CONFIG", DATA "/config_good.conf", NULL }),
			"--capture", "syscalls"),
		0);
	assert_string_equal(r.err, "");
	assert_string_equal(r.cfg.config_file, DATA "/config_good.conf");
	assert_string_equal(r.cfg.listen_host, "::1");
	assert_int_equal(r.cfg.capture, CAPTURE_SYSCALLS);
	done(&r);
}

/* A bad value from the environment is reported like the flag it stands for: one line. */
static void test_env_errors_name_the_flag(void **state)
{
	struct run r;

	assert_int_equal(RUN_ENV(&r, ((const char *const[]){ "SONDE_SELECT", "nginx", NULL }),
				 "--select", "pid=1"),
			 -EINVAL);
	assert_string_equal(r.err, "sonde: --select: 'nginx' is not KIND=VALUE (KIND: pid, comm, "
				   "exe, port or cgroup)\n");
	assert_null(r.cfg.rules);
	done(&r);

	assert_int_equal(
		RUN_ENV(&r, ((const char *const[]){ "SONDE_CAPTURE", "bogus", NULL }), "--check"),
		-EINVAL);
	assert_string_equal(r.err, "sonde: --capture: 'bogus' is not one of auto, socket, "
				   "syscalls\n");
	done(&r);

	assert_int_equal(RUN_ENV(&r, ((const char *const[]){ "SONDE_LISTEN", "9464", NULL }), "-v"),
			 -EINVAL);
	assert_string_equal(r.err, "sonde: --listen: '9464': missing ':PORT' (e.g. "
				   "127.0.0.1:9464 or :9464)\n");
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_env_keeps_argv),
		cmocka_unit_test(test_env_before_flags),
		cmocka_unit_test(test_env_then_parse),
		cmocka_unit_test(test_env_errors_name_the_flag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
