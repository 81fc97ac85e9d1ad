#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Static checks of deploy/: check_deploy.py CHECK (see CHECKS at the end, or --list).

Each check prints what it verified and exits 0 (pass), 1 (fail) or 77 (skipped: a tool it
needs is not installed; the message says which). None needs root. Environment:
SONDE_BIN, the built sonde binary, for the checks that run it.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEPLOY = os.path.join(ROOT, "deploy")
RULES = [os.path.join(DEPLOY, "prometheus", "rules", n)
         for n in ("sonde-recording.yml", "sonde-alerts.yml")]
ALERTS_TEST = os.path.join(HERE, "alerts_test.yml")
DASH_DIR = os.path.join(DEPLOY, "grafana", "dashboards")
SKIP = 77

sys.path.insert(0, HERE)
import gen_dashboard_exprs  # noqa: E402
import pod_labels  # noqa: E402


class Failed(Exception):
    pass


class Skipped(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failed(msg)


def rel(path):
    return os.path.relpath(path, ROOT)


def need_tool(name, why=""):
    path = shutil.which(name)
    if not path:
        raise Skipped("%s is not installed%s" % (name, (" (" + why + ")") if why else ""))
    return path


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    return p.returncode, p.stdout


def yaml_mod():
    try:
        import yaml
    except ImportError:
        raise Skipped("python3-yaml is not installed for " + sys.executable)
    return yaml


def load_yaml_docs(path):
    yaml = yaml_mod()
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def deploy_files(*suffixes):
    out = []
    for d, _, files in os.walk(DEPLOY):
        for f in files:
            if f.endswith(suffixes):
                out.append(os.path.join(d, f))
    return sorted(out)


# ---- YAML: every manifest parses, and the Kubernetes objects fit together ---------------------


def k8s_objects():
    objs = {}
    for path in deploy_files(".yaml", ".yml"):
        if os.sep + "kubernetes" + os.sep not in path:
            continue
        for doc in load_yaml_docs(path):
            objs.setdefault(doc["kind"], []).append((path, doc))
    return objs


def check_kubernetes():
    objs = k8s_objects()
    for kind in ("Namespace", "ConfigMap", "DaemonSet", "Service", "PodMonitor", "Kustomization"):
        check(kind in objs, "deploy/kubernetes/ has no %s" % kind)
    for kind, items in objs.items():
        for path, doc in items:
            check("apiVersion" in doc, "%s: %s without apiVersion" % (rel(path), kind))
            if kind != "Kustomization":
                check(doc.get("metadata", {}).get("name"), "%s: %s without a name" % (rel(path), kind))
    ns = objs["Namespace"][0][1]
    nsname = ns["metadata"]["name"]
    check(ns["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") == "privileged",
          "the namespace must allow privileged pods (hostPID, hostPath, capabilities)")
    for kind in ("ConfigMap", "DaemonSet", "Service", "PodMonitor"):
        for path, doc in objs[kind]:
            check(doc["metadata"].get("namespace") == nsname,
                  "%s: %s is not in namespace %s" % (rel(path), kind, nsname))

    path, ds = objs["DaemonSet"][0]
    spec = ds["spec"]
    tmpl = spec["template"]
    labels = tmpl["metadata"]["labels"]
    sel = spec["selector"]["matchLabels"]
    check(all(labels.get(k) == v for k, v in sel.items()), "DaemonSet selector does not match its pods")
    pod = tmpl["spec"]
    check(pod.get("hostPID") is True, "DaemonSet needs hostPID: true")
    (c,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check("metrics" in ports, "the container has no port named metrics")
    ann = tmpl["metadata"].get("annotations", {})
    check(ann.get("prometheus.io/scrape") == "true", "missing prometheus.io/scrape annotation")
    check(int(ann.get("prometheus.io/port", 0)) == ports["metrics"], "prometheus.io/port != metrics port")
    check(ann.get("prometheus.io/path") == "/metrics", "prometheus.io/path is not /metrics")
    for probe in ("livenessProbe", "readinessProbe"):
        g = c[probe]["httpGet"]
        check(g["path"] == "/healthz", "%s must probe /healthz" % probe)
        check(g["port"] in ("metrics", ports["metrics"]), "%s probes another port" % probe)
    res = c["resources"]
    for k in ("requests", "limits"):
        check({"cpu", "memory"} <= set(res.get(k, {})), "resources.%s needs cpu and memory" % k)
    sc = c["securityContext"]
    caps = set(sc["capabilities"]["add"])
    want = {"BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE", "DAC_READ_SEARCH", "SYS_ADMIN"}
    check(sc.get("privileged") or caps == want,
          "capabilities.add must be exactly %s (or privileged)" % sorted(want))
    check(sc["capabilities"].get("drop") == ["ALL"], "drop ALL other capabilities")
    vols = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    for m in mounts.values():
        check(m["name"] in vols, "volumeMount %s has no volume" % m["name"])
    for p in ("/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/bpf"):
        check(p in mounts, "no mount at %s" % p)
        check(vols[mounts[p]["name"]].get("hostPath", {}).get("path") == p, "%s is not the host's" % p)
    args = c.get("args", [])
    check("--config" in args, "the container does not pass --config")
    conf = args[args.index("--config") + 1]
    cm_mount = [m for m in c["volumeMounts"] if conf.startswith(m["mountPath"].rstrip("/") + "/")]
    check(cm_mount, "%s is not in a mounted volume" % conf)
    cmvol = vols[cm_mount[0]["name"]]
    cm = objs["ConfigMap"][0][1]
    check(cmvol.get("configMap", {}).get("name") == cm["metadata"]["name"], "config volume is not the ConfigMap")
    check(os.path.basename(conf) in cm["data"], "ConfigMap has no key %s" % os.path.basename(conf))

    _, svc = objs["Service"][0]
    check(all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()), "Service selects no sonde pod")
    check(svc["spec"]["ports"][0]["targetPort"] in ("metrics", ports["metrics"]), "Service targets another port")
    check("prometheus.io/scrape" not in svc["metadata"].get("annotations", {}),
          "annotate the pods or the Service, not both (double scrape)")
    _, pm = objs["PodMonitor"][0]
    check(pm["apiVersion"] == "monitoring.coreos.com/v1", "PodMonitor apiVersion")
    check(all(labels.get(k) == v for k, v in pm["spec"]["selector"]["matchLabels"].items()),
          "PodMonitor selects no sonde pod")
    ep = pm["spec"]["podMetricsEndpoints"][0]
    check(ep["port"] == "metrics" and ep.get("path", "/metrics") == "/metrics", "PodMonitor endpoint")
    check(ep.get("interval") == "15s", "PodMonitor must scrape every 15 s")
    check(labels.get(pm["spec"].get("jobLabel")) == "sonde", "PodMonitor's job must be \"sonde\" (alert rules)")
    kpath, kust = objs["Kustomization"][0]
    for r in kust["resources"]:
        check(os.path.exists(os.path.join(os.path.dirname(kpath), r)), "kustomization: %s missing" % r)
    print("kubernetes objects consistent: %d kinds" % len(objs))


def check_compose():
    path = os.path.join(DEPLOY, "compose", "compose.yaml")
    (doc,) = load_yaml_docs(path)
    svcs = doc["services"]
    for s in ("sonde", "prometheus", "alertmanager", "grafana"):
        check(s in svcs, "compose has no service %s" % s)
    so = svcs["sonde"]
    check(so.get("pid") == "host", "sonde needs pid: host")
    check(so.get("privileged") is True or set(so.get("cap_add", [])) >= {"BPF", "PERFMON"},
          "sonde needs privileges")
    for name, s in svcs.items():
        for v in s.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):
                check(os.path.exists(os.path.normpath(os.path.join(os.path.dirname(path), src))),
                      "compose %s: %s does not exist" % (name, src))
        for k, val in (s.get("environment") or {}).items():
            if re.search(r"URL|PASSWORD|TOKEN|SECRET", k):
                check(str(val).startswith("${"), "compose %s: %s must come from the environment" % (name, k))
    # The stack's addresses agree with prometheus.yml and the Grafana provisioning.
    prom = load_yaml_docs(os.path.join(DEPLOY, "prometheus", "prometheus.yml"))[0]
    targets = {sc["job_name"]: sc["static_configs"][0]["targets"] for sc in prom["scrape_configs"]}
    check(targets["sonde"] == ["127.0.0.1:9464"] and "--listen" in so["command"] and
          so["command"][so["command"].index("--listen") + 1] == "127.0.0.1:9464",
          "sonde's listen address and the sonde scrape target differ")
    check("--web.listen-address=127.0.0.1:9090" in svcs["prometheus"]["command"], "Prometheus address")
    am = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    check(am == ["127.0.0.1:9093"] and "127.0.0.1:9093" in " ".join(svcs["alertmanager"]["entrypoint"]),
          "Alertmanager address")
    dsp = load_yaml_docs(os.path.join(DEPLOY, "grafana", "provisioning", "datasources", "sonde.yaml"))[0]
    check(any(d["type"] == "prometheus" and d["url"] == "http://127.0.0.1:9090" for d in dsp["datasources"]),
          "Grafana's Prometheus datasource URL")
    dbp = load_yaml_docs(os.path.join(DEPLOY, "grafana", "provisioning", "dashboards", "sonde.yaml"))[0]
    dpath = dbp["providers"][0]["options"]["path"]
    check(any(v.endswith(":" + dpath + ":ro") and v.startswith("../grafana/dashboards")
              for v in svcs["grafana"]["volumes"]), "dashboards are not mounted where provisioning reads them")
    print("compose services consistent with prometheus.yml and Grafana provisioning")


