// SPDX-License-Identifier: GPL-2.0-only
/* --counter / counter = NAME METHOD ROUTE STATUS: forms, every error message, precedence.
 * The rest of config_parse() is in test_config.c. */
#include "config_runner.h"
#include "config/config_value.h"

/* "--counter: 'RULE': " then what, as one line. */
#define ERR(rule, what) "sonde: --counter: '" rule "': " what "\n"
#define EXPECT_RULE_ERROR(rule, what) EXPECT_ERROR(ERR(rule, what), "--counter", rule)

static void assert_counter(const struct config *c, size_t i, const char *name, const char *method,
			   const char *route, unsigned status, unsigned status_class)
{
	assert_true(i < c->n_counters);
	assert_string_equal(c->counters[i].name, name);
	assert_string_equal(c->counters[i].method, method);
	assert_string_equal(c->counters[i].route, route);
	assert_int_equal(c->counters[i].status, status);
	assert_int_equal(c->counters[i].status_class, status_class);
}

static void test_counter_forms(void **state)
{
	struct run r;

	assert_int_equal(RUN(&r, "--counter", "orders_created_total POST /api/v1/orders 201",
			     "--counter=payment_failures_total POST /api/v1/payments 5xx",
			     "--counter", "any_order_reads_total GET /api/v1/orders/{id} 2xx",
			     "--counter", "  all_total\t*   /a/*  *  ", "--counter",
			     "_a:b:9 DELETE / 599", "--counter", ":x PATCH /x/{id:[0-9]+} 100",
			     "--counter", "c1 HEAD /h 1xx", "--counter", "c3 PUT /p 3xx"),
			 0);
	assert_string_equal(r.err, "");
	assert_int_equal(r.cfg.n_counters, 8);
	assert_counter(&r.cfg, 0, "orders_created_total", "POST", "/api/v1/orders", 201, 0);
	assert_counter(&r.cfg, 1, "payment_failures_total", "POST", "/api/v1/payments", 0, 5);
	assert_counter(&r.cfg, 2, "any_order_reads_total", "GET", "/api/v1/orders/{id}", 0, 2);
	assert_counter(&r.cfg, 3, "all_total", "*", "/a/*", 0, 0);
	assert_counter(&r.cfg, 4, "_a:b:9", "DELETE", "/", 599, 0);
	assert_counter(&r.cfg, 5, ":x", "PATCH", "/x/{id:[0-9]+}", 100, 0);
	assert_counter(&r.cfg, 6, "c1", "HEAD", "/h", 0, 1);
	assert_counter(&r.cfg, 7, "c3", "PUT", "/p", 0, 3);
	done(&r);

	assert_int_equal(RUN(&r, "--counter", "a CONNECT /c 4xx", "--counter", "b OPTIONS /o 204",
			     "--counter", "c TRACE /t *", "--counter", "d GET /d 404"),
			 0);
	assert_counter(&r.cfg, 0, "a", "CONNECT", "/c", 0, 4);
	assert_counter(&r.cfg, 1, "b", "OPTIONS", "/o", 204, 0);
	assert_counter(&r.cfg, 2, "c", "TRACE", "/t", 0, 0);
	assert_counter(&r.cfg, 3, "d", "GET", "/d", 404, 0);
	done(&r);
}

static void test_counter_lengths(void **state)
{
	char name[COUNTER_NAME_MAX + 2], rule[512], expected[1024], route[300];
	struct run r;

	memset(name, 'n', sizeof(name) - 1);
	name[COUNTER_NAME_MAX] = '\0'; /* 64 characters: fits */
	snprintf(rule, sizeof(rule), "%s GET /a 200", name);
	assert_int_equal(RUN(&r, "--counter", rule), 0);
	assert_int_equal(strlen(r.cfg.counters[0].name), COUNTER_NAME_MAX);
	done(&r);

	name[COUNTER_NAME_MAX] = 'n'; /* 65: one too many */
	name[COUNTER_NAME_MAX + 1] = '\0';
	snprintf(rule, sizeof(rule), "%s GET /a 200", name);
	snprintf(expected, sizeof(expected),
		 "sonde: --counter: '%s': name is 65 characters long, more than 64\n", rule);
	EXPECT_ERROR(expected, "--counter", rule);

	route[0] = '/';
	memset(route + 1, 'r', 254); /* 255 bytes: fits */
	route[255] = '\0';
	snprintf(rule, sizeof(rule), "n GET %s 200", route);
	assert_int_equal(RUN(&r, "--counter", rule), 0);
	assert_string_equal(r.cfg.counters[0].route, route);
	done(&r);

	route[255] = 'r'; /* 256 */
	route[256] = '\0';
	snprintf(rule, sizeof(rule), "n GET %s 200", route);
	snprintf(expected, sizeof(expected),
		 "sonde: --counter: '%s': route '%s': longer than 255 bytes\n", rule, route);
	EXPECT_ERROR(expected, "--counter", rule);
}

