// SPDX-License-Identifier: GPL-2.0-only
/*
 * Business counters: a linear scan over the rules for every HTTP server exchange. Rules
 * are few (a handful per service), and most exchanges are rejected by an integer compare
 * on the status or a short method compare before the route string is looked at.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_value.h"
#include "metrics/business.h"

/* One series per service_name: the services on one node. */
#define BUSINESS_MAX_SERIES 1024

struct business_rule {
	struct counter_rule r;
	struct metric *m;
	bool any_method;
};

struct business {
	size_t n;
	struct business_rule rules[];
};

static struct metric *register_rule(struct registry *reg, const struct counter_rule *r)
{
	static const char *const labels[] = { "service_name" };
	char help[sizeof(r->method) + sizeof(r->route) + 64], status[4];

	snprintf(help, sizeof(help), "Requests matching %s %s %s (sonde business counter).",
		 r->method, r->route, counter_status_text(r, status));
	return registry_add(reg, METRIC_COUNTER, r->name, help, labels, 1, NULL, 0,
			    BUSINESS_MAX_SERIES);
}

struct business *business_new(struct registry *reg, const struct counter_rule *rules, size_t n)
{
	struct business *b;
	size_t i;

	if (!reg || (n && !rules)) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b) + n * sizeof(b->rules[0]));
	if (!b)
		return NULL;
	for (i = 0; i < n; i++) {
		struct business_rule *br = &b->rules[i];

		br->r = rules[i];
		br->r.name[sizeof(br->r.name) - 1] = '\0';
		br->r.method[sizeof(br->r.method) - 1] = '\0';
		br->r.route[sizeof(br->r.route) - 1] = '\0';
		br->any_method = !strcmp(br->r.method, "*");
		br->m = register_rule(reg, &br->r);
		if (!br->m) {
			free(b); /* errno from registry_add */
			return NULL;
		}
	}
	b->n = n;
	return b;
}

static bool status_matches(const struct counter_rule *r, unsigned status)
{
	if (r->status)
		return status == r->status;
	if (r->status_class)
		return status / 100 == r->status_class;
	return true;
}

void business_observe(struct business *b, const char *method, const char *route, unsigned status,
		      const char *service)
{
	size_t i;

	if (!b)
		return;
	method = method ? method : "";
	route = route ? route : "";
	service = service ? service : "";
	for (i = 0; i < b->n; i++) {
		const struct business_rule *br = &b->rules[i];

		if (!status_matches(&br->r, status))
			continue;
		if (!br->any_method && strcmp(br->r.method, method))
			continue;
		if (strcmp(br->r.route, route))
			continue;
		/* -ENOSPC (series cap) is counted by the registry itself */
		metric_add(br->m, &service, 1);
	}
}

void business_free(struct business *b)
{
	free(b);
}