def check_yaml():
    files = deploy_files(".yaml", ".yml", ".yml.tmpl")
    check(files, "no YAML under deploy/")
    ndocs = 0
    for path in files:
        try:
            docs = load_yaml_docs(path)
        except Exception as e:  # yaml.YAMLError and friends
            raise Failed("%s does not parse: %s" % (rel(path), e))
        check(docs, "%s is empty" % rel(path))
        ndocs += len(docs)
    print("%d YAML files, %d documents parse" % (len(files), ndocs))
    check_kubernetes()
    check_compose()
    # Every alert has a severity the Alertmanager routes, and text for the receiver.
    for path in RULES:
        for g in load_yaml_docs(path)[0]["groups"]:
            for r in g["rules"]:
                if "alert" in r:
                    check(r["labels"].get("severity") in ("critical", "warning"),
                          "%s: severity must be critical or warning" % r["alert"])
                    check(r["annotations"].get("summary") and r["annotations"].get("description"),
                          "%s: needs summary and description" % r["alert"])


# ---- Grafana dashboards -------------------------------------------------------------------------


def dashboards():
    out = []
    for f in sorted(os.listdir(DASH_DIR)):
        if f.endswith(".json"):
            path = os.path.join(DASH_DIR, f)
            try:
                with open(path) as fh:
                    out.append((path, json.load(fh)))
            except ValueError as e:
                raise Failed("%s is not JSON: %s" % (rel(path), e))
    return out


