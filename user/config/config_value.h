/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Each option's value, checked the same way whether it comes from a flag, a config file key
 * or a routes file line, and stored in a struct config. Used by config.c; errors are
 * reported through options.h's config_diag.
 */
#ifndef SONDE_CONFIG_VALUE_H
#define SONDE_CONFIG_VALUE_H

#include "config/config.h"
#include "config/options.h"

/* Checks value and stores it in cfg (repeatables are appended): 0, -EINVAL (reported) or
 * -ENOMEM. key is an enum opt_key; OPT_VERBOSE takes a level, as in a config file. */
int config_apply(struct config *cfg, int key, const char *value, struct config_diag *d);
/* Checks one route pattern and appends a copy: 0, -EINVAL (reported) or -ENOMEM. */
int config_add_route(struct config *cfg, const char *key, const char *route, struct config_diag *d);
int config_append_rule(struct config *cfg, const struct select_rule *rule);
/* Appends rule unless its name is taken (reported): 0, -EINVAL or -ENOMEM (not reported). */
int config_add_counter(struct config *cfg, const struct counter_rule *rule, struct config_diag *d);
/* Takes ownership of route, freeing it on failure. 0 or -ENOMEM. */
int config_append_route(struct config *cfg, char *route);

/* "201", "5xx" or "*": the STATUS of a counter rule as written; buf holds 4 bytes or more. */
const char *counter_status_text(const struct counter_rule *rule, char *buf);

#endif
