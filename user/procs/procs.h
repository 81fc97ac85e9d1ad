/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The processes sonde observes: chosen by the selection rules at start-up (/proc scan) and
 * on exec/listen events, joined by fork children (the kernel already selected them), left
 * when their last thread exits. In: the rules, /proc and process events. Out: the allow
 * bitmap's contents (through a kernel_ctl) and each tracked process's service name.
 */
#ifndef SONDE_PROCS_H
#define SONDE_PROCS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "metrics/ctx_labels.h"
#include "util/hashmap.h"

struct kernel_ctl;

struct proc {
	uint32_t tgid;
	char comm[16];
	char service[128];     /* service_name label */
	uint64_t exe_hash;     /* of the executable path: prefork children share it */
	uint32_t nstgid;       /* its pid in its own namespace, for logs */
	struct ctx_labels ctx; /* container and pod (--k8s-labels) */
};

/* Processes that left recently: records they made can still be in the ring. */
#define PROCS_DEPARTED 256

struct departed {
	uint32_t tgid;
	char service[128];
	struct ctx_labels ctx;
};

/* A service (with --k8s-labels: a service in one container) whose last process left. */
struct leaving {
	char service[128];
	struct ctx_labels ctx;
	uint64_t since_ns; /* CLOCK_MONOTONIC */
};

struct procs {
	const struct config *cfg;
	const struct kernel_ctl *kctl; /* sets the allow bitmap's bits */
	const char *proc_root;
	struct hashmap by_tgid;
	bool any_listener; /* no rules given: every process with a listening TCP socket */
	uint32_t self;
	char self_exe[4096]; /* other sonde instances are never picked by the default rule */
	struct departed departed[PROCS_DEPARTED]; /* ring of the last ones untracked */
	unsigned n_departed;			  /* total ever; next slot = n % size */
	struct leaving *leaving;		  /* whose series go after --series-grace */
	size_t n_leaving, cap_leaving;
};

int procs_init(struct procs *p, const struct config *cfg, const struct kernel_ctl *kctl,
	       const char *proc_root);
void procs_free(struct procs *p);

/* Selects every running process the rules match. Returns how many, or -errno. */
int procs_scan(struct procs *p);
/*
 * After the rules changed (SIGHUP): selects the running processes they match now (and
 * their children, as procs_scan), unselects the tracked ones they no longer match, whose
 * series stay. Returns how many are tracked, or -errno (then nothing was unselected).
 */
int procs_reselect(struct procs *p);
void procs_on_fork(struct procs *p, uint32_t tgid, uint32_t ppid);
/* comm: the task's comm after the exec, from the event (the process may be gone). */
void procs_on_exec(struct procs *p, uint32_t tgid, const char *comm);
/* The kernel selected tgid by a cgroup= rule at fork, exec or cgroup attach (a record
 * flagged SONDE_PROC_CGROUP): tracked even if /proc is gone already (named by its
 * parent's service, else its comm). */
void procs_on_cgroup(struct procs *p, uint32_t tgid, uint32_t ppid, const char *comm);
/* The kernel saw tgid, selected, moved to cgroups none of which a cgroup= rule selects (a
 * record of SONDE_EV_PROC_CGROUP without the flag): unselected unless another rule
 * matches it or its parent is observed. */
void procs_on_cgroup_left(struct procs *p, uint32_t tgid);
void procs_on_listen(struct procs *p, uint32_t tgid, uint16_t port);
void procs_on_exit(struct procs *p, uint32_t tgid);

/* NULL when tgid is not tracked. */
const struct proc *procs_get(const struct procs *p, uint32_t tgid);
unsigned procs_count(const struct procs *p);
/* The service_name of a tracked process, or of one that left recently (its last records
 * arrive after its exit record); NULL when unknown. */
const char *procs_service(const struct procs *p, uint32_t tgid);

/* Its container and pod, likewise (all "" when not in one); NULL when unknown. */
const struct ctx_labels *procs_ctx(const struct procs *p, uint32_t tgid);

/*
 * Calls fn for every service (container) whose processes all left at least grace_ns before
 * now_ns (CLOCK_MONOTONIC), and forgets it: its series can go. One that got a process
 * again meanwhile is not reported. Returns how many were reported.
 */
typedef void (*procs_gone_fn)(void *ctx, const char *service, const struct ctx_labels *c);
size_t procs_expire_services(struct procs *p, uint64_t now_ns, uint64_t grace_ns, procs_gone_fn fn,
			     void *ctx);

/* Whether the kernel must report every exec / listen for these rules: exe=, port= and
 * cgroup= rules need every exec (the kernel selects by comm= itself; the caller adds the
 * case of a comm= rule it could not give the kernel). */
bool procs_want_exec_events(const struct config *cfg);
bool procs_want_listen_events(const struct config *cfg);

#endif
