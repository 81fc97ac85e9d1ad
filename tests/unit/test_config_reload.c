// SPDX-License-Identifier: GPL-2.0-only
/* SIGHUP reload: which keys changed, which are moved into the running config, which are
 * refused (need a restart), and the one error line a bad file gives. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

static char path[64];

static void write_conf(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	int fd;

	strcpy(path, "/tmp/sonde-reload-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	return 0;
}

/* Parses the file (plus extra flags) as main() does; why gets the error line. */
static int parse(struct config *cfg, const char *text, const char *flag, char *why, size_t len)
{
	char *argv[] = { "sonde", "--config", path, (char *)flag, NULL };

	write_conf(text);
	return config_reload_parse(cfg, flag ? 4 : 3, argv, why, len);
}

static const char base[] = "select = comm=api\n"
			   "listen = 127.0.0.1:9464\n"
			   "route = /a/{id}\n"
			   "capture = socket\n";

static void test_nothing_changed(void **state)
{
	struct config live, next;
	struct config_reload r;
	char why[256];

	assert_int_equal(parse(&live, base, NULL, why, sizeof(why)), 0);
	assert_int_equal(parse(&next, base, NULL, why, sizeof(why)), 0);
	config_reload_merge(&live, &next, &r);
	assert_int_equal(r.changed, 0);
	assert_int_equal(r.refused, 0);
	config_free(&live);
	config_free(&next);
}

static void test_reloadable_keys_move(void **state)
{
	struct config live, next;
	struct config_reload r;
	char why[256];

	assert_int_equal(parse(&live, base, NULL, why, sizeof(why)), 0);
	assert_int_equal(parse(&next,
			       "select = comm=api\nselect = port=8080\nlisten = 127.0.0.1:9464\n"
			       "route = /b/{id}\ncapture = socket\nroute-cap = 7\n"
			       "events-filter = error\nseries-grace = 5\nverbose = 2\n",
			       NULL, why, sizeof(why)),
			 0);
	config_reload_merge(&live, &next, &r);
	assert_int_equal(r.changed, CFG_SELECT | CFG_ROUTES | CFG_ROUTE_CAP | CFG_EVENTS_FILTER |
					    CFG_SERIES_GRACE | CFG_VERBOSE);
	assert_int_equal(r.refused, 0);
	assert_int_equal(live.n_rules, 2);
	assert_int_equal(live.rules[1].kind, SELECT_PORT);
	assert_int_equal(live.rules[1].num, 8080);
	assert_int_equal(live.n_routes, 1);
	assert_string_equal(live.routes[0], "/b/{id}");
	assert_int_equal(live.route_cap, 7);
	assert_string_equal(live.events_filter, "error");
	assert_int_equal(live.series_grace, 5);
	assert_int_equal(live.verbose, 2);
	/* next holds the old arrays, for config_free */
	assert_int_equal(next.n_rules, 1);
	assert_string_equal(next.routes[0], "/a/{id}");
	config_free(&live);
	config_free(&next);
}

static void test_restart_keys_refused_rest_applies(void **state)
{
	struct config live, next;
	struct config_reload r;
	char why[256], keys[128];

	assert_int_equal(parse(&live, base, NULL, why, sizeof(why)), 0);
	assert_int_equal(parse(&next,
			       "select = exe=/usr/bin/*\nlisten = 127.0.0.1:9999\nroute = /a/{id}\n"
			       "capture = syscalls\ncapture-bytes = 128\nmax-series = 5\n"
			       "tcp-health = off\nk8s-labels = on\nevents = /tmp/x\n"
			       "counter = c_total GET /a/{id} 200\nringbuf-bytes = 65536\n",
			       NULL, why, sizeof(why)),
			 0);
	config_reload_merge(&live, &next, &r);
	assert_int_equal(r.changed, CFG_SELECT);
	assert_int_equal(r.refused, CFG_LISTEN | CFG_CAPTURE | CFG_CAPTURE_BYTES | CFG_MAX_SERIES |
					    CFG_TCP_HEALTH | CFG_K8S_LABELS | CFG_EVENTS |
					    CFG_COUNTER | CFG_RINGBUF_BYTES);
	assert_string_equal(live.rules[0].text, "/usr/bin/*");
	assert_int_equal(live.listen_port, 9464); /* old values kept */
	assert_int_equal(live.capture, CAPTURE_SOCKET);
	assert_int_equal(live.n_counters, 0);
	assert_string_equal(live.events_file, "");
	assert_true(live.tcp_health);
	config_keys_text(r.refused, keys, sizeof(keys));
	assert_string_equal(keys, "listen, capture, capture-bytes, max-series, tcp-health, "
				  "events, k8s-labels, counter, ringbuf-bytes");
	config_free(&live);
	config_free(&next);
}