def check_dashboards():
    dashes = dashboards()
    names = {os.path.basename(p) for p, _ in dashes}
    for want in ("api-performance.json", "database-performance.json", "sonde-health.json"):
        check(want in names, "missing dashboard %s" % want)
    uids = [d["uid"] for _, d in dashes]
    check(len(set(uids)) == len(uids), "dashboard uids are not unique")
    nexpr = 0
    for path, d in dashes:
        where = rel(path)
        tvars = {v["name"]: v for v in d["templating"]["list"]}
        check(tvars.get("datasource", {}).get("type") == "datasource", "%s: no datasource variable" % where)
        ids = [p["id"] for p in gen_dashboard_exprs.panels(d)]
        check(len(set(ids)) == len(ids), "%s: panel ids are not unique" % where)
        for v in tvars.values():
            if v["type"] == "query":
                check(v["datasource"]["uid"] == "${datasource}", "%s: variable %s datasource" % (where, v["name"]))
        for p in gen_dashboard_exprs.panels(d):
            if p["type"] in ("row", "text"):
                continue
            check(p.get("datasource", {}).get("uid") == "${datasource}",
                  "%s: panel %r does not use the datasource variable" % (where, p["title"]))
            check(p.get("targets"), "%s: panel %r has no query" % (where, p["title"]))
            for t in p["targets"]:
                expr = t.get("expr", "")
                check(expr.strip(), "%s: panel %r query %s is empty" % (where, p["title"], t.get("refId")))
                # Variables are regex matchers only, so ".*" (and Grafana's All) is right.
                for m in re.finditer(r"\$\{?(\w+)\}?", expr):
                    name = m.group(1)
                    if name in gen_dashboard_exprs.BUILTINS:
                        continue
                    check(name in tvars, "%s: %r uses undefined $%s" % (where, p["title"], name))
                    before = expr[:m.start()]
                    check(before.endswith('=~"'), "%s: %r uses $%s other than in =~\"$%s\"" % (where, p["title"], name, name))
                nexpr += 1
    text = gen_dashboard_exprs.render()
    with open(gen_dashboard_exprs.OUT) as f:
        check(f.read() == text, "tests/deploy/dashboard_exprs.txt is stale: run tests/deploy/gen_dashboard_exprs.py")
    print("%d dashboards, %d panel queries, all non-empty; dashboard_exprs.txt up to date" % (len(dashes), nexpr))


def check_dashboard_promql():
    """Every dashboard query is valid PromQL: promtool parses it as a recording rule."""
    promtool = need_tool("promtool", "Debian package prometheus")
    rules = []
    for line in open(gen_dashboard_exprs.OUT):
        if line.startswith("#"):
            continue
        uid, pid, title, ref, _, expr = line.rstrip("\n").split("\t")
        rules.append({"record": "dashboard:%s:%s_%s" % (uid.replace("-", "_"), pid, ref), "expr": expr})
    check(rules, "no dashboard query")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dashboard-queries.yml")
        with open(path, "w") as f:
            json.dump({"groups": [{"name": "dashboards", "rules": rules}]}, f)  # JSON is YAML
        rc, out = run([promtool, "check", "rules", path])
        check(rc == 0, "promtool rejects a dashboard query:\n" + out)
    print("%d dashboard queries parse as PromQL (promtool)" % len(rules))


# ---- metric and label names: rules and dashboards read only what exists -------------------------

