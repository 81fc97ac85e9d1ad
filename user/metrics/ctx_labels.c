// SPDX-License-Identifier: GPL-2.0-only
#include "metrics/ctx_labels.h"

/* OpenTelemetry's container.id, container.name, k8s.pod.uid, k8s.pod.name and
 * k8s.namespace.name, in Prometheus form. */
const char *const ctx_label_names[CTX_LABELS] = {
	[CTX_CONTAINER_ID] = "container_id",	[CTX_CONTAINER_NAME] = "container_name",
	[CTX_POD_UID] = "k8s_pod_uid",		[CTX_POD_NAME] = "k8s_pod_name",
	[CTX_NAMESPACE] = "k8s_namespace_name",
};

void ctx_label_values(const struct ctx_labels *c, const char *out[CTX_LABELS])
{
	if (!c) {
		for (int i = 0; i < CTX_LABELS; i++)
			out[i] = "";
		return;
	}
	out[CTX_CONTAINER_ID] = c->container_id;
	out[CTX_CONTAINER_NAME] = c->container_name;
	out[CTX_POD_UID] = c->pod_uid;
	out[CTX_POD_NAME] = c->pod_name;
	out[CTX_NAMESPACE] = c->pod_namespace;
}

bool ctx_labels_empty(const struct ctx_labels *c)
{
	return !c || (!c->container_id[0] && !c->container_name[0] && !c->pod_uid[0] &&
		      !c->pod_name[0] && !c->pod_namespace[0]);
}