/* A flag on the command line still wins over the file after a reload. */
static void test_flag_still_wins(void **state)
{
	struct config live, next;
	struct config_reload r;
	char why[256];

	assert_int_equal(parse(&live, base, "--listen=127.0.0.1:7000", why, sizeof(why)), 0);
	assert_int_equal(parse(&next,
			       "select = comm=api\nlisten = 127.0.0.1:9999\ncapture = socket\n",
			       "--listen=127.0.0.1:7000", why, sizeof(why)),
			 0);
	config_reload_merge(&live, &next, &r);
	assert_int_equal(r.refused, 0); /* listen unchanged: the flag's */
	assert_int_equal(r.changed, CFG_ROUTES);
	assert_int_equal(live.listen_port, 7000);
	assert_int_equal(live.n_routes, 0);
	config_free(&live);
	config_free(&next);
}

static void test_bad_file_one_line(void **state)
{
	struct config next;
	char why[256];

	assert_int_equal(
		parse(&next, "select = comm=api\n\nlisten = nowhere\n", NULL, why, sizeof(why)),
		-EINVAL);
	assert_non_null(strstr(why, path));
	assert_non_null(strstr(why, ":3: listen: 'nowhere'"));
	assert_null(strchr(why, '\n'));
	assert_int_equal(strncmp(why, "sonde: ", 7) != 0, 1);
	assert_null(next.rules); /* nothing to free */

	assert_int_equal(parse(&next, "select = bogus\nfoo = 1\n", NULL, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, ":1: select:"));
	assert_non_null(strstr(why, "(and 1 more error)"));
}

static void test_missing_file(void **state)
{
	struct config next;
	char why[256];
	char *argv[] = { "sonde", "--config", "/nonexistent/sonde.conf", NULL };

	assert_int_equal(config_reload_parse(&next, 3, argv, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "cannot read config file '/nonexistent/sonde.conf'"));
}

static void test_routes_file_contents(void **state)
{
	struct config live, next;
	struct config_reload r;
	char why[256], routes[96], conf[160];
	FILE *f;

	snprintf(routes, sizeof(routes), "%s.routes", path);
	snprintf(conf, sizeof(conf), "routes-file = %s\n", routes);
	f = fopen(routes, "w");
	assert_non_null(f);
	fputs("/x/{id}\n", f);
	fclose(f);
	assert_int_equal(parse(&live, conf, NULL, why, sizeof(why)), 0);
	f = fopen(routes, "w");
	assert_non_null(f);
	fputs("/x/{id}\n/y/*\n", f);
	fclose(f);
	assert_int_equal(parse(&next, conf, NULL, why, sizeof(why)), 0);
	config_reload_merge(&live, &next, &r);
	assert_int_equal(r.changed, CFG_ROUTES);
	assert_int_equal(live.n_routes, 2);
	assert_string_equal(live.routes[1], "/y/*");
	unlink(routes);
	config_free(&live);
	config_free(&next);
}

static void test_key_names(void **state)
{
	char buf[16];

	assert_string_equal(config_key_name(CFG_LISTEN), "listen");
	assert_string_equal(config_key_name(CFG_SELECT), "select");
	assert_string_equal(config_key_name(0), "?");
	config_keys_text(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* cut, never overrun */
	assert_int_equal(
		config_keys_text(CFG_SELECT | CFG_ROUTES | CFG_ROUTE_CAP, buf, sizeof(buf)),
		sizeof(buf) - 1);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_true((CFG_RELOADABLE & CFG_LISTEN) == 0);
	assert_true((CFG_RELOADABLE & CFG_SELECT) != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_changed),
		cmocka_unit_test(test_reloadable_keys_move),
		cmocka_unit_test(test_restart_keys_refused_rest_applies),
		cmocka_unit_test(test_flag_still_wins),
		cmocka_unit_test(test_bad_file_one_line),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_routes_file_contents),
		cmocka_unit_test(test_key_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
