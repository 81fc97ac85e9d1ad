/* SPDX-License-Identifier: GPL-2.0-only */
/* sonde's lifecycle: start every stage, run the event loop until a signal, stop in order. */
#ifndef SONDE_AGENT_H
#define SONDE_AGENT_H

#include "config/config.h"

/* Runs until SIGINT/SIGTERM. Returns the process exit code. On SIGHUP, parses argc/argv
 * again (with the files they name) and applies what can change to cfg (config_reload_merge). */
int agent_run(struct config *cfg, int argc, char **argv);
/* --check: prints a table of what this kernel supports; returns 0 if the capture path
 * cfg->capture asks for works, else 1 (config_parse already refused a wrong configuration). */
int agent_check(const struct config *cfg);

#endif
