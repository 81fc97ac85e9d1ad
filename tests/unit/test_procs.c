// SPDX-License-Identifier: GPL-2.0-only
/* The tracked set against the real /proc: a child process of this test, selected by rule,
 * joined by fork children, left at exit; every change reaches the kernel through a fake
 * kernel_ctl. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "kernel/ctl.h"
#include "procs/procs.h"

#define MAX_CALLS 16

struct fake_kernel {
	uint32_t tgid[MAX_CALLS];
	bool on[MAX_CALLS];
	size_t n;
};

static int fake_allow(void *ctx, uint32_t tgid, bool on)
{
	struct fake_kernel *k = ctx;

	if (k->n < MAX_CALLS) {
		k->tgid[k->n] = tgid;
		k->on[k->n++] = on;
	}
	return 0;
}

static bool called(const struct fake_kernel *k, uint32_t tgid, bool on)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->tgid[i] == tgid && k->on[i] == on)
			return true;
	return false;
}

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_pid_rule_fork_exit(void **state)
{
	pid_t child = spawn_sleeper();
	struct select_rule rule = { .kind = SELECT_PID, .num = (uint32_t)child };
	struct config cfg = { .rules = &rule, .n_rules = 1 };
	struct fake_kernel fk = { 0 };
	struct kernel_ctl kctl = { .ctx = &fk, .allow = fake_allow };
	struct procs p;
	const struct proc *pr;
	char service[128];

	assert_int_equal(procs_init(&p, &cfg, &kctl, "/proc"), 0);
	assert_int_equal(procs_scan(&p), 1);
	assert_true(called(&fk, (uint32_t)child, true));
	pr = procs_get(&p, (uint32_t)child);
	assert_non_null(pr);
	assert_string_equal(pr->comm, "test_procs"); /* forked, not exec'd */
	/* A fork child already gone from /proc joins under its parent's service. */
	procs_on_fork(&p, 3999999, (uint32_t)child);
	pr = procs_get(&p, 3999999);
	assert_non_null(pr);
	assert_string_equal(pr->service, procs_get(&p, (uint32_t)child)->service);
	assert_int_equal(procs_count(&p), 2);
	/* A fork child of an untracked parent, gone: unselected in the kernel at once. */
	procs_on_fork(&p, 3999998, 1);
	assert_true(called(&fk, 3999998, false));
	assert_null(procs_get(&p, 3999998));
	snprintf(service, sizeof(service), "%s", procs_get(&p, (uint32_t)child)->service);
	procs_on_exit(&p, (uint32_t)child);
	assert_true(called(&fk, (uint32_t)child, false));
	assert_null(procs_get(&p, (uint32_t)child));
	/* its records still in the ring keep their service */
	assert_string_equal(procs_service(&p, (uint32_t)child), service);
	assert_null(procs_service(&p, 3999995));
	assert_int_equal(procs_count(&p), 1);
	procs_free(&p);
	reap(child);
}

/* A short-lived process that exec'd into a comm= rule's comm and is gone before user space
 * reads /proc is kept, named by its comm (the kernel selected it at exec). */
static void test_comm_rule_at_exec(void **state)
{
	struct select_rule rule = { .kind = SELECT_COMM, .text = "a-long-client-name" };
	struct config cfg = { .rules = &rule, .n_rules = 1 };
	struct fake_kernel fk = { 0 };
	struct kernel_ctl kctl = { .ctx = &fk, .allow = fake_allow };
	struct procs p;

	assert_int_equal(procs_init(&p, &cfg, &kctl, "/proc"), 0);
	procs_on_exec(&p, 3999997, "a-long-client-n"); /* the kernel's 15 bytes */
	assert_non_null(procs_get(&p, 3999997));
	assert_string_equal(procs_get(&p, 3999997)->service, "a-long-client-n");
	procs_on_exec(&p, 3999996, "other");
	assert_null(procs_get(&p, 3999996));
	/* comm= is matched by the kernel at exec: only selected processes' execs are needed */
	assert_false(procs_want_exec_events(&cfg));
	assert_false(procs_want_listen_events(&cfg));
	procs_free(&p);
}

/* Every exec is needed for the rules /proc decides, and without rules. */
static void test_want_exec_events(void **state)
{
	struct select_rule rules[] = { { .kind = SELECT_PID, .num = 7 },
				       { .kind = SELECT_COMM, .text = "nginx" },
				       { .kind = SELECT_EXE, .text = "/usr/sbin/*" },
				       { .kind = SELECT_PORT, .num = 80 },
				       { .kind = SELECT_CGROUP, .text = "/kubepods/*" } };
	struct config cfg = { .rules = rules, .n_rules = 2 };

	assert_false(procs_want_exec_events(&cfg));
	for (size_t i = 2; i < 5; i++) {
		struct config one = { .rules = &rules[i], .n_rules = 1 };

		assert_true(procs_want_exec_events(&one));
	}
	cfg.n_rules = 0;
	assert_true(procs_want_exec_events(&cfg));
}

/* A process the kernel selected by cgroup and then saw moved out of the selected cgroups:
 * unselected, unless another rule still matches it. */
