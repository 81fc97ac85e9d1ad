/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared by config.c (command line and file syntax) and config_value.c (each option's
 * value); not an API: everything else uses config.h.
 */
#ifndef SONDE_CONFIG_INTERNAL_H
#define SONDE_CONFIG_INTERNAL_H

#include <stdio.h>

#include "config/config.h"

enum opt_key {
	OPT_CONFIG = 'c',
	OPT_HELP = 'h',
	OPT_VERBOSE = 'v',
	OPT_VERSION = 'V',
	OPT_SELECT = 0x100, /* long-only options: keys outside the printable range */
	OPT_LISTEN,
	OPT_ROUTE,
	OPT_ROUTES_FILE,
	OPT_CAPTURE,
	OPT_CAPTURE_BYTES,
	OPT_ROUTE_CAP,
	OPT_MAX_SERIES,
	OPT_COUNTER,
	OPT_CHECK,
	OPT_USAGE,
};

/* Where a value came from, for messages: the command line, a config file or a routes file. */
struct config_diag {
	FILE *out;
	const char *what; /* "config" or "routes file"; NULL on the command line */
	const char *file;
	unsigned line;
	int errors;
};

/* Prints "sonde: [WHAT FILE:LINE: ][--]KEY: MESSAGE" and counts the error. */
__attribute__((format(printf, 3, 4))) void config_diag(struct config_diag *d, const char *key,
						       const char *fmt, ...);
/* Prints "sonde: out of memory"; returns -ENOMEM. */
int config_nomem(struct config_diag *d);
/* The long name of an option key ("select"), "?" if none. */
const char *config_option_name(int key);
/* Checks value and stores it in cfg (repeatables are appended): 0, -EINVAL (reported) or
 * -ENOMEM. key is an enum opt_key; OPT_VERBOSE takes a level, as in a config file. */
int config_apply(struct config *cfg, int key, const char *value, struct config_diag *d);
/* Checks one route pattern and appends a copy: 0, -EINVAL (reported) or -ENOMEM. */
int config_add_route(struct config *cfg, const char *key, const char *route, struct config_diag *d);
int config_append_rule(struct config *cfg, const struct select_rule *rule);
/* Appends rule unless its name is taken (reported): 0, -EINVAL or -ENOMEM (not reported). */
int config_add_counter(struct config *cfg, const struct counter_rule *rule, struct config_diag *d);
/* Takes ownership of route, freeing it on failure. 0 or -ENOMEM. */
int config_append_route(struct config *cfg, char *route);

#endif
