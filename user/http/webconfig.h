/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * --web-config FILE: the web configuration file of the Prometheus exporters
 * (exporter-toolkit's web-config.yml), the subset sonde serves:
 *
 *   tls_server_config:
 *     cert_file: server.crt        # PEM certificate (chain), required with TLS
 *     key_file: server.key         # its PEM private key (unencrypted)
 *     client_ca_file: ca.crt       # PEM CAs that sign client certificates
 *     client_auth_type: RequireAndVerifyClientCert
 *   basic_auth_users:
 *     prometheus: $2y$10$...      # user: bcrypt hash
 *
 * Relative file names are relative to the web config file's directory, as the toolkit has
 * it. client_auth_type is NoClientCert (the default), VerifyClientCertIfGiven or
 * RequireAndVerifyClientCert; the last two need client_ca_file and client_ca_file needs one
 * of them. Any other key, a malformed YAML file, an unreadable or mismatched certificate or
 * key, or a password hash that is not bcrypt is an error: one line naming the file, the
 * line and the key. An empty file is valid and changes nothing.
 */
#ifndef SONDE_HTTP_WEBCONFIG_H
#define SONDE_HTTP_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum web_client_auth {
	WEB_CLIENT_NONE = 0,	    /* NoClientCert */
	WEB_CLIENT_VERIFY_IF_GIVEN, /* VerifyClientCertIfGiven */
	WEB_CLIENT_REQUIRE_VERIFY,  /* RequireAndVerifyClientCert */
};

struct web_user {
	char *name;
	char *hash; /* bcrypt: $2a$, $2b$ or $2y$, cost 04..31, 60 characters */
};

struct web_config {
	bool tls;	/* tls_server_config given */
	char *cert_pem; /* NUL-terminated file contents, NULL without TLS */
	char *key_pem;
	char *ca_pem; /* client_ca_file, or NULL */
	enum web_client_auth client_auth;
	struct web_user *users; /* basic_auth_users, in file order; none: no auth */
	size_t n_users;
};

/*
 * Reads and checks path. Returns 0 with *out set (free with webconfig_free), -EINVAL after
 * printing one line "sonde: web-config PATH[:LINE]: KEY: WHY" to err, or -ENOMEM.
 */
int webconfig_load(const char *path, struct web_config **out, FILE *err);
void webconfig_free(struct web_config *w);

/* "NoClientCert", ... as the file spells them. */
const char *web_client_auth_name(enum web_client_auth a);

/* Whether hash is a well-formed bcrypt hash (the form libcrypt verifies). */
bool webconfig_is_bcrypt(const char *hash);

#endif