#define USAGE \
	"is not NAME METHOD ROUTE STATUS, e.g. 'orders_created_total POST /api/v1/orders 201'\n"
#define METHODS "is not one of GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH or *"
#define STATUSES "is not a code from 100 to 599, a class 1xx to 5xx, or *"

static void test_counter_shape_errors(void **state)
{
	EXPECT_ERROR("sonde: --counter: '' " USAGE, "--counter", "");
	EXPECT_ERROR("sonde: --counter: ' \t ' " USAGE, "--counter", " \t ");
	EXPECT_ERROR("sonde: --counter: 'orders_total' " USAGE, "--counter", "orders_total");
	EXPECT_ERROR("sonde: --counter: 'orders_total POST /api/v1/orders' " USAGE, "--counter",
		     "orders_total POST /api/v1/orders");
	EXPECT_ERROR("sonde: --counter: 'orders_total POST /api/v1/orders 201 x' " USAGE,
		     "--counter", "orders_total POST /api/v1/orders 201 x");
	/* a route holds no space: the words cannot be split another way */
	EXPECT_ERROR("sonde: --counter: 'o POST /api/v1/my orders 201' " USAGE, "--counter",
		     "o POST /api/v1/my orders 201");
	EXPECT_ERROR("sonde: option '--counter' needs a value\n", "--counter");
}