EXTERNAL_METRICS = {
    "up", "scrape_duration_seconds", "scrape_samples_scraped",  # Prometheus, per target
    # sonde's own process metrics: allowed whether or not this sonde's source has them yet
    "process_cpu_seconds_total", "process_resident_memory_bytes",
    "container_cpu_usage_seconds_total", "container_memory_working_set_bytes",  # cAdvisor
}
KNOWN_LABELS = {
    # sonde's metric labels (ARCHITECTURE.md, user/metrics/)
    "http_request_method", "http_response_status_code", "http_route", "url_scheme",
    "server_port", "server_address", "service_name", "db_system_name", "db_operation_name",
    "error_type", "le", "version", "abi", "mode", "type", "reason", "protocol", "metric",
    "outcome", "direction",  # TCP health (user/metrics/tcp_health.c)
    # --k8s-labels (user/metrics/ctx_labels.c)
    "container_id", "container_name", "k8s_pod_uid", "k8s_pod_name", "k8s_namespace_name",
    # target and Kubernetes labels
    "job", "instance", "node", "pod", "namespace", "container", "__name__",
}


def sonde_metric_names():
    """Metric families sonde registers, read from its source; histograms with their suffixes."""
    mdir = os.path.join(ROOT, "user", "metrics")
    src = "".join(open(os.path.join(mdir, f)).read() for f in sorted(os.listdir(mdir)) if f.endswith(".c"))
    # a family's kind is followed by its name: the rows of telemetry.c's and self.c's tables,
    # { FIELD(x), METRIC_HISTOGRAM, "name", ... }, and registry_add(reg, METRIC_KIND, "name", ...)
    names = set(re.findall(r'\bMETRIC_(?:COUNTER|GAUGE|HISTOGRAM),\s*"([a-z0-9_]+)"', src))
    reg = open(os.path.join(ROOT, "user", "metrics", "registry.h")).read()
    names |= set(re.findall(r'"(sonde_[a-z0-9_]+)"', reg))
    out = set()
    for n in names:
        out.add(n)
        if not n.startswith("sonde_"):  # the histograms
            out |= {n + "_bucket", n + "_count", n + "_sum"}
    return out


def recorded_names():
    out = set()
    for g in load_yaml_docs(RULES[0])[0]["groups"]:
        out |= {r["record"] for r in g["rules"] if "record" in r}
    return out


def label_names(expr):
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    found = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"", s))
    for grp in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", s):
        found |= {x.strip() for x in grp.split(",") if x.strip()}
    return found


def check_metric_names():
    known = sonde_metric_names()
    check("http_server_request_duration_seconds_bucket" in known and "sonde_events_lost_total" in known,
          "could not read sonde's metric names from user/metrics/")
    recorded = recorded_names()
    allowed = known | recorded | EXTERNAL_METRICS
    exprs = []
    for path in RULES:
        for g in load_yaml_docs(path)[0]["groups"]:
            for r in g["rules"]:
                exprs.append((rel(path) + ": " + r.get("record", r.get("alert", "")), r["expr"]))
    for line in open(gen_dashboard_exprs.OUT):
        if not line.startswith("#"):
            f = line.rstrip("\n").split("\t")
            exprs.append(("%s panel %s %s" % (f[0], f[1], f[3]), f[5]))
    for where, expr in exprs:
        for name in gen_dashboard_exprs.metric_names(expr):
            check(name in allowed, "%s reads %s, which neither sonde nor the rules produce" % (where, name))
        for lab in label_names(expr):
            check(lab in KNOWN_LABELS, "%s uses label %s, which no metric has" % (where, lab))
    print("%d rule and dashboard expressions read only existing metrics (%d of sonde's, %d recorded) and labels"
          % (len(exprs), len(known), len(recorded)))


# ---- alert tests cover every alert, firing and not firing ---------------------------------------


def check_alert_coverage():
    alerts = set()
    for g in load_yaml_docs(RULES[1])[0]["groups"]:
        for r in g["rules"]:
            if "alert" in r:
                alerts.add((r["alert"], r["labels"]["severity"]))
    firing, quiet = set(), set()
    for group in load_yaml_docs(ALERTS_TEST)[0]["tests"]:
        for t in group.get("alert_rule_test", []):
            name = t["alertname"]
            sev = {a["exp_labels"].get("severity") for a in t.get("exp_alerts") or []}
            for s in ("critical", "warning"):
                (firing if s in sev else quiet).add((name, s))
    for a in sorted(alerts):
        check(a in firing, "alerts_test.yml never shows %s (%s) firing" % a)
        check(a in quiet, "alerts_test.yml never shows %s (%s) not firing" % a)
    print("%d alert rules, each tested firing and not firing" % len(alerts))


# ---- container and pod labels (--k8s-labels) ---------------------------------------------------


def check_pod_labels():
    """Dashboards filter and group by pod, alerts keep and name it (pod_labels.py)."""
    bad, nsel, nbypod = pod_labels.dashboard_problems([(rel(p), d) for p, d in dashboards()])
    rec, alerts = (load_yaml_docs(path)[0]["groups"] for path in RULES)
    rbad, per_pod, by_group = pod_labels.rule_problems(rec, alerts)
    am = load_yaml_docs(os.path.join(DEPLOY, "alertmanager", "alertmanager.yml.tmpl"))[0]
    bad += rbad + pod_labels.inhibit_problems(alerts, am)
    bad += pod_labels.alerts_test_problems(load_yaml_docs(ALERTS_TEST)[0]["tests"], by_group)
    check(not bad, "\n  ".join(["pod labels:"] + bad))
    print("%d service selectors filter $namespace and $pod; %d panels by pod; %d alerts per pod "
          "(%s), naming it; inhibition per pod; alerts_test.yml shows each group's"
          % (nsel, nbypod, len(per_pod), ", ".join(sorted(per_pod))))


