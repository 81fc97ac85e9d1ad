// SPDX-License-Identifier: GPL-2.0-only
/*
 * The option table (argp's, so --help is written from it), the names of the values
 * --capture and --select take, and the wording of errors. The lookups here are the only
 * code that walks the table: config.c and config_value.c ask by key, name or prefix.
 */
#include <argp.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "config/options.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

const struct argp_option option_table[] = {
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
	{ "ringbuf-bytes", OPT_RINGBUF_BYTES, "N", 0,
	  "Size of the ring buffer that carries events to sonde: a power of two from 4096 to "
	  "1073741824 (default 8388608). A ring too small for a burst loses events, counted in "
	  "sonde_events_lost_total and, as bytes, in sonde_capture_bytes_total",
	  0 },
	{ NULL, 0, NULL, 0, "Metrics:", 3 },
	{ "listen", OPT_LISTEN, "ADDR:PORT", 0,
	  "Serve /metrics on ADDR:PORT (default 0.0.0.0:9464); [::1]:9464 for IPv6, :9464 for "
	  "every IPv4 address, port 0 for any free port",
	  0 },
	{ "web-config", OPT_WEB_CONFIG, "FILE", 0,
	  "TLS and basic auth for the endpoint, from FILE in the Prometheus exporters' "
	  "web-config.yml format (tls_server_config: cert_file, key_file, client_ca_file, "
	  "client_auth_type; basic_auth_users: user: bcrypt hash). With users, every path but "
	  "/healthz asks for them; /healthz stays open for liveness probes",
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
	{ "tcp-health", OPT_TCP_HEALTH, "on|off", 0,
	  "TCP health of the selected processes: connection attempts by outcome, resets, "
	  "retransmitted segments, bytes and RTT per connection (default on)",
	  0 },
	{ "k8s-labels", OPT_K8S_LABELS, "on|off", 0,
	  "Label every series of a process with its container and pod: container_id, "
	  "container_name, k8s_pod_uid, k8s_pod_name, k8s_namespace_name, from its cgroup path "
	  "and the POD_NAME, POD_NAMESPACE, HOSTNAME and CONTAINER_NAME variables of its "
	  "environment (default off)",
	  0 },
	{ "series-grace", OPT_SERIES_GRACE, "SECONDS", 0,
	  "Remove the series of a service's processes (of a container, with --k8s-labels) this "
	  "long after the last of them exited; 0 keeps them forever (default 60)",
	  0 },
	{ "counter", OPT_COUNTER, "RULE", 0,
	  "Count the HTTP requests RULE matches in a counter of its own: 'NAME METHOD ROUTE "
	  "STATUS', e.g. 'orders_created_total POST /api/v1/orders 201' (repeatable; see "
	  "Business counters below)",
	  0 },
	{ NULL, 0, NULL, 0, "Request events:", 4 },
	{ "events", OPT_EVENTS, "FILE", 0,
	  "Append one JSON line per HTTP exchange and database operation that --events-filter "
	  "passes to FILE ('-': stdout); reopened on SIGUSR1 or SIGHUP (default: off)",
	  0 },
	{ "events-filter", OPT_EVENTS_FILTER, "TERMS", 0,
	  "Which events are written: comma-separated terms, any of which passes an event: all, "
	  "error, status=CODE|CLASS, duration>=D (ns, us, ms, s), sample=FRACTION of the rest "
	  "(default all), e.g. error,duration>=250ms,sample=0.01",
	  0 },
	{ "events-path", OPT_EVENTS_PATH, NULL, 0,
	  "Add the request's path (never its query string) to HTTP events; paths can carry "
	  "secrets (in a config file: events-path = on)",
	  0 },
	{ NULL, 0, NULL, 0, "Program:", 5 },
	{ "config", OPT_CONFIG, "FILE", 0,
	  "Read settings from FILE first; flags override its single-valued keys and add to its "
	  "select, route and counter lines",
	  0 },
	{ "check", OPT_CHECK, NULL, 0,
	  "Check the configuration, print a table of what this kernel supports, and exit "
	  "without capturing: 0 if the capture path --capture asks for works, 1 if not, 2 if "
	  "the configuration is wrong",
	  0 },
	{ "verbose", OPT_VERBOSE, NULL, 0, "Log more; repeat for more detail", 0 },
	{ "help", OPT_HELP, NULL, 0, "Print this help and exit", -1 },
	{ "usage", OPT_USAGE, NULL, 0, "Print a short usage message and exit", -1 },
	{ "version", OPT_VERSION, NULL, 0, "Print the version and exit", -1 },
	{ 0 },
};

const char option_doc[] =
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
	"  cgroup=GLOB    cgroup path (fnmatch) in the v2 tree or a v1 hierarchy, e.g.\n"
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

static const char *const capture_names[] = {
	[CAPTURE_AUTO] = "auto",
	[CAPTURE_SOCKET] = "socket",
	[CAPTURE_SYSCALLS] = "syscalls",
};

static const char *const select_names[] = {
	[SELECT_PID] = "pid",	[SELECT_COMM] = "comm",	    [SELECT_EXE] = "exe",
	[SELECT_PORT] = "port", [SELECT_CGROUP] = "cgroup",
};

static bool option_is_end(const struct argp_option *o)
{
	return !o->name && !o->key && !o->doc && !o->group;
}

const struct argp_option *option_by_key(int key)
{
	const struct argp_option *o;

	for (o = option_table; !option_is_end(o); o++)
		if (o->name && o->key == key)
			return o;
	return NULL;
}

const char *option_name(int key)
{
	const struct argp_option *o = option_by_key(key);

	return o ? o->name : "?";
}

const struct argp_option *option_by_name(const char *name)
{
	const struct argp_option *o;

	for (o = option_table; !option_is_end(o); o++)
		if (o->name && !strcmp(o->name, name))
			return o;
	return NULL;
}

const struct argp_option *option_by_prefix(const char *name, size_t len, int *n)
{
	const struct argp_option *o, *match = NULL;

	*n = 0;
	for (o = option_table; !option_is_end(o) && len; o++) {
		if (!o->name || strncmp(o->name, name, len))
			continue;
		match = o;
		if (strlen(o->name) == len) { /* getopt prefers an exact match */
			*n = 1;
			break;
		}
		(*n)++;
	}
	return match;
}

bool option_command_line_only(int key)
{
	return key == OPT_CONFIG || key == OPT_CHECK || key == OPT_HELP || key == OPT_USAGE ||
	       key == OPT_VERSION;
}

const char *capture_mode_name(enum capture_mode mode)
{
	if ((unsigned)mode < ARRAY_SIZE(capture_names))
		return capture_names[mode];
	return "unknown";
}

const char *select_kind_name(enum select_kind kind)
{
	if ((unsigned)kind < ARRAY_SIZE(select_names))
		return select_names[kind];
	return "unknown";
}

int capture_mode_parse(const char *value, enum capture_mode *mode)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(capture_names); i++) {
		if (!strcmp(value, capture_names[i])) {
			*mode = (enum capture_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

int select_kind_parse(const char *name, size_t len, enum select_kind *kind)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(select_names); i++) {
		if (strlen(select_names[i]) == len && !strncmp(select_names[i], name, len)) {
			*kind = (enum select_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

void config_diag(struct config_diag *d, const char *key, const char *fmt, ...)
{
	va_list ap;

	fputs("sonde: ", d->out);
	if (d->what)
		fprintf(d->out, "%s %s:%u: ", d->what, d->file, d->line);
	if (key)
		fprintf(d->out, d->what ? "%s: " : "--%s: ", key);
	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	fputc('\n', d->out);
	d->errors++;
}

int config_nomem(struct config_diag *d)
{
	fputs("sonde: out of memory\n", d->out);
	return -ENOMEM;
}
