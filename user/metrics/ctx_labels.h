/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Node context of a process, for the labels every series of it carries with --k8s-labels
 * on: which container and which Kubernetes pod it runs in (procs/container.h finds them
 * without an API server). Values are "" when unknown.
 */
#ifndef SONDE_METRICS_CTX_LABELS_H
#define SONDE_METRICS_CTX_LABELS_H

#include <stdbool.h>

enum { CTX_CONTAINER_ID, CTX_CONTAINER_NAME, CTX_POD_UID, CTX_POD_NAME, CTX_NAMESPACE, CTX_LABELS };

/* container_id, container_name, k8s_pod_uid, k8s_pod_name, k8s_namespace_name */
extern const char *const ctx_label_names[CTX_LABELS];

struct ctx_labels {
	char container_id[65];	 /* 64 hex digits: the runtime's id */
	char container_name[64]; /* CONTAINER_NAME of its environment */
	char pod_uid[37];	 /* 8-4-4-4-12, or 32 hex digits (static pods) */
	char pod_name[254];	 /* a pod name is at most 253 bytes */
	char pod_namespace[64];	 /* a namespace name is at most 63 */
};

/* The values in the order of ctx_label_names; an empty set for NULL. */
void ctx_label_values(const struct ctx_labels *c, const char *out[CTX_LABELS]);
bool ctx_labels_empty(const struct ctx_labels *c);

#endif
