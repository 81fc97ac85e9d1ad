// SPDX-License-Identifier: GPL-2.0-only
/* business_*(): which exchanges each rule counts, and the exposition text they make. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics/business.h"
#include "config/config.h"
#include "metrics/registry.h"

static struct counter_rule rule(const char *name, const char *method, const char *route,
				uint16_t status, uint8_t status_class)
{
	struct counter_rule r;

	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.method, sizeof(r.method), "%s", method);
	snprintf(r.route, sizeof(r.route), "%s", route);
	r.status = status;
	r.status_class = status_class;
	return r;
}

static char *render(struct registry *reg)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(registry_render(reg, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	return text;
}

#define DROPPED_FAMILY                                                                   \
	"# HELP sonde_series_dropped_total Samples dropped because their metric family " \
	"reached its series cap (--max-series).\n"                                       \
	"# TYPE sonde_series_dropped_total counter\n"

static const char *const te = "trade-engine";

/* The example of the issue: 201s of POST /api/v1/orders, and nothing else. */
static void test_orders_created(void **state)
{
	struct counter_rule r = rule("orders_created_total", "POST", "/api/v1/orders", 201, 0);
	struct registry *reg = registry_new();
	struct business *b = business_new(reg, &r, 1);
	char *text;
	int i;

	assert_non_null(b);
	text = render(reg); /* no series before the first match */
	assert_string_equal(text, "# HELP orders_created_total Requests matching POST "
				  "/api/v1/orders 201 (sonde business counter).\n"
				  "# TYPE orders_created_total counter\n" DROPPED_FAMILY);
	free(text);
	for (i = 0; i < 3; i++)
		business_observe(b, "POST", "/api/v1/orders", 201, te);
	business_observe(b, "POST", "/api/v1/orders", 200, te);
	business_observe(b, "POST", "/api/v1/orders", 400, te);
	business_observe(b, "POST", "/api/v1/orders", 500, te);
	business_observe(b, "GET", "/api/v1/orders", 201, te);
	business_observe(b, "PUT", "/api/v1/orders", 201, te);
	business_observe(b, "_OTHER", "/api/v1/orders", 201, te);
	business_observe(b, "POST", "/api/v1/orders/{id}", 201, te);
	business_observe(b, "POST", "/api/v1/order", 201, te);
	business_observe(b, "POST", "/api/v1/orders/", 201, te);
	business_observe(b, "POST", "/**", 201, te);
	business_observe(b, "post", "/api/v1/orders", 201, te);
	business_observe(b, "POST", "/api/v1/orders", 201, "billing");
	text = render(reg);
	assert_string_equal(text,
			    "# HELP orders_created_total Requests matching POST "
			    "/api/v1/orders 201 (sonde business counter).\n"
			    "# TYPE orders_created_total counter\n"
			    "orders_created_total{service_name=\"trade-engine\"} 3\n"
			    "orders_created_total{service_name=\"billing\"} 1\n" DROPPED_FAMILY);
	free(text);
	business_free(b);
	registry_free(reg);
}

/* Counts of each rule after the same exchanges; rules[i] renders as "NAME{...} N". */
static void test_status_and_method_forms(void **state)
{
	const struct counter_rule rules[] = {
		rule("exact_total", "GET", "/a/{id}", 404, 0),
		rule("class_total", "GET", "/a/{id}", 0, 4),
		rule("any_status_total", "GET", "/a/{id}", 0, 0),
		rule("any_method_total", "*", "/a/{id}", 0, 5),
		rule("everything_total", "*", "/a/{id}", 0, 0),
		rule("other_route_total", "*", "/b", 0, 0),
		rule("info_total", "*", "/a/{id}", 0, 1),
	};
	struct registry *reg = registry_new();
	struct business *b = business_new(reg, rules, 7);
	char *text;

	assert_non_null(b);
	business_observe(b, "GET", "/a/{id}", 404, te);	   /* exact class any any_m every */
	business_observe(b, "GET", "/a/{id}", 400, te);	   /* class any every */
	business_observe(b, "GET", "/a/{id}", 499, te);	   /* class any every */
	business_observe(b, "GET", "/a/{id}", 500, te);	   /* any any_method every */
	business_observe(b, "DELETE", "/a/{id}", 503, te); /* any_method every */
	business_observe(b, "_OTHER", "/a/{id}", 599, te); /* any_method every */
	business_observe(b, "HEAD", "/a/{id}", 404, te);   /* every */
	business_observe(b, "GET", "/a/{id}", 399, te);	   /* any every */
	business_observe(b, "GET", "/a/{id}", 600, te);	   /* any every: no class 6 rule */
	business_observe(b, "POST", "/a/{id}", 100, te);   /* every info */
	business_observe(b, "GET", "/a/{id}/x", 404, te);  /* none */
	business_observe(b, "GET", "/b", 404, te);	   /* other_route */
	business_observe(b, NULL, NULL, 404, NULL);	   /* none: "" matches no rule */
	text = render(reg);
	assert_non_null(strstr(text, "\nexact_total{service_name=\"trade-engine\"} 1\n"));
	assert_non_null(strstr(text, "\nclass_total{service_name=\"trade-engine\"} 3\n"));
	assert_non_null(strstr(text, "\nany_status_total{service_name=\"trade-engine\"} 6\n"));
	assert_non_null(strstr(text, "\nany_method_total{service_name=\"trade-engine\"} 3\n"));
	assert_non_null(strstr(text, "\neverything_total{service_name=\"trade-engine\"} 10\n"));
	assert_non_null(strstr(text, "\nother_route_total{service_name=\"trade-engine\"} 1\n"));
	assert_non_null(strstr(text, "\ninfo_total{service_name=\"trade-engine\"} 1\n"));
	assert_non_null(strstr(text, "# HELP class_total Requests matching GET /a/{id} 4xx "
				     "(sonde business counter).\n"));
	assert_non_null(strstr(text, "# HELP everything_total Requests matching * /a/{id} * "
				     "(sonde business counter).\n"));
	free(text);
	business_free(b);
	registry_free(reg);
}

