# SPDX-License-Identifier: GPL-2.0-only
"""The deploy/ files use the container and pod labels of sonde --k8s-labels on (README,
"Container and pod"): every http_*, db_* and tcp_* series carries k8s_namespace_name and
k8s_pod_name, absent when sonde runs without the option or the process is in no pod.

problems(...) returns what is wrong, one line each; check_deploy.py CHECK pod-labels reads
the files and reports. Pure functions over parsed files, no tool needed:
- dashboards: every selector of a service family filters k8s_namespace_name=~"$namespace"
  and k8s_pod_name=~"$pod"; both variables are multi-value with All = ".*", which matches
  an absent label too; the pod variable follows the namespace and service; at least one
  panel groups by pod;
- recording rules: the rules of one level agree on keeping the pod labels or not;
- alerts on service families keep the pod labels (every by/on list, through the recorded
  series they read), except EXEMPT, and name the pod in summary and description;
- Alertmanager: a critical alert inhibits only its warning twin of the same pod and target;
- alerts_test.yml shows, for each alert group with per-pod alerts, an alert firing with
  k8s_pod_name and that pod in its summary and description.
"""
import re

SERVICE_PREFIXES = ("http_", "db_", "tcp_")
POD_LABELS = ("k8s_namespace_name", "k8s_pod_name")
POD_MATCHERS = (("k8s_namespace_name", "=~", "$namespace"), ("k8s_pod_name", "=~", "$pod"))
ALL_VALUE = ".*"  # PromQL matches an absent label as "": =~".*" keeps series without it
POD_IN_TEXT = "{{ with $labels.k8s_pod_name }}"  # the pod only when the label is non-empty
# Alerts that aggregate the pods away on purpose, and why.
EXEMPT = {
    "HTTPRouteTrafficStopped": "a pod replaced in a rollout stops serving for good",
}

STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
BARE_AGGREGATION = re.compile(
    r"\b(sum|avg|min|max|count|group|stddev|stdvar|topk|bottomk|quantile|count_values)\s*\(")
IDENT = re.compile(r"(?<![A-Za-z0-9_:])[A-Za-z_:][A-Za-z0-9_:]*")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def _blank(m):
    return " " * len(m.group(0))


def _mask_strings(expr):
    """The expression with each string's content replaced, same length, quotes kept."""
    return STRING.sub(lambda m: '"' + "x" * (len(m.group(0)) - 2) + '"', expr)


def is_service_family(name):
    return name.startswith(SERVICE_PREFIXES)


def selectors(expr):
    """(metric, [(label, op, value), ...] or None) for every series selector of a service
    family in a PromQL expression; None when the name has no braces."""
    masked = _mask_strings(expr)
    outside = re.sub(r"\{[^}]*\}", _blank, masked)
    outside = GROUPING.sub(_blank, outside)
    out = []
    for m in IDENT.finditer(outside):
        name = m.group(0)
        rest = outside[m.end():].lstrip()
        if not is_service_family(name) or rest.startswith("("):
            continue
        i = m.end()
        while i < len(masked) and masked[i].isspace():
            i += 1
        if i < len(masked) and masked[i] == "{":
            end = masked.index("}", i)
            out.append((name, MATCHER.findall(expr[i + 1:end])))
        else:
            out.append((name, None))
    return out


def groupings(expr):
    """[(keyword, [labels])] of every by/without/on/ignoring list."""
    s = _mask_strings(expr)
    return [(kw, [x.strip() for x in labels.split(",") if x.strip()])
            for kw, labels in GROUPING.findall(s)]


def metric_names(expr):
    s = re.sub(r"\{[^}]*\}", " ", _mask_strings(expr))
    s = re.sub(r"\[[^\]]*\]", " ", GROUPING.sub(" ", s))
    return {m.group(0) for m in IDENT.finditer(s) if not s[m.end():].lstrip().startswith("(")}


