#!/usr/bin/env python3
"""Runs shoal's benchmarks beside their peers in one command, prints a table of medians
and ratios, and writes bench/results/latest.json.

Each benchmark is a (shoal command, [peer commands]) pair. Every command prints one JSON
object per line with "id" and "samples"; the median of the samples is the figure. The
machines are noisy: everything a ratio compares runs in this same invocation.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# id -> description. `better` says which direction wins; ratio is always "times better".
BENCHMARKS = [
    {
        "id": "B1",
        "name": "spawn+await trivial coroutine task",
        "unit": "ns/task",
        "better": "lower",
        "shoal": ["{bin}/bench_b1_tasks", "200000", "7"],
        "peers": {"python asyncio": [sys.executable, f"{HERE}/python/b1_asyncio.py", "200000", "3"]},
    },
    {
        # B1 again on glibc's malloc instead of mimalloc (see cmake/malloc.cmake).
        "id": "B1sys",
        "name": "B1 with the system allocator",
        "unit": "ns/task",
        "better": "lower",
        "shoal": ["{bin}/bench_b1_tasks_sysmalloc", "200000", "7"],
        "peers": {"python asyncio": [sys.executable, f"{HERE}/python/b1_asyncio.py", "200000", "3"]},
        "peer_id": "B1",
    },
]


def run_json(cmd, want_id):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=900).stdout
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            obj = json.loads(line)
            if obj.get("id") == want_id:
                return obj
    raise RuntimeError(f"{cmd[0]} printed no result for {want_id}:\n{out}")


_peer_cache = {}


def peer_median(cmd, want_id):
    """A peer command run once per invocation, however many benchmarks compare with it."""
    key = (tuple(cmd), want_id)
    if key not in _peer_cache:
        _peer_cache[key] = statistics.median(run_json(cmd, want_id)["samples"])
    return _peer_cache[key]


def ratio(better, ours, peer):
    return peer / ours if better == "lower" else ours / peer


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build/release", help="build tree with bin/")
    ap.add_argument("--out", default="bench/results/latest.json")
    ap.add_argument("--only", action="append", help="run only these ids")
    args = ap.parse_args()
    bindir = os.path.join(os.path.abspath(args.build), "bin")

    results = []
    print(f"{'id':<6} {'benchmark':<42} {'shoal':>14} {'peer':<28} {'peer value':>14} {'ratio':>8}")
    for b in BENCHMARKS:
        if args.only and b["id"] not in args.only:
            continue
        cmd = [c.format(bin=bindir) for c in b["shoal"]]
        ours = statistics.median(run_json(cmd, b["id"])["samples"])
        entry = {"id": b["id"], "name": b["name"], "unit": b["unit"], "better": b["better"],
                 "shoal": round(ours, 3), "peers": {}, "ratios": {}}
        for peer, pcmd in b["peers"].items():
            pv = peer_median([c.format(bin=bindir) for c in pcmd], b.get("peer_id", b["id"]))
            entry["peers"][peer] = round(pv, 3)
            entry["ratios"][peer] = round(ratio(b["better"], ours, pv), 2)
            print(f"{b['id']:<6} {b['name']:<42} {ours:>10.1f} {b['unit']:<3} {peer:<28} "
                  f"{pv:>10.1f} {b['unit']:<3} {entry['ratios'][peer]:>7.1f}x")
        results.append(entry)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    doc = {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "machine": {"cores": os.cpu_count()}, "results": results}
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
