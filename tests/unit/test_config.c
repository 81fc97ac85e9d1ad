// SPDX-License-Identifier: GPL-2.0-only
/* config_parse(): flags, config file, routes file, precedence, and every error message. */
#include <ctype.h>

#include "config_runner.h"
#include "config/options.h"
#include "sonde_abi.h"

#define DATA SONDE_TEST_DATA
#define DEPLOY_CONF SONDE_TEST_DATA "/../../../deploy/sonde.conf"
#define README SONDE_TEST_DATA "/../../../README.md"

/* Everything but the rules and config_file is at its default. */
static void assert_defaults_but_rules(const struct config *c)
{
	assert_string_equal(c->listen_host, "0.0.0.0");
	assert_int_equal(c->listen_port, 9464);
	assert_int_equal(c->n_routes, 0);
	assert_int_equal(c->n_counters, 0);
	assert_string_equal(c->routes_file, "");
	assert_int_equal(c->capture, CAPTURE_AUTO);
	assert_int_equal(c->capture_bytes, SONDE_CAPTURE_DEFAULT);
	assert_int_equal(c->capture_bytes, 4096);
	assert_int_equal(c->ringbuf_bytes, 8u << 20);
	assert_int_equal(c->route_cap, 200);
	assert_int_equal(c->max_series, 10000);
	assert_false(c->k8s_labels);
	assert_int_equal(c->series_grace, 60);
	assert_false(c->check);
	assert_int_equal(c->verbose, 0);
}

static void test_defaults(void **state)
{
	struct run r;

	assert_int_equal(run_argv(&r, (const char *[]){ "sonde", NULL }), 0);
	assert_string_equal(r.err, "");
	assert_int_equal(r.cfg.n_rules, 0);
	assert_string_equal(r.cfg.config_file, "");
	assert_defaults_but_rules(&r.cfg);
	done(&r);
}

static void assert_rule(const struct config *c, size_t i, enum select_kind kind, uint32_t num,
			const char *text)
{
	assert_true(i < c->n_rules);
	assert_int_equal(c->rules[i].kind, kind);
	assert_int_equal(c->rules[i].num, num);
	assert_string_equal(c->rules[i].text, text);
}

static void test_select_rules(void **state)
{
	struct run r;

	assert_int_equal(RUN(&r, "--select", "pid=1", "--select=comm=nginx", "--select",
			     "comm=exactly15chars!", "--select", "exe=/usr/*/nginx", "--select",
			     "port=65535", "--select", "cgroup=/system.slice/*.service", "--select",
			     "pid=4194303", "--select", "port=1", "--select", "exe=*/java"),
			 0);
	assert_string_equal(r.err, "");
	assert_int_equal(r.cfg.n_rules, 9);
	assert_rule(&r.cfg, 0, SELECT_PID, 1, "");
	assert_rule(&r.cfg, 1, SELECT_COMM, 0, "nginx");
	assert_rule(&r.cfg, 2, SELECT_COMM, 0, "exactly15chars!");
	assert_rule(&r.cfg, 3, SELECT_EXE, 0, "/usr/*/nginx");
	assert_rule(&r.cfg, 4, SELECT_PORT, 65535, "");
	assert_rule(&r.cfg, 5, SELECT_CGROUP, 0, "/system.slice/*.service");
	assert_rule(&r.cfg, 6, SELECT_PID, 4194303, "");
	assert_rule(&r.cfg, 7, SELECT_PORT, 1, "");
	assert_rule(&r.cfg, 8, SELECT_EXE, 0, "*/java");
	assert_defaults_but_rules(&r.cfg);
	done(&r);
}