def _panels(dash):
    for p in dash.get("panels", []):
        yield p
        yield from _panels(p)


# ---- dashboards -------------------------------------------------------------------------------


def _label_values(query):
    """(selector, label) of label_values(SELECTOR, LABEL), or None."""
    m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", query, re.S)
    return (m.group(1), m.group(2)) if m else None


def _check_pod_variables(where, tvars, order):
    bad = []
    for name, label in (("namespace", "k8s_namespace_name"), ("pod", "k8s_pod_name")):
        v = tvars.get(name)
        if not v:
            bad.append("%s: no variable %s" % (where, name))
            continue
        if not (v["type"] == "query" and v.get("multi") and v.get("includeAll")
                and v.get("allValue") == ALL_VALUE):
            bad.append("%s: variable %s must be a multi-value query with All = %s (an absent "
                       "label matches only that)" % (where, name, ALL_VALUE))
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        lv = _label_values(q)
        fam = lv and selectors(lv[0])
        if not (lv and lv[1] == label and fam and is_service_family(fam[0][0])):
            bad.append("%s: variable %s must be label_values(<a service family>, %s)" % (where, name, label))
        elif name == "pod":
            want = {("k8s_namespace_name", "=~", "$namespace")}
            if "service" in tvars:
                want.add(("service_name", "=~", "$service"))
            if not want <= set(fam[0][1] or []):
                bad.append("%s: variable pod must filter %s" % (where, sorted(want)))
    if "namespace" in order and "pod" in order and order.index("namespace") > order.index("pod"):
        bad.append("%s: variable namespace must come before pod" % where)
    # The other variables on service families narrow to the chosen namespace.
    for v in tvars.values():
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        lv = v["type"] == "query" and v["name"] != "namespace" and _label_values(q)
        if lv:
            for fam, matchers in selectors(lv[0]):
                if ("k8s_namespace_name", "=~", "$namespace") not in (matchers or []):
                    bad.append("%s: variable %s does not filter k8s_namespace_name=~\"$namespace\"" % (where, v["name"]))
    return bad


def dashboard_problems(dashes):
    """dashes: [(name, parsed JSON)]. Returns (problems, selectors checked, by-pod panels)."""
    bad, nsel, nbypod = [], 0, 0
    for where, dash in dashes:
        lst = dash.get("templating", {}).get("list", [])
        tvars = {v["name"]: v for v in lst}
        uses_service = False
        bypod = 0
        for p in _panels(dash):
            exprs = [t.get("expr", "") for t in p.get("targets", [])]
            for e in exprs:
                for name, matchers in selectors(e):
                    uses_service = True
                    nsel += 1
                    missing = [m for m in POD_MATCHERS if m not in (matchers or [])]
                    if missing:
                        bad.append("%s: panel %r reads %s without %s" % (
                            where, p.get("title"), name,
                            ", ".join('%s%s"%s"' % m for m in missing)))
            groups = [g for e in exprs for g in groupings(e) if g[0] == "by"]
            if exprs and groups and all(set(POD_LABELS) <= set(g[1]) for g in groups):
                bypod += 1
        if uses_service:
            bad += _check_pod_variables(where, tvars, [v["name"] for v in lst])
            if not bypod:
                bad.append("%s: no panel groups by %s" % (where, ", ".join(POD_LABELS)))
            nbypod += bypod
    return bad, nsel, nbypod


# ---- rules ----------------------------------------------------------------------------------


def _keeps_pod(expr, recorded, seen=()):
    """Every aggregation of expr, and of the recorded series it reads, keeps the pod."""
    if BARE_AGGREGATION.search(_mask_strings(expr)):
        return False
    for kw, labels in groupings(expr):
        if kw in ("by", "on") and not set(POD_LABELS) <= set(labels):
            return False
        if kw in ("without", "ignoring") and set(POD_LABELS) & set(labels):
            return False
    for dep in metric_names(expr) & set(recorded):
        if dep not in seen and not _keeps_pod(recorded[dep], recorded, seen + (dep,)):
            return False
    return True


