# SPDX-License-Identifier: GPL-2.0-only
"""Container and pod labels (--k8s-labels on) from real cgroups the test makes.

Three python http.server processes, replicas of one service (OTEL_SERVICE_NAME=api): A inside a v1 cgroup
named as CRI-O's cgroupfs driver names a container (/kubepods/besteffort/pod<uid>/crio-<id>
in the cpu hierarchy; on this host the unified tree keeps every process at "/"), B inside a
v2 cgroup named as containerd's systemd driver does
(/kubepods.slice/.../kubepods-burstable-pod<uid with _>.slice/cri-containerd-<id>.scope),
C in no container. A and B carry POD_NAME/POD_NAMESPACE (and A CONTAINER_NAME) in their
environment, as the downward API sets them. Each gets an exact number of requests, one per
connection; every series of each process must carry exactly its own labels and counts,
and every request event line (--events) its own context fields (none for C). The cgroups
are removed at the end.

SeriesRemoval then kills A: its series stay through --series-grace, then every one of them
goes (and sonde_series_removed_total counts exactly them), while B's and C's stay."""

import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402

CG = "/sys/fs/cgroup"
ID_A = "a1" * 32
ID_B = "b2" * 32
UID_A = "0f1e2d3c-4b5a-4697-8877-665544332211"
UID_B = "12345678-9abc-4def-8123-456789abcdef"
PATH_A = f"/kubepods/besteffort/pod{UID_A}/crio-{ID_A}"
PATH_B = ("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
          f"{UID_B.replace('-', '_')}.slice/cri-containerd-{ID_B}.scope")
N = {"A": 7, "B": 5, "C": 3}
EMPTY = dict(container_id="", container_name="", k8s_pod_uid="", k8s_pod_name="",
             k8s_namespace_name="")
WANT = {
    "A": dict(container_id=ID_A, container_name="api", k8s_pod_uid=UID_A,
              k8s_pod_name="api-a-7d9f", k8s_namespace_name="shop"),
    "B": dict(container_id=ID_B, container_name="", k8s_pod_uid=UID_B,
              k8s_pod_name="api-b-5c6d", k8s_namespace_name="shop"),
    "C": EMPTY,
}
# service families and the label that tells the three servers apart in each
PORT_FAMILIES = ("http_server_request_duration_seconds_count", "tcp_server_connections_total")


def cgroup_dirs(path, root):
    """The directories of path under root, outermost first."""
    parts = path.strip("/").split("/")
    return [os.path.join(root, *parts[:i]) for i in range(1, len(parts) + 1)]


def remove_cgroups(tree):
    for d in reversed(tree):
        if os.path.isdir(d):
            os.rmdir(d)  # fails (and says so) if a process is still inside


