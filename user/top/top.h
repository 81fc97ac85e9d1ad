/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `sonde top`: a live terminal view of a running sonde, read from its /metrics. Per service
 * and route: requests/s, error % (5xx), p50/p99; per database operation: ops/s, errors/s,
 * p50/p99; refreshed every interval, sorted by rate. Plain ANSI escapes and termios, no
 * curses. When stdout is not a terminal, or with --once, one plain-text snapshot computed
 * from two scrapes one interval apart is printed instead.
 */
#ifndef SONDE_TOP_TOP_H
#define SONDE_TOP_TOP_H

#include <stdbool.h>
#include <stdio.h>

#define TOP_DEFAULT_URL "http://127.0.0.1:9464/metrics"

struct top_opts {
	const char *url;
	double interval; /* seconds between scrapes */
	bool once;
	const char *user;    /* --user: basic auth, password from below */
	char password[512];  /* --password-file's first line, else $SONDE_TOP_PASSWORD */
	const char *ca_file; /* --ca-file: PEM CAs for https */
	bool insecure;	     /* --insecure: https without verifying the certificate */
};

/*
 * Parses `top [options]` (argv[0] is "top"). Returns 0 to run, 1 after printing the usage
 * to out (--help), or -EINVAL after printing one line to err.
 */
int top_parse_args(int argc, char **argv, struct top_opts *o, FILE *out, FILE *err);

/* The command: exit code 0 (quit by q, Ctrl-C or a signal), 1 on failure, 2 on bad usage. */
int top_main(int argc, char **argv);

#endif
