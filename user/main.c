// SPDX-License-Identifier: GPL-2.0-only
/* sonde: eBPF zero-instrumentation RED metrics for HTTP, PostgreSQL and Redis. */
#include <stdio.h>

#include "agent.h"
#include "config.h"
#include "log.h"

int main(int argc, char **argv)
{
	struct config cfg;
	int err, code;

	err = config_parse(&cfg, argc, argv, stderr);
	if (err) {
		config_free(&cfg);
		return err > 0 ? 0 : 2;
	}
	log_set_verbosity(cfg.verbose);
	code = cfg.check ? agent_check(&cfg) : agent_run(&cfg);
	config_free(&cfg);
	return code;
}
