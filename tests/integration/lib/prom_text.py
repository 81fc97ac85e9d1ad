# SPDX-License-Identifier: GPL-2.0-only
"""Parser of the Prometheus text exposition format (version 0.0.4) and histogram helpers.

parse_prometheus_text() turns a scrape into a Metrics mapping
    {(sample_name, frozenset({label: value}.items())): float}
and rejects what a Prometheus server would reject: malformed lines, bad escapes, invalid
names, duplicate series and samples whose family was declared with another TYPE.
"""

import math
import re

__all__ = [
    "Metrics", "parse_prometheus_text", "samples", "value", "hist_count", "hist_sum",
    "hist_bucket", "hist_buckets",
]

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
# Suffixes a sample may add to its family name, per family type.
_SUFFIXES = {
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count", ""),
}


class Metrics(dict):
    """Parsed samples, plus the TYPE and HELP of each family and the scrape's Content-Type."""

    def __init__(self):
        super().__init__()
        self.types = {}
        self.help = {}
        self.content_type = None


def _unescape(text, pos, lineno, what):
    """Reads a double-quoted string starting at text[pos] == '"'. Returns (value, next pos)."""
    out = []
    i = pos + 1
    while i < len(text):
        c = text[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            if i + 1 >= len(text):
                break
            e = text[i + 1]
            if e == "\\":
                out.append("\\")
            elif e == '"':
                out.append('"')
            elif e == "n":
                out.append("\n")
            else:
                raise ValueError(f"line {lineno}: bad escape \\{e} in {what}")
            i += 2
            continue
        if c == "\n":
            break
        out.append(c)
        i += 1
    raise ValueError(f"line {lineno}: unterminated quoted {what}")


def _parse_value(tok, lineno):
    special = {"+Inf": math.inf, "Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
    if tok in special:
        return special[tok]
    try:
        return float(tok)
    except ValueError:
        raise ValueError(f"line {lineno}: bad sample value {tok!r}") from None


def _parse_labels(line, pos, lineno):
    """Parses '{a="x",b="y"}' starting at line[pos] == '{'. Returns (dict, next pos)."""
    labels = {}
    i = pos + 1
    while True:
        while i < len(line) and line[i] in " \t":
            i += 1
        if i < len(line) and line[i] == "}":
            return labels, i + 1
        m = _LABEL_NAME.match(line, i)
        if not m:
            raise ValueError(f"line {lineno}: bad label name at column {i + 1}")
        name = m.group(0)
        i = m.end()
        while i < len(line) and line[i] in " \t":
            i += 1
        if i >= len(line) or line[i] != "=":
            raise ValueError(f"line {lineno}: expected '=' after label {name}")
        i += 1
        while i < len(line) and line[i] in " \t":
            i += 1
        if i >= len(line) or line[i] != '"':
            raise ValueError(f"line {lineno}: label {name} value must be quoted")
        val, i = _unescape(line, i, lineno, f"value of label {name}")
        if name in labels:
            raise ValueError(f"line {lineno}: label {name} repeated")
        labels[name] = val
        while i < len(line) and line[i] in " \t":
            i += 1
        if i < len(line) and line[i] == ",":
            i += 1
        elif i < len(line) and line[i] == "}":
            return labels, i + 1
        else:
            raise ValueError(f"line {lineno}: expected ',' or '}}' after label {name}")


def _parse_comment(line, lineno, metrics):
    parts = line[1:].strip().split(None, 2)
    if len(parts) < 2 or parts[0] not in ("TYPE", "HELP"):
        return  # an ordinary comment
    name = parts[1]
    if not _METRIC_NAME.fullmatch(name):
        raise ValueError(f"line {lineno}: bad metric name {name!r} in # {parts[0]}")
    if parts[0] == "TYPE":
        kind = parts[2].strip() if len(parts) > 2 else ""
        if kind not in _TYPES:
            raise ValueError(f"line {lineno}: bad TYPE {kind!r} for {name}")
        if name in metrics.types:
            raise ValueError(f"line {lineno}: second TYPE line for {name}")
        metrics.types[name] = kind
    else:
        text = parts[2] if len(parts) > 2 else ""
        metrics.help[name] = text.replace("\\n", "\n").replace("\\\\", "\\")


def _family_of(name, types):
    """The declared family a sample name belongs to, or None."""
    if name in types:
        return name
    for kind_suffixes in _SUFFIXES.values():
        for suffix in kind_suffixes:
            if suffix and name.endswith(suffix) and name[: -len(suffix)] in types:
                return name[: -len(suffix)]
    return None


def _check_type(name, labels, lineno, types):
    family = _family_of(name, types)
    if family is None:
        return
    kind = types[family]
    suffix = name[len(family):]
    allowed = _SUFFIXES.get(kind, ("",))
    if suffix not in allowed:
        raise ValueError(f"line {lineno}: sample {name} does not fit {kind} {family}")
    if kind == "histogram" and suffix == "_bucket" and "le" not in labels:
        raise ValueError(f"line {lineno}: histogram bucket {name} without le label")


def parse_prometheus_text(text):
    """Parses a text-format scrape; raises ValueError naming the first bad line."""
    metrics = Metrics()
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(" \t\r")
        if not line:
            continue
        if line.startswith("#"):
            _parse_comment(line, lineno, metrics)
            continue
        m = _METRIC_NAME.match(line)
        if not m:
            raise ValueError(f"line {lineno}: bad metric name in {raw!r}")
        name = m.group(0)
        i = m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = _parse_labels(line, i, lineno)
        rest = line[i:].split()
        if not rest or len(rest) > 2 or (i < len(line) and line[i] not in " \t"):
            raise ValueError(f"line {lineno}: expected 'value [timestamp]' in {raw!r}")
        value_ = _parse_value(rest[0], lineno)
        if len(rest) == 2 and not re.fullmatch(r"-?\d+", rest[1]):
            raise ValueError(f"line {lineno}: bad timestamp {rest[1]!r}")
        _check_type(name, labels, lineno, metrics.types)
        key = (name, frozenset(labels.items()))
        if key in metrics:
            raise ValueError(f"line {lineno}: duplicate series {name}{labels}")
        metrics[key] = value_
    return metrics


def _matches(label_set, want):
    have = dict(label_set)
    return all(have.get(k) == v for k, v in want.items())


def _want(labels):
    return {k: str(v) for k, v in labels.items()}


def samples(metrics, name, **labels):
    """[(labels dict, value)] of every sample called name whose labels include labels."""
    want = _want(labels)
    return sorted(
        ((dict(ls), v) for (n, ls), v in metrics.items() if n == name and _matches(ls, want)),
        key=lambda item: sorted(item[0].items()))


def value(metrics, name, **labels):
    """Sum of the samples called name whose labels include labels (0.0 when none)."""
    return sum(v for _, v in samples(metrics, name, **labels))


def hist_count(metrics, name, **labels):
    """Observations of histogram name (its _count), summed over matching series."""
    return value(metrics, name + "_count", **labels)


def hist_sum(metrics, name, **labels):
    """Sum of observations of histogram name (its _sum), over matching series."""
    return value(metrics, name + "_sum", **labels)


def _le_key(le):
    return math.inf if str(le) in ("+Inf", "Inf", "inf") else float(le)


def hist_bucket(metrics, name, le, **labels):
    """Cumulative count of bucket le (a number or "+Inf") of histogram name, over matching
    series; le is compared as a number, so 0.1 matches "0.1" and "1e-01"."""
    target = _le_key(le)
    want = _want(labels)
    total = 0.0
    for (n, ls), v in metrics.items():
        if n != name + "_bucket" or not _matches(ls, want):
            continue
        if _le_key(dict(ls)["le"]) == target:
            total += v
    return total


def hist_buckets(metrics, name, **labels):
    """{le as float: cumulative count} of histogram name, summed over matching series."""
    want = _want(labels)
    out = {}
    for (n, ls), v in metrics.items():
        if n == name + "_bucket" and _matches(ls, want):
            le = _le_key(dict(ls)["le"])
            out[le] = out.get(le, 0.0) + v
    return dict(sorted(out.items()))
