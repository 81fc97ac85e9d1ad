/* SPDX-License-Identifier: GPL-2.0-only */
/* One-line messages on stderr, prefixed "sonde: ", filtered by -v. */
#ifndef SONDE_LOG_H
#define SONDE_LOG_H

void log_set_verbosity(int v);
int log_verbosity(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* -v */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* -vv */

#endif
