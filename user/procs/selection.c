// SPDX-License-Identifier: GPL-2.0-only
/*
 * Selection: which processes the rules pick. Pure functions of a proc_info read by
 * procfs.c, so every rule kind is tested without a /proc.
 */
#include "procs/selection.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

/* What readlink of /proc/PID/exe appends once the binary was unlinked (fs/d_path.c). */
#define DELETED_SUFFIX " (deleted)"

bool selection_comm_matches(const char *rule, const char *comm)
{
	/* A longer rule names what the kernel cut to 15 bytes (TASK_COMM_LEN - 1). */
	size_t len = strnlen(rule, 15);

	return strlen(comm) == len && !memcmp(rule, comm, len);
}

static bool exe_matches(const char *glob, const char *exe)
{
	size_t n = strlen(exe), slen = strlen(DELETED_SUFFIX);
	char path[sizeof(((struct proc_info *)0)->exe)];

	/* No FNM_PATHNAME: a star also matches '/', so one glob covers every install prefix. */
	if (!exe[0])
		return false; /* kernel threads never match, not even "*" */
	if (!fnmatch(glob, exe, 0))
		return true;
	/* A binary replaced by an upgrade while running reads "PATH (deleted)". */
	if (n <= slen || strcmp(exe + n - slen, DELETED_SUFFIX) != 0)
		return false;
	memcpy(path, exe, n - slen);
	path[n - slen] = '\0';
	return !fnmatch(glob, path, 0);
}

/* Any of the process's cgroups, in the v2 tree or any v1 hierarchy: the kernel selects a
 * process when one of them matches (bpf/process.bpf.c), and a /proc scan must agree with
 * it, or a SIGHUP would unselect what the kernel selected. */
static bool cgroup_matches(const char *glob, const struct proc_info *p)
{
	if (p->cgroup[0] && !fnmatch(glob, p->cgroup, 0))
		return true;
	if (p->cgroup_v1[0] && !fnmatch(glob, p->cgroup_v1, 0))
		return true;
	for (const char *s = p->cgroup_v1_all; *s; s += strlen(s) + 1)
		if (!fnmatch(glob, s, 0))
			return true;
	return false;
}

static bool rule_matches(const struct select_rule *r, const struct proc_info *p,
			 const uint16_t *ports, size_t n_ports)
{
	switch (r->kind) {
	case SELECT_PID:
		return p->tgid == r->num;
	case SELECT_COMM:
		return selection_comm_matches(r->text, p->comm);
	case SELECT_EXE:
		return exe_matches(r->text, p->exe);
	case SELECT_PORT:
		for (size_t i = 0; i < n_ports; i++)
			if (ports[i] == r->num)
				return true;
		return false;
	case SELECT_CGROUP:
		/* the v1 trees too: on a hybrid host the containers live there */
		return cgroup_matches(r->text, p);
	}
	return false;
}

bool selection_match(const struct select_rule *rules, size_t n_rules, const struct proc_info *p,
		     const uint16_t *ports, size_t n_ports)
{
	if (!p)
		return false;
	if (!ports)
		n_ports = 0;
	for (size_t i = 0; i < n_rules; i++)
		if (rule_matches(&rules[i], p, ports, n_ports))
			return true;
	return false;
}

bool selection_has_port_rules(const struct select_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rules[i].kind == SELECT_PORT)
			return true;
	return false;
}

bool selection_none_by_comm(const struct select_rule *rules, size_t n, uint32_t tgid,
			    const char *comm)
{
	for (size_t i = 0; i < n; i++) {
		if (rules[i].kind == SELECT_PID && rules[i].num != tgid)
			continue;
		if (rules[i].kind == SELECT_COMM && !selection_comm_matches(rules[i].text, comm))
			continue;
		return false; /* it names the process, or needs /proc to say */
	}
	return true;
}

bool selection_has_cgroup_rules(const struct select_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rules[i].kind == SELECT_CGROUP)
			return true;
	return false;
}
