// SPDX-License-Identifier: GPL-2.0-only
/* Basic auth against bcrypt hashes, with a cache of verified pairs: see webauth.h. */
#include "http/webauth.h"

#include <crypt.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define DIGEST_LEN 32 /* SHA-256 */

struct webauth {
	const struct web_config *w;
	pthread_mutex_t lock;
	uint8_t key[32];
	uint8_t slots[WEBAUTH_CACHE_SLOTS][DIGEST_LEN];
	bool used[WEBAUTH_CACHE_SLOTS];
	unsigned next;
	unsigned long bcrypt_runs;
};

/* Compares n bytes in a time that does not depend on where they differ. */
static bool equal_ct(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= x[i] ^ y[i];
	return !diff;
}

struct webauth *webauth_new(const struct web_config *w)
{
	struct webauth *a = calloc(1, sizeof(*a));
	size_t got = 0;
	ssize_t n;

	if (!a)
		return NULL;
	a->w = w;
	pthread_mutex_init(&a->lock, NULL);
	while (got < sizeof(a->key)) {
		n = getrandom(a->key + got, sizeof(a->key) - got, 0);
		if (n < 0 && errno != EINTR) {
			free(a);
			return NULL;
		}
		got += n > 0 ? (size_t)n : 0;
	}
	return a;
}

/* HMAC(key, user NUL pass): what the cache holds of a pair. */
static int pair_digest(const struct webauth *a, const char *user, const char *pass, uint8_t *out)
{
	gnutls_hmac_hd_t h;

	if (gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, a->key, sizeof(a->key)) < 0)
		return -ENOMEM;
	gnutls_hmac(h, user, strlen(user) + 1);
	gnutls_hmac(h, pass, strlen(pass));
	gnutls_hmac_deinit(h, out);
	return 0;
}

static bool cached(struct webauth *a, const uint8_t *d)
{
	bool hit = false;
	unsigned i;

	pthread_mutex_lock(&a->lock);
	for (i = 0; i < WEBAUTH_CACHE_SLOTS; i++) /* no early exit: the time says nothing */
		hit |= a->used[i] && equal_ct(a->slots[i], d, DIGEST_LEN);
	pthread_mutex_unlock(&a->lock);
	return hit;
}

static void remember(struct webauth *a, const uint8_t *d)
{
	pthread_mutex_lock(&a->lock);
	memcpy(a->slots[a->next], d, DIGEST_LEN);
	a->used[a->next] = true;
	a->next = (a->next + 1) % WEBAUTH_CACHE_SLOTS;
	pthread_mutex_unlock(&a->lock);
}

/* bcrypt of pass with hash's salt and cost equals hash. */
static bool bcrypt_matches(struct webauth *a, const char *hash, const char *pass)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd)); /* 32 KiB: not on a thread's stack */
	const char *out;
	bool ok;

	if (!cd)
		return false;
	out = crypt_rn(pass, hash, cd, sizeof(*cd));
	ok = out && strlen(out) == strlen(hash) && equal_ct(out, hash, strlen(hash));
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	pthread_mutex_lock(&a->lock);
	a->bcrypt_runs++;
	pthread_mutex_unlock(&a->lock);
	return ok;
}

bool webauth_check(struct webauth *a, const char *user, const char *pass)
{
	const struct web_user *u = NULL;
	uint8_t d[DIGEST_LEN];
	size_t i;
	bool ok;

	if (!a || !user || !pass || !a->w->n_users)
		return false;
	for (i = 0; i < a->w->n_users; i++)
		if (!strcmp(a->w->users[i].name, user))
			u = &a->w->users[i];
	if (pair_digest(a, user, pass, d))
		return false;
	if (u && cached(a, d))
		return true;
	/* An unknown user costs a bcrypt too, so timing does not tell which users exist. */
	ok = bcrypt_matches(a, u ? u->hash : a->w->users[0].hash, pass) && u;
	if (ok)
		remember(a, d);
	return ok;
}

unsigned long webauth_bcrypt_runs(struct webauth *a)
{
	unsigned long n;

	pthread_mutex_lock(&a->lock);
	n = a->bcrypt_runs;
	pthread_mutex_unlock(&a->lock);
	return n;
}

void webauth_free(struct webauth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	explicit_bzero(a, sizeof(*a));
	free(a);
}
