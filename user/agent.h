/* SPDX-License-Identifier: GPL-2.0-only */
/* sonde's lifecycle: start every stage, run the event loop until a signal, stop in order. */
#ifndef SONDE_AGENT_H
#define SONDE_AGENT_H

#include "config/config.h"

/* Runs until SIGINT/SIGTERM. Returns the process exit code. */
int agent_run(const struct config *cfg);
/* --check: probes the kernel, prints a table, returns 0 only if a capture path works. */
int agent_check(const struct config *cfg);

#endif
