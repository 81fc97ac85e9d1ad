/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef SONDE_VERSION_H
#define SONDE_VERSION_H

/* The release string, e.g. "0.1.0" (from CMake's project version). */
const char *sonde_version(void);

#endif
