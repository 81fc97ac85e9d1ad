// SPDX-License-Identifier: GPL-2.0-only
/* procs/container.h: container id, pod UID and runtime from every cgroup path format the
 * container runtimes and the kubelet write, and the environment allow-list (environ.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "procs/container.h"
#include "procs/environ.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define UID "1b9d6b2e-3c4f-4a5b-9c8d-7e6f5a4b3c2d"
#define UID_ "1b9d6b2e_3c4f_4a5b_9c8d_7e6f5a4b3c2d"
#define STATIC_UID "6b1f6b7d0f5d2a4d5e2b0f0a7b9c1d3e"

static const struct {
	const char *path;
	bool found;
	enum ctr_runtime runtime;
	const char *id, *pod_uid;
} cases[] = {
	/* systemd cgroup driver (cgroup v2, and the v1 hierarchies) */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	  ".slice/cri-containerd-" ID ".scope",
	  true, CTR_CONTAINERD, ID, UID },
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice/crio-" ID
	  ".scope",
	  true, CTR_CRIO, ID, UID },
	{ "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope", true,
	  CTR_CONTAINERD, ID, UID }, /* Guaranteed QoS: no QoS slice */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/docker-" ID
	  ".scope",
	  true, CTR_DOCKER, ID, UID }, /* dockershim, cri-dockerd */
	/* as sonde sees it from inside its own cgroup namespace (the DaemonSet) */
	{ "/../../kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	  ".slice/cri-containerd-" ID ".scope",
	  true, CTR_CONTAINERD, ID, UID },
	/* cgroupfs driver */
	{ "/kubepods/burstable/pod" UID "/" ID, true, CTR_UNNAMED, ID, UID },
	{ "/kubepods/pod" UID "/" ID, true, CTR_UNNAMED, ID, UID },
	{ "/kubepods/besteffort/pod" UID "/crio-" ID, true, CTR_CRIO, ID, UID },
	{ "/kubepods/burstable/pod" STATIC_UID "/" ID, true, CTR_UNNAMED, ID, STATIC_UID },
	/* containerd with the systemd driver on cgroup v1 */
	{ "/system.slice/containerd.service/kubepods-burstable-pod" UID_
	  ".slice:cri-containerd:" ID,
	  true, CTR_CONTAINERD, ID, UID },
	/* plain Docker, both drivers; Podman */
	{ "/docker/" ID, true, CTR_DOCKER, ID, "" },
	{ "/system.slice/docker-" ID ".scope", true, CTR_DOCKER, ID, "" },
	{ "/machine.slice/libpod-" ID ".scope", true, CTR_PODMAN, ID, "" },
	/* a process in a sub-cgroup of its container's: still that container */
	{ "/system.slice/docker-" ID ".scope/init.scope", true, CTR_DOCKER, ID, "" },
	/* kind: kubepods inside a Docker container; the innermost container is the one */
	{ "/docker/" ID2 "/kubepods/burstable/pod" UID "/" ID, true, CTR_UNNAMED, ID, UID },
	/* a pod-level cgroup: the pod, no container */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice", false,
	  CTR_NONE, "", UID },
	/* not containers */
	{ "/", false, CTR_NONE, "", "" },
	{ "", false, CTR_NONE, "", "" },
	{ "/system.slice/nginx.service", false, CTR_NONE, "", "" },
	{ "/user.slice/user-0.slice/session-3.scope", false, CTR_NONE, "", "" },
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	  ".slice/crio-conmon-" ID ".scope",
	  false, CTR_NONE, "", UID },	     /* CRI-O's monitor, not the container */
	{ "/" ID, false, CTR_NONE, "", "" }, /* a bare id with no runtime or pod above it */
	{ "/docker/" ID "0", false, CTR_NONE, "", "" }, /* 65 digits */
	{ "/docker/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", false,
	  CTR_NONE, "", "" }, /* ids are lowercase */
	{ "/system.slice/docker-" ID ".mount", false, CTR_NONE, "", "" },
	{ "/kubepods/burstable/pod1234/" ID, true, CTR_UNNAMED, ID, "" }, /* not a UID */
	{ "/kubepods/burstable/podnothex-3c4f-4a5b-9c8d-7e6f5a4b3c2d/" ID, true, CTR_UNNAMED, ID,
	  "" },
};

static void test_cgroup_paths(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctr_ref r;
		bool found = cgroup_container(cases[i].path, &r);

		print_message("%s\n", cases[i].path);
		assert_int_equal(found, cases[i].found);
		assert_int_equal(r.runtime, cases[i].runtime);
		assert_string_equal(r.id, cases[i].id);
		assert_string_equal(r.pod_uid, cases[i].pod_uid);
	}
}

static void test_runtime_names(void **state)
{
	(void)state;
	assert_string_equal(ctr_runtime_name(CTR_CONTAINERD), "containerd");
	assert_string_equal(ctr_runtime_name(CTR_CRIO), "cri-o");
	assert_string_equal(ctr_runtime_name(CTR_DOCKER), "docker");
	assert_string_equal(ctr_runtime_name(CTR_NONE), "");
	assert_string_equal(ctr_runtime_name((enum ctr_runtime)99), "");
}

#define ENV(s) s, sizeof(s) - 1

/* Only allowed names are kept; the first occurrence wins; names that merely start or end
 * like an allowed one are not it; a value longer than its field is cut. */
static void test_env_allow_list(void **state)
{
	struct env_found f;

	(void)state;
	env_parse(ENV("AWS_SECRET=POD_NAME=x\0POD_NAME=api-7d9f\0HOSTNAME=api-host\0"
		      "POD_NAMESPACE=shop\0POD_NAME=later\0XPOD_NAMESPACE=no\0CONTAINER_NAME=api\0"
		      "POD_NAMESPACEX=no\0OTEL_SERVICE_NAME=orders"),
		  &f);
	assert_string_equal(f.pod_name, "api-7d9f");
	assert_string_equal(f.pod_ns, "shop");
	assert_string_equal(f.hostname, "api-host");
	assert_string_equal(f.container_name, "api");
	assert_string_equal(f.svc_name, "orders");

	env_parse(ENV("POD_NAMESPACE=0123456789012345678901234567890123456789012345678901234567"
		      "890123456789\0"),
		  &f);
	assert_int_equal(strlen(f.pod_ns), sizeof(f.pod_ns) - 1);
	env_parse(ENV("PATH=/bin\0"), &f);
	assert_string_equal(f.pod_name, "");
	assert_string_equal(f.hostname, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_paths),
		cmocka_unit_test(test_runtime_names),
		cmocka_unit_test(test_env_allow_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