static void test_counter_name_errors(void **state)
{
	EXPECT_RULE_ERROR("9orders GET /a 200",
			  "name '9orders' is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
	EXPECT_RULE_ERROR("orders-created GET /a 200",
			  "name 'orders-created' is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
	EXPECT_RULE_ERROR("orders.total GET /a 200",
			  "name 'orders.total' is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
	EXPECT_RULE_ERROR("sonde_orders_total GET /a 200",
			  "name 'sonde_orders_total' starts with 'sonde_', kept for sonde's own "
			  "metrics");
	EXPECT_RULE_ERROR("http_orders_total GET /a 200",
			  "name 'http_orders_total' starts with 'http_', kept for sonde's own "
			  "metrics");
	EXPECT_RULE_ERROR("db_orders_total GET /a 200",
			  "name 'db_orders_total' starts with 'db_', kept for sonde's own metrics");
	/* only those prefixes: "http" alone or "dbx_" are names like any other */
	{
		struct run r;

		assert_int_equal(RUN(&r, "--counter", "http GET /a 200", "--counter",
				     "dbx_total GET /a 200", "--counter", "Sonde_x GET /a 200"),
				 0);
		assert_int_equal(r.cfg.n_counters, 3);
		done(&r);
	}
}

static void test_counter_part_errors(void **state)
{
	EXPECT_RULE_ERROR("o post /a 201", "method 'post' " METHODS);
	EXPECT_RULE_ERROR("o _OTHER /a 201", "method '_OTHER' " METHODS);
	EXPECT_RULE_ERROR("o PROPFIND /a 201", "method 'PROPFIND' " METHODS);
	EXPECT_RULE_ERROR("o ** /a 201", "method '**' " METHODS);
	EXPECT_RULE_ERROR("o GET api/v1 201", "route 'api/v1': must start with '/'");
	EXPECT_RULE_ERROR("o GET /a/{id 201", "route '/a/{id': '{' at offset 3 is never closed");
	EXPECT_RULE_ERROR("o GET /a/*/b 201",
			  "route '/a/*/b': '*' at offset 3: chi's wildcard only ends a pattern; "
			  "use {name} for one segment");
	EXPECT_RULE_ERROR("o GET /** 201", "route '/**': '*' at offset 1: chi's wildcard only "
					   "ends a pattern; use {name} for one segment");
	EXPECT_RULE_ERROR("o GET /a?x=1 201", "route '/a?x=1': '?' at offset 2: a route is a "
					      "path; queries and fragments never reach it");
	EXPECT_RULE_ERROR("o GET /a 600", "status '600' " STATUSES);
	EXPECT_RULE_ERROR("o GET /a 099", "status '099' " STATUSES);
	EXPECT_RULE_ERROR("o GET /a 20", "status '20' " STATUSES);
	EXPECT_RULE_ERROR("o GET /a 2010", "status '2010' " STATUSES);
	EXPECT_RULE_ERROR("o GET /a 6xx", "status '6xx' " STATUSES);
	EXPECT_RULE_ERROR("o GET /a 0xx", "status '0xx' " STATUSES);
	EXPECT_RULE_ERROR("o GET /a 2XX", "status '2XX' " STATUSES);
	EXPECT_RULE_ERROR("o GET /a 2x", "status '2x' " STATUSES);
	EXPECT_RULE_ERROR("o GET /a +20", "status '+20' " STATUSES);
	EXPECT_RULE_ERROR("o GET /a **", "status '**' " STATUSES);
	EXPECT_RULE_ERROR("o GET /a any", "status 'any' " STATUSES);
	/* every bad part of one rule, each on its line */
	static const char all_bad[] =
		"sonde: --counter: 'http_x get api 600': name 'http_x' "
		"starts with 'http_', kept for sonde's own metrics\n"
		"sonde: --counter: 'http_x get api 600': method 'get' " METHODS "\n"
		"sonde: --counter: 'http_x get api 600': route 'api': must "
		"start with '/'\n"
		"sonde: --counter: 'http_x get api 600': status '600' " STATUSES "\n";

	EXPECT_ERROR(all_bad, "--counter", "http_x get api 600");
}

static void test_counter_duplicates(void **state)
{
	char path[64];

	EXPECT_ERROR("sonde: --counter: 'orders_total GET /b 2xx': name 'orders_total' is "
		     "taken by another rule\n",
		     "--counter", "orders_total POST /a 201", "--counter",
		     "orders_total GET /b 2xx");
	/* config file lines, then a flag that repeats one of their names */
	write_temp(path, sizeof(path),
		   "counter = orders_total POST /a 201\n"
		   "counter = orders_total GET /b *   # same name\n"
		   "counter = reads_total GET /b 2xx\n");
	{
		char expected[512];

		snprintf(expected, sizeof(expected),
			 "sonde: config %s:2: counter: 'orders_total GET /b *': name "
			 "'orders_total' is taken by another rule\n"
			 "sonde: --counter: 'reads_total * /c 5xx': name 'reads_total' is taken "
			 "by another rule\n",
			 path);
		expect_error(expected, (const char *[]){ "sonde", "--config", path, "--counter",
							 "reads_total  *  /c  5xx", NULL });
	}
	unlink(path);
}

static void test_counter_file_and_flags(void **state)
{
	char path[64], expected[512];
	struct run r;

	write_temp(path, sizeof(path),
		   "# business counters\n"
		   "counter = orders_created_total POST /api/v1/orders 201\n"
		   "counter=failures_total\t* /api/v1/orders 5xx # after a space: a comment\n"
		   "route = /api/v1/orders\n");
	assert_int_equal(
		RUN(&r, "--counter", "reads_total GET /api/v1/orders 2xx", "--config", path), 0);
	assert_string_equal(r.err, "");
	assert_int_equal(r.cfg.n_counters, 3); /* the file's, then the command line's */
	assert_counter(&r.cfg, 0, "orders_created_total", "POST", "/api/v1/orders", 201, 0);
	assert_counter(&r.cfg, 1, "failures_total", "*", "/api/v1/orders", 0, 5);
	assert_counter(&r.cfg, 2, "reads_total", "GET", "/api/v1/orders", 0, 2);
	done(&r);
	unlink(path);

	write_temp(path, sizeof(path), "counter = bad-name GET /a 200\ncounter = x GET /a 700\n");
	snprintf(expected, sizeof(expected),
		 "sonde: config %s:1: counter: 'bad-name GET /a 200': name 'bad-name' is not a "
		 "metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)\n"
		 "sonde: config %s:2: counter: 'x GET /a 700': status '700' " STATUSES "\n",
		 path, path);
	expect_error(expected, (const char *[]){ "sonde", "--config", path, NULL });
	unlink(path);
	write_temp(path, sizeof(path), "counter =\n");
	snprintf(expected, sizeof(expected), "sonde: config %s:1: counter: '' " USAGE, path);
	expect_error(expected, (const char *[]){ "sonde", "--config", path, NULL });
	unlink(path);
}

static void test_counter_status_text_and_free(void **state)
{
	struct counter_rule r = { .status = 201 };
	struct config c = { 0 };
	char buf[4];

	assert_string_equal(counter_status_text(&r, buf), "201");
	r.status = 0;
	r.status_class = 5;
	assert_string_equal(counter_status_text(&r, buf), "5xx");
	r.status_class = 0;
	assert_string_equal(counter_status_text(&r, buf), "*");

	c.counters = calloc(2, sizeof(*c.counters));
	c.n_counters = 2;
	config_free(&c);
	assert_null(c.counters);
	assert_int_equal(c.n_counters, 0);
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_forms),
		cmocka_unit_test(test_counter_lengths),
		cmocka_unit_test(test_counter_shape_errors),
		cmocka_unit_test(test_counter_name_errors),
		cmocka_unit_test(test_counter_part_errors),
		cmocka_unit_test(test_counter_duplicates),
		cmocka_unit_test(test_counter_file_and_flags),
		cmocka_unit_test(test_counter_status_text_and_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
