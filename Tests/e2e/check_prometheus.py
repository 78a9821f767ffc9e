#!/usr/bin/env python3
"""Reads Prometheus text exposition (format 0.0.4) on stdin and validates it with the official
client's parser, plus the histogram invariants the parser does not enforce. Exit 0 when valid."""
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    text = sys.stdin.read()
    problems = []
    families = list(text_string_to_metric_families(text))  # raises ValueError on malformed text
    seen = set()
    for family in families:
        if family.name in seen:
            problems.append(f"family {family.name} appears twice")
        seen.add(family.name)
        if family.type != "histogram":
            continue
        groups = {}
        for s in family.samples:
            labels = dict(s.labels)
            le = labels.pop("le", None)
            key = tuple(sorted(labels.items()))
            g = groups.setdefault(key, {"buckets": [], "sum": None, "count": None})
            if s.name.endswith("_bucket"):
                g["buckets"].append((float(le), s.value))
            elif s.name.endswith("_sum"):
                g["sum"] = s.value
            elif s.name.endswith("_count"):
                g["count"] = s.value
        for key, g in groups.items():
            b = g["buckets"]
            if any(b[i][0] >= b[i + 1][0] for i in range(len(b) - 1)):
                problems.append(f"{family.name}{key}: le not increasing")
            if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
                problems.append(f"{family.name}{key}: buckets not cumulative")
            if not b or not math.isinf(b[-1][0]):
                problems.append(f"{family.name}{key}: no +Inf bucket")
            elif g["count"] != b[-1][1]:
                problems.append(f"{family.name}{key}: +Inf {b[-1][1]} != _count {g['count']}")
            if g["sum"] is None:
                problems.append(f"{family.name}{key}: no _sum")
    for p in problems:
        print(p, file=sys.stderr)
    samples = sum(len(f.samples) for f in families)
    print(f"{len(families)} families, {samples} samples, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