static void test_every_option(void **state)
{
	struct run r;

	assert_int_equal(RUN(&r, "--select", "comm=api", "--listen", "127.0.0.1:9100", "--route",
			     "/a/{id}", "--route", "/b/*", "--routes-file", DATA "/routes_one.conf",
			     "--capture", "syscalls", "--capture-bytes", "16384", "--route-cap",
			     "1", "--max-series", "4294967295", "--k8s-labels", "on", "--check",
			     "-vv", "--verbose"),
			 0);
	assert_string_equal(r.err, "");
	assert_int_equal(r.cfg.n_rules, 1);
	assert_rule(&r.cfg, 0, SELECT_COMM, 0, "api");
	assert_string_equal(r.cfg.listen_host, "127.0.0.1");
	assert_int_equal(r.cfg.listen_port, 9100);
	assert_int_equal(r.cfg.n_routes, 3);
	assert_string_equal(r.cfg.routes[0], "/a/{id}");
	assert_string_equal(r.cfg.routes[1], "/b/*");
	assert_string_equal(r.cfg.routes[2], "/one");
	assert_string_equal(r.cfg.routes_file, DATA "/routes_one.conf");
	assert_int_equal(r.cfg.capture, CAPTURE_SYSCALLS);
	assert_int_equal(r.cfg.capture_bytes, 16384);
	assert_int_equal(r.cfg.route_cap, 1);
	assert_int_equal(r.cfg.max_series, 4294967295u);
	assert_true(r.cfg.k8s_labels);
	assert_true(r.cfg.check);
	assert_int_equal(r.cfg.verbose, 3);
	assert_string_equal(r.cfg.config_file, "");
	done(&r);

	/* unique prefixes are getopt abbreviations */
	assert_int_equal(RUN(&r, "--max-s", "3", "--capture-b=64", "--sel", "pid=7"), 0);
	assert_int_equal(r.cfg.max_series, 3);
	assert_int_equal(r.cfg.capture_bytes, 64);
	assert_rule(&r.cfg, 0, SELECT_PID, 7, "");
	done(&r);
	assert_int_equal(RUN(&r, "--capture", "auto", "--capture-bytes", "4096"), 0);
	assert_int_equal(r.cfg.capture, CAPTURE_AUTO);
	assert_int_equal(r.cfg.capture_bytes, 4096);
	done(&r);
	assert_int_equal(RUN(&r, "--ringbuf-bytes=4096"), 0);
	assert_int_equal(r.cfg.ringbuf_bytes, 4096);
	done(&r);
	assert_int_equal(RUN(&r, "--ringbuf-bytes", "1073741824"), 0);
	assert_int_equal(r.cfg.ringbuf_bytes, 1u << 30);
	done(&r);
}

static void expect_listen(const char *arg, const char *host, uint16_t port)
{
	struct run r;

	assert_int_equal(RUN(&r, "--listen", arg), 0);
	assert_string_equal(r.err, "");
	assert_string_equal(r.cfg.listen_host, host);
	assert_int_equal(r.cfg.listen_port, port);
	done(&r);
}

static void test_listen_forms(void **state)
{
	expect_listen("[::1]:9464", "::1", 9464);
	expect_listen("127.0.0.1:9464", "127.0.0.1", 9464);
	expect_listen(":9464", "0.0.0.0", 9464);
	expect_listen("[::]:0", "::", 0);
	expect_listen("0.0.0.0:65535", "0.0.0.0", 65535);
	expect_listen("[fe80::1:2]:80", "fe80::1:2", 80);
}

static void test_listen_errors(void **state)
{
	EXPECT_ERROR("sonde: --listen: '127.0.0.1': missing ':PORT' (e.g. 127.0.0.1:9464 or "
		     ":9464)\n",
		     "--listen", "127.0.0.1");
	EXPECT_ERROR("sonde: --listen: '127.0.0.1:http': port must be a number from 0 to 65535\n",
		     "--listen", "127.0.0.1:http");
	EXPECT_ERROR("sonde: --listen: ':65536': port must be a number from 0 to 65535\n",
		     "--listen", ":65536");
	EXPECT_ERROR("sonde: --listen: '127.0.0.1:': port must be a number from 0 to 65535\n",
		     "--listen", "127.0.0.1:");
	EXPECT_ERROR("sonde: --listen: '[::1:9464': missing ']' after the IPv6 address\n",
		     "--listen", "[::1:9464");
	EXPECT_ERROR("sonde: --listen: '[::1]': expected ':PORT' after ']'\n", "--listen", "[::1]");
	EXPECT_ERROR("sonde: --listen: '[::1]9464': expected ':PORT' after ']'\n", "--listen",
		     "[::1]9464");
	EXPECT_ERROR("sonde: --listen: '::1:9464': put an IPv6 address in brackets, e.g. "
		     "[::1]:9464\n",
		     "--listen", "::1:9464");
	EXPECT_ERROR("sonde: --listen: 'localhost:9464': 'localhost' is not a numeric IPv4 "
		     "address\n",
		     "--listen", "localhost:9464");
	EXPECT_ERROR("sonde: --listen: '[1.2.3.4]:80': '1.2.3.4' is not a numeric IPv6 address\n",
		     "--listen", "[1.2.3.4]:80");
	EXPECT_ERROR("sonde: --listen: '256.0.0.1:80': '256.0.0.1' is not a numeric IPv4 "
		     "address\n",
		     "--listen", "256.0.0.1:80");
}

