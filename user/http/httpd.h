/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The HTTP endpoint (libmicrohttpd, a thread per connection):
 *   GET /metrics  Prometheus text 0.0.4, gzip when Accept-Encoding allows
 *   GET /health   JSON status of each part; 503 "degraded" when one is not ok
 *   GET /healthz  200 "ok" while the process serves at all (liveness); never needs auth
 *   GET /         a small HTML page linking the above
 * HEAD is answered like GET without a body; other methods get 405, unknown paths 404.
 */
#ifndef SONDE_HTTPD_H
#define SONDE_HTTPD_H

#include <stdint.h>

#include "metrics/registry.h"
#include "http/status.h"
#include "http/webconfig.h"

struct httpd;

/*
 * Listens on a numeric host ("0.0.0.0", "127.0.0.1", "::", "::1", "[::1]"; NULL means
 * "0.0.0.0") and port (0: ephemeral, see httpd_port). "::" also accepts IPv4 peers.
 * status may be NULL (then /health reports no parts). reg and ctx must outlive the server.
 * Returns NULL + errno: EINVAL (not a numeric address), EADDRINUSE (port taken),
 * EADDRNOTAVAIL, EACCES, what else socket()/bind()/listen() said, or EIO when
 * libmicrohttpd would not start (its reason goes to stderr).
 */
struct httpd *httpd_start(const char *host, uint16_t port, struct registry *reg,
			  sonde_status_fn status, void *ctx);
/*
 * httpd_start with a --web-config (NULL: as httpd_start): TLS when web->tls, basic auth
 * when web has users, on every path but /healthz (liveness probes carry no credentials).
 * web must outlive the server. Also fails with ENOTSUP when libmicrohttpd lacks TLS.
 */
struct httpd *httpd_start_web(const char *host, uint16_t port, const struct web_config *web,
			      struct registry *reg, sonde_status_fn status, void *ctx);
uint16_t httpd_port(const struct httpd *h);
/* /metrics answers served so far in each format: the Prometheus text format 0.0.4, and
 * OpenMetrics (asked for by Accept). Any thread. */
void httpd_scrapes(const struct httpd *h, uint64_t *text, uint64_t *openmetrics);
/* Stops listening and returns after in-flight requests finished; accepts NULL. */
void httpd_stop(struct httpd *h);

#endif