# ---- promtool --------------------------------------------------------------------------------


def check_promtool_config():
    promtool = need_tool("promtool", "Debian package prometheus")
    rc, out = run([promtool, "check", "config", os.path.join(DEPLOY, "prometheus", "prometheus.yml")])
    print(out)
    check(rc == 0, "promtool check config failed")


def check_promtool_rules():
    promtool = need_tool("promtool", "Debian package prometheus")
    rc, out = run([promtool, "check", "rules"] + RULES)
    print(out)
    check(rc == 0, "promtool check rules failed")


def check_promtool_test():
    promtool = need_tool("promtool", "Debian package prometheus")
    rc, out = run([promtool, "test", "rules", ALERTS_TEST])
    print(out)
    check(rc == 0, "promtool test rules failed")


# ---- systemd --------------------------------------------------------------------------------


def check_systemd():
    """systemd-analyze verify, against a scratch root so that it needs neither a running
    systemd nor sonde installed: the root holds the unit, an executable at ExecStart's path
    and a copy of the system's unit files (for the dependencies). verify only warns about
    unknown keys or bad values, so any output is a failure too."""
    sa = need_tool("systemd-analyze", "Debian package systemd")
    unit = os.path.join(DEPLOY, "systemd", "sonde.service")
    sysunits = next((d for d in ("/usr/lib/systemd/system", "/lib/systemd/system")
                     if os.path.isdir(d)), None)
    if not sysunits:
        raise Skipped("no systemd unit directory on this machine")
    exe = re.search(r"^ExecStart=(\S+)", open(unit).read(), re.M).group(1)
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "etc", "systemd", "system"))
        shutil.copytree(sysunits, os.path.join(root, "usr", "lib", "systemd", "system"), symlinks=True)
        os.makedirs(os.path.join(root, os.path.dirname(exe).lstrip("/")), exist_ok=True)
        shutil.copy(shutil.which("true"), os.path.join(root, exe.lstrip("/")))
        shutil.copy(unit, os.path.join(root, "etc", "systemd", "system"))
        rc, out = run([sa, "verify", "--man=no", "--root=" + root, "sonde.service"])
        check(rc == 0 and not out.strip(), "systemd-analyze verify:\n" + out)
        print("systemd-analyze verify: clean")
        # The hardening, scored by systemd itself: 3.0 "OK" or better (lower is better).
        rc, out = run([sa, "security", "--offline=yes", "--threshold=30", "--root=" + root, "sonde.service"])
        last = out.strip().splitlines()[-1] if out.strip() else ""
        if "Unknown option" in out or "unrecognized option" in out:
            print("systemd-analyze security --offline is not supported here: score not checked")
            return
        check(rc == 0, "systemd-analyze security: exposure above 3.0 (run it for the details): " + last)
        print(last)


# ---- Alertmanager template ------------------------------------------------------------------

URLS = {"PAGER_WEBHOOK_URL": "https://pager.example.invalid/hook?a=1&b=$x#f",
        "CHAT_WEBHOOK_URL": "https://chat.example.invalid/services/T0/B0/xyz"}


