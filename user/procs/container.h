/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which container and pod a process runs in, from its cgroup path alone (no API server):
 * the container runtimes name the cgroups they create after the container's id, and the
 * kubelet names a pod's cgroup after its UID. Pure functions, so every format is tested
 * without a /proc.
 *
 *   systemd driver  /kubepods.slice/kubepods-burstable.slice/
 *                     kubepods-burstable-pod<uid, '-' as '_'>.slice/cri-containerd-<id>.scope
 *                   ... /crio-<id>.scope (CRI-O), /docker-<id>.scope (dockershim)
 *   cgroupfs driver /kubepods/burstable/pod<uid>/<id>, /kubepods/pod<uid>/crio-<id>
 *   containerd v1   /system.slice/containerd.service/kubepods-...-pod<uid>.slice:cri-containerd:<id>
 *   Docker          /docker/<id>, /system.slice/docker-<id>.scope
 *   Podman          /machine.slice/libpod-<id>.scope
 * where <id> is 64 lowercase hex digits. Nested runtimes (kind: kubepods inside a Docker
 * container) name the innermost container.
 */
#ifndef SONDE_PROCS_CONTAINER_H
#define SONDE_PROCS_CONTAINER_H

#include <stdbool.h>

enum ctr_runtime {
	CTR_NONE,	/* not in a container */
	CTR_CONTAINERD, /* cri-containerd-<id> */
	CTR_CRIO,	/* crio-<id> */
	CTR_DOCKER,	/* docker-<id>, /docker/<id> */
	CTR_PODMAN,	/* libpod-<id> */
	CTR_UNNAMED,	/* a bare <id> under kubepods (cgroupfs driver): no runtime named */
};

struct ctr_ref {
	enum ctr_runtime runtime;
	char id[65];	  /* container id, "" when none */
	char pod_uid[37]; /* the pod's UID with '-' (or 32 hex digits), "" when none */
};

/*
 * Fills out from one cgroup path ("/a/b/c"). Returns true when it names a container (out->id
 * set); a pod UID alone (a pod-level cgroup) fills out->pod_uid and returns false.
 */
bool cgroup_container(const char *path, struct ctr_ref *out);

/* "containerd", "cri-o", "docker", "podman", "unnamed", "" for CTR_NONE. */
const char *ctr_runtime_name(enum ctr_runtime r);

#endif
