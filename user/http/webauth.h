/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HTTP basic auth against the bcrypt hashes of a --web-config file. bcrypt is slow on
 * purpose (about 50-100 ms at cost 10), and Prometheus sends the same credentials on every
 * scrape: a pair that verified is remembered as an HMAC-SHA-256 under a key drawn at start
 * (never the password itself), in a small table replaced round-robin, so later scrapes
 * cost one HMAC. Wrong credentials are never remembered: each try pays bcrypt again.
 */
#ifndef SONDE_HTTP_WEBAUTH_H
#define SONDE_HTTP_WEBAUTH_H

#include <stdbool.h>

#include "http/webconfig.h"

#define WEBAUTH_CACHE_SLOTS 16

struct webauth;

/* Checks against w's users (w must outlive it). NULL + errno when out of memory. */
struct webauth *webauth_new(const struct web_config *w);
/* Whether user and pass match a user's hash. Thread-safe. NULL user or pass: false. */
bool webauth_check(struct webauth *a, const char *user, const char *pass);
/* Times bcrypt ran (a cache miss), for the tests. */
unsigned long webauth_bcrypt_runs(struct webauth *a);
void webauth_free(struct webauth *a);

#endif
