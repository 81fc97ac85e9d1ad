// SPDX-License-Identifier: GPL-2.0-only
/*
 * Command line (argp) and config file syntax; config_value.c checks the values. The file is
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
#include "config/config_internal.h"
#include "sonde_abi.h"
#include "util/version.h"

#define DEFAULT_LISTEN_HOST "0.0.0.0"
#define DEFAULT_LISTEN_PORT 9464
#define DEFAULT_ROUTE_CAP 200
#define DEFAULT_MAX_SERIES 10000

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "What to observe:", 1 },
	{ "select", OPT_SELECT, "RULE", 0,
	  "Observe the processes RULE matches: pid=N, comm=NAME, exe=GLOB, port=N or cgroup=GLOB "
	  "(repeatable; see Selection rules below)",
	  0 },
	{ NULL, 0, NULL, 0, "Capture:", 2 },
	{ "capture", OPT_CAPTURE, "MODE", 0,
	  "How bytes are captured: auto (default: socket when the kernel has the socket "
	  "tracepoints, else syscalls), socket (tp_btf sock_send_length/sock_recv_length, "
	  "Linux >= 6.3) or syscalls (read/write syscall tracepoints; slows every syscall a "
	  "little)",
	  0 },
	{ "capture-bytes", OPT_CAPTURE_BYTES, "N", 0,
	  "Bytes copied from the start of each socket read or write, 64 to 16384 (default 4096)",
	  0 },
	{ NULL, 0, NULL, 0, "Metrics:", 3 },
	{ "listen", OPT_LISTEN, "ADDR:PORT", 0,
	  "Serve /metrics on ADDR:PORT (default 0.0.0.0:9464); [::1]:9464 for IPv6, :9464 for "
	  "every IPv4 address, port 0 for any free port",
	  0 },
	{ "route", OPT_ROUTE, "PATTERN", 0,
	  "HTTP route pattern reported as http_route, e.g. /api/v1/orders/{id} (repeatable)", 0 },
	{ "routes-file", OPT_ROUTES_FILE, "FILE", 0,
	  "Read route patterns from FILE, one per line, '#' comments; they come after the "
	  "--route patterns",
	  0 },
	{ "route-cap", OPT_ROUTE_CAP, "N", 0,
	  "Most distinct http_route values kept per service (default 200)", 0 },
	{ "max-series", OPT_MAX_SERIES, "N", 0,
	  "Most series per metric family; further label sets are dropped and counted in "
	  "sonde_ self-metrics (default 10000)",
	  0 },
	{ "counter", OPT_COUNTER, "RULE", 0,
	  "Count the HTTP requests RULE matches in a counter of its own: 'NAME METHOD ROUTE "
	  "STATUS', e.g. 'orders_created_total POST /api/v1/orders 201' (repeatable; see "
	  "Business counters below)",
	  0 },
	{ NULL, 0, NULL, 0, "Program:", 4 },
	{ "config", OPT_CONFIG, "FILE", 0,
	  "Read settings from FILE first; flags override its single-valued keys and add to its "
	  "select, route and counter lines",
	  0 },
	{ "check", OPT_CHECK, NULL, 0, "Check the configuration, then exit without capturing", 0 },
	{ "verbose", OPT_VERBOSE, NULL, 0, "Log more; repeat for more detail", 0 },
	{ "help", OPT_HELP, NULL, 0, "Print this help and exit", -1 },
	{ "usage", OPT_USAGE, NULL, 0, "Print a short usage message and exit", -1 },
	{ "version", OPT_VERSION, NULL, 0, "Print the version and exit", -1 },
	{ 0 },
};

static const char doc[] =
	"Observe the HTTP/1, PostgreSQL and Redis traffic of selected processes with eBPF, "
	"without changing them, and serve Prometheus metrics on /metrics."
	"\v"
	"Selection rules (--select RULE, repeatable; a process matching any rule is\n"
	"observed, and so are the children it forks):\n"
	"  pid=N          that process, e.g. pid=4242\n"
	"  comm=NAME      exact task name, 1 to 15 characters (the kernel cuts comm\n"
	"                 at 15), e.g. comm=nginx\n"
	"  exe=GLOB       executable's full path (fnmatch), e.g. exe=/usr/sbin/nginx\n"
	"                 or exe='*/java'\n"
	"  port=N         processes listening on TCP port N, e.g. port=8080\n"
	"  cgroup=GLOB    cgroup v2 path (fnmatch), e.g.\n"
	"                 cgroup='/system.slice/api.service'\n"
	"\n"
	"Route patterns (chi syntax: printable ASCII, starting with '/'; the first\n"
	"that matches names the route, and unmatched paths share one route):\n"
	"  /api/v1/orders/{id}        {name} matches one path segment\n"
	"  /users/{id:[0-9]+}         {name:regexp} is accepted, but its regexp is\n"
	"                             not evaluated yet: it matches like {name}\n"
	"  /static/*                  a trailing * matches the rest of the path\n"
	"\n"
	"Business counters (--counter RULE, repeatable): each HTTP request a server\n"
	"answers that matches RULE 'NAME METHOD ROUTE STATUS' (words separated by\n"
	"spaces) adds 1 to the counter NAME{service_name=\"...\"}, e.g.\n"
	"  --counter 'orders_created_total POST /api/v1/orders 201'\n"
	"  --counter 'payment_failures_total POST /api/v1/payments 5xx'\n"
	"  NAME     metric name [a-zA-Z_:][a-zA-Z0-9_:]*, at most 64 characters,\n"
	"           not starting with sonde_, http_ or db_; one rule per name\n"
	"  METHOD   GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH, or *\n"
	"  ROUTE    the http_route to count, written as a route pattern; give the\n"
	"           same pattern to --route too, else the path falls in another route\n"
	"           (without any --route, routes come from path heuristics, e.g.\n"
	"           /api/v1/orders/{id})\n"
	"  STATUS   a status code (201), a class (1xx to 5xx), or *\n"
	"\n"
	"Config file (--config FILE): one 'key = value' per line, the key being a long\n"
	"option name without '--'; '#' at the start of a line or after a space starts\n"
	"a comment; select, route and counter may repeat; verbose takes a level\n"
	"(verbose = 2);\n"
	"check and config are command-line only. A relative routes-file is read from\n"
	"the config file's directory. Example:\n"
	"  select = comm=api-server\n"
	"  select = port=5432\n"
	"  listen = 127.0.0.1:9464\n"
	"  route = /api/v1/orders/{id}\n"
	"  counter = orders_created_total POST /api/v1/orders 201\n";

