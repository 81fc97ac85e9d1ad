// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the config file (config.c: lines, keys; config_value.c: each value,
 * route patterns through route.c), as `sonde --config FILE` reads it.
 * Input: the config file, then optionally a NUL byte and the routes file: every file the
 * parser opens other than the config file (a routes-file key, relative or absolute) reads
 * those bytes. The target builds with -Dfopen=fuzz_fopen so that the parser never touches
 * the file system: a fuzzed "routes-file = /dev/zero" or a FIFO would hang the run.
 * Checked:
 *   - config_parse() returns 0, -EINVAL or -ENOMEM, never 1 (no --help from a file);
 *   - -EINVAL comes with at least one "sonde: " line and leaves no allocation in the
 *     config; 0 comes with no message;
 *   - a parsed config keeps every documented bound: strings terminated, route patterns
 *     valid, counter names unique and statuses in range, capture-bytes 64..16384,
 *     route-cap and max-series >= 1;
 *   - LeakSanitizer: nothing leaks, on success (after config_free) or on error.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I include -I user \
 *        -DSONDE_VERSION=\"fuzz\" -Dfopen=fuzz_fopen tests/fuzz/fuzz_config.c \
 *        user/config/config.c user/config/config_value.c user/config/options.c \
 *        user/metrics/route.c user/util/utf8.c user/util/version.c
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "metrics/route.h"
#include "sonde_abi.h"

#define CONF_PATH "/fuzz/sonde.conf"

static char conf[1 << 16], routes[1 << 16];
static size_t conf_len, routes_len;

/* Every fopen() of the parser: the config file, else the routes bytes. */
FILE *fuzz_fopen(const char *path, const char *mode)
{
	static char empty[1];
	bool is_conf = !strcmp(path, CONF_PATH);
	char *buf = is_conf ? conf : routes;
	size_t len = is_conf ? conf_len : routes_len;

	(void)mode;
	return len ? fmemopen(buf, len, "r") : fmemopen(empty, 1, "r");
}

static bool terminated(const char *s, size_t size)
{
	return strnlen(s, size) < size;
}

static void check_counters(const struct config *c)
{
	for (size_t i = 0; i < c->n_counters; i++) {
		const struct counter_rule *r = &c->counters[i];

		if (!terminated(r->name, sizeof(r->name)) || !r->name[0] ||
		    !terminated(r->method, sizeof(r->method)) ||
		    !terminated(r->route, sizeof(r->route)) ||
		    (r->status && (r->status < 100 || r->status > 599)) || r->status_class > 5 ||
		    (r->status && r->status_class))
			abort();
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->counters[j].name, r->name))
				abort();
	}
}

static void check_config(const struct config *c)
{
	if (!terminated(c->listen_host, sizeof(c->listen_host)) ||
	    !terminated(c->routes_file, sizeof(c->routes_file)) ||
	    !terminated(c->config_file, sizeof(c->config_file)) || c->capture > CAPTURE_SYSCALLS ||
	    c->capture_bytes < 64 || c->capture_bytes > SONDE_CAPTURE_MAX || !c->route_cap ||
	    !c->max_series || c->verbose < 0 || (c->n_rules && !c->rules) ||
	    (c->n_routes && !c->routes) || (c->n_counters && !c->counters))
		abort();
	for (size_t i = 0; i < c->n_rules; i++)
		if (c->rules[i].kind > SELECT_CGROUP ||
		    !terminated(c->rules[i].text, sizeof(c->rules[i].text)))
			abort();
	for (size_t i = 0; i < c->n_routes; i++)
		if (!c->routes[i] || !route_pattern_valid(c->routes[i], NULL, 0))
			abort();
	check_counters(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char errbuf[1 << 16];
	char arg0[] = "sonde", arg1[] = "--config", arg2[] = CONF_PATH;
	char *argv[] = { arg0, arg1, arg2, NULL };
	const uint8_t *nul = memchr(data, '\0', size);
	struct config cfg;
	FILE *errout;
	long errlen;
	int rc;

	if (size >= sizeof(conf))
		return 0;
	conf_len = nul ? (size_t)(nul - data) : size;
	routes_len = nul ? size - conf_len - 1 : 0;
	memcpy(conf, data, conf_len);
	memcpy(routes, data + conf_len + (nul != NULL), routes_len);

	errout = fmemopen(errbuf, sizeof(errbuf), "w");
	if (!errout)
		abort();
	rc = config_parse(&cfg, 3, argv, errout);
	errlen = ftell(errout);
	fclose(errout);
	if (rc == 0) {
		if (errlen != 0)
			abort();
		check_config(&cfg);
	} else if (rc == -EINVAL) {
		if (errlen < 8 || memcmp(errbuf, "sonde: ", 7) || cfg.rules || cfg.routes ||
		    cfg.counters || cfg.n_rules || cfg.n_routes || cfg.n_counters)
			abort();
	} else if (rc != -ENOMEM) {
		abort();
	}
	config_free(&cfg);
	return 0;
}
