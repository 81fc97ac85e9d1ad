/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one way the config tests run sonde's argument parsing: an argv (and, for the
 * environment, a fake getenv) in; config_parse's return, its struct config and everything
 * it wrote to errout (and to stdout, for --help) out. Included by test_config.c,
 * test_config_counter.c and test_env_args.c.
 */
#ifndef SONDE_TEST_CONFIG_RUNNER_H
#define SONDE_TEST_CONFIG_RUNNER_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/env_args.h"

struct run {
	int rc;
	struct config cfg;
	char *err; /* everything written to errout */
	size_t err_len;
};

/* Parses argv (NULL-terminated, argv[0] included) as main() would after env_args. */
static inline int run_parse(struct run *r, int argc, char **argv)
{
	FILE *err = open_memstream(&r->err, &r->err_len);

	assert_non_null(err);
	r->rc = config_parse(&r->cfg, argc, argv, err);
	fclose(err);
	return r->rc;
}

static inline int run_argv(struct run *r, const char **args)
{
	char *argv[64];
	int argc = 0;

	for (; args[argc]; argc++) {
		assert_true(argc < 63);
		argv[argc] = (char *)args[argc]; /* argp permutes argv: give it a copy */
	}
	argv[argc] = NULL;
	return run_parse(r, argc, argv);
}

#define RUN(r, ...) run_argv(r, (const char *[]){ "sonde", __VA_ARGS__, NULL })

/* The environment fake_getenv reads: name, value, name, value, ..., NULL. */
static const char *const *fake_env;

static inline char *fake_getenv(const char *name)
{
	for (const char *const *e = fake_env; e && *e; e += 2)
		if (!strcmp(e[0], name))
			return (char *)e[1];
	return NULL;
}

/* As main() does: the SONDE_* variables of env become flags before args, then parsed. */
static inline int run_env(struct run *r, const char *const *env, const char **args)
{
	char **argv;
	int argc = 0, n = -1;

	while (args[argc])
		argc++;
	fake_env = env;
	argv = env_args(argc, (char **)args, fake_getenv, &n);
	assert_non_null(argv);
	run_parse(r, n, argv);
	free_env_args(argv);
	return r->rc;
}

#define RUN_ENV(r, env, ...) run_env(r, env, (const char *[]){ "sonde", __VA_ARGS__, NULL })

static inline void done(struct run *r)
{
	config_free(&r->cfg);
	free(r->err);
}

/* The run must fail with exactly this text on errout, and leave nothing allocated. */
static inline void expect_error(const char *expected, const char **args)
{
	struct run r;

	assert_int_equal(run_argv(&r, args), -EINVAL);
	assert_string_equal(r.err, expected);
	assert_null(r.cfg.rules);
	assert_int_equal(r.cfg.n_rules, 0);
	assert_null(r.cfg.routes);
	assert_int_equal(r.cfg.n_routes, 0);
	assert_null(r.cfg.counters);
	assert_int_equal(r.cfg.n_counters, 0);
	done(&r);
}

#define EXPECT_ERROR(expected, ...) \
	expect_error(expected, (const char *[]){ "sonde", __VA_ARGS__, NULL })

/* Runs the parser with stdout sent to a temporary file; returns what was printed. */
static inline char *run_capturing_stdout(struct run *r, const char **args)
{
	FILE *tmp = tmpfile();
	int saved;
	long len;
	char *out;

	assert_non_null(tmp);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
	run_argv(r, args);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	len = lseek(fileno(tmp), 0, SEEK_END); /* fd 1 shared tmp's file offset */
	assert_true(len >= 0);
	out = calloc(1, (size_t)len + 1);
	assert_non_null(out);
	assert_int_equal(pread(fileno(tmp), out, (size_t)len, 0), len);
	fclose(tmp);
	return out;
}

/* Writes text to a new temporary file (a config or routes file); path receives its name. */
static inline void write_temp(char *path, size_t size, const char *text)
{
	int fd;

	snprintf(path, size, "/tmp/sonde-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

#endif