static bool option_is_end(const struct argp_option *o)
{
	return !o->name && !o->key && !o->doc && !o->group;
}

const char *config_option_name(int key)
{
	const struct argp_option *o;

	for (o = options; !option_is_end(o); o++)
		if (o->name && o->key == key)
			return o->name;
	return "?";
}

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

static const struct argp_option *file_key(const char *key)
{
	const struct argp_option *o;

	for (o = options; !option_is_end(o); o++)
		if (o->name && !strcmp(o->name, key))
			return o;
	return NULL;
}

static bool command_line_only(int key)
{
	return key == OPT_CONFIG || key == OPT_CHECK || key == OPT_HELP || key == OPT_USAGE ||
	       key == OPT_VERSION;
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
	o = file_key(key);
	if (!o) {
		config_diag(d, NULL, "unknown key '%s'", key);
		return -EINVAL;
	}
	if (command_line_only(o->key)) {
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
	int len = eq ? (int)(eq - name) : (int)strlen(name), n = 0;
	const struct argp_option *o, *match = NULL;

	for (o = options; !option_is_end(o) && len; o++) {
		if (!o->name || strncmp(o->name, name, len))
			continue;
		match = o;
		if ((int)strlen(o->name) == len) { /* getopt prefers an exact match */
			n = 1;
			break;
		}
		n++;
	}
	if (n == 0)
		config_diag(d, NULL, "unknown option '--%.*s' (see --help)", len, name);
	else if (n > 1)
		config_diag(d, NULL, "option '--%.*s' is ambiguous (see --help)", len, name);
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
		for (o = options; !option_is_end(o); o++)
			if (o->name && o->key == (unsigned char)*p)
				break;
		if (option_is_end(o)) {
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
	case OPT_ROUTE_CAP:
	case OPT_MAX_SERIES:
	case OPT_COUNTER:
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

static const struct argp argp = { options, parse_opt, NULL, doc, NULL, NULL, NULL };

static void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->listen_host, DEFAULT_LISTEN_HOST);
	cfg->listen_port = DEFAULT_LISTEN_PORT;
	cfg->capture = CAPTURE_AUTO;
	cfg->capture_bytes = SONDE_CAPTURE_DEFAULT;
	cfg->route_cap = DEFAULT_ROUTE_CAP;
	cfg->max_series = DEFAULT_MAX_SERIES;
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
	if (c->set & set_bit(OPT_ROUTE_CAP))
		cfg->route_cap = o->route_cap;
	if (c->set & set_bit(OPT_MAX_SERIES))
		cfg->max_series = o->max_series;
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
cleanup:
	config_free(&c.cfg);
	if (err < 0)
		config_free(cfg);
	return err;
}
