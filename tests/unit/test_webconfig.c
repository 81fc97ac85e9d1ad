// SPDX-License-Identifier: GPL-2.0-only
/* --web-config: the file's parser (good and bad files), basic auth and its cache, and the
 * endpoint's 401 / open /healthz over plain HTTP (TLS is in test_web_config.py). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "http/httpd.h"
#include "http/webauth.h"
#include "http/webconfig.h"
#include "metrics/registry.h"

#define DATA SONDE_TEST_DATA "/webconfig/"
#define HASH "$2b$04$qn5.BGqnLRe6yuRhuxXV9eSxkw2Afrj9tBzxZJx76mVEI9gjwXn3." /* "secret" */

static char tmp_path[] = "/tmp/sonde-webconfig-XXXXXX";

/* Writes text to a fresh file and returns its path (the same buffer each time). */
static const char *write_file(const char *text)
{
	int fd;

	strcpy(tmp_path, "/tmp/sonde-webconfig-XXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return tmp_path;
}

/* Loads text; returns the error output (static), after checking it is one line or none. */
static const char *load_text(const char *text, int want, struct web_config **w)
{
	static char out[1024];
	const char *path = write_file(text);
	FILE *err = fmemopen(out, sizeof(out), "w");
	const char *nl;
	int rc;

	memset(out, 0, sizeof(out));
	rc = webconfig_load(path, w, err);
	fclose(err);
	unlink(path);
	assert_int_equal(rc, want);
	if (want) {
		assert_null(*w);
		assert_non_null(strstr(out, "sonde: web-config /tmp/sonde-webconfig-"));
		nl = strchr(out, '\n');
		assert_non_null(nl);
		assert_string_equal(nl + 1, ""); /* exactly one line */
	} else {
		assert_string_equal(out, "");
	}
	return out;
}

static void expect_error(const char *text, const char *needle)
{
	struct web_config *w = (void *)1;
	const char *out = load_text(text, -EINVAL, &w);

	if (!strstr(out, needle))
		fail_msg("'%s' not in: %s", needle, out);
}

static void test_good_file(void **state)
{
	struct web_config *w;

	assert_int_equal(webconfig_load(DATA "good.yml", &w, stderr), 0);
	assert_true(w->tls);
	assert_non_null(strstr(w->cert_pem, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(w->key_pem, "PRIVATE KEY"));
	assert_non_null(w->ca_pem);
	assert_int_equal(w->client_auth, WEB_CLIENT_REQUIRE_VERIFY);
	assert_int_equal(w->n_users, 2);
	assert_string_equal(w->users[0].name, "alice");
	assert_string_equal(w->users[0].hash, HASH);
	assert_string_equal(w->users[1].name, "bob");
	assert_string_equal(w->users[1].hash, HASH);
	webconfig_free(w);
}

static void test_empty_and_partial(void **state)
{
	struct web_config *w;

	load_text("", 0, &w);
	assert_false(w->tls);
	assert_int_equal(w->n_users, 0);
	webconfig_free(w);
	load_text("# nothing\ntls_server_config:\nbasic_auth_users: ~\n", 0, &w);
	assert_false(w->tls);
	webconfig_free(w);
	load_text("basic_auth_users:\n  u: " HASH "\n", 0, &w);
	assert_false(w->tls);
	assert_int_equal(w->n_users, 1);
	webconfig_free(w);
	load_text("tls_server_config:\n  cert_file: " DATA "server.crt\n  key_file: " DATA
		  "server.key\n  client_auth_type: NoClientCert\n",
		  0, &w);
	assert_true(w->tls);
	assert_null(w->ca_pem);
	assert_int_equal(w->n_users, 0);
	webconfig_free(w);
}

static void test_bad_files(void **state)
{
	expect_error("http_server_config:\n  http2: false\n",
		     ":1: http_server_config: unknown key");
	expect_error("tls_server_config:\n  min_version: TLS13\n  cert_file: x\n",
		     "tls_server_config: unknown key 'min_version'");
	expect_error("tls_server_config: [1,\n", "YAML: line");
	expect_error("basic_auth_users:\n  a: b\n   c: d\n", "YAML: line 3");
	expect_error("- a\n- b\n", "(top level): wants a mapping");
	expect_error("tls_server_config: yes\n", "tls_server_config: wants a mapping");
	expect_error("tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: k\n",
		     ":2: tls_server_config.cert_file: cannot read '/nonexistent/c.pem': No such");
	expect_error("tls_server_config:\n  cert_file: " DATA "server.crt\n",
		     "tls_server_config.key_file: missing");
	expect_error("tls_server_config:\n  cert_file: " DATA "server.crt\n  key_file: " DATA
		     "other.key\n",
		     "tls_server_config.cert_file/key_file: not a PEM certificate");
	expect_error("tls_server_config:\n  cert_file: " DATA "server.key\n  key_file: " DATA
		     "server.key\n",
		     "tls_server_config.cert_file/key_file");
	expect_error("tls_server_config:\n  cert_file: " DATA "server.crt\n  key_file: " DATA
		     "server.key\n  client_ca_file: " DATA "server.crt\n",
		     "client_auth_type: client_ca_file is set");
	expect_error("tls_server_config:\n  cert_file: " DATA "server.crt\n  key_file: " DATA
		     "server.key\n  client_auth_type: RequireAndVerifyClientCert\n",
		     "client_ca_file: missing");
	expect_error("tls_server_config:\n  cert_file: " DATA "server.crt\n  key_file: " DATA
		     "server.key\n  client_ca_file: " DATA "server.key\n  client_auth_type: "
		     "VerifyClientCertIfGiven\n",
		     "client_ca_file: no PEM CA certificate");
	expect_error("tls_server_config:\n  client_auth_type: RequireAnyClientCert\n",
		     "client_auth_type: 'RequireAnyClientCert' is not one of");
	expect_error("tls_server_config:\n  cert_file: " DATA "\n", "cert_file: cannot read");
}

static void test_bad_users(void **state)
{
	expect_error("basic_auth_users:\n  alice: secret\n", ":2: basic_auth_users: user 'alice'");
	expect_error("basic_auth_users:\n  alice: $6$salt$abc\n", "not a bcrypt hash");
	expect_error("basic_auth_users:\n  alice: '$1$x$abcdefghijklmnopqrstuv'\n",
		     "not a bcrypt hash");
	expect_error("basic_auth_users:\n  a: " HASH "\n  a: " HASH "\n", "user 'a' given twice");
	expect_error("basic_auth_users:\n  'a:b': " HASH "\n", "without ':'");
	expect_error("basic_auth_users: [a, b]\n", "basic_auth_users: wants a mapping");
	expect_error("basic_auth_users:\n  a: [x]\n", "not a bcrypt hash");
	expect_error("basic_auth_users:\nbasic_auth_users:\n", ":2: basic_auth_users: given twice");
}

static void test_is_bcrypt(void **state)
{
	assert_true(webconfig_is_bcrypt(HASH));
	assert_true(webconfig_is_bcrypt("$2y$10$"
					"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"));
	assert_false(webconfig_is_bcrypt("$2y$03$"
					 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"));
	assert_false(webconfig_is_bcrypt("$2y$32$"
					 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"));
	assert_false(webconfig_is_bcrypt("$2x$10$"
					 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"));
	assert_false(webconfig_is_bcrypt("$2y$10$"
					 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"));
	assert_false(webconfig_is_bcrypt("$2y$10$"
					 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!"));
	assert_false(webconfig_is_bcrypt(""));
}

static void test_auth_cache(void **state)
{
	struct web_user users[] = { { "alice", HASH }, { "bob", HASH } };
	struct web_config w = { .users = users, .n_users = 2 };
	struct webauth *a = webauth_new(&w);
	int i;

	assert_non_null(a);
	assert_true(webauth_check(a, "alice", "secret"));
	assert_int_equal(webauth_bcrypt_runs(a), 1);
	for (i = 0; i < 5; i++) /* later scrapes hit the cache */
		assert_true(webauth_check(a, "alice", "secret"));
	assert_int_equal(webauth_bcrypt_runs(a), 1);
	/* the same password under another user is a pair of its own */
	assert_true(webauth_check(a, "bob", "secret"));
	assert_int_equal(webauth_bcrypt_runs(a), 2);
	/* failures are never cached: each pays bcrypt */
	assert_false(webauth_check(a, "alice", "Secret"));
	assert_false(webauth_check(a, "alice", "Secret"));
	assert_int_equal(webauth_bcrypt_runs(a), 4);
	assert_false(webauth_check(a, "carol", "secret")); /* unknown: bcrypt all the same */
	assert_int_equal(webauth_bcrypt_runs(a), 5);
	assert_false(webauth_check(a, "alice", ""));
	assert_false(webauth_check(a, NULL, "secret"));
	assert_false(webauth_check(a, "alice", NULL));
	/* "alice" NUL "secretX" must not collide with "aliceX" or the like */
	assert_false(webauth_check(a, "alicesecret", ""));
	webauth_free(a);
}

/* The table is bounded: one more verified pair than it has slots evicts the oldest. */
static void test_auth_cache_bound(void **state)
{
	struct web_user users[WEBAUTH_CACHE_SLOTS + 1];
	struct web_config w = { .users = users, .n_users = WEBAUTH_CACHE_SLOTS + 1 };
	char names[WEBAUTH_CACHE_SLOTS + 1][8];
	struct webauth *a;
	int i;

	for (i = 0; i <= WEBAUTH_CACHE_SLOTS; i++) {
		snprintf(names[i], sizeof(names[i]), "u%d", i);
		users[i] = (struct web_user){ names[i], HASH };
	}
	a = webauth_new(&w);
	for (i = 0; i <= WEBAUTH_CACHE_SLOTS; i++)
		assert_true(webauth_check(a, names[i], "secret"));
	assert_int_equal(webauth_bcrypt_runs(a), WEBAUTH_CACHE_SLOTS + 1);
	assert_true(webauth_check(a, names[WEBAUTH_CACHE_SLOTS], "secret")); /* still cached */
	assert_int_equal(webauth_bcrypt_runs(a), WEBAUTH_CACHE_SLOTS + 1);
	assert_true(webauth_check(a, names[0], "secret")); /* evicted: bcrypt again */
	assert_int_equal(webauth_bcrypt_runs(a), WEBAUTH_CACHE_SLOTS + 2);
	webauth_free(a);
}

/* GET path with an optional Authorization header: returns the raw response (static). */
static const char *get(uint16_t port, const char *path, const char *auth)
{
	static char buf[1 << 16];
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 5 };
	char req[512];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n%s%s%sConnection: close\r\n\r\n",
		 path, auth ? "Authorization: Basic " : "", auth ? auth : "", auth ? "\r\n" : "");
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return buf;
}

static void test_endpoint_auth(void **state)
{
	struct web_user users[] = { { "alice", HASH } };
	struct web_config w = { .users = users, .n_users = 1 };
	struct registry *reg = registry_new();
	struct httpd *h;
	const char *r;
	uint16_t port;

	assert_non_null(reg);
	h = httpd_start_web("127.0.0.1", 0, &w, reg, NULL, NULL);
	assert_non_null(h);
	port = httpd_port(h);
	r = get(port, "/healthz", NULL); /* liveness needs no credentials */
	assert_non_null(strstr(r, "HTTP/1.1 200"));
	r = get(port, "/metrics", NULL);
	assert_non_null(strstr(r, "HTTP/1.1 401"));
	assert_non_null(strstr(r, "WWW-Authenticate: Basic realm=\"sonde\""));
	r = get(port, "/health", NULL);
	assert_non_null(strstr(r, "HTTP/1.1 401"));
	r = get(port, "/", NULL);
	assert_non_null(strstr(r, "HTTP/1.1 401"));
	r = get(port, "/metrics", "YWxpY2U6U2VjcmV0"); /* alice:Secret */
	assert_non_null(strstr(r, "HTTP/1.1 401"));
	r = get(port, "/metrics", "YWxpY2U6c2VjcmV0"); /* alice:secret */
	assert_non_null(strstr(r, "HTTP/1.1 200"));
	r = get(port, "/health", "YWxpY2U6c2VjcmV0");
	assert_non_null(strstr(r, "HTTP/1.1 200"));
	httpd_stop(h);
	registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),	 cmocka_unit_test(test_empty_and_partial),
		cmocka_unit_test(test_bad_files),	 cmocka_unit_test(test_bad_users),
		cmocka_unit_test(test_is_bcrypt),	 cmocka_unit_test(test_auth_cache),
		cmocka_unit_test(test_auth_cache_bound), cmocka_unit_test(test_endpoint_auth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
