/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The variables sonde reads from a process's environment: an allow-list, because
 * environments hold secrets. Nothing outside the list is copied or kept.
 *   OTEL_SERVICE_NAME, OTEL_SERVICE_NAMESPACE, OTEL_RESOURCE_ATTRIBUTES  service_name
 *   POD_NAME, POD_NAMESPACE (the downward API's usual names), HOSTNAME (a pod's
 *   containers have the pod's name as host name), CONTAINER_NAME       k8s labels
 */
#ifndef SONDE_PROCS_ENVIRON_H
#define SONDE_PROCS_ENVIRON_H

#include <stddef.h>

/* Environments can be megabytes; the variables above sit among the first few. */
#define ENVIRON_READ_MAX (256 * 1024)

/* Each value as set, cut to its buffer ("" when unset); the first occurrence wins. */
struct env_found {
	char svc_name[128], svc_ns[128];   /* OTEL_SERVICE_NAME, OTEL_SERVICE_NAMESPACE */
	char attr_name[128], attr_ns[128]; /* service.name, service.namespace attributes */
	char pod_name[254];		   /* POD_NAME (a pod name is at most 253 bytes) */
	char pod_ns[64];		   /* POD_NAMESPACE (at most 63) */
	char hostname[254];		   /* HOSTNAME */
	char container_name[64];	   /* CONTAINER_NAME */
};

/*
 * Reads the "environ" file under dirfd (a /proc/PID directory), at most ENVIRON_READ_MAX
 * bytes, into out (zeroed first). 0 or -errno (out then holds what was read before).
 */
int env_read_allowed(int dirfd, struct env_found *out);

/* The same over a buffer of "NAME=value\0..." (tests). */
void env_parse(const char *buf, size_t len, struct env_found *out);

#endif
