#!/usr/bin/env python3
"""Prints devtensor beside its baselines from a Google Benchmark JSON file.

Each benchmark is named <case>/<size> and carries, per contender, <name>_us (median time of one
iteration) and, where the case moves bytes, <name>_GBps; each baseline also has ratio_<name>
(baseline time / subject time: above 1, the subject is faster). The subject is the contender
without a ratio: devtensor, or the device mode for decode cases. With repetitions, the median
aggregate is used. `devtensor bench` prints the same figures as tables of its own.
Usage: ratios.py RESULTS.json [--markdown]
"""
import json
import sys

# Table order of contenders (bench/cases/contenders.h).
ORDER = ["devtensor", "device", "host", "captured", "one_call_each", "calls_on_stream",
         "raw_dawn", "memcpy", "hand_loop", "cuda", "cuda_pageable"]


def final_runs(path):
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


def contenders(b):
    names = [k[:-3] for k in b if k.endswith("_us")]
    subject = [n for n in names if f"ratio_{n}" not in b]
    rest = sorted((n for n in names if n not in subject),
                  key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))
    return subject + rest


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    markdown = "--markdown" in sys.argv
    tables = {}  # contenders -> rows
    for (case, size), b in sorted(final_runs(sys.argv[1]).items()):
        names = contenders(b)
        if not names:
            continue
        cells = [case, str(size) if case == "decode" else size_text(size)]
        for n in names:
            cell = f"{b[n + '_us']:.1f} µs"
            if n + "_GBps" in b and size >= 65536:
                cell += f" {b[n + '_GBps']:.3f} GB/s"
            cells.append(cell)
        cells += [f"{b['ratio_' + n]:.3f}" for n in names[1:]]
        tables.setdefault(tuple(names), []).append(cells)
    for names, table in tables.items():
        head = ["case", "size"] + list(names) + [f"{n} / {names[0]}" for n in names[1:]]
        if markdown:
            print("| " + " | ".join(head) + " |")
            print("|" + "---|" * len(head))
            for line in table:
                print("| " + " | ".join(line) + " |")
        else:
            widths = [max(len(x) for x in col) for col in zip(head, *table)]
            for line in [head] + table:
                print("  ".join(x.ljust(w) for x, w in zip(line, widths)))
        print()
    print("medians of per-iteration times, contenders alternating in one loop; "
          "ratios = baseline time / subject time (above 1: the subject is faster); "
          "GB/s = bytes copied / time, each byte counted once")


if __name__ == "__main__":
    main()
