/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel timestamps (bpf_ktime_get_ns(): CLOCK_MONOTONIC) as wall-clock time, for event
 * lines and exemplars. The offset CLOCK_REALTIME - CLOCK_MONOTONIC is measured as the
 * tightest of five CLOCK_REALTIME reads bracketed by two CLOCK_MONOTONIC reads, taken at the
 * bracket's middle: its error is half the bracket (well under a microsecond). The event loop
 * measures it again every second, so an NTP step or slew is followed within a second.
 */
#ifndef SONDE_UTIL_WALLCLOCK_H
#define SONDE_UTIL_WALLCLOCK_H

#include <stdint.h>

void wallclock_refresh(void); /* any thread */
/* ns since the Unix epoch of a CLOCK_MONOTONIC ns value (measures once if never done). */
int64_t wallclock_ns(uint64_t mono_ns);

#endif
