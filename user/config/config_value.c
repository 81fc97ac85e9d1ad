// SPDX-License-Identifier: GPL-2.0-only
/*
 * The value of each option: parsed and checked the same way whether it comes from a flag,
 * a config file key or a routes file line, so the same words explain a refusal.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_value.h"
#include "config/options.h"
#include "events/filter.h"
#include "metrics/route.h"
#include "sonde_abi.h"

#define CAPTURE_BYTES_MIN 64
#define COMM_MAX (SONDE_COMM_LEN - 1) /* TASK_COMM_LEN 16 with its NUL */
#define VERBOSE_MAX 9

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Strict decimal: digits only, no sign, no spaces, no suffix; min..max inclusive. */
static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -ERANGE;
	}
	if (v < min)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

static int apply_number(uint32_t *field, int key, const char *value, uint32_t min, uint32_t max,
			struct config_diag *d)
{
	if (!parse_u32(value, min, max, field))
		return 0;
	if (max == UINT32_MAX)
		config_diag(d, option_name(key), "'%s' is not a number >= %u", value, min);
	else
		config_diag(d, option_name(key), "'%s' is not a number from %u to %u", value, min,
			    max);
	return -EINVAL;
}

static int apply_on_off(bool *field, int key, const char *value, struct config_diag *d)
{
	if (!strcmp(value, "on") || !strcmp(value, "off")) {
		*field = value[1] == 'n';
		return 0;
	}
	config_diag(d, option_name(key), "'%s' is neither on nor off", value);
	return -EINVAL;
}

int config_append_rule(struct config *cfg, const struct select_rule *rule)
{
	struct select_rule *r = realloc(cfg->rules, (cfg->n_rules + 1) * sizeof(*r));

	if (!r)
		return -ENOMEM;
	r[cfg->n_rules++] = *rule;
	cfg->rules = r;
	return 0;
}

/* Takes ownership of route (freed on failure). */
int config_append_route(struct config *cfg, char *route)
{
	char **r = route ? realloc(cfg->routes, (cfg->n_routes + 1) * sizeof(*r)) : NULL;

	if (!r) {
		free(route);
		return -ENOMEM;
	}
	r[cfg->n_routes++] = route;
	cfg->routes = r;
	return 0;
}

static bool counter_name_taken(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_counters; i++)
		if (!strcmp(cfg->counters[i].name, name))
			return true;
	return false;
}

const char *counter_status_text(const struct counter_rule *rule, char *buf)
{
	if (rule->status)
		snprintf(buf, 4, "%03u", (unsigned)rule->status % 1000);
	else if (rule->status_class)
		snprintf(buf, 4, "%cxx", '0' + rule->status_class % 10);
	else
		strcpy(buf, "*");
	return buf;
}