static void test_select_errors(void **state)
{
	EXPECT_ERROR("sonde: --select: 'user=root': unknown rule kind 'user' (expected pid, comm, "
		     "exe, port or cgroup)\n",
		     "--select", "user=root");
	EXPECT_ERROR("sonde: --select: 'nginx' is not KIND=VALUE (KIND: pid, comm, exe, port or "
		     "cgroup)\n",
		     "--select", "nginx");
	EXPECT_ERROR("sonde: --select: '=1' is not KIND=VALUE (KIND: pid, comm, exe, port or "
		     "cgroup)\n",
		     "--select", "=1");
	EXPECT_ERROR("sonde: --select: 'pid=abc': pid must be a number from 1 to 4194303\n",
		     "--select", "pid=abc");
	EXPECT_ERROR("sonde: --select: 'pid=0': pid must be a number from 1 to 4194303\n",
		     "--select", "pid=0");
	EXPECT_ERROR("sonde: --select: 'pid=-1': pid must be a number from 1 to 4194303\n",
		     "--select", "pid=-1");
	EXPECT_ERROR("sonde: --select: 'pid=4194304': pid must be a number from 1 to 4194303\n",
		     "--select", "pid=4194304");
	EXPECT_ERROR("sonde: --select: 'port=70000': port must be a number from 1 to 65535\n",
		     "--select", "port=70000");
	EXPECT_ERROR("sonde: --select: 'port=0': port must be a number from 1 to 65535\n",
		     "--select", "port=0");
	EXPECT_ERROR("sonde: --select: 'comm=exactly16chars!!': comm is 16 characters long but the "
		     "kernel cuts comm at 15\n",
		     "--select", "comm=exactly16chars!!");
	EXPECT_ERROR("sonde: --select: 'comm=': comm needs a name of 1 to 15 characters\n",
		     "--select", "comm=");
	EXPECT_ERROR("sonde: --select: 'exe=nginx': exe matches the full path: start the glob "
		     "with '/' or '*'\n",
		     "--select", "exe=nginx");
	EXPECT_ERROR("sonde: --select: 'cgroup=': cgroup needs a glob\n", "--select", "cgroup=");
}

static void test_select_glob_too_long(void **state)
{
	char rule[5 + SELECT_TEXT_MAX + 1] = "exe=/";
	char expected[sizeof(rule) + 128];

	memset(rule + 5, 'a', SELECT_TEXT_MAX - 1); /* glob of 256 characters: one too many */
	rule[4 + SELECT_TEXT_MAX] = '\0';
	snprintf(expected, sizeof(expected),
		 "sonde: --select: '%s': exe glob is longer than 255 characters\n", rule);
	EXPECT_ERROR(expected, "--select", rule);
	rule[3 + SELECT_TEXT_MAX] = '\0'; /* 255: fits */
	{
		struct run r;

		assert_int_equal(RUN(&r, "--select", rule), 0);
		assert_int_equal(strlen(r.cfg.rules[0].text), 255);
		done(&r);
	}
}

static void test_scalar_errors(void **state)
{
	EXPECT_ERROR("sonde: --capture: 'bogus' is not one of auto, socket, syscalls\n",
		     "--capture", "bogus");
	EXPECT_ERROR("sonde: --capture: 'Socket' is not one of auto, socket, syscalls\n",
		     "--capture", "Socket");
	EXPECT_ERROR("sonde: --capture-bytes: '63' is not a number from 64 to 16384\n",
		     "--capture-bytes", "63");
	EXPECT_ERROR("sonde: --capture-bytes: '16385' is not a number from 64 to 16384\n",
		     "--capture-bytes", "16385");
	EXPECT_ERROR("sonde: --capture-bytes: '4k' is not a number from 64 to 16384\n",
		     "--capture-bytes", "4k");
	/* the ring: a power of two of pages, at most 1 GiB */
	EXPECT_ERROR("sonde: --ringbuf-bytes: '65535' is not a power of two from 4096 to "
		     "1073741824 (e.g. 65536)\n",
		     "--ringbuf-bytes", "65535");
	EXPECT_ERROR("sonde: --ringbuf-bytes: '2048' is not a power of two from 4096 to "
		     "1073741824 (e.g. 65536)\n",
		     "--ringbuf-bytes", "2048");
	EXPECT_ERROR("sonde: --ringbuf-bytes: '2147483648' is not a power of two from 4096 to "
		     "1073741824 (e.g. 65536)\n",
		     "--ringbuf-bytes", "2147483648");
	EXPECT_ERROR("sonde: --ringbuf-bytes: '64k' is not a power of two from 4096 to "
		     "1073741824 (e.g. 65536)\n",
		     "--ringbuf-bytes", "64k");
	EXPECT_ERROR("sonde: --route-cap: '0' is not a number >= 1\n", "--route-cap", "0");
	EXPECT_ERROR("sonde: --max-series: '4294967296' is not a number >= 1\n", "--max-series",
		     "4294967296");
	EXPECT_ERROR("sonde: --max-series: ' 10' is not a number >= 1\n", "--max-series", " 10");
	EXPECT_ERROR("sonde: --k8s-labels: 'yes' is neither on nor off\n", "--k8s-labels", "yes");
	EXPECT_ERROR("sonde: --series-grace: '86401' is not a number from 0 to 86400\n",
		     "--series-grace", "86401");
	EXPECT_ERROR("sonde: --config: needs a file name\n", "--config", "");
	EXPECT_ERROR("sonde: --routes-file: needs a file name\n", "--routes-file=");
}

