// SPDX-License-Identifier: GPL-2.0-only
#include "util/version.h"

const char *sonde_version(void)
{
	return SONDE_VERSION;
}