/* Two families of one name would not register: the second rule could never count. */
int config_add_counter(struct config *cfg, const struct counter_rule *rule, struct config_diag *d)
{
	struct counter_rule *r;
	char status[4];

	if (counter_name_taken(cfg, rule->name)) {
		config_diag(d, "counter", "'%s %s %s %s': name '%s' is taken by another rule",
			    rule->name, rule->method, rule->route,
			    counter_status_text(rule, status), rule->name);
		return -EINVAL;
	}
	r = realloc(cfg->counters, (cfg->n_counters + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	r[cfg->n_counters++] = *rule;
	cfg->counters = r;
	return 0;
}

/* exe= and cgroup= globs are matched against absolute paths; anything else never matches. */
static int check_glob(const char *rule, const char *kind, const char *glob, struct config_diag *d)
{
	if (!*glob) {
		config_diag(d, "select", "'%s': %s needs a glob", rule, kind);
		return -EINVAL;
	}
	if (!strchr("/*?[", glob[0])) {
		config_diag(d, "select",
			    "'%s': %s matches the full path: start the glob with '/' or '*'", rule,
			    kind);
		return -EINVAL;
	}
	if (strlen(glob) >= SELECT_TEXT_MAX) {
		config_diag(d, "select", "'%s': %s glob is longer than %d characters", rule, kind,
			    SELECT_TEXT_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

static int parse_select_value(struct select_rule *r, const char *rule, const char *arg,
			      struct config_diag *d)
{
	size_t len = strlen(arg);

	switch (r->kind) {
	case SELECT_PID:
		/* pid_max is at most 4194304 (PID_MAX_LIMIT), so pids stay below it */
		if (!parse_u32(arg, 1, SONDE_TGID_MAX - 1, &r->num))
			return 0;
		config_diag(d, "select", "'%s': pid must be a number from 1 to %u", rule,
			    (unsigned)SONDE_TGID_MAX - 1);
		return -EINVAL;
	case SELECT_PORT:
		if (!parse_u32(arg, 1, 65535, &r->num))
			return 0;
		config_diag(d, "select", "'%s': port must be a number from 1 to 65535", rule);
		return -EINVAL;
	case SELECT_COMM:
		if (len == 0) {
			config_diag(d, "select", "'%s': comm needs a name of 1 to %d characters",
				    rule, COMM_MAX);
			return -EINVAL;
		}
		if (len > COMM_MAX) {
			config_diag(
				d, "select",
				"'%s': comm is %zu characters long but the kernel cuts comm at %d",
				rule, len, COMM_MAX);
			return -EINVAL;
		}
		break;
	case SELECT_EXE:
	case SELECT_CGROUP:
		if (check_glob(rule, select_kind_name(r->kind), arg, d))
			return -EINVAL;
		break;
	}
	memcpy(r->text, arg, len + 1);
	return 0;
}

static int parse_select(struct config *cfg, const char *rule, struct config_diag *d)
{
	const char *eq = strchr(rule, '=');
	struct select_rule r = { 0 };

	if (!eq || eq == rule) {
		config_diag(d, "select",
			    "'%s' is not KIND=VALUE (KIND: pid, comm, exe, port or cgroup)", rule);
		return -EINVAL;
	}
	if (select_kind_parse(rule, eq - rule, &r.kind)) {
		config_diag(
			d, "select",
			"'%s': unknown rule kind '%.*s' (expected pid, comm, exe, port or cgroup)",
			rule, (int)(eq - rule), rule);
		return -EINVAL;
	}
	if (parse_select_value(&r, rule, eq + 1, d))
		return -EINVAL;
	return config_append_rule(cfg, &r) ? config_nomem(d) : 0;
}

/* Numeric addresses only: a host name would need resolving, and could resolve to several. */
static int parse_listen(struct config *cfg, const char *value, struct config_diag *d)
{
	char host[sizeof(cfg->listen_host)], probe[16];
	const char *hs = value, *he, *port;
	int family = AF_INET6;
	uint32_t num;

	if (value[0] == '[') {
		hs = value + 1;
		he = strchr(hs, ']');
		if (!he) {
			config_diag(d, "listen", "'%s': missing ']' after the IPv6 address", value);
			return -EINVAL;
		}
		if (he[1] != ':') {
			config_diag(d, "listen", "'%s': expected ':PORT' after ']'", value);
			return -EINVAL;
		}
		port = he + 2;
	} else {
		he = strrchr(value, ':');
		if (!he) {
			config_diag(d, "listen",
				    "'%s': missing ':PORT' (e.g. 127.0.0.1:9464 or :9464)", value);
			return -EINVAL;
		}
		if (memchr(value, ':', he - value)) {
			config_diag(d, "listen",
				    "'%s': put an IPv6 address in brackets, e.g. [::1]:9464",
				    value);
			return -EINVAL;
		}
		family = AF_INET;
		port = he + 1;
	}
	if (family == AF_INET && he == hs) {
		strcpy(host, "0.0.0.0"); /* ":9464": every IPv4 address */
	} else if ((size_t)(he - hs) < sizeof(host)) {
		memcpy(host, hs, he - hs);
		host[he - hs] = '\0';
	} else {
		host[0] = '\0'; /* too long to be numeric: inet_pton refuses it */
	}
	if (inet_pton(family, host, probe) != 1) {
		config_diag(d, "listen", "'%s': '%.*s' is not a numeric %s address", value,
			    (int)(he - hs), hs, family == AF_INET ? "IPv4" : "IPv6");
		return -EINVAL;
	}
	if (parse_u32(port, 0, 65535, &num)) {
		config_diag(d, "listen", "'%s': port must be a number from 0 to 65535", value);
		return -EINVAL;
	}
	strcpy(cfg->listen_host, host);
	cfg->listen_port = (uint16_t)num;
	return 0;
}

/* route.c's own check, so a pattern sonde starts with is one the route table accepts. */
int config_add_route(struct config *cfg, const char *key, const char *route, struct config_diag *d)
{
	char why[256];

	if (!route_pattern_valid(route, why, sizeof(why))) {
		config_diag(d, key, "'%s': %s", route, why);
		return -EINVAL;
	}
	return config_append_route(cfg, strdup(route)) ? config_nomem(d) : 0;
}

/* ---- --counter NAME METHOD ROUTE STATUS ---------------------------------------------- */

/* The methods http_request_method carries as themselves (telemetry.c); others are _OTHER. */
static const char *const counter_methods[] = { "GET",	  "HEAD",    "POST",  "PUT",   "DELETE",
					       "CONNECT", "OPTIONS", "TRACE", "PATCH", "*" };
/* sonde's own families start so: a business counter there could take one's name. */
static const char *const reserved_prefixes[] = { "sonde_", "http_", "db_" };

struct word {
	const char *s;
	int len;
};

/* Splits s at runs of blanks; returns the number of words, or max + 1 when there are more. */
static size_t split_words(const char *s, struct word *w, size_t max)
{
	size_t n = 0;

	for (;;) {
		s += strspn(s, " \t");
		if (!*s)
			return n;
		if (n == max)
			return max + 1;
		w[n].s = s;
		w[n].len = (int)strcspn(s, " \t");
		s += w[n].len;
		n++;
	}
}

static bool metric_name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

static int counter_name(struct counter_rule *r, const char *rule, struct word w,
			struct config_diag *d)
{
	size_t i;

	if (w.len > COUNTER_NAME_MAX) {
		config_diag(d, "counter", "'%s': name is %d characters long, more than %d", rule,
			    w.len, COUNTER_NAME_MAX);
		return -EINVAL;
	}
	for (i = 0; i < (size_t)w.len; i++) {
		if (!metric_name_char(w.s[i], i == 0)) {
			config_diag(d, "counter",
				    "'%s': name '%.*s' is not a metric name "
				    "([a-zA-Z_:][a-zA-Z0-9_:]*)",
				    rule, w.len, w.s);
			return -EINVAL;
		}
	}
	for (i = 0; i < ARRAY_SIZE(reserved_prefixes); i++) {
		if (!strncmp(w.s, reserved_prefixes[i], strlen(reserved_prefixes[i]))) {
			config_diag(d, "counter",
				    "'%s': name '%.*s' starts with '%s', kept for sonde's own "
				    "metrics",
				    rule, w.len, w.s, reserved_prefixes[i]);
			return -EINVAL;
		}
	}
	memcpy(r->name, w.s, w.len);
	return 0;
}

static int counter_method(struct counter_rule *r, const char *rule, struct word w,
			  struct config_diag *d)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(counter_methods); i++) {
		if (strlen(counter_methods[i]) == (size_t)w.len &&
		    !strncmp(counter_methods[i], w.s, w.len)) {
			strcpy(r->method, counter_methods[i]);
			return 0;
		}
	}
	config_diag(d, "counter",
		    "'%s': method '%.*s' is not one of GET, HEAD, POST, PUT, DELETE, CONNECT, "
		    "OPTIONS, TRACE, PATCH or *",
		    rule, w.len, w.s);
	return -EINVAL;
}

/* The route is compared with http_route, which only a pattern route.c accepts can be. */
static int counter_route(struct counter_rule *r, const char *rule, struct word w,
			 struct config_diag *d)
{
	char why[256];

	if ((size_t)w.len < sizeof(r->route)) {
		memcpy(r->route, w.s, w.len);
		if (route_pattern_valid(r->route, why, sizeof(why)))
			return 0;
	} else {
		snprintf(why, sizeof(why), "longer than %zu bytes", sizeof(r->route) - 1);
	}
	config_diag(d, "counter", "'%s': route '%.*s': %s", rule, w.len, w.s, why);
	return -EINVAL;
}

static int counter_status(struct counter_rule *r, const char *rule, struct word w,
			  struct config_diag *d)
{
	char text[4];
	uint32_t code;

	if (w.len == 1 && w.s[0] == '*')
		return 0;
	if (w.len == 3) {
		memcpy(text, w.s, 3);
		text[3] = '\0';
		if (text[0] >= '1' && text[0] <= '5' && !strcmp(text + 1, "xx")) {
			r->status_class = (uint8_t)(text[0] - '0');
			return 0;
		}
		if (!parse_u32(text, 100, 599, &code)) {
			r->status = (uint16_t)code;
			return 0;
		}
	}
	config_diag(d, "counter",
		    "'%s': status '%.*s' is not a code from 100 to 599, a class 1xx to 5xx, or *",
		    rule, w.len, w.s);
	return -EINVAL;
}

/* Every bad part of the rule is reported, each on its own line. */
static int parse_counter(struct config *cfg, const char *rule, struct config_diag *d)
{
	struct word w[4];
	struct counter_rule r;
	int bad = 0;

	if (split_words(rule, w, 4) != 4) {
		config_diag(d, "counter",
			    "'%s' is not NAME METHOD ROUTE STATUS, e.g. 'orders_created_total POST "
			    "/api/v1/orders 201'",
			    rule);
		return -EINVAL;
	}
	memset(&r, 0, sizeof(r));
	bad |= counter_name(&r, rule, w[0], d);
	bad |= counter_method(&r, rule, w[1], d);
	bad |= counter_route(&r, rule, w[2], d);
	bad |= counter_status(&r, rule, w[3], d);
	if (bad)
		return -EINVAL;
	if (counter_name_taken(cfg, r.name)) { /* said here to quote the rule as written */
		config_diag(d, "counter", "'%s': name '%s' is taken by another rule", rule, r.name);
		return -EINVAL;
	}
	return config_add_counter(cfg, &r, d) == -ENOMEM ? config_nomem(d) : 0;
}

static int copy_path(char *dst, size_t size, int key, const char *dir, size_t dir_len,
		     const char *path, struct config_diag *d)
{
	if (!*path) {
		config_diag(d, option_name(key), "needs a file name");
		return -EINVAL;
	}
	if (dir_len + strlen(path) >= size) {
		config_diag(d, option_name(key), "'%s' is longer than %zu characters", path,
			    size - 1);
		return -EINVAL;
	}
	if (dir_len) /* dir is NULL for a flag: memcpy(dst, NULL, 0) is undefined */
		memcpy(dst, dir, dir_len);
	strcpy(dst + dir_len, path);
	return 0;
}

/* A relative routes-file (web-config) in a config file is relative to that file, not to
 * sonde's cwd. */
static int apply_relative_path(char *dst, size_t size, int key, const char *path,
			       struct config_diag *d)
{
	const char *slash = d->what ? strrchr(d->file, '/') : NULL;
	size_t dir_len = slash && path[0] != '/' ? (size_t)(slash - d->file) + 1 : 0;

	return copy_path(dst, size, key, d->file, dir_len, path, d);
}

static int apply_events_filter(struct config *cfg, const char *value, struct config_diag *d)
{
	struct events_filter f;
	char why[128];

	if (events_filter_parse(&f, value, why, sizeof(why))) {
		config_diag(d, "events-filter", "'%s': %s", value, why);
		return -EINVAL;
	}
	if (strlen(value) >= sizeof(cfg->events_filter)) {
		config_diag(d, "events-filter", "longer than %zu characters",
			    sizeof(cfg->events_filter) - 1);
		return -EINVAL;
	}
	strcpy(cfg->events_filter, value);
	return 0;
}

static int apply_ringbuf_bytes(struct config *cfg, const char *value, struct config_diag *d)
{
	uint32_t n;

	if (!parse_u32(value, RINGBUF_BYTES_MIN, RINGBUF_BYTES_MAX, &n) && !(n & (n - 1))) {
		cfg->ringbuf_bytes = n;
		return 0;
	}
	config_diag(d, option_name(OPT_RINGBUF_BYTES),
		    "'%s' is not a power of two from %u to %u (e.g. 65536)", value,
		    RINGBUF_BYTES_MIN, RINGBUF_BYTES_MAX);
	return -EINVAL;
}

static int apply_capture(struct config *cfg, const char *value, struct config_diag *d)
{
	if (!capture_mode_parse(value, &cfg->capture))
		return 0;
	config_diag(d, "capture", "'%s' is not one of auto, socket, syscalls", value);
	return -EINVAL;
}

/* The one validator behind both flags and file keys. 0, -EINVAL (reported) or -ENOMEM. */
int config_apply(struct config *cfg, int key, const char *value, struct config_diag *d)
{
	uint32_t n;

	switch (key) {
	case OPT_SELECT:
		return parse_select(cfg, value, d);
	case OPT_LISTEN:
		return parse_listen(cfg, value, d);
	case OPT_ROUTE:
		return config_add_route(cfg, "route", value, d);
	case OPT_ROUTES_FILE:
		return apply_relative_path(cfg->routes_file, sizeof(cfg->routes_file), key, value,
					   d);
	case OPT_WEB_CONFIG:
		return apply_relative_path(cfg->web_config, sizeof(cfg->web_config), key, value, d);
	case OPT_COUNTER:
		return parse_counter(cfg, value, d);
	case OPT_CAPTURE:
		return apply_capture(cfg, value, d);
	case OPT_CAPTURE_BYTES:
		return apply_number(&cfg->capture_bytes, key, value, CAPTURE_BYTES_MIN,
				    SONDE_CAPTURE_MAX, d);
	case OPT_RINGBUF_BYTES:
		return apply_ringbuf_bytes(cfg, value, d);
	case OPT_ROUTE_CAP:
		return apply_number(&cfg->route_cap, key, value, 1, UINT32_MAX, d);
	case OPT_MAX_SERIES:
		return apply_number(&cfg->max_series, key, value, 1, UINT32_MAX, d);
	case OPT_TCP_HEALTH:
		return apply_on_off(&cfg->tcp_health, key, value, d);
	case OPT_EVENTS:
		return copy_path(cfg->events_file, sizeof(cfg->events_file), key, "", 0, value, d);
	case OPT_EVENTS_FILTER:
		return apply_events_filter(cfg, value, d);
	case OPT_EVENTS_PATH: /* only a config file gives it a value */
		return apply_on_off(&cfg->events_path, key, value, d);
	case OPT_K8S_LABELS:
		return apply_on_off(&cfg->k8s_labels, key, value, d);
	case OPT_SERIES_GRACE:
		return apply_number(&cfg->series_grace, key, value, 0, 86400, d);
	case OPT_CONFIG:
		return copy_path(cfg->config_file, sizeof(cfg->config_file), key, "", 0, value, d);
	case OPT_VERBOSE: /* only a config file gives verbose a value */
		if (apply_number(&n, key, value, 0, VERBOSE_MAX, d))
			return -EINVAL;
		cfg->verbose = (int)n;
		return 0;
	}
	return -EINVAL;
}
