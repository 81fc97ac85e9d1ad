/* SPDX-License-Identifier: GPL-2.0-only */
/* sonde's lifecycle: start every stage, run the event loop until a signal, stop in order. */
#ifndef SONDE_AGENT_H
#define SONDE_AGENT_H

#include "config/config.h"

/* Runs until SIGINT/SIGTERM. Returns the process exit code. */
int agent_run(const struct config *cfg);
/* --check: prints a table of what this kernel supports; returns 0 if the capture path
 * cfg->capture asks for works, else 1 (config_parse already refused a wrong configuration). */
int agent_check(const struct config *cfg);

#endif