static void test_routes(void **state)
{
	struct run r;

	assert_int_equal(RUN(&r, "--route", "/", "--route", "/users/{id}/orders/{order_id}",
			     "--route", "/d/{y}-{m}", "--route", "/n/{id:[0-9]{1,3}}", "--route",
			     "/static/*"),
			 0);
	assert_string_equal(r.err, "");
	assert_int_equal(r.cfg.n_routes, 5);
	assert_string_equal(r.cfg.routes[0], "/");
	assert_string_equal(r.cfg.routes[1], "/users/{id}/orders/{order_id}");
	assert_string_equal(r.cfg.routes[2], "/d/{y}-{m}");
	assert_string_equal(r.cfg.routes[3], "/n/{id:[0-9]{1,3}}");
	assert_string_equal(r.cfg.routes[4], "/static/*");
	done(&r);
}

/* route_pattern_valid() (route.c) gives the reason; config adds where and what. */
static void test_route_errors(void **state)
{
	EXPECT_ERROR("sonde: --route: 'api/v1': must start with '/'\n", "--route", "api/v1");
	EXPECT_ERROR("sonde: --route: 'GET /a': must start with '/'\n", "--route", "GET /a");
	EXPECT_ERROR("sonde: --route: '': empty pattern: a route starts with '/'\n", "--route", "");
	EXPECT_ERROR("sonde: --route: '/a/{id': '{' at offset 3 is never closed\n", "--route",
		     "/a/{id");
	EXPECT_ERROR("sonde: --route: '/a/{id:[0-9]{2}': '{' at offset 3 is never closed\n",
		     "--route", "/a/{id:[0-9]{2}");
	EXPECT_ERROR("sonde: --route: '/a/id}': '}' at offset 5 has no '{'\n", "--route", "/a/id}");
	EXPECT_ERROR("sonde: --route: '/a/{}': empty parameter name at offset 3\n", "--route",
		     "/a/{}");
	EXPECT_ERROR("sonde: --route: '/a/{id:}': empty regexp after ':' at offset 6\n", "--route",
		     "/a/{id:}");
	EXPECT_ERROR("sonde: --route: '/a/{order-id}': parameter name at offset 3: letters, "
		     "digits and '_' only\n",
		     "--route", "/a/{order-id}");
	EXPECT_ERROR("sonde: --route: '/a/*/b': '*' at offset 3: chi's wildcard only ends a "
		     "pattern; use {name} for one segment\n",
		     "--route", "/a/*/b");
	EXPECT_ERROR("sonde: --route: '/a b': byte 0x20 at offset 2: printable ASCII only, no "
		     "spaces; write other bytes percent-encoded as they are sent\n",
		     "--route", "/a b");
	EXPECT_ERROR("sonde: --route: '/a?x': '?' at offset 2: a route is a path; queries and "
		     "fragments never reach it\n",
		     "--route", "/a?x");
}

static void test_routes_file(void **state)
{
	struct run r;

	assert_int_equal(RUN(&r, "--routes-file", DATA "/routes_good.conf", "--route", "/first"),
			 0);
	assert_string_equal(r.err, "");
	assert_int_equal(r.cfg.n_routes, 4); /* --route patterns come before the file's */
	assert_string_equal(r.cfg.routes[0], "/first");
	assert_string_equal(r.cfg.routes[1], "/users/{id}");
	assert_string_equal(r.cfg.routes[2], "/users/{id:[0-9]{1,9}}/orders");
	assert_string_equal(r.cfg.routes[3], "/static/*");
	done(&r);

	EXPECT_ERROR("sonde: cannot read routes file '" DATA "/no-such-routes.conf': No such file "
		     "or directory\n",
		     "--routes-file", DATA "/no-such-routes.conf");
	EXPECT_ERROR("sonde: routes file " DATA "/routes_bad.conf:4: 'api/v1/users': must start "
		     "with '/'\n"
		     "sonde: routes file " DATA "/routes_bad.conf:5: '/bad/{id': '{' at offset 5 "
		     "is never closed\n",
		     "--routes-file", DATA "/routes_bad.conf");
	EXPECT_ERROR("sonde: cannot read routes file '" DATA "': Is a directory\n", "--routes-file",
		     DATA);
}

