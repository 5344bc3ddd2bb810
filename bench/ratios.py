#!/usr/bin/env python3
"""Prints devtensor beside its baseline from a Google Benchmark JSON file.

Each benchmark is named <case>/<bytes> and carries the counters devtensor_us, <baseline>_us, the
matching _GBps counters and ratio (baseline time / devtensor time: above 1, devtensor is faster).
With repetitions, the median aggregate is used.
Usage: ratios.py RESULTS.json [--markdown]
"""
import json
import sys


def rows(path):
    with open(path) as f:
        data = json.load(f)
    chosen = {}
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"]).split("/")
        chosen[(name[0], int(name[1]))] = b
    return chosen


def size_text(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:g} {unit}"
        n /= 1024


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    table = []
    for (case, size), b in sorted(rows(sys.argv[1]).items()):
        baseline = next((k[:-3] for k in b if k.endswith("_us") and k != "devtensor_us"), None)
        if baseline is None or "devtensor_us" not in b:
            continue
        table.append([case, size_text(size),
                      f"{b['devtensor_us']:.1f}", f"{b[baseline + '_us']:.1f}",
                      f"{b.get('devtensor_GBps', 0):.3f}", f"{b.get(baseline + '_GBps', 0):.3f}",
                      f"{b['ratio']:.3f}"])
    head = ["case", "size", "devtensor µs", "baseline µs", "devtensor GB/s", "baseline GB/s",
            "ratio"]
    if "--markdown" in sys.argv:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for line in table:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(x) for x in col) for col in zip(head, *table)]
        for line in [head] + table:
            print("  ".join(x.ljust(w) for x, w in zip(line, widths)))
    print("\nmedians of per-iteration times, devtensor and baseline alternating in one loop; "
          "ratio = baseline time / devtensor time (above 1: devtensor is faster)")


if __name__ == "__main__":
    main()
