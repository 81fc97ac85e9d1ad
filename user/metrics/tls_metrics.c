// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <string.h>

#include "metrics/registry.h"
#include "metrics/tls_metrics.h"

static const char *const drop_reasons[SONDE_TLS_DROP_NR] = {
	[SONDE_TLS_UNPAIRED] = "unpaired",    [SONDE_TLS_WRAPPED] = "wrapped_conn",
	[SONDE_TLS_NO_SOCKET] = "no_socket",  [SONDE_TLS_NO_COOKIE] = "no_cookie",
	[SONDE_TLS_STASH_FULL] = "stash_map",
};

int tls_metrics_init(struct tls_metrics *m, struct registry *reg)
{
	static const char *const target_labels[] = { "library", "state", "reason" };
	static const char *const drop_labels[] = { "reason" };

	memset(m, 0, sizeof(*m));
	m->targets =
		registry_add(reg, METRIC_GAUGE, "sonde_tls_targets",
			     "Selected processes with a TLS library, by library, what was done "
			     "with it (probed or failed) and why it failed.",
			     target_labels, 3, NULL, 0, 0);
	m->dropped = registry_add(reg, METRIC_COUNTER, "sonde_tls_plaintext_dropped_total",
				  "TLS reads and writes whose plaintext was not reported because "
				  "its connection is unknown, by reason.",
				  drop_labels, 1, NULL, 0, 0);
	if (!m->targets || !m->dropped)
		return -errno;
	for (int r = 0; r < SONDE_TLS_DROP_NR; r++)
		metric_add(m->dropped, (const char *const[]){ drop_reasons[r] }, 0);
	return 0;
}

void tls_metrics_refresh(struct tls_metrics *m, const struct sonde_stats *k,
			 const struct tls_target_info *targets, size_t n)
{
	unsigned count[TLS_LIB_NR][TLS_STATE_NR][TLS_REASON_NR] = { 0 };

	for (int r = 0; r < SONDE_TLS_DROP_NR; r++) {
		if (k->tls_dropped[r] > m->last_dropped[r])
			metric_add(m->dropped, (const char *const[]){ drop_reasons[r] },
				   (double)(k->tls_dropped[r] - m->last_dropped[r]));
		m->last_dropped[r] = k->tls_dropped[r];
	}
	for (size_t i = 0; i < n; i++)
		if (targets[i].lib != TLS_LIB_NONE && targets[i].lib < TLS_LIB_NR &&
		    targets[i].state < TLS_STATE_NR && targets[i].reason < TLS_REASON_NR)
			count[targets[i].lib][targets[i].state][targets[i].reason]++;
	for (int l = 1; l < TLS_LIB_NR; l++)
		for (int s = 0; s < TLS_STATE_NR; s++)
			for (int r = 0; r < TLS_REASON_NR; r++) {
				const char *v[3] = { tls_library_name(l), tls_state_name(s),
						     tls_reason_name(r) };

				if (!count[l][s][r] && !m->shown[l][s][r])
					continue;
				metric_set(m->targets, v, count[l][s][r]);
				m->shown[l][s][r] = 1;
			}
}
