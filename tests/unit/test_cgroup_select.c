// SPDX-License-Identifier: GPL-2.0-only
/*
 * cgroup= selection in the kernel, its user-space half: the glob matcher the BPF mkdir
 * program runs (include/sonde_glob.h) against fnmatch(3) with flags 0, which the /proc
 * scan uses, so both decide alike; mountinfo parsing; the walk that turns a glob into the
 * ids (directory inode numbers) of existing cgroups, on a fake cgroupfs in a temp dir.
 */
#include <errno.h>
#include <fnmatch.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "procs/cgroup_ids.h"
#include "procs/selection.h"
#include "sonde_glob.h"

/* Runs the kernel's matcher as bpf_loop does: 1, 0, or -1 if the steps ran out. */
static int kernel_match(const char *glob, const char *path)
{
	static char g[SONDE_CGROUP_GLOB_LEN], s[SONDE_CGROUP_PATH_LEN];
	struct sonde_glob_state st = { .result = -1 };

	memset(g, 0, sizeof(g));
	memset(s, 0, sizeof(s));
	snprintf(g, sizeof(g), "%s", glob);
	snprintf(s, sizeof(s), "%s", path);
	for (unsigned i = 0; i < SONDE_GLOB_STEPS; i++)
		if (sonde_glob_step(&st, g, s))
			break;
	return st.result;
}

static void agree(const char *glob, const char *path)
{
	int want = !fnmatch(glob, path, 0);

	if (kernel_match(glob, path) != want)
		fail_msg("glob \"%s\" path \"%s\": fnmatch says %d", glob, path, want);
}

static void test_glob_cases(void **state)
{
	static const char *const globs[] = {
		"*",	   "/",	      "/kubepods*",    "/kubepods/*/crio-*",
		"*crio-*", "/a?c",    "/a\\*c",	       "a\\",
		"**",	   "*/*",     "/docker/*",     "",
		"/a*b*c",  "*.scope", "/sonde-it-*/x", "\\?",
	};
	static const char *const paths[] = {
		"/",
		"",
		"/kubepods",
		"/kubepods/besteffort/pod1/crio-abc",
		"/kubepodsx",
		"/abc",
		"/a*c",
		"a\\",
		"/docker/1/2",
		"/docker",
		"/aXbYc",
		"/aXbY",
		"/k.slice/cri-containerd-1.scope",
		"/sonde-it-1/x",
		"/sonde-it-1/x/y",
		"?",
		"a",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(globs) / sizeof(globs[0]); i++)
		for (size_t j = 0; j < sizeof(paths) / sizeof(paths[0]); j++)
			agree(globs[i], paths[j]);
}

/* Random globs and paths over a small alphabet, so stars, '?', escapes and '/' meet. */
static void test_glob_random(void **state)
{
	static const char galpha[] = "ab/*?\\", salpha[] = "ab/*?\\";
	char glob[12], path[14];

	(void)state;
	srand(13);
	for (int n = 0; n < 200000; n++) {
		size_t gl = (size_t)rand() % (sizeof(glob) - 1), sl = (size_t)rand() % sizeof(path);

		for (size_t i = 0; i < gl; i++)
			glob[i] = galpha[rand() % (int)(sizeof(galpha) - 1)];
		glob[gl] = '\0';
		for (size_t i = 0; i < sl; i++)
			path[i] = salpha[rand() % (int)(sizeof(salpha) - 1)];
		path[sl] = '\0';
		agree(glob, path);
	}
}

/* The longest glob and path the kernel takes, with backtracking all the way. */
static void test_glob_worst_case_fits(void **state)
{
	char glob[SONDE_CGROUP_GLOB_LEN], path[SONDE_CGROUP_PATH_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(glob) - 1; i++)
		glob[i] = i % 2 ? 'a' : '*';
	glob[sizeof(glob) - 2] = 'b';
	glob[sizeof(glob) - 1] = '\0';
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(kernel_match(glob, path), 0);
	path[sizeof(path) - 2] = 'b';
	assert_int_equal(kernel_match(glob, path), 1);
}

