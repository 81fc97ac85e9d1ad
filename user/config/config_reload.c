// SPDX-License-Identifier: GPL-2.0-only
/*
 * SIGHUP: the configuration read again (same command line, the files as they are now),
 * compared with the one running, and the keys that can change without a restart moved
 * over. The rest keep their old value and are reported: they are bound to what was set up
 * at start (the listening socket, the BPF programs and their read-only data, the metric
 * families and their label sets).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	unsigned bit;
	const char *name;
} key_names[] = {
	{ CFG_SELECT, "select" },
	{ CFG_ROUTES, "route" },
	{ CFG_ROUTE_CAP, "route-cap" },
	{ CFG_EVENTS_FILTER, "events-filter" },
	{ CFG_EVENTS_PATH, "events-path" },
	{ CFG_SERIES_GRACE, "series-grace" },
	{ CFG_VERBOSE, "verbose" },
	{ CFG_LISTEN, "listen" },
	{ CFG_CAPTURE, "capture" },
	{ CFG_CAPTURE_BYTES, "capture-bytes" },
	{ CFG_MAX_SERIES, "max-series" },
	{ CFG_TCP_HEALTH, "tcp-health" },
	{ CFG_EVENTS, "events" },
	{ CFG_K8S_LABELS, "k8s-labels" },
	{ CFG_COUNTER, "counter" },
	{ CFG_WEB_CONFIG, "web-config" },
	{ CFG_RINGBUF_BYTES, "ringbuf-bytes" },
};

const char *config_key_name(unsigned bit)
{
	for (size_t i = 0; i < ARRAY_SIZE(key_names); i++)
		if (key_names[i].bit == bit)
			return key_names[i].name;
	return "?";
}

size_t config_keys_text(unsigned bits, char *buf, size_t size)
{
	size_t len = 0;

	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(key_names) && size; i++) {
		int n;

		if (!(bits & key_names[i].bit))
			continue;
		n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", key_names[i].name);
		if (n < 0 || (size_t)n >= size - len)
			return size - 1; /* cut: the names are for a log line */
		len += (size_t)n;
	}
	return len;
}

static bool rules_equal(const struct config *a, const struct config *b)
{
	if (a->n_rules != b->n_rules)
		return false;
	for (size_t i = 0; i < a->n_rules; i++)
		if (a->rules[i].kind != b->rules[i].kind || a->rules[i].num != b->rules[i].num ||
		    strcmp(a->rules[i].text, b->rules[i].text))
			return false;
	return true;
}

static bool routes_equal(const struct config *a, const struct config *b)
{
	if (a->n_routes != b->n_routes || strcmp(a->routes_file, b->routes_file))
		return false;
	for (size_t i = 0; i < a->n_routes; i++)
		if (strcmp(a->routes[i], b->routes[i]))
			return false;
	return true;
}

static bool counters_equal(const struct config *a, const struct config *b)
{
	/* the rules are zeroed before they are filled: padding compares too */
	return a->n_counters == b->n_counters &&
	       (!a->n_counters ||
		!memcmp(a->counters, b->counters, a->n_counters * sizeof(*a->counters)));
}

unsigned config_changed_keys(const struct config *a, const struct config *b)
{
	unsigned c = 0;

	c |= rules_equal(a, b) ? 0 : CFG_SELECT;
	c |= routes_equal(a, b) ? 0 : CFG_ROUTES;
	c |= a->route_cap != b->route_cap ? CFG_ROUTE_CAP : 0;
	c |= strcmp(a->events_filter, b->events_filter) ? CFG_EVENTS_FILTER : 0;
	c |= a->events_path != b->events_path ? CFG_EVENTS_PATH : 0;
	c |= a->series_grace != b->series_grace ? CFG_SERIES_GRACE : 0;
	c |= a->verbose != b->verbose ? CFG_VERBOSE : 0;
	c |= strcmp(a->listen_host, b->listen_host) || a->listen_port != b->listen_port ? CFG_LISTEN
											: 0;
	c |= a->capture != b->capture ? CFG_CAPTURE : 0;
	c |= a->capture_bytes != b->capture_bytes ? CFG_CAPTURE_BYTES : 0;
	c |= a->ringbuf_bytes != b->ringbuf_bytes ? CFG_RINGBUF_BYTES : 0;
	c |= a->max_series != b->max_series ? CFG_MAX_SERIES : 0;
	c |= a->tcp_health != b->tcp_health ? CFG_TCP_HEALTH : 0;
	c |= strcmp(a->events_file, b->events_file) ? CFG_EVENTS : 0;
	c |= a->k8s_labels != b->k8s_labels ? CFG_K8S_LABELS : 0;
	c |= counters_equal(a, b) ? 0 : CFG_COUNTER;
	c |= strcmp(a->web_config, b->web_config) ? CFG_WEB_CONFIG : 0;
	return c;
}

#define SWAP(a, b)                             \
	do {                                   \
		__typeof__(a) swap_tmp_ = (a); \
		(a) = (b);                     \
		(b) = swap_tmp_;               \
	} while (0)

void config_reload_merge(struct config *live, struct config *next, struct config_reload *r)
{
	unsigned c = config_changed_keys(live, next);

	r->changed = c & CFG_RELOADABLE;
	r->refused = c & ~CFG_RELOADABLE;
	if (c & CFG_SELECT) {
		SWAP(live->rules, next->rules);
		SWAP(live->n_rules, next->n_rules);
	}
	if (c & CFG_ROUTES) {
		SWAP(live->routes, next->routes);
		SWAP(live->n_routes, next->n_routes);
		memcpy(live->routes_file, next->routes_file, sizeof(live->routes_file));
	}
	if (c & CFG_ROUTE_CAP)
		live->route_cap = next->route_cap;
	if (c & CFG_EVENTS_FILTER)
		memcpy(live->events_filter, next->events_filter, sizeof(live->events_filter));
	if (c & CFG_EVENTS_PATH)
		live->events_path = next->events_path;
	if (c & CFG_SERIES_GRACE)
		live->series_grace = next->series_grace;
	if (c & CFG_VERBOSE)
		live->verbose = next->verbose;
}

/* "sonde: config FILE:LINE: KEY: MESSAGE" lines: the first, less its "sonde: " (the log
 * adds its own), and how many followed it. */
static void first_error(const char *text, size_t len, char *out, size_t size)
{
	const char *line = text, *end = memchr(text, '\n', len);
	size_t n = end ? (size_t)(end - text) : len, lines = 0;

	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	lines += text[len - 1] != '\n';
	if (n >= 7 && !memcmp(line, "sonde: ", 7)) {
		line += 7;
		n -= 7;
	}
	if (lines > 1)
		snprintf(out, size, "%.*s (and %zu more error%s)", (int)n, line, lines - 1,
			 lines > 2 ? "s" : "");
	else
		snprintf(out, size, "%.*s", (int)n, line);
}

int config_reload_parse(struct config *next, int argc, char **argv, char *why, size_t whylen)
{
	char *text = NULL;
	size_t len = 0;
	FILE *errs = open_memstream(&text, &len);
	int err;

	if (!errs) {
		memset(next, 0, sizeof(*next));
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	err = config_parse(next, argc, argv, errs);
	fclose(errs);
	if (err && len)
		first_error(text, len, why, whylen);
	else if (err)
		snprintf(why, whylen, "%s", strerror(err < 0 ? -err : EINVAL));
	free(text);
	if (err > 0) { /* --help and the like cannot be in argv: it ran */
		config_free(next);
		return -EINVAL;
	}
	return err;
}