def render(shell, tmpl, out, env_over, path=None):
    env = dict(os.environ)
    for k in URLS:
        env.pop(k, None)
    env.update(env_over)
    if path:
        env["PATH"] = path
    script = os.path.join(DEPLOY, "alertmanager", "render-config.sh")
    p = subprocess.run(shell + [script, tmpl, out], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stderr


def check_alertmanager_render():
    tmpl = os.path.join(DEPLOY, "alertmanager", "alertmanager.yml.tmpl")
    text = open(tmpl).read()
    check(set(re.findall(r"\$\{(\w+)\}", text)) == set(URLS), "template variables are not %s" % sorted(URLS))
    yaml = yaml_mod()
    bb = need_tool("busybox", "Debian package busybox: the Alertmanager image's shell")
    envsubst = need_tool("envsubst", "Debian package gettext-base: the reference renderer")
    tmpdir = tempfile.mkdtemp()
    try:
        # The Alertmanager image's tools: busybox sh, awk, mv, rm and nothing else.
        bbin = os.path.join(tmpdir, "bin")
        os.makedirs(bbin)
        for tool in ("awk", "mv", "rm"):
            os.symlink(bb, os.path.join(bbin, tool))
        shells = [("sh", ["sh"], None), ("busybox", [bb, "sh"], bbin)]
        for label, shell, path in shells:
            out = os.path.join(tmpdir, label + ".yml")
            rc, err = render(shell, tmpl, out, URLS, path)
            check(rc == 0, "%s: render failed: %s" % (label, err))
            check(oct(os.stat(out).st_mode & 0o777) == "0o600", "%s: rendered file is not 0600" % label)
            got = open(out).read()
            exp = re.sub(r"\$\{(\w+)\}", lambda m: URLS[m.group(1)], text)
            check(got == exp, "%s: rendered file differs from the expected substitution" % label)
            env = dict(os.environ, **URLS)
            es = subprocess.run([envsubst], input=text, stdout=subprocess.PIPE, text=True, env=env).stdout
            check(got == es, "%s: output differs from envsubst's" % label)
            conf = yaml.safe_load(got)
            urls = {r["name"]: r["webhook_configs"][0]["url"] for r in conf["receivers"]}
            check(urls == {"pager": URLS["PAGER_WEBHOOK_URL"], "chat": URLS["CHAT_WEBHOOK_URL"]},
                  "%s: receivers' URLs after rendering: %s" % (label, urls))
            # Refusals, and nothing written then.
            bad = os.path.join(tmpdir, label + "-bad.yml")
            for env_over, why in (({"CHAT_WEBHOOK_URL": "x"}, "PAGER_WEBHOOK_URL is not set"),
                                  ({"PAGER_WEBHOOK_URL": "", "CHAT_WEBHOOK_URL": "x"}, "is not set"),
                                  ({"PAGER_WEBHOOK_URL": "a'b", "CHAT_WEBHOOK_URL": "x"}, "not allowed"),
                                  ({"PAGER_WEBHOOK_URL": "a\nb", "CHAT_WEBHOOK_URL": "x"}, "not allowed")):
                rc, err = render(shell, tmpl, bad, env_over, path)
                check(rc != 0 and why in err, "%s: accepted %r (%s)" % (label, env_over, err))
                check(not os.path.exists(bad), "%s: wrote output despite an error" % label)
            print("%s: template rendered like envsubst, refusals correct" % label)
    finally:
        shutil.rmtree(tmpdir)


def check_amtool():
    amtool = need_tool("amtool", "Debian package prometheus-alertmanager")
    tmpl = os.path.join(DEPLOY, "alertmanager", "alertmanager.yml.tmpl")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "alertmanager.yml")
        rc, err = render(["sh"], tmpl, out, URLS)
        check(rc == 0, err)
        rc, txt = run([amtool, "check-config", out])
        print(txt)
        check(rc == 0, "amtool check-config failed")
        for labels, receiver in ((["severity=critical", "alertname=HTTPServerErrorRatioHigh"], "pager"),
                                 (["severity=warning", "alertname=HTTPServerErrorRatioHigh"], "chat"),
                                 (["severity=critical", "alertname=SondeDown"], "pager"),
                                 (["severity=info"], "chat")):
            rc, txt = run([amtool, "config", "routes", "test", "--config.file=" + out,
                           "--verify.receivers=" + receiver] + labels)
            check(rc == 0, "%s should route to %s: %s" % (labels, receiver, txt))
        print("severity routing: critical -> pager, warning and others -> chat")


# ---- compose, kustomize, container ------------------------------------------------------------


def check_compose_config():
    dc = shutil.which("docker-compose")
    cmd = [dc] if dc else None
    if not cmd and shutil.which("docker"):
        rc, _ = run(["docker", "compose", "version"])
        cmd = ["docker", "compose"] if rc == 0 else None
    if not cmd:
        raise Skipped("neither docker-compose (Debian package docker-compose) nor docker compose is installed")
    compose = os.path.join(DEPLOY, "compose", "compose.yaml")
    with tempfile.NamedTemporaryFile("w", suffix=".env") as envfile:
        # An empty env file: a developer's deploy/compose/.env must not decide the result.
        base = cmd + ["-f", compose, "--env-file", envfile.name, "config", "-q"]
        rc, out = run(base, env=dict(os.environ, **URLS))
        check(rc == 0, "compose config:\n" + out)
        rc, out = run(base, env={k: v for k, v in os.environ.items() if k not in URLS})
        check(rc != 0 and "PAGER_WEBHOOK_URL" in out, "compose must refuse to start without the webhook URLs")
    print("compose file valid (%s); refused without the receivers' URLs" % " ".join(cmd))


def check_kustomize():
    kubectl = need_tool("kubectl", "Debian package kubernetes-client")
    rc, out = run([kubectl, "kustomize", os.path.join(DEPLOY, "kubernetes")])
    check(rc == 0, "kubectl kustomize:\n" + out)
    kinds = re.findall(r"^kind: (\w+)", out, re.M)
    check(sorted(kinds) == ["ConfigMap", "DaemonSet", "Namespace", "Service"], "kustomize output kinds %s" % kinds)
    print("kubectl kustomize builds %s" % ", ".join(kinds))


