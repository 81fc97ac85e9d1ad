// SPDX-License-Identifier: GPL-2.0-only
/*
 * Command line (argp) and config file syntax: which option a word or line sets, in what
 * order; options.c names the options, config_value.c checks the values. The file is
 * read after the flags and the flags are then laid over it, so a flag wins over a key.
 * argp runs with ARGP_NO_EXIT|ARGP_NO_ERRS|ARGP_NO_HELP: nothing here calls exit() and every
 * message goes to the caller's errout (the tests parse in-process), so --help, --version
 * and getopt's errors are handled by this file rather than by argp's defaults.
 */
#include <argp.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_value.h"
#include "config/options.h"
#include "http/webconfig.h"
#include "sonde_abi.h"
#include "util/version.h"

#define DEFAULT_LISTEN_HOST "0.0.0.0"
#define DEFAULT_LISTEN_PORT 9464
#define DEFAULT_ROUTE_CAP 200
#define DEFAULT_MAX_SERIES 10000
#define DEFAULT_SERIES_GRACE 60

/* '#' starts a comment at the start of a line or after blank space (shell-like), so a
 * value may still contain '#'. Returns the trimmed rest. */
static char *clean_line(char *s)
{
	char *p, *end;

	for (p = s; *p; p++) {
		if (*p == '#' && (p == s || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	}
	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int apply_config_line(struct config *cfg, char *line, struct config_diag *d)
{
	char *s = clean_line(line), *eq, *key, *value;
	const struct argp_option *o;

	if (!*s)
		return 0;
	eq = strchr(s, '=');
	if (!eq) {
		config_diag(d, NULL, "missing '=' in '%s' (lines are key = value)", s);
		return -EINVAL;
	}
	*eq = '\0';
	key = clean_line(s);
	value = clean_line(eq + 1);
	if (!*key) {
		config_diag(d, NULL, "missing key before '= %s'", value);
		return -EINVAL;
	}
	o = option_by_name(key);
	if (!o) {
		config_diag(d, NULL, "unknown key '%s'", key);
		return -EINVAL;
	}
	if (option_command_line_only(o->key)) {
		config_diag(d, NULL, "'%s' is a command-line option, not a config file key", key);
		return -EINVAL;
	}
	return config_apply(cfg, o->key, value, d);
}

static int apply_route_line(struct config *cfg, char *line, struct config_diag *d)
{
	char *s = clean_line(line);

	return *s ? config_add_route(cfg, NULL, s, d) : 0;
}

typedef int apply_line_fn(struct config *cfg, char *line, struct config_diag *d);

static void read_failed(struct config_diag *d, const char *kind, const char *path, int err)
{
	fprintf(d->out, "sonde: cannot read %s '%s': %s\n", kind, path, strerror(err));
	d->errors++;
}

/*
 * Feeds each line of a config file or a routes file ("kind" in messages) to apply, so that
 * every bad line is reported. Returns -ENOMEM, else 0: errors are counted in d.
 */
static int read_lines(struct config *cfg, const char *kind, const char *path, apply_line_fn *apply,
		      struct config_diag *d)
{
	char *line = NULL;
	size_t cap = 0;
	int err = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		read_failed(d, kind, path, errno);
		return 0;
	}
	d->file = path;
	d->line = 0;
	while (err != -ENOMEM && getline(&line, &cap, f) != -1) {
		d->line++;
		err = apply(cfg, line, d);
	}
	if (err != -ENOMEM && ferror(f)) /* e.g. EISDIR: fopen() opens a directory */
		read_failed(d, kind, path, errno);
	free(line);
	fclose(f);
	return err == -ENOMEM ? err : 0;
}

/* The command line is parsed into its own config, then laid over the file's (see merge). */
struct cli {
	struct config cfg;
	unsigned set; /* set_bit(key) of each scalar option given */
	struct config_diag d;
	bool served; /* --help, --usage or --version printed */
	bool nomem;
};

static unsigned set_bit(int key)
{
	if (key >= OPT_SELECT)
		return 1u << (key - OPT_SELECT);
	return key == OPT_VERBOSE ? 1u << 31 : 0;
}

static bool describe_bad_long(const char *word, struct config_diag *d)
{
	const char *name = word + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct argp_option *match;
	int n;

	match = option_by_prefix(name, len, &n);
	if (n == 0)
		config_diag(d, NULL, "unknown option '--%.*s' (see --help)", (int)len, name);
	else if (n > 1)
		config_diag(d, NULL, "option '--%.*s' is ambiguous (see --help)", (int)len, name);
	else if (eq && !match->arg)
		config_diag(d, NULL, "option '--%s' takes no value", match->name);
	else if (!eq && match->arg)
		config_diag(d, NULL, "option '--%s' needs a value", match->name);
	else
		return false;
	return true;
}

static bool describe_bad_word(const char *word, struct config_diag *d)
{
	const struct argp_option *o;
	const char *p;

	if (word[0] != '-' || !word[1])
		return false;
	if (word[1] == '-')
		return word[2] && describe_bad_long(word, d);
	for (p = word + 1; *p; p++) {
		o = option_by_key((unsigned char)*p);
		if (!o) {
			config_diag(d, NULL, "unknown option '-%c' (see --help)", *p);
			return true;
		}
		if (o->arg) { /* the rest of the word, else the next word, is its value */
			if (p[1])
				return false;
			config_diag(d, NULL, "option '-%c' needs a value", *p);
			return true;
		}
	}
	return false;
}

/*
 * ARGP_NO_ERRS silences getopt, which leaves its index just past the word it refused
 * ("--foo", "-vx", "--select" without a value) or, inside a cluster like "-xv", on it.
 */
static void describe_getopt_error(struct argp_state *st, struct config_diag *d)
{
	if (st->next >= 2 && st->next - 1 < st->argc &&
	    describe_bad_word(st->argv[st->next - 1], d))
		return;
	if (st->next >= 1 && st->next < st->argc && describe_bad_word(st->argv[st->next], d))
		return;
	config_diag(d, NULL, "cannot parse the command line (see --help)");
}

static error_t serve(struct cli *c, struct argp_state *st, int key)
{
	if (key == OPT_VERSION)
		printf("sonde %s\n", sonde_version());
	else
		argp_help(st->root_argp, stdout,
			  key == OPT_HELP ? ARGP_HELP_STD_HELP : ARGP_HELP_USAGE, "sonde");
	fflush(stdout);
	c->served = true;
	return ECANCELED; /* stop parsing: the request is served whatever follows */
}

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
	struct cli *c = st->input;

	switch (key) {
	case OPT_HELP:
	case OPT_USAGE:
	case OPT_VERSION:
		return serve(c, st, key);
	case OPT_VERBOSE:
		c->cfg.verbose++;
		c->set |= set_bit(key);
		return 0;
	case OPT_CHECK:
		c->cfg.check = true;
		return 0;
	case OPT_EVENTS_PATH:
		c->cfg.events_path = true;
		c->set |= set_bit(key);
		return 0;
	case ARGP_KEY_ARG:
		config_diag(&c->d, NULL, "unexpected argument '%s' (options start with '--')", arg);
		return 0;
	case ARGP_KEY_ERROR:
		/* our options never fail but for these two: the rest is getopt's refusal */
		if (!c->served && !c->nomem)
			describe_getopt_error(st, &c->d);
		return 0;
	case OPT_SELECT:
	case OPT_LISTEN:
	case OPT_ROUTE:
	case OPT_ROUTES_FILE:
	case OPT_CAPTURE:
	case OPT_CAPTURE_BYTES:
	case OPT_RINGBUF_BYTES:
	case OPT_ROUTE_CAP:
	case OPT_MAX_SERIES:
	case OPT_COUNTER:
	case OPT_TCP_HEALTH:
	case OPT_EVENTS:
	case OPT_EVENTS_FILTER:
	case OPT_K8S_LABELS:
	case OPT_SERIES_GRACE:
	case OPT_WEB_CONFIG:
	case OPT_CONFIG:
		c->set |= set_bit(key);
		if (config_apply(&c->cfg, key, arg, &c->d) == -ENOMEM) {
			c->nomem = true;
			return ENOMEM;
		}
		return 0; /* keep going: report every bad flag at once */
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp argp = { option_table, parse_opt, NULL, option_doc, NULL, NULL, NULL };

static void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->listen_host, DEFAULT_LISTEN_HOST);
	cfg->listen_port = DEFAULT_LISTEN_PORT;
	cfg->capture = CAPTURE_AUTO;
	cfg->capture_bytes = SONDE_CAPTURE_DEFAULT;
	cfg->ringbuf_bytes = RINGBUF_BYTES_DEFAULT;
	cfg->route_cap = DEFAULT_ROUTE_CAP;
	cfg->max_series = DEFAULT_MAX_SERIES;
	cfg->tcp_health = true;
	cfg->series_grace = DEFAULT_SERIES_GRACE;
	strcpy(cfg->events_filter, "all");
}

/* Command-line scalars replace the file's; command-line rules, routes and counters follow the
 * file's. A counter name both give is reported (c->d counts it): 0 or -ENOMEM. */
static int merge_cli(struct config *cfg, struct cli *c)
{
	struct config *o = &c->cfg;
	size_t i;

	if (c->set & set_bit(OPT_LISTEN)) {
		strcpy(cfg->listen_host, o->listen_host);
		cfg->listen_port = o->listen_port;
	}
	if (c->set & set_bit(OPT_ROUTES_FILE))
		strcpy(cfg->routes_file, o->routes_file);
	if (c->set & set_bit(OPT_CAPTURE))
		cfg->capture = o->capture;
	if (c->set & set_bit(OPT_CAPTURE_BYTES))
		cfg->capture_bytes = o->capture_bytes;
	if (c->set & set_bit(OPT_RINGBUF_BYTES))
		cfg->ringbuf_bytes = o->ringbuf_bytes;
	if (c->set & set_bit(OPT_ROUTE_CAP))
		cfg->route_cap = o->route_cap;
	if (c->set & set_bit(OPT_MAX_SERIES))
		cfg->max_series = o->max_series;
	if (c->set & set_bit(OPT_TCP_HEALTH))
		cfg->tcp_health = o->tcp_health;
	if (c->set & set_bit(OPT_EVENTS))
		strcpy(cfg->events_file, o->events_file);
	if (c->set & set_bit(OPT_EVENTS_FILTER))
		strcpy(cfg->events_filter, o->events_filter);
	if (c->set & set_bit(OPT_EVENTS_PATH))
		cfg->events_path = o->events_path;
	if (c->set & set_bit(OPT_K8S_LABELS))
		cfg->k8s_labels = o->k8s_labels;
	if (c->set & set_bit(OPT_SERIES_GRACE))
		cfg->series_grace = o->series_grace;
	if (c->set & set_bit(OPT_WEB_CONFIG))
		strcpy(cfg->web_config, o->web_config);
	if (c->set & set_bit(OPT_VERBOSE))
		cfg->verbose = o->verbose;
	cfg->check = o->check;
	strcpy(cfg->config_file, o->config_file);
	for (i = 0; i < o->n_rules; i++)
		if (config_append_rule(cfg, &o->rules[i]))
			return -ENOMEM;
	for (i = 0; i < o->n_routes; i++) {
		char *route = o->routes[i];

		o->routes[i] = NULL; /* owned by cfg now, or freed by config_append_route */
		if (config_append_route(cfg, route))
			return -ENOMEM;
	}
	for (i = 0; i < o->n_counters; i++)
		if (config_add_counter(cfg, &o->counters[i], &c->d) == -ENOMEM)
			return -ENOMEM;
	return 0;
}

int config_parse(struct config *cfg, int argc, char **argv, FILE *errout)
{
	struct cli c = { .d = { .out = errout } };
	struct config_diag file_d = { .out = errout, .what = "config" };
	struct config_diag routes_d = { .out = errout, .what = "routes file" };
	int err;

	config_defaults(cfg);
	config_defaults(&c.cfg);
	err = argp_parse(&argp, argc, argv, ARGP_NO_EXIT | ARGP_NO_ERRS | ARGP_NO_HELP, NULL, &c);
	if (c.served) {
		err = 1;
		goto cleanup;
	}
	if (c.nomem) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (err && !c.d.errors) /* argp failed without telling us why */
		config_diag(&c.d, NULL, "cannot parse the command line: %s", strerror(err));
	/* Read the file even after a bad flag, so that one run reports every problem. */
	if (c.cfg.config_file[0])
		err = read_lines(cfg, "config file", c.cfg.config_file, apply_config_line, &file_d);
	else
		err = 0;
	if (!err)
		err = merge_cli(cfg, &c) ? config_nomem(&c.d) : 0;
	if (!err && cfg->routes_file[0])
		err = read_lines(cfg, "routes file", cfg->routes_file, apply_route_line, &routes_d);
	if (!err && c.d.errors + file_d.errors + routes_d.errors)
		err = -EINVAL;
	/* Last, so that its one line comes after any other error and only on a good config. */
	if (!err && cfg->web_config[0])
		err = webconfig_load(cfg->web_config, &cfg->web, errout);
cleanup:
	config_free(&c.cfg);
	if (err < 0)
		config_free(cfg);
	return err;
}

void config_free(struct config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_routes; i++)
		free(cfg->routes[i]);
	free(cfg->routes);
	free(cfg->rules);
	free(cfg->counters);
	cfg->routes = NULL;
	cfg->n_routes = 0;
	cfg->rules = NULL;
	cfg->n_rules = 0;
	cfg->counters = NULL;
	cfg->n_counters = 0;
	webconfig_free(cfg->web);
	cfg->web = NULL;
}