def _reads_service(expr, recorded, seen=()):
    for name in metric_names(expr):
        if is_service_family(name):
            return True
        if name in recorded and name not in seen and _reads_service(recorded[name], recorded, seen + (name,)):
            return True
    return False


def rule_problems(recording_groups, alert_groups):
    """Returns (problems, per-pod alert names, {alert group: per-pod alert names})."""
    bad = []
    recorded = {r["record"]: r["expr"] for g in recording_groups for r in g["rules"] if "record" in r}
    levels = {}
    for name, expr in recorded.items():
        if _reads_service(expr, recorded):
            levels.setdefault(name.split(":")[0], {})[name] = _keeps_pod(expr, recorded)
    for level, rules in sorted(levels.items()):
        if len(set(rules.values())) > 1:
            bad.append("recording level %s: %s keep the pod labels, %s do not" % (
                level, sorted(n for n, k in rules.items() if k), sorted(n for n, k in rules.items() if not k)))
    per_pod, by_group = set(), {}
    for g in alert_groups:
        for r in g["rules"]:
            if "alert" not in r or not _reads_service(r["expr"], recorded):
                continue
            name = r["alert"]
            keeps = _keeps_pod(r["expr"], recorded)
            if name in EXEMPT:
                if keeps:
                    bad.append("%s is exempt (%s) but keeps the pod labels" % (name, EXEMPT[name]))
                continue
            if not keeps:
                bad.append("%s (%s) aggregates %s away: keep them in every by/on list and in "
                           "the recording rules it reads" % (name, r["labels"]["severity"], ", ".join(POD_LABELS)))
                continue
            per_pod.add(name)
            by_group.setdefault(g["name"], set()).add(name)
            for k in ("summary", "description"):
                if POD_IN_TEXT not in r["annotations"].get(k, ""):
                    bad.append("%s (%s): %s does not name the pod (%s ... {{ end }})" % (
                        name, r["labels"]["severity"], k, POD_IN_TEXT))
    return bad, per_pod, by_group


def inhibit_problems(alert_groups, am_config):
    """The critical -> warning inhibit rule compares every label an alert keeps."""
    rules = [r for r in am_config.get("inhibit_rules", [])
             if r.get("source_matchers") == ['severity="critical"']
             and r.get("target_matchers") == ['severity="warning"']]
    if not rules:
        return ["alertmanager: no critical -> warning inhibit rule"]
    equal = set(rules[0].get("equal", []))
    sev = {}
    for g in alert_groups:
        for r in g["rules"]:
            if "alert" in r:
                sev.setdefault(r["alert"], []).append(r)
    bad = []
    for name, rs in sorted(sev.items()):
        if len({r["labels"]["severity"] for r in rs}) < 2:
            continue
        keep = {lab for r in rs for kw, labels in groupings(r["expr"]) if kw in ("by", "on")
                for lab in labels} - {"le"}
        if keep - equal:
            bad.append("alertmanager: the critical %s would inhibit the warnings of other %s "
                       "(add them to the inhibit rule's equal)" % (name, sorted(keep - equal)))
    return bad


def alerts_test_problems(tests, by_group):
    """For each alert group with per-pod alerts, a test shows one firing with its pod."""
    shown = set()
    for group in tests:
        for t in group.get("alert_rule_test", []):
            for a in t.get("exp_alerts") or []:
                pod = (a.get("exp_labels") or {}).get("k8s_pod_name")
                ann = a.get("exp_annotations") or {}
                if pod and pod in ann.get("summary", "") and pod in ann.get("description", ""):
                    shown.add(t["alertname"])
    return ["alerts_test.yml shows no alert of group %s (%s) firing with k8s_pod_name and that "
            "pod in its summary and description" % (g, ", ".join(sorted(names)))
            for g, names in sorted(by_group.items()) if not names & shown]