def dockerfile_stages():
    text = open(os.path.join(DEPLOY, "container", "Dockerfile")).read()
    text = re.sub(r"\\\n", " ", text)
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
    stages, cur = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        ins, _, rest = line.partition(" ")
        if ins.upper() == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0])
            cur = {"image": image, "lines": []}
            stages.append(cur)
        elif cur is not None:
            cur["lines"].append((ins.upper(), rest))
    return stages


def check_container():
    stages = dockerfile_stages()
    check(len(stages) == 2, "the Dockerfile should have a build and a runtime stage")
    build, runtime = stages
    check(build["image"] == "debian:bookworm", "build stage is %s" % build["image"])
    check(runtime["image"] == "debian:bookworm-slim", "runtime stage is %s" % runtime["image"])
    for st in stages:
        for ins, rest in st["lines"]:
            if ins == "COPY" and "--from=" not in rest:
                src = rest.split()[0]
                check(src == "." or os.path.exists(os.path.join(ROOT, src)), "COPY %s: no such file" % src)
    runs = " ".join(r for i, r in runtime["lines"] if i == "RUN")
    pkgs = set(re.search(r"install -y --no-install-recommends ([^&]+)", runs).group(1).split())
    entry = [r for i, r in runtime["lines"] if i == "ENTRYPOINT"][0]
    check(json.loads(entry)[0] == "/usr/local/sbin/sonde", "ENTRYPOINT is not /usr/local/sbin/sonde")
    cml = open(os.path.join(ROOT, "CMakeLists.txt")).read()
    check(re.search(r"install\(TARGETS sonde RUNTIME DESTINATION sbin\)", cml), "install destination moved")
    copied = [r for i, r in runtime["lines"] if i == "COPY" and "--from=build" in r]
    check(copied and copied[0].split()[1] == "/out/usr/local/sbin/sonde", "the binary is not copied from the install tree")
    ignore = open(os.path.join(DEPLOY, "container", "Dockerfile.dockerignore")).read()
    check(".git" in ignore.split() and "deploy/compose/.env" in ignore.split(), "dockerignore must exclude .git and secrets")
    print("Dockerfile: %s -> %s, runtime packages %s" % (build["image"], runtime["image"], " ".join(sorted(pkgs))))
    # Every library the built binary links comes from a package the runtime stage installs.
    sonde = os.environ.get("SONDE_BIN")
    if not sonde or not os.path.exists(sonde):
        raise Skipped("SONDE_BIN is not set to a built sonde: shared libraries not checked")
    readelf = need_tool("readelf", "Debian package binutils")
    need_tool("dpkg")
    rc, out = run([readelf, "-d", sonde])
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    check(needed, "readelf found no NEEDED entry")
    for lib in needed:
        rc, out = run(["dpkg", "-S", "*/" + lib])
        owners = {line.split(":")[0] for line in out.splitlines() if line.strip() and ":" in line}
        if owners & {"libc6"}:
            continue  # in every Debian image
        check(rc == 0 and owners & pkgs, "%s (from %s) is not installed by the runtime stage" % (lib, ", ".join(sorted(owners)) or "?"))
    print("the runtime stage installs the packages of %s" % ", ".join(needed))
    # The packages exist in this Debian release.
    if shutil.which("apt-cache"):
        rc, out = run(["apt-cache", "show", "--no-all-versions"] + sorted(pkgs))
        found = set(re.findall(r"^Package: (\S+)", out, re.M))
        if found:
            check(found == pkgs, "packages not in this Debian release: %s" % sorted(pkgs - found))
            print("all runtime packages exist in this Debian release")


def check_sonde_config():
    """The ConfigMap's sonde.conf passes sonde's own parser (exit status 2 is a bad key or
    value; sonde checks the file before privileges, and runs here with none)."""
    sonde = os.environ.get("SONDE_BIN")
    if not sonde or not os.path.exists(sonde):
        raise Skipped("SONDE_BIN is not set to a built sonde")
    cm = [d for p, d in sum(k8s_objects().values(), []) if d["kind"] == "ConfigMap"][0]
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        conf = os.path.join(tmp, "sonde.conf")
        with open(conf, "w") as f:
            f.write(cm["data"]["sonde.conf"])
        os.chmod(conf, 0o644)
        cmd = [sonde, "--check", "--config", conf]
        if os.geteuid() == 0:
            # no capabilities: sonde stops after the configuration, before touching the kernel
            need_tool("setpriv", "util-linux")
            cmd = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"] + cmd
        rc, out = run(cmd, timeout=60)
        check(rc != 2 and not re.search(r"^sonde: config ", out, re.M),
              "sonde rejects the ConfigMap's sonde.conf:\n" + out)
        print("ConfigMap sonde.conf accepted by sonde's parser (exit %d: %s)" % (rc, out.strip().splitlines()[-1] if out.strip() else ""))


def event_fields():
    """The JSON keys sonde's event lines can carry, read from user/events/json.c."""
    with open(os.path.join(ROOT, "user", "events", "json.c")) as f:
        src = f.read()
    return set(re.findall(r'put_(?:str|u64|port)\(&l, "(\w+)"', src)) | {"time", "url_path"}


