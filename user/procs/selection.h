/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which processes the selection rules pick: pure functions of a proc_info (procfs.h), so
 * every rule kind is tested without a /proc.
 */
#ifndef SONDE_PROCS_SELECTION_H
#define SONDE_PROCS_SELECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "procs/procfs.h"

/*
 * True if any rule selects p. ports/n_ports are p's listening ports, read once per scan by
 * the caller and only when selection_has_port_rules() (NULL/0 otherwise).
 */
bool selection_match(const struct select_rule *rules, size_t n_rules, const struct proc_info *p,
		     const uint16_t *ports, size_t n_ports);
bool selection_has_port_rules(const struct select_rule *rules, size_t n);
/* cgroup= rules are also decided in the kernel (kernel/loader.h, loader_set_cgroup_rules). */
bool selection_has_cgroup_rules(const struct select_rule *rules, size_t n);

/* True if no rule can select the process tgid whose comm is comm, whatever /proc would say
 * of it: every rule is a pid= or comm= rule and none names it. An exec on the node is then
 * decided without reading /proc. */
bool selection_none_by_comm(const struct select_rule *rules, size_t n, uint32_t tgid,
			    const char *comm);

/* Whether a comm= rule names this comm: the kernel cuts comms to 15 bytes, so a longer
 * rule matches the comm it was cut to. */
bool selection_comm_matches(const char *rule, const char *comm);

#endif
