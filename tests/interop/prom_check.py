#!/usr/bin/env python3
"""prom_check.py — checks Prometheus text exposition format 0.0.4 the way
`promtool check metrics` does (its parser's rules plus its lint rules), with the
Python standard library only: metric and label names match their regexes,
label names are not reserved, label values use only the \\\\ \\" \\n escapes,
every family has one HELP and one TYPE line before its first sample, its lines
are together, samples belong to their family (histogram/summary suffixes
included), values parse as floats (NaN, +Inf, -Inf), timestamps are integers,
no series appears twice, counters end in _total, and the text ends in a newline.

Usage: prom_check.py FILE|URL [--require NAME]...   (FILE "-" reads stdin)
Exit 0 when the text is valid (and every --require'd family has a sample),
1 otherwise, with one line per problem."""
import re
import sys
import urllib.request

METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*$")
FLOAT = re.compile(r"([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?Inf|NaN)$")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( (-?\d+))?$")


def parse_labels(text, errors, where):
    """label="value",... -> sorted tuple of pairs; None on error."""
    labels, at = {}, 0
    while at < len(text):
        m = re.compile(r"([^=]*)=\"").match(text, at)
        if not m:
            errors.append("%s: bad label list" % where)
            return None
        name = m.group(1)
        if not LABEL.match(name) or name.startswith("__"):
            errors.append("%s: bad label name %r" % (where, name))
            return None
        at, value = m.end(), []
        while at < len(text) and text[at] != '"':
            if text[at] == "\\":
                if at + 1 >= len(text) or text[at + 1] not in '\\"n':
                    errors.append("%s: bad escape in label %s" % (where, name))
                    return None
                value.append(text[at:at + 2])
                at += 2
            else:
                value.append(text[at])
                at += 1
        if at >= len(text):
            errors.append("%s: unterminated label value" % where)
            return None
        at += 1
        if name in labels:
            errors.append("%s: label %s twice" % (where, name))
            return None
        labels[name] = "".join(value)
        if at < len(text):
            if text[at] != ",":
                errors.append("%s: want ',' between labels" % where)
                return None
            at += 1
    return tuple(sorted(labels.items()))


def family_of(name, types):
    """The family a sample name belongs to, given the TYPE lines seen."""
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)] if name.endswith(suffix) else None
        if base and types.get(base) in ("histogram", "summary"):
            if suffix == "_bucket" and types[base] != "histogram":
                continue
            return base
    return name


def check(text, require=()):
    errors = []
    if text and not text.endswith("\n"):
        errors.append("the text does not end in a newline")
    helps, types, samples_seen, series = {}, {}, set(), set()
    done, current = set(), None

    def enter(family, where):
        nonlocal current
        if family != current:
            if family in done:
                errors.append("%s: lines of family %s are not together" % (where, family))
            if current is not None:
                done.add(current)
            current = family

    for i, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")):
        where = "line %d" % (i + 1)
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not METRIC.match(name):
                    errors.append("%s: bad metric name %r" % (where, name))
                    continue
                enter(name, where)
                if name in samples_seen:
                    errors.append("%s: %s after samples of %s" % (where, parts[1], name))
                if parts[1] == "HELP":
                    if name in helps:
                        errors.append("%s: second HELP for %s" % (where, name))
                    helps[name] = parts[3] if len(parts) > 3 else ""
                else:
                    kind = parts[3] if len(parts) > 3 else ""
                    if name in types:
                        errors.append("%s: second TYPE for %s" % (where, name))
                    if kind not in TYPES:
                        errors.append("%s: unknown type %r" % (where, kind))
                    if kind == "counter" and not name.endswith("_total"):
                        errors.append("%s: counter %s does not end in _total" % (where, name))
                    types[name] = kind
            continue
        m = SAMPLE.match(line)
        if not m:
            errors.append("%s: not a sample: %r" % (where, line))
            continue
        name, labels_text, value = m.group(1), m.group(3) or "", m.group(4)
        family = family_of(name, types)
        enter(family, where)
        samples_seen.add(family)
        if family not in types:
            errors.append("%s: sample of %s before (or without) its TYPE line" % (where, family))
        if family not in helps:
            errors.append("%s: sample of %s before (or without) its HELP line" % (where, family))
        if not FLOAT.match(value):
            errors.append("%s: value %r is not a float" % (where, value))
        labels = parse_labels(labels_text, errors, where)
        if labels is None:
            continue
        key = (name, labels)
        if key in series:
            errors.append("%s: series %s%s appears twice" % (where, name, dict(labels)))
        series.add(key)
    for name in require:
        if name not in samples_seen:
            errors.append("no sample of required family %s" % name)
    return errors


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    src, require, i = argv[1], [], 2
    while i < len(argv):
        if argv[i] == "--require" and i + 1 < len(argv):
            require.append(argv[i + 1])
            i += 2
        else:
            print(__doc__)
            return 2
    if src.startswith("http://"):
        with urllib.request.urlopen(src, timeout=10) as r:
            text = r.read(1 << 22).decode("utf-8")
    elif src == "-":
        text = sys.stdin.read()
    else:
        text = open(src, encoding="utf-8").read()
    errors = check(text, require)
    for e in errors:
        print("FAIL: %s" % e)
    if not errors:
        print("OK: %d lines of valid Prometheus text format" % text.count("\n"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
