/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The option table and the words around it: each option's name, key, value and help; the
 * names of the values --capture and --select take; how an error is worded. config.c (flags
 * and files) and config_value.c (each value) both use it; it calls neither.
 */
#ifndef SONDE_CONFIG_OPTIONS_H
#define SONDE_CONFIG_OPTIONS_H

#include <argp.h>
#include <stdbool.h>
#include <stddef.h>
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
	OPT_TCP_HEALTH,
	OPT_EVENTS,
	OPT_EVENTS_FILTER,
	OPT_EVENTS_PATH,
	OPT_K8S_LABELS,
	OPT_SERIES_GRACE,
	OPT_WEB_CONFIG,
	OPT_RINGBUF_BYTES,
};

/* argp's option table (ends with a zeroed entry) and the text --help prints after it. */
extern const struct argp_option option_table[];
extern const char option_doc[];

/* The long name of an option key ("select"), "?" if none. */
const char *option_name(int key);
/* The option whose long name is name, or whose short key is key; NULL if none. */
const struct argp_option *option_by_name(const char *name);
const struct argp_option *option_by_key(int key);
/*
 * The options whose long name starts with the len bytes of name, as getopt abbreviates:
 * returns the exact match if any (*n = 1), else the last of the *n prefix matches.
 */
const struct argp_option *option_by_prefix(const char *name, size_t len, int *n);
/* Options a config file may not set: --config, --check, --help, --usage, --version. */
bool option_command_line_only(int key);

/* "auto", "socket", "syscalls"; "unknown" for any other value. */
const char *capture_mode_name(enum capture_mode mode);
/* "pid", "comm", "exe", "port", "cgroup"; "unknown" for any other value. */
const char *select_kind_name(enum select_kind kind);
/* The mode named exactly value: 0, or -EINVAL. */
int capture_mode_parse(const char *value, enum capture_mode *mode);
/* The kind named by the len bytes of name: 0, or -EINVAL. */
int select_kind_parse(const char *name, size_t len, enum select_kind *kind);

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

#endif