static void test_config_file(void **state)
{
	struct run r;

	assert_int_equal(RUN(&r, "--config", DATA "/config_good.conf"), 0);
	assert_string_equal(r.err, "");
	assert_string_equal(r.cfg.config_file, DATA "/config_good.conf");
	assert_int_equal(r.cfg.n_rules, 3);
	assert_rule(&r.cfg, 0, SELECT_COMM, 0, "api-server");
	assert_rule(&r.cfg, 1, SELECT_PORT, 5432, "");
	assert_rule(&r.cfg, 2, SELECT_EXE, 0, "/usr/*/nginx#not-a-comment");
	assert_string_equal(r.cfg.listen_host, "::1");
	assert_int_equal(r.cfg.listen_port, 9100);
	/* a relative routes-file is relative to the config file */
	assert_string_equal(r.cfg.routes_file, DATA "/routes_good.conf");
	assert_int_equal(r.cfg.n_routes, 4);
	assert_string_equal(r.cfg.routes[0], "/api/v1/orders/{id}");
	assert_string_equal(r.cfg.routes[1], "/users/{id}");
	assert_string_equal(r.cfg.routes[2], "/users/{id:[0-9]{1,9}}/orders");
	assert_string_equal(r.cfg.routes[3], "/static/*");
	assert_int_equal(r.cfg.capture, CAPTURE_SOCKET);
	assert_int_equal(r.cfg.capture_bytes, 1024);
	assert_int_equal(r.cfg.route_cap, 50);
	assert_int_equal(r.cfg.max_series, 500);
	assert_int_equal(r.cfg.verbose, 2);
	assert_false(r.cfg.check);
	done(&r);
}

static void test_config_precedence(void **state)
{
	struct run r;

	/* --config may come anywhere: the file is read first all the same */
	assert_int_equal(RUN(&r, "--select", "pid=2", "--route", "/from/cli", "--listen", ":2000",
			     "--capture", "socket", "--routes-file", DATA "/routes_one.conf", "-v",
			     "--config", DATA "/config_override.conf", "--check"),
			 0);
	assert_string_equal(r.err, "");
	assert_int_equal(r.cfg.n_rules, 2); /* file rules, then command-line rules */
	assert_rule(&r.cfg, 0, SELECT_PID, 1, "");
	assert_rule(&r.cfg, 1, SELECT_PID, 2, "");
	assert_int_equal(r.cfg.n_routes, 3); /* file, command line, then the routes file */
	assert_string_equal(r.cfg.routes[0], "/from/file");
	assert_string_equal(r.cfg.routes[1], "/from/cli");
	assert_string_equal(r.cfg.routes[2], "/one");
	assert_string_equal(r.cfg.routes_file, DATA "/routes_one.conf");
	assert_string_equal(r.cfg.listen_host, "0.0.0.0"); /* flag wins */
	assert_int_equal(r.cfg.listen_port, 2000);
	assert_int_equal(r.cfg.capture, CAPTURE_SOCKET);
	assert_int_equal(r.cfg.capture_bytes, 128); /* file wins over the default */
	assert_int_equal(r.cfg.route_cap, 7);
	assert_int_equal(r.cfg.max_series, 8);
	assert_int_equal(r.cfg.verbose, 1); /* -v given: the flag count replaces the file's 3 */
	assert_true(r.cfg.check);
	done(&r);

	/* without flags the file's values stand, its routes file included */
	assert_int_equal(RUN(&r, "--config=" DATA "/config_override.conf"), 0);
	assert_string_equal(r.cfg.listen_host, "127.0.0.1");
	assert_int_equal(r.cfg.listen_port, 1000);
	assert_int_equal(r.cfg.capture, CAPTURE_SYSCALLS);
	assert_int_equal(r.cfg.verbose, 3);
	assert_int_equal(r.cfg.n_routes, 4);
	assert_string_equal(r.cfg.routes[0], "/from/file");
	assert_string_equal(r.cfg.routes[1], "/users/{id}");
	done(&r);
}