static void test_cgroup_moved_out(void **state)
{
	pid_t child = spawn_sleeper();
	struct select_rule rules[] = { { .kind = SELECT_CGROUP, .text = "/no-such-cgroup-*" },
				       { .kind = SELECT_PID, .num = (uint32_t)child } };
	struct config cfg = { .rules = rules, .n_rules = 1 };
	struct fake_kernel fk = { 0 };
	struct kernel_ctl kctl = { .ctx = &fk, .allow = fake_allow };
	struct procs p;

	assert_int_equal(procs_init(&p, &cfg, &kctl, "/proc"), 0);
	procs_on_cgroup(&p, (uint32_t)child, (uint32_t)getpid(), "test_procs");
	assert_non_null(procs_get(&p, (uint32_t)child));
	cfg.n_rules = 2; /* the pid= rule keeps it */
	procs_on_cgroup_left(&p, (uint32_t)child);
	assert_non_null(procs_get(&p, (uint32_t)child));
	assert_false(called(&fk, (uint32_t)child, false));
	cfg.n_rules = 1;
	procs_on_cgroup_left(&p, (uint32_t)child);
	assert_null(procs_get(&p, (uint32_t)child));
	assert_true(called(&fk, (uint32_t)child, false));
	/* not tracked, or gone from /proc (its exit record follows): nothing to do */
	procs_on_cgroup_left(&p, 3999994);
	assert_int_equal(procs_count(&p), 0);
	procs_free(&p);
	reap(child);
}

/* port= rules: a process that starts listening on the port joins. */
static void test_port_rule_at_listen(void **state)
{
	pid_t child = spawn_sleeper();
	struct select_rule rule = { .kind = SELECT_PORT, .num = 18080 };
	struct config cfg = { .rules = &rule, .n_rules = 1 };
	struct fake_kernel fk = { 0 };
	struct kernel_ctl kctl = { .ctx = &fk, .allow = fake_allow };
	struct procs p;

	assert_int_equal(procs_init(&p, &cfg, &kctl, "/proc"), 0);
	assert_true(procs_want_listen_events(&cfg));
	procs_on_listen(&p, (uint32_t)child, 18081);
	assert_null(procs_get(&p, (uint32_t)child));
	procs_on_listen(&p, (uint32_t)child, 18080);
	assert_non_null(procs_get(&p, (uint32_t)child));
	assert_true(called(&fk, (uint32_t)child, true));
	procs_free(&p);
	reap(child);
}

struct gone {
	char service[8][128];
	size_t n;
};

static void on_gone(void *ctx, const char *service, const struct ctx_labels *c)
{
	struct gone *g = ctx;

	assert_true(ctx_labels_empty(c));
	snprintf(g->service[g->n++ % 8], 128, "%s", service);
}

/* A service's series go once its last process left and the grace passed; a process of the
 * same service arriving within the grace keeps them; --series-grace 0 keeps them all. */
static void test_services_expire(void **state)
{
	struct select_rule rule = { .kind = SELECT_COMM, .text = "client-a" };
	struct config cfg = { .rules = &rule, .n_rules = 1, .series_grace = 60 };
	struct fake_kernel fk = { 0 };
	struct kernel_ctl kctl = { .ctx = &fk, .allow = fake_allow };
	const uint64_t later = UINT64_MAX / 2, grace = 60000000000ULL;
	struct gone g = { 0 };
	struct procs p;

	assert_int_equal(procs_init(&p, &cfg, &kctl, "/proc"), 0);
	procs_on_exec(&p, 3999990, "client-a"); /* gone from /proc: named by comm */
	procs_on_exec(&p, 3999991, "client-a");
	procs_on_exit(&p, 3999990);
	assert_int_equal(procs_expire_services(&p, later, grace, on_gone, &g), 0);
	procs_on_exit(&p, 3999991);
	assert_int_equal(procs_expire_services(&p, 0, grace, on_gone, &g), 0); /* in grace */
	assert_int_equal(procs_expire_services(&p, later, grace, on_gone, &g), 1);
	assert_string_equal(g.service[0], "client-a");
	assert_int_equal(procs_expire_services(&p, later, grace, on_gone, &g), 0);
	/* back within the grace: kept */
	procs_on_exec(&p, 3999992, "client-a");
	procs_on_exit(&p, 3999992);
	procs_on_exec(&p, 3999993, "client-a");
	assert_int_equal(procs_expire_services(&p, later, grace, on_gone, &g), 0);
	procs_free(&p);

	cfg.series_grace = 0;
	assert_int_equal(procs_init(&p, &cfg, &kctl, "/proc"), 0);
	procs_on_exec(&p, 3999990, "client-a");
	procs_on_exit(&p, 3999990);
	assert_int_equal(procs_expire_services(&p, later, grace, on_gone, &g), 0);
	procs_free(&p);
	assert_int_equal(g.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pid_rule_fork_exit),
		cmocka_unit_test(test_comm_rule_at_exec),
		cmocka_unit_test(test_want_exec_events),
		cmocka_unit_test(test_port_rule_at_listen),
		cmocka_unit_test(test_cgroup_moved_out),
		cmocka_unit_test(test_services_expire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