def check_events_deploy():
    """Request events, statically (Loki, promtail and Grafana are not packaged here): the
    promtail snippet reads the file sonde.conf's example writes, extracts fields sonde
    writes, labels service_name and route; the systemd unit may write that file's
    directory, and logrotate signals sonde to reopen it; Grafana links both exemplar ids to the Loki
    datasource, and every latency quantile panel asks for exemplars."""
    yaml = yaml_mod()
    with open(os.path.join(DEPLOY, "sonde.conf")) as f:
        m = re.search(r"^#events = (/\S+)$", f.read(), re.M)
    check(m, "deploy/sonde.conf has no '#events = /PATH' example")
    path = m.group(1)
    with open(os.path.join(DEPLOY, "promtail", "promtail.yml")) as f:
        pt = yaml.safe_load(f)
    sc = pt["scrape_configs"][0]
    check(sc["static_configs"][0]["labels"]["__path__"] == path,
          "promtail reads %s, sonde.conf writes %s" % (sc["static_configs"][0]["labels"]["__path__"], path))
    stages = {k: v for st in sc["pipeline_stages"] for k, v in st.items()}
    fields = event_fields()
    missing = [v for v in stages["json"]["expressions"].values() if v not in fields]
    check(not missing, "promtail extracts fields sonde never writes: %s" % missing)
    check({"service_name", "route"} <= set(stages["labels"]), "promtail labels: %s" % stages["labels"])
    check(stages["timestamp"]["source"] == "time", "promtail timestamp source")
    with open(os.path.join(DEPLOY, "systemd", "sonde.service")) as f:
        unit = f.read()
    d = os.path.dirname(path)
    rw = re.findall(r"^ReadWritePaths=(.*)$", unit, re.M)
    logs = re.findall(r"^LogsDirectory=(\S+)$", unit, re.M)
    check(any(d == "/var/log/" + x for x in logs) or any(d in r.split() for r in rw),
          "the unit does not let sonde write %s" % d)
    with open(os.path.join(DEPLOY, "promtail", "logrotate-sonde")) as f:
        lr = f.read()
    check(path in lr and "--signal=SIGUSR1" in lr, "logrotate-sonde does not signal sonde")
    with open(os.path.join(DEPLOY, "grafana", "provisioning", "datasources", "sonde.yaml")) as f:
        ds = yaml.safe_load(f)["datasources"]
    loki = [x for x in ds if x["type"] == "loki"]
    prom = [x for x in ds if x["type"] == "prometheus"][0]
    check(loki, "no Loki datasource")
    dests = {x["name"]: x["url"] for x in prom["jsonData"]["exemplarTraceIdDestinations"]}
    check(set(dests) == {"trace_id", "request_id"}, "exemplar links: %s" % sorted(dests))
    for name, url in dests.items():
        check('"datasource":"%s"' % loki[0]["uid"] in url and ("| json | %s=" % name) in url
              and name in fields, "exemplar link %s does not query Loki by %s" % (name, name))
    n = 0
    for path_ in sorted(os.listdir(DASH_DIR)):
        with open(os.path.join(DASH_DIR, path_)) as f:
            dash = json.load(f)
        stack = list(dash.get("panels", []))
        while stack:
            p = stack.pop()
            stack += p.get("panels", [])
            for t in p.get("targets", []):
                e = t.get("expr", "")
                if "histogram_quantile" in e and "request_duration_seconds_bucket" in e:
                    check(t.get("exemplar") is True, "%s: panel %r shows no exemplars" % (path_, p.get("title")))
                    n += 1
    check(n > 0, "no latency panel found")
    print("promtail reads %s with labels %s; unit writes %s; %d latency panels link "
          "exemplars (trace_id, request_id) to Loki" % (path, sorted(stages["labels"]), d, n))


CHECKS = {
    "yaml": check_yaml,
    "dashboards": check_dashboards,
    "dashboard-promql": check_dashboard_promql,
    "metric-names": check_metric_names,
    "alert-coverage": check_alert_coverage,
    "pod-labels": check_pod_labels,
    "promtool-config": check_promtool_config,
    "promtool-rules": check_promtool_rules,
    "promtool-test": check_promtool_test,
    "systemd": check_systemd,
    "alertmanager-render": check_alertmanager_render,
    "amtool": check_amtool,
    "compose": check_compose_config,
    "kustomize": check_kustomize,
    "container": check_container,
    "sonde-config": check_sonde_config,
    "events-deploy": check_events_deploy,
}


def main(argv):
    if argv[1:] == ["--list"]:
        print("\n".join(CHECKS))
        return 0
    if len(argv) != 2 or argv[1] not in CHECKS:
        print("usage: check_deploy.py CHECK|--list", file=sys.stderr)
        return 2
    try:
        CHECKS[argv[1]]()
    except Failed as e:
        print("FAIL: %s" % e)
        return 1
    except Skipped as e:
        print("SKIP: %s" % e)
        return SKIP
    print("ok: %s" % argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