static void test_config_errors(void **state)
{
	EXPECT_ERROR("sonde: config " DATA "/config_errors.conf:3: unknown key 'foo'\n"
		     "sonde: config " DATA "/config_errors.conf:4: capture: 'bogus' is not one "
		     "of auto, socket, syscalls\n"
		     "sonde: config " DATA "/config_errors.conf:5: missing '=' in 'listen "
		     "127.0.0.1:9464' (lines are key = value)\n"
		     "sonde: config " DATA "/config_errors.conf:6: 'check' is a command-line "
		     "option, not a config file key\n"
		     "sonde: config " DATA "/config_errors.conf:7: 'config' is a command-line "
		     "option, not a config file key\n"
		     "sonde: config " DATA "/config_errors.conf:8: missing key before '= value'\n"
		     "sonde: config " DATA "/config_errors.conf:9: select: 'pid=abc': pid must be "
		     "a number from 1 to 4194303\n"
		     "sonde: config " DATA "/config_errors.conf:10: capture-bytes: '99999' is not "
		     "a number from 64 to 16384\n",
		     "--config", DATA "/config_errors.conf");
	EXPECT_ERROR("sonde: cannot read config file '" DATA "/no-such.conf': No such file or "
		     "directory\n",
		     "-c", DATA "/no-such.conf");
	/* a routes file named by the config file reports its own lines */
	EXPECT_ERROR("sonde: routes file " DATA "/routes_bad.conf:4: 'api/v1/users': must start "
		     "with '/'\n"
		     "sonde: routes file " DATA "/routes_bad.conf:5: '/bad/{id': '{' at offset 5 "
		     "is never closed\n",
		     "--config", DATA "/config_bad_routes.conf");
	/* flag errors and file errors are reported in one run */
	EXPECT_ERROR("sonde: --capture: 'x' is not one of auto, socket, syscalls\n"
		     "sonde: cannot read config file '" DATA "/no-such.conf': No such file or "
		     "directory\n",
		     "--capture", "x", "--config", DATA "/no-such.conf");
}

static void test_command_line_errors(void **state)
{
	EXPECT_ERROR("sonde: unexpected argument 'nginx' (options start with '--')\n", "nginx");
	EXPECT_ERROR("sonde: unexpected argument 'a' (options start with '--')\n"
		     "sonde: unexpected argument 'b' (options start with '--')\n",
		     "a", "--check", "b");
	EXPECT_ERROR("sonde: unexpected argument '--capture' (options start with '--')\n", "--",
		     "--capture");
	EXPECT_ERROR("sonde: unknown option '--foo' (see --help)\n", "--foo");
	EXPECT_ERROR("sonde: unknown option '--foo' (see --help)\n", "--check", "--foo=1");
	EXPECT_ERROR("sonde: option '--select' needs a value\n", "--select");
	EXPECT_ERROR("sonde: option '--check' takes no value\n", "--check=yes");
	EXPECT_ERROR("sonde: option '--rou' is ambiguous (see --help)\n", "--rou", "/a");
	EXPECT_ERROR("sonde: unknown option '-x' (see --help)\n", "-x");
	EXPECT_ERROR("sonde: unknown option '-x' (see --help)\n", "-vx");
	EXPECT_ERROR("sonde: unknown option '-x' (see --help)\n", "-xv");
	EXPECT_ERROR("sonde: unknown option '-x' (see --help)\n", "--check", "-xv");
	EXPECT_ERROR("sonde: option '-c' needs a value\n", "-c");
	/* bad values are all reported, not just the first */
	EXPECT_ERROR("sonde: --select: 'pid=x': pid must be a number from 1 to 4194303\n"
		     "sonde: --capture: 'no' is not one of auto, socket, syscalls\n"
		     "sonde: --route: 'r': must start with '/'\n",
		     "--select", "pid=x", "--capture", "no", "--route", "r");
	EXPECT_ERROR("sonde: --capture: 'no' is not one of auto, socket, syscalls\n"
		     "sonde: unknown option '--foo' (see --help)\n",
		     "--capture", "no", "--foo");
}

static void test_help(void **state)
{
	static const char *const wanted[] = {
		"Usage: sonde [OPTION...]",
		"--select=RULE",
		"--listen=ADDR:PORT",
		"--route=PATTERN",
		"--routes-file=FILE",
		"--capture=MODE",
		"--capture-bytes=N",
		"--ringbuf-bytes=N",
		"--route-cap=N",
		"--max-series=N",
		"--k8s-labels=on|off",
		"--series-grace=SECONDS",
		"--counter=RULE",
		"-c, --config=FILE",
		"--check",
		"-v, --verbose",
		"-h, --help",
		"--usage",
		"-V, --version",
		"pid=N",
		"comm=NAME",
		"exe=GLOB",
		"port=N",
		"cgroup=GLOB",
		"e.g. pid=4242",
		"exe=/usr/sbin/nginx",
		"/api/v1/orders/{id}",
		"'key = value'",
		"select = port=5432",
		"--counter 'orders_created_total POST /api/v1/orders 201'",
		"counter = orders_created_total POST /api/v1/orders 201",
	};
	struct run r;
	char *out;
	size_t i;

	out = run_capturing_stdout(&r, (const char *[]){ "sonde", "--help", NULL });
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "");
	for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
		if (!strstr(out, wanted[i]))
			fail_msg("--help lacks '%s'", wanted[i]);
	free(out);
	done(&r);

	/* served before the bad option that follows it: nothing is reported */
	out = run_capturing_stdout(&r, (const char *[]){ "sonde", "-h", "--bogus", NULL });
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "");
	assert_non_null(strstr(out, "--max-series=N"));
	free(out);
	done(&r);

	out = run_capturing_stdout(&r, (const char *[]){ "sonde", "--usage", NULL });
	assert_int_equal(r.rc, 1);
	assert_true(!strncmp(out, "Usage: sonde [-vhV] [-c FILE]", 29));
	free(out);
	done(&r);
}

