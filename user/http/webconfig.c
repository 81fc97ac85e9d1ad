// SPDX-License-Identifier: GPL-2.0-only
/*
 * The --web-config file (see webconfig.h), read with libyaml's document API: the file is a
 * few lines, so loading it whole and walking the node tree is simpler than events. The
 * certificate and key are loaded into GnuTLS credentials here once, so that a file MHD
 * would refuse later is reported at startup, by name, with exit code 2.
 */
#include "http/webconfig.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define WEB_FILE_MAX (1u << 20) /* a certificate chain or CA bundle is far smaller */

struct wc_ctx {
	const char *path;
	FILE *err;
	yaml_document_t *doc;
	struct web_config *w;
};

static const char *const auth_names[] = {
	[WEB_CLIENT_NONE] = "NoClientCert",
	[WEB_CLIENT_VERIFY_IF_GIVEN] = "VerifyClientCertIfGiven",
	[WEB_CLIENT_REQUIRE_VERIFY] = "RequireAndVerifyClientCert",
};

const char *web_client_auth_name(enum web_client_auth a)
{
	return (unsigned)a < sizeof(auth_names) / sizeof(auth_names[0]) ? auth_names[a] : "?";
}

/* One line: "sonde: web-config PATH:LINE: KEY: WHY"; returns -EINVAL. */
__attribute__((format(printf, 4, 5))) static int bad(struct wc_ctx *c, const yaml_node_t *n,
						     const char *key, const char *fmt, ...)
{
	va_list ap;

	fprintf(c->err, "sonde: web-config %s", c->path);
	if (n)
		fprintf(c->err, ":%zu", n->start_mark.line + 1);
	fprintf(c->err, ": %s: ", key);
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->err);
	return -EINVAL;
}

bool webconfig_is_bcrypt(const char *h)
{
	static const char b64[] =
		"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	int cost;
	size_t i;

	if (strlen(h) != 60 || h[0] != '$' || h[1] != '2' || !strchr("aby", h[2]) || !h[2] ||
	    h[3] != '$' || h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9' || h[6] != '$')
		return false;
	cost = (h[4] - '0') * 10 + (h[5] - '0');
	if (cost < 4 || cost > 31)
		return false;
	for (i = 7; i < 60; i++)
		if (!strchr(b64, h[i]) || !h[i])
			return false;
	return true;
}

/* The whole of a small file, NUL-terminated: 0 or -errno (-EFBIG over WEB_FILE_MAX). */
static int read_small(const char *path, char **out)
{
	struct stat st;
	size_t n = 0;
	char *buf;
	FILE *f;
	int err = 0;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > WEB_FILE_MAX) {
		err = S_ISDIR(st.st_mode) ? -EISDIR : -EFBIG;
		fclose(f);
		return err;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f))
		err = -EIO;
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A YAML null: "~", "null", or nothing after the colon (a plain scalar only). */
static bool is_null(const yaml_node_t *n)
{
	const char *s = scalar(n);

	return !n || (s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		      (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
		       !strcmp(s, "NULL")));
}

/* Reads the file named by value n (relative to the config's directory) into *out. */
static int load_file(struct wc_ctx *c, const yaml_node_t *n, const char *key, char **out)
{
	const char *name = scalar(n), *slash = strrchr(c->path, '/');
	size_t dir = name && name[0] != '/' && slash ? (size_t)(slash - c->path) + 1 : 0;
	char *full;
	int err;

	if (!name || !*name)
		return bad(c, n, key, "wants a file name");
	if (*out)
		return bad(c, n, key, "given twice");
	full = malloc(dir + strlen(name) + 1);
	if (!full)
		return -ENOMEM;
	memcpy(full, c->path, dir);
	strcpy(full + dir, name);
	err = read_small(full, out);
	if (err && err != -ENOMEM)
		err = bad(c, n, key, "cannot read '%s': %s", full,
			  err == -EFBIG ? "not a regular file of at most 1 MiB" : strerror(-err));
	free(full);
	return err;
}