/* Families in rule order, after those registered before; an empty service is a label too. */
static void test_families_and_services(void **state)
{
	const struct counter_rule rules[] = {
		rule("payment_failures_total", "POST", "/api/v1/payments", 0, 5),
		rule("any_order_reads_total", "GET", "/api/v1/orders/{id}", 0, 2),
	};
	struct registry *reg = registry_new();
	struct metric *first =
		registry_add(reg, METRIC_COUNTER, "first_total", "First.", NULL, 0, NULL, 0, 0);
	struct business *b = business_new(reg, rules, 2);
	char *text;

	assert_non_null(first);
	assert_non_null(b);
	business_observe(b, "POST", "/api/v1/payments", 502, "pay");
	business_observe(b, "POST", "/api/v1/payments", 503, "pay");
	business_observe(b, "GET", "/api/v1/orders/{id}", 200, "");
	business_observe(b, "GET", "/api/v1/orders/{id}", 204, "a\"b");
	text = render(reg);
	assert_string_equal(
		text, "# HELP first_total First.\n"
		      "# TYPE first_total counter\n"
		      "first_total 0\n"
		      "# HELP payment_failures_total Requests matching POST /api/v1/payments "
		      "5xx (sonde business counter).\n"
		      "# TYPE payment_failures_total counter\n"
		      "payment_failures_total{service_name=\"pay\"} 2\n"
		      "# HELP any_order_reads_total Requests matching GET /api/v1/orders/{id} "
		      "2xx (sonde business counter).\n"
		      "# TYPE any_order_reads_total counter\n"
		      "any_order_reads_total{service_name=\"\"} 1\n"
		      "any_order_reads_total{service_name=\"a\\\"b\"} 1\n" DROPPED_FAMILY);
	free(text);
	business_free(b);
	registry_free(reg);
}

static void test_no_rules_and_errors(void **state)
{
	struct counter_rule dup[] = {
		rule("orders_total", "POST", "/a", 201, 0),
		rule("orders_total", "GET", "/a", 0, 0),
	};
	struct counter_rule bad = rule("bad-name", "GET", "/a", 0, 0);
	struct registry *reg = registry_new();
	struct business *b = business_new(reg, NULL, 0);
	char *text;

	assert_non_null(b); /* no rules: observing does nothing */
	business_observe(b, "GET", "/a", 200, te);
	business_free(b);
	business_observe(NULL, "GET", "/a", 200, te);
	business_free(NULL);
	text = render(reg);
	assert_string_equal(text, DROPPED_FAMILY);
	free(text);

	errno = 0;
	assert_null(business_new(reg, dup, 2));
	assert_int_equal(errno, EEXIST);
	errno = 0;
	assert_null(business_new(reg, &bad, 1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(business_new(NULL, dup, 1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(business_new(reg, NULL, 1));
	assert_int_equal(errno, EINVAL);
	registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_orders_created),
		cmocka_unit_test(test_status_and_method_forms),
		cmocka_unit_test(test_families_and_services),
		cmocka_unit_test(test_no_rules_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