/* Runs of blanks become one space and Markdown's backquotes go, so that text argp wrapped
 * and text in the README compare word for word. */
static void squeeze(char *s)
{
	char *start = s, *w = s;

	for (; *s; s++) {
		if (*s == '`')
			continue;
		if (isspace((unsigned char)*s)) {
			if (w == start || w[-1] != ' ')
				*w++ = ' ';
			continue;
		}
		*w++ = *s;
	}
	*w = '\0';
}

static char *read_file(const char *path)
{
	char *text = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_true(getdelim(&text, &cap, '\0', f) > 0);
	fclose(f);
	return text;
}

/* --help and the README say the same about --check: what agent_check does and returns. */
static void test_check_described_once(void **state)
{
	static const char said[] = "without capturing: 0 if the capture path --capture asks for "
				   "works, 1 if not, 2 if the configuration is wrong";
	char *help, *readme = read_file(README);
	struct run r;

	help = run_capturing_stdout(&r, (const char *[]){ "sonde", "--help", NULL });
	done(&r);
	squeeze(help);
	squeeze(readme);
	assert_non_null(strstr(help, "--check Check the configuration, print a table of what "
				     "this kernel supports, and exit "));
	assert_non_null(strstr(help, said));
	assert_non_null(strstr(readme, "--check checks the configuration, prints a table of what "
				       "this kernel supports"));
	assert_non_null(strstr(readme, said));
	free(help);
	free(readme);
}

static void test_version(void **state)
{
	struct run r;
	char *out;

	out = run_capturing_stdout(&r, (const char *[]){ "sonde", "--version", NULL });
	assert_int_equal(r.rc, 1);
	assert_string_equal(out, "sonde " SONDE_VERSION "\n");
	assert_string_equal(r.err, "");
	free(out);
	done(&r);

	out = run_capturing_stdout(&r, (const char *[]){ "sonde", "--check", "-V", NULL });
	assert_int_equal(r.rc, 1);
	assert_string_equal(out, "sonde " SONDE_VERSION "\n");
	free(out);
	done(&r);
}

static void test_free_and_names(void **state)
{
	struct config zero = { 0 };

	config_free(&zero);
	config_free(NULL);
	zero.routes = calloc(2, sizeof(char *)); /* partially filled: second slot never set */
	zero.routes[0] = strdup("/a");
	zero.n_routes = 1;
	config_free(&zero);
	assert_null(zero.routes);
	assert_int_equal(zero.n_routes, 0);
	config_free(&zero); /* twice is harmless */

	assert_string_equal(capture_mode_name(CAPTURE_AUTO), "auto");
	assert_string_equal(capture_mode_name(CAPTURE_SOCKET), "socket");
	assert_string_equal(capture_mode_name(CAPTURE_SYSCALLS), "syscalls");
	assert_string_equal(capture_mode_name((enum capture_mode)3), "unknown");
	assert_string_equal(select_kind_name(SELECT_PID), "pid");
	assert_string_equal(select_kind_name(SELECT_COMM), "comm");
	assert_string_equal(select_kind_name(SELECT_EXE), "exe");
	assert_string_equal(select_kind_name(SELECT_PORT), "port");
	assert_string_equal(select_kind_name(SELECT_CGROUP), "cgroup");
	assert_string_equal(select_kind_name((enum select_kind) - 1), "unknown");
}