class K8sLabels(sonde_it.IntegrationCase):
    SONDE_ARGS = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.trees = {"A": cgroup_dirs(PATH_A, CG + "/cpu"),
                     "B": cgroup_dirs(PATH_B, CG + "/unified")}
        for tree in cls.trees.values():
            cls.addClassCleanup(remove_cgroups, tree)
            for d in tree:
                os.makedirs(d, exist_ok=True)
        cls.docroot = tempfile.mkdtemp(prefix="sonde-it-k8s-")
        cls.addClassCleanup(shutil.rmtree, cls.docroot, True)
        with open(os.path.join(cls.docroot, "data.txt"), "w") as f:
            f.write("x" * 100 + "\n")
        cls.servers = {}
        for name in ("A", "B", "C"):
            cls.servers[name] = cls.start_server(name)
        cls.events = os.path.join(cls.docroot, "events.jsonl")
        cls.sonde = cls.class_started(sonde_it.start_sonde(
            ["--select", "cgroup=/kubepods*", "--select", f"pid={cls.servers['C'].pid}",
             "--k8s-labels", "on", "--events", cls.events, "-v", *cls.SONDE_ARGS]))
        for name, srv in cls.servers.items():
            for _ in range(N[name]):
                status = sonde_it.http_get(srv.url + "/data.txt")[0]
                assert status == 200, status

    @classmethod
    def start_server(cls, name):
        port = sonde_it.free_port()
        env = dict(os.environ)
        for k in ("POD_NAME", "POD_NAMESPACE", "CONTAINER_NAME", "HOSTNAME"):
            env.pop(k, None)
        env["OTEL_SERVICE_NAME"] = "api"  # three replicas of one service
        if name != "C":
            env.update(POD_NAME=WANT[name]["k8s_pod_name"], POD_NAMESPACE="shop")
        if name == "A":
            env["CONTAINER_NAME"] = "api"
        serve = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                 "--directory", cls.docroot]
        if name == "C":
            argv = serve
        else:  # enter the cgroup first, then become the server: no moment outside it
            procs = os.path.join(cls.trees[name][-1], "cgroup.procs")
            argv = ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", *serve]
        srv = cls.class_started(sonde_it.start_process(argv, name=f"server-{name}", env=env))
        srv.url = f"http://127.0.0.1:{port}"
        srv.port = port
        sonde_it.wait_for(lambda: srv.check_running() or sonde_it.http_get(srv.url + "/")[0]
                          == 200, 10, message=f"server {name}")
        return srv

    def scrape_when_counted(self):
        """Scrapes until every server's requests and closed connections are all counted."""
        box = {}

        def counted():
            m = box["m"] = self.sonde.scrape()
            return all(sonde_it.value(m, fam, server_port=str(self.servers[n].port)) == N[n]
                       for n in N for fam in PORT_FAMILIES) and \
                sonde_it.hist_count(m, "tcp_connection_duration_seconds",
                                    direction="inbound") == sum(N.values())
        try:
            sonde_it.wait_for(counted, 20, interval=0.2)
        except Exception:
            pass
        return box["m"]

    def test_cgroups_as_made(self):
        with open(f"/proc/{self.servers['A'].pid}/cgroup") as f:
            self.assertIn(f"cpu:{PATH_A}\n", f.read())
        with open(f"/proc/{self.servers['B'].pid}/cgroup") as f:
            self.assertIn(f"0::{PATH_B}\n", f.read())

    def test_each_server_has_its_labels_and_counts(self):
        m = self.scrape_when_counted()
        for name, srv in self.servers.items():
            for fam in PORT_FAMILIES:
                got = sonde_it.samples(m, fam, server_port=str(srv.port))
                self.assertEqual(len(got), 1, f"{fam} of {name}: {got}")
                labels, value = got[0]
                self.assertEqual({k: labels[k] for k in EMPTY}, WANT[name], f"{fam} {name}")
                self.assertEqual(labels["service_name"], "api")
                self.assertEqual(value, N[name], f"{fam} of {name}")
            self.assertEqual(sonde_it.hist_count(m, "tcp_connection_duration_seconds",
                                                 direction="inbound", **WANT[name]), N[name])

    def test_no_series_without_its_labels(self):
        """Every series of the service families carries the five labels, each set being
        one server's: no mixture, nothing labelled for a process outside the cgroups."""
        m = self.scrape_when_counted()
        sets = {tuple(sorted(w.items())) for w in WANT.values()}
        self.assertTrue(any(n.startswith("tcp_") for (n, _), _v in m.items()))
        for (n, ls), _v in m.items():
            if not n.startswith(("http_", "db_", "tcp_")):
                continue
            labels = dict(ls)
            self.assertIn(tuple(sorted((k, labels.get(k)) for k in EMPTY)), sets, n)

    def test_events_carry_each_servers_context(self):
        """One http_server line per request, each with exactly its server's container and
        pod fields; a field sonde does not know is absent, not empty."""
        self.scrape_when_counted()
        lines = []

        def written():
            with open(self.events) as f:
                lines[:] = [json.loads(line) for line in f]
            return sum(1 for e in lines if e["kind"] == "http_server") >= sum(N.values())
        sonde_it.wait_for(written, 10, interval=0.2, message="every request's event line")
        for name, srv in self.servers.items():
            mine = [e for e in lines if e["kind"] == "http_server"
                    and e.get("server_port") == srv.port]
            self.assertEqual(len(mine), N[name], name)
            want = {k: v for k, v in WANT[name].items() if v}
            for e in mine:
                self.assertEqual({k: e[k] for k in EMPTY if k in e}, want, f"{name}: {e}")
        self.assertEqual(sum(1 for e in lines if e["kind"] == "http_server"),
                         sum(N.values()))

    def test_self_metrics_have_no_context_labels(self):
        m = self.sonde.scrape()
        for (n, ls), _v in m.items():
            if n.startswith("sonde_"):
                self.assertNotIn("container_id", dict(ls), n)


def series_of(m, container_id):
    return sorted((n, ls) for (n, ls), _v in m.items() if dict(ls).get("container_id") ==
                  container_id)


class SeriesRemoval(K8sLabels):
    """The same three servers; A exits. Runs K8sLabels' tests first (they see A alive)."""
    GRACE = 6
    SONDE_ARGS = ("--series-grace", str(GRACE))

    @staticmethod
    def family(m, name):
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and m.types.get(base) == "histogram":
                return base
        return name

    def test_zz_exited_container_series_removed_after_grace(self):
        m = self.scrape_when_counted()
        a = series_of(m, ID_A)
        others = {c: series_of(m, c) for c in (ID_B, "")}
        self.assertGreater(len(a), 10, a)  # HTTP histograms (3 x 18 lines), TCP families
        self.assertEqual(sonde_it.value(m, "sonde_series_removed_total"), 0)
        # one series per family and label set: a histogram's lines are one series
        series = len({(self.family(m, n), frozenset((k, v) for k, v in ls if k != "le"))
                      for n, ls in a})
        srv = self.servers["A"]
        srv.stop()
        killed = time.monotonic()
        # sonde learns of the exit within a poll; the series stay for the grace
        time.sleep(1.5)
        self.assertEqual(series_of(self.sonde.scrape(), ID_A), a)
        box = {}

        def gone():
            box["m"] = self.sonde.scrape()
            return not series_of(box["m"], ID_A)
        sonde_it.wait_for(gone, self.GRACE + 10, interval=0.2, message="A's series removed")
        self.assertGreaterEqual(time.monotonic() - killed, self.GRACE)
        m = box["m"]
        self.assertEqual(sonde_it.value(m, "sonde_series_removed_total"), series)
        for c, before in others.items():
            self.assertEqual(series_of(m, c), before, c or "no container")


if __name__ == "__main__":
    sonde_it.main()
