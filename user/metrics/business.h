/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Business counters derived from HTTP traffic (--counter NAME METHOD ROUTE STATUS): every
 * HTTP server exchange that matches a rule adds 1 to the counter family NAME, labelled
 * service_name, so a service's business metrics (orders created, payments failed) exist
 * without a line of its code.
 *
 * A rule's route is compared with the http_route label sonde computed for the exchange
 * (route.h), byte for byte: with --route patterns that is the pattern text, so the rule's
 * route must be one of them.
 *
 * Threads: business_observe() runs on the event loop only; scrapes read the families
 * through the registry's own locking.
 */
#ifndef SONDE_BUSINESS_H
#define SONDE_BUSINESS_H

#include <stddef.h>

#include "config/config.h"
#include "metrics/registry.h"

struct business;

/*
 * Registers one counter family per rule in reg (HELP "Requests matching METHOD ROUTE
 * STATUS (sonde business counter).", label service_name) and copies the rules; no series
 * exists before its first match. n may be 0 (business_observe then does nothing).
 * Returns NULL with errno EINVAL (a name the registry refuses), EEXIST (a name already
 * registered) or ENOMEM; the families registered before the failure stay in reg, which
 * cannot remove a family.
 */
struct business *business_new(struct registry *reg, const struct counter_rule *rules, size_t n);

/*
 * One HTTP server exchange: method as http_request_method labels it ("GET", "_OTHER"),
 * route as http_route, the response status, the service_name. Adds 1 to the counter of
 * every rule that matches. Allocates nothing once the service's series exists; a rule is
 * rejected on its status and method before its route is compared. NULL b does nothing;
 * NULL strings are "".
 */
void business_observe(struct business *b, const char *method, const char *route, unsigned status,
		      const char *service);

void business_free(struct business *b); /* accepts NULL; the families stay in the registry */

#endif