/* options.c: the lookups config.c and config_value.c use instead of walking the table. */
static void test_option_lookups(void **state)
{
	static const int keys[] = { OPT_CONFIG,	 OPT_HELP,	    OPT_VERBOSE,   OPT_VERSION,
				    OPT_SELECT,	 OPT_LISTEN,	    OPT_ROUTE,	   OPT_ROUTES_FILE,
				    OPT_CAPTURE, OPT_CAPTURE_BYTES, OPT_ROUTE_CAP, OPT_MAX_SERIES,
				    OPT_COUNTER, OPT_CHECK,	    OPT_USAGE };
	const struct argp_option *o;
	enum capture_mode mode;
	enum select_kind kind;
	size_t i;
	int n;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		int k = keys[i];

		o = option_by_key(k); /* every key has one option, found back by its name */
		assert_non_null(o);
		assert_int_equal(o->key, k);
		assert_string_equal(option_name(k), o->name);
		assert_ptr_equal(option_by_name(o->name), o);
		assert_int_equal(option_command_line_only(k),
				 k == OPT_CONFIG || k == OPT_CHECK || k == OPT_HELP ||
					 k == OPT_USAGE || k == OPT_VERSION);
	}
	assert_string_equal(option_name(OPT_CAPTURE_BYTES), "capture-bytes");
	assert_string_equal(option_name(0x7fff), "?");
	assert_null(option_by_key('x'));
	assert_null(option_by_name("rout"));
	assert_null(option_by_name(""));

	assert_null(option_by_prefix("zzz", 3, &n));
	assert_int_equal(n, 0);
	assert_null(option_by_prefix("route", 0, &n));
	assert_int_equal(n, 0);
	assert_non_null(option_by_prefix("rou", 3, &n)); /* route, routes-file, route-cap */
	assert_int_equal(n, 3);
	o = option_by_prefix("route=/a", 5, &n); /* exact beats the longer names */
	assert_int_equal(n, 1);
	assert_int_equal(o->key, OPT_ROUTE);
	o = option_by_prefix("max-s", 5, &n);
	assert_int_equal(n, 1);
	assert_int_equal(o->key, OPT_MAX_SERIES);

	for (mode = CAPTURE_AUTO; mode <= CAPTURE_SYSCALLS; mode++) {
		enum capture_mode back = (enum capture_mode) - 1;

		assert_int_equal(capture_mode_parse(capture_mode_name(mode), &back), 0);
		assert_int_equal(back, mode);
	}
	assert_int_equal(capture_mode_parse("Socket", &mode), -EINVAL);
	assert_int_equal(capture_mode_parse("", &mode), -EINVAL);
	for (kind = SELECT_PID; kind <= SELECT_CGROUP; kind++) {
		enum select_kind back = (enum select_kind) - 1;
		const char *name = select_kind_name(kind);

		assert_int_equal(select_kind_parse(name, strlen(name), &back), 0);
		assert_int_equal(back, kind);
	}
	assert_int_equal(select_kind_parse("comm=nginx", 4, &kind), 0);
	assert_int_equal(kind, SELECT_COMM);
	assert_int_equal(select_kind_parse("comm", 2, &kind), -EINVAL);
	assert_int_equal(select_kind_parse("comms", 5, &kind), -EINVAL);
	assert_int_equal(select_kind_parse("", 0, &kind), -EINVAL);
}

/* deploy/sonde.conf: as shipped (all commented) it gives the defaults, and every example
 * setting in it is valid once uncommented. */
static void test_deploy_conf(void **state)
{
	char *line = NULL, *text = NULL, path[64];
	size_t cap = 0, len = 0, settings = 0;
	FILE *in, *out;
	struct run r;

	assert_int_equal(RUN(&r, "--config", DEPLOY_CONF), 0);
	assert_string_equal(r.err, "");
	assert_int_equal(r.cfg.n_rules, 0);
	assert_defaults_but_rules(&r.cfg);
	done(&r);

	in = fopen(DEPLOY_CONF, "r");
	assert_non_null(in);
	out = open_memstream(&text, &len);
	while (getline(&line, &cap, in) != -1) {
		if (line[0] != '#' || line[1] < 'a' || line[1] > 'z' || !strstr(line, " = "))
			continue;
		if (!strncmp(line, "#routes-file", 12)) /* names a file the test does not have */
			continue;
		fputs(line + 1, out);
		settings++;
	}
	free(line);
	fclose(in);
	fclose(out);
	assert_true(settings >= 12);
	write_temp(path, sizeof(path), text);
	assert_int_equal(RUN(&r, "--config", path), 0);
	unlink(path);
	assert_string_equal(r.err, "");
	assert_int_equal(r.cfg.n_rules, 5);
	assert_int_equal(r.cfg.n_routes, 4);
	assert_int_equal(r.cfg.n_counters, 3);
	done(&r);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_select_rules),
		cmocka_unit_test(test_every_option),
		cmocka_unit_test(test_listen_forms),
		cmocka_unit_test(test_listen_errors),
		cmocka_unit_test(test_select_errors),
		cmocka_unit_test(test_select_glob_too_long),
		cmocka_unit_test(test_scalar_errors),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_route_errors),
		cmocka_unit_test(test_routes_file),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_config_precedence),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_command_line_errors),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_check_described_once),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_free_and_names),
		cmocka_unit_test(test_option_lookups),
		cmocka_unit_test(test_deploy_conf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
