// SPDX-License-Identifier: GPL-2.0-only
#include <stdatomic.h>
#include <time.h>

#include "util/wallclock.h"

static _Atomic int64_t offset_ns;
static _Atomic int measured;

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void wallclock_refresh(void)
{
	int64_t best = INT64_MAX, off = 0, m1, r, m2;

	for (int i = 0; i < 5; i++) {
		m1 = clock_ns(CLOCK_MONOTONIC);
		r = clock_ns(CLOCK_REALTIME);
		m2 = clock_ns(CLOCK_MONOTONIC);
		if (m2 - m1 < best) {
			best = m2 - m1;
			off = r - (m1 + (m2 - m1) / 2);
		}
	}
	atomic_store_explicit(&offset_ns, off, memory_order_relaxed);
	atomic_store_explicit(&measured, 1, memory_order_release);
}

int64_t wallclock_ns(uint64_t mono_ns)
{
	if (!atomic_load_explicit(&measured, memory_order_acquire))
		wallclock_refresh();
	return (int64_t)mono_ns + atomic_load_explicit(&offset_ns, memory_order_relaxed);
}