static int parse_client_auth(struct wc_ctx *c, const yaml_node_t *n)
{
	const char *s = scalar(n);
	size_t i;

	for (i = 0; s && i < sizeof(auth_names) / sizeof(auth_names[0]); i++) {
		if (!strcmp(s, auth_names[i])) {
			c->w->client_auth = (enum web_client_auth)i;
			return 0;
		}
	}
	return bad(c, n, "tls_server_config.client_auth_type",
		   "'%s' is not one of NoClientCert, VerifyClientCertIfGiven, "
		   "RequireAndVerifyClientCert (sonde does not support the others)",
		   s ? s : "(not a string)");
}

/* Loads the pair (and the CA) as MHD will, so a bad one is named now, not at listen. */
static int check_tls(struct wc_ctx *c, const yaml_node_t *n)
{
	struct web_config *w = c->w;
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t cd = { (unsigned char *)w->cert_pem, (unsigned)strlen(w->cert_pem) };
	gnutls_datum_t kd = { (unsigned char *)w->key_pem, (unsigned)strlen(w->key_pem) };
	int rc, err = 0;

	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return -ENOMEM;
	rc = gnutls_certificate_set_x509_key_mem(cred, &cd, &kd, GNUTLS_X509_FMT_PEM);
	if (rc < 0)
		err = bad(c, n, "tls_server_config.cert_file/key_file",
			  "not a PEM certificate and its unencrypted private key: %s",
			  gnutls_strerror(rc));
	if (!err && w->ca_pem) {
		gnutls_datum_t ad = { (unsigned char *)w->ca_pem, (unsigned)strlen(w->ca_pem) };

		rc = gnutls_certificate_set_x509_trust_mem(cred, &ad, GNUTLS_X509_FMT_PEM);
		if (rc <= 0)
			err = bad(c, n, "tls_server_config.client_ca_file",
				  "no PEM CA certificate in the file%s%s", rc < 0 ? ": " : "",
				  rc < 0 ? gnutls_strerror(rc) : "");
	}
	gnutls_certificate_free_credentials(cred);
	return err;
}

static int tls_key(struct wc_ctx *c, const char *k, const yaml_node_t *v, const yaml_node_t *kn)
{
	struct web_config *w = c->w;

	if (!strcmp(k, "cert_file"))
		return load_file(c, v, "tls_server_config.cert_file", &w->cert_pem);
	if (!strcmp(k, "key_file"))
		return load_file(c, v, "tls_server_config.key_file", &w->key_pem);
	if (!strcmp(k, "client_ca_file"))
		return load_file(c, v, "tls_server_config.client_ca_file", &w->ca_pem);
	if (!strcmp(k, "client_auth_type"))
		return parse_client_auth(c, v);
	return bad(c, kn, "tls_server_config",
		   "unknown key '%s' (sonde reads cert_file, "
		   "key_file, client_ca_file, client_auth_type)",
		   k);
}

static int parse_tls(struct wc_ctx *c, const yaml_node_t *n)
{
	struct web_config *w = c->w;
	yaml_node_pair_t *p;
	int err;

	if (is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return bad(c, n, "tls_server_config", "wants a mapping of keys");
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
		const char *k = scalar(kn);

		if (!k)
			return bad(c, kn, "tls_server_config", "keys must be strings");
		err = tls_key(c, k, yaml_document_get_node(c->doc, p->value), kn);
		if (err)
			return err;
	}
	if (!w->cert_pem || !w->key_pem)
		return bad(c, n,
			   w->cert_pem ? "tls_server_config.key_file"
				       : "tls_server_config.cert_file",
			   "missing: TLS needs both cert_file and key_file");
	if (w->ca_pem && w->client_auth == WEB_CLIENT_NONE)
		return bad(c, n, "tls_server_config.client_auth_type",
			   "client_ca_file is set but client_auth_type is NoClientCert: say "
			   "RequireAndVerifyClientCert or VerifyClientCertIfGiven");
	if (!w->ca_pem && w->client_auth != WEB_CLIENT_NONE)
		return bad(c, n, "tls_server_config.client_ca_file",
			   "missing: %s needs the CAs to verify client certificates against",
			   web_client_auth_name(w->client_auth));
	w->tls = true;
	return check_tls(c, n);
}

