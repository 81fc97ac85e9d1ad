// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
int main(void)
{
	puts("sonde");
	return 0;
}
