// SPDX-License-Identifier: GPL-2.0-only
/* sonde: eBPF zero-instrumentation RED metrics for HTTP, PostgreSQL and Redis. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config/config.h"
#include "config/env_args.h"
#include "util/log.h"
#include "top/top.h"

/*
 * Scrapes run on MHD's connection threads, each with its own malloc arena. Freeing a block
 * over the mmap threshold (a gzip answer of a few hundred kB) makes glibc raise that
 * threshold and the arena's trim threshold to twice it, so every arena keeps about 1 MB
 * once scraped (8 concurrent scrapes: anonymous RSS 6.3 MiB, 4.9 with this). Fixing the
 * threshold turns that adjustment off: arenas give back what is free above 128 KiB.
 */
static void malloc_setup(void)
{
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

int main(int argc, char **argv)
{
	struct config cfg;
	int err, code, n;
	char **args;

	if (argc > 1 && !strcmp(argv[1], "top"))
		return top_main(argc - 1, argv + 1);
	args = env_args(argc, argv, getenv, &n); /* SONDE_* variables, then the flags */
	if (!args) {
		perror("sonde");
		return 1;
	}
	err = config_parse(&cfg, n, args, stderr);
	if (err) {
		config_free(&cfg);
		free_env_args(args);
		return err > 0 ? 0 : 2;
	}
	log_set_verbosity(cfg.verbose);
	malloc_setup();
	code = cfg.check ? agent_check(&cfg) : agent_run(&cfg, n, args);
	config_free(&cfg);
	free_env_args(args);
	return code;
}