static void test_glob_kernel_ok(void **state)
{
	char big[SONDE_CGROUP_GLOB_LEN + 1];

	(void)state;
	assert_true(cgroup_glob_kernel_ok("/kubepods*"));
	assert_false(cgroup_glob_kernel_ok("/pod[0-9]*"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(cgroup_glob_kernel_ok(big));
	big[SONDE_CGROUP_GLOB_LEN - 1] = '\0';
	assert_true(cgroup_glob_kernel_ok(big));
}

static void test_mount_parse(void **state)
{
	struct cgroup_mount m;

	(void)state;
	assert_int_equal(cgroup_mount_parse("31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - "
					    "cgroup cgroup rw,cpu\n",
					    &m),
			 0);
	assert_string_equal(m.point, "/sys/fs/cgroup/cpu");
	assert_string_equal(m.root, "/");
	assert_false(m.v2);
	assert_int_equal(cgroup_mount_parse("40 30 0:37 /a\\040b /x\\040y rw shared:5 - "
					    "cgroup2 cgroup2 rw\n",
					    &m),
			 0);
	assert_string_equal(m.point, "/x y");
	assert_string_equal(m.root, "/a b");
	assert_true(m.v2);
	assert_int_equal(
		cgroup_mount_parse("30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n", &m),
		-ENOENT);
	assert_int_equal(cgroup_mount_parse("30 22 0:27 /\n", &m), -EINVAL);
	assert_int_equal(cgroup_mount_parse("30 22 0:27 / /x rw cgroup\n", &m), -EINVAL);
}

static char tmp[64]; /* short: the paths built from it fit */

static void mk(const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static uint64_t ino(const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	assert_int_equal(stat(p, &st), 0);
	return st.st_ino;
}

struct seen {
	uint64_t ids[16];
	char paths[16][128];
	int n;
};

static int collect(void *ctx, uint64_t id, const char *path)
{
	struct seen *s = ctx;

	assert_true(s->n < 16);
	s->ids[s->n] = id;
	snprintf(s->paths[s->n], sizeof(s->paths[0]), "%s", path);
	s->n++;
	return 0;
}

static int find(const struct seen *s, const char *path)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->paths[i], path))
			return i;
	return -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Two hierarchies: a v1 one mounted at its root, a v2 one whose mount shows "/sub" (as in
 * a cgroup namespace); a plain file never counts; paths are as /proc/PID/cgroup has them. */
static void test_ids_match(void **state)
{
	char mi[PATH_MAX], line[3 * PATH_MAX];
	struct seen s = { 0 };
	FILE *f;
	int i;

	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/sonde-cgids-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	mk("v1");
	mk("v1/kubepods");
	mk("v1/kubepods/pod1");
	mk("v1/kubepods/pod1/crio-a");
	mk("v1/other");
	mk("v2");
	mk("v2/crio-b");
	snprintf(line, sizeof(line), "%s/v1/kubepods/pod1/crio-file", tmp);
	assert_non_null(f = fopen(line, "w"));
	fclose(f);
	snprintf(mi, sizeof(mi), "%s/mountinfo", tmp);
	assert_non_null(f = fopen(mi, "w"));
	fprintf(f, "1 0 0:1 / / rw - ext4 /dev/sda rw\n");
	fprintf(f, "31 30 0:28 / %s/v1 rw - cgroup cgroup rw,cpu\n", tmp);
	fprintf(f, "40 30 0:37 /sub %s/v2 rw - cgroup2 cgroup2 rw\n", tmp);
	fclose(f);

	assert_int_equal(cgroup_ids_match(mi, "*crio-*", collect, &s), 2);
	assert_true((i = find(&s, "/kubepods/pod1/crio-a")) >= 0);
	assert_true(s.ids[i] == ino("v1/kubepods/pod1/crio-a"));
	assert_true((i = find(&s, "/sub/crio-b")) >= 0);
	assert_true(s.ids[i] == ino("v2/crio-b"));
	assert_int_equal(find(&s, "/kubepods/pod1/crio-file"), -1); /* directories only */
	memset(&s, 0, sizeof(s));
	assert_int_equal(cgroup_ids_match(mi, "/", collect, &s), 1);
	assert_true(s.ids[0] == ino("v1"));
	memset(&s, 0, sizeof(s));
	assert_int_equal(cgroup_ids_match(mi, "/kubepods", collect, &s), 1);
	assert_true(s.ids[0] == ino("v1/kubepods"));
	assert_int_equal(cgroup_ids_match("/nonexistent/mountinfo", "*", collect, &s), -ENOENT);
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_has_cgroup_rules(void **state)
{
	struct select_rule r[2] = { { .kind = SELECT_COMM }, { .kind = SELECT_CGROUP } };

	(void)state;
	assert_false(selection_has_cgroup_rules(r, 1));
	assert_true(selection_has_cgroup_rules(r, 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob_cases),	     cmocka_unit_test(test_glob_random),
		cmocka_unit_test(test_glob_worst_case_fits), cmocka_unit_test(test_glob_kernel_ok),
		cmocka_unit_test(test_mount_parse),	     cmocka_unit_test(test_ids_match),
		cmocka_unit_test(test_has_cgroup_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