static int add_user(struct wc_ctx *c, const yaml_node_t *kn, const yaml_node_t *vn)
{
	struct web_config *w = c->w;
	const char *name = scalar(kn), *hash = scalar(vn);
	struct web_user *u;
	size_t i;

	if (!name || !*name || strchr(name, ':'))
		return bad(c, kn, "basic_auth_users",
			   "user names are non-empty strings without ':'");
	for (i = 0; i < w->n_users; i++)
		if (!strcmp(w->users[i].name, name))
			return bad(c, kn, "basic_auth_users", "user '%s' given twice", name);
	if (!hash || !webconfig_is_bcrypt(hash))
		return bad(c, vn, "basic_auth_users",
			   "user '%s': not a bcrypt hash ($2y$10$ and "
			   "53 characters, e.g. from htpasswd -nbBC 10)",
			   name);
	u = realloc(w->users, (w->n_users + 1) * sizeof(*u));
	if (!u)
		return -ENOMEM;
	w->users = u;
	u = &w->users[w->n_users];
	u->name = strdup(name);
	u->hash = strdup(hash);
	if (!u->name || !u->hash) {
		free(u->name);
		free(u->hash);
		return -ENOMEM;
	}
	w->n_users++;
	return 0;
}

static int parse_users(struct wc_ctx *c, const yaml_node_t *n)
{
	yaml_node_pair_t *p;
	int err;

	if (is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return bad(c, n, "basic_auth_users", "wants a mapping of user: bcrypt hash");
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		err = add_user(c, yaml_document_get_node(c->doc, p->key),
			       yaml_document_get_node(c->doc, p->value));
		if (err)
			return err;
	}
	return 0;
}

static int parse_root(struct wc_ctx *c, const yaml_node_t *root)
{
	yaml_node_pair_t *p;
	bool seen_tls = false, seen_users = false;
	int err;

	if (!root || is_null(root))
		return 0; /* an empty file: plain HTTP, no auth */
	if (root->type != YAML_MAPPING_NODE)
		return bad(c, root, "(top level)",
			   "wants a mapping (tls_server_config, "
			   "basic_auth_users)");
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		const yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
		const yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
		const char *k = scalar(kn);
		bool *seen = !k				       ? NULL
			     : !strcmp(k, "tls_server_config") ? &seen_tls
			     : !strcmp(k, "basic_auth_users")  ? &seen_users
							       : NULL;

		if (!seen)
			return bad(c, kn, k ? k : "(top level)",
				   "unknown key (sonde reads tls_server_config and "
				   "basic_auth_users)");
		if (*seen)
			return bad(c, kn, k, "given twice");
		*seen = true;
		err = seen == &seen_tls ? parse_tls(c, vn) : parse_users(c, vn);
		if (err)
			return err;
	}
	return 0;
}

static int parse_file(struct wc_ctx *c, FILE *f)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int err;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		if (parser.error == YAML_MEMORY_ERROR)
			err = -ENOMEM;
		else
			err = bad(c, NULL, "YAML", "line %zu column %zu: %s",
				  parser.problem_mark.line + 1, parser.problem_mark.column + 1,
				  parser.problem ? parser.problem : "malformed");
		yaml_parser_delete(&parser);
		return err;
	}
	c->doc = &doc;
	err = parse_root(c, yaml_document_get_root_node(&doc));
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return err;
}

int webconfig_load(const char *path, struct web_config **out, FILE *errout)
{
	struct wc_ctx c = { .path = path, .err = errout };
	FILE *f;
	int err;

	*out = NULL;
	c.w = calloc(1, sizeof(*c.w));
	if (!c.w)
		return -ENOMEM;
	f = fopen(path, "re");
	if (!f) {
		err = bad(&c, NULL, "file", "cannot open: %s", strerror(errno));
		goto fail;
	}
	err = parse_file(&c, f);
	fclose(f);
	if (err)
		goto fail;
	*out = c.w;
	return 0;
fail:
	if (err == -ENOMEM)
		fputs("sonde: out of memory\n", errout);
	webconfig_free(c.w);
	return err;
}

void webconfig_free(struct web_config *w)
{
	size_t i;

	if (!w)
		return;
	for (i = 0; i < w->n_users; i++) {
		free(w->users[i].name);
		free(w->users[i].hash);
	}
	free(w->users);
	if (w->key_pem) /* the private key does not linger in freed memory */
		explicit_bzero(w->key_pem, strlen(w->key_pem));
	free(w->key_pem);
	free(w->cert_pem);
	free(w->ca_pem);
	free(w);
}
