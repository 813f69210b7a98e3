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
    {
        "id": "B2",
        "name": "ThreadPoolExecutor(2) trivial submit+result",
        "unit": "tasks/s",
        "better": "higher",
        "shoal": ["{bin}/bench_b2_pool", "200000", "7"],
        "peers": {
            "python ThreadPoolExecutor": [sys.executable, f"{HERE}/python/b2_pool.py", "200000", "3"],
            "raw asio thread_pool": ["{bin}/bench_b2_pool", "200000", "7"],
        },
    },
    {
        "id": "LOCK_UNCONTENDED",
        "name": "Lock acquire+release, one thread",
        "unit": "ns/op",
        "better": "lower",
        "shoal": ["{bin}/bench_b2_locks", "5"],
        "peers": {"std::mutex": ["{bin}/bench_b2_locks", "5"]},
    },
    {
        "id": "LOCK_CONTENDED",
        "name": "Lock acquire+release, two threads",
        "unit": "ns/op",
        "better": "lower",
        "shoal": ["{bin}/bench_b2_locks", "5"],
        "peers": {"std::mutex": ["{bin}/bench_b2_locks", "5"]},
    },
    {
        "id": "AIO_LOCK_UNCONTENDED",
        "name": "aio::Lock acquire+release, one task",
        "unit": "ns/op",
        "better": "lower",
        "shoal": ["{bin}/bench_b2_locks", "5"],
        "peers": {"std::mutex": ["{bin}/bench_b2_locks", "5"]},
    },
    {
        "id": "AIO_LOCK_CONTENDED",
        "name": "aio::Lock, 100 tasks handing over",
        "unit": "ns/op",
        "better": "lower",
        "shoal": ["{bin}/bench_b2_locks", "5"],
        "peers": {"python asyncio.Lock": [sys.executable, f"{HERE}/python/aio_lock.py", "3"]},
    },
    {
        "id": "WIRE1",
        "name": "encode+decode small task arguments",
        "unit": "ns/message",
        "better": "lower",
        "shoal": ["{bin}/bench_wire_codec"],
        "peers": {"python pickle": [sys.executable, f"{HERE}/python/wire_pickle.py", "5"]},
    },
    {
        "id": "WIRE2",
        "name": "encode+decode 1 MiB Bytes payload",
        "unit": "GB/s",
        "better": "higher",
        "shoal": ["{bin}/bench_wire_codec"],
        "peers": {"python pickle": [sys.executable, f"{HERE}/python/wire_pickle.py", "5"]},
    },
    {
        "id": "WIRE3",
        "name": "small frames through a socketpair, coalesced",
        "unit": "frames/s",
        "better": "higher",
        "shoal": ["{bin}/bench_wire_frames", "500000", "5"],
        "peers": {
            "one write per frame": ["{bin}/bench_wire_frames", "500000", "5"],
            "raw C 64-byte writes": ["{bin}/bench_wire_frames", "500000", "5"],
        },
    },
    {
        "id": "B3",
        "name": "remote round trip, LocalCluster(2), p50",
        "unit": "us",
        "better": "lower",
        "shoal": ["{bin}/bench_cluster", "b3", "5000", "5"],
        "peers": {
            "raw uds pingpong": ["{bin}/bench_cluster", "b3", "5000", "5"],
            "python ProcessPoolExecutor": [sys.executable, f"{HERE}/python/b3_pool.py", "5000", "3"],
        },
    },
    {
        "id": "B3p99",
        "name": "remote round trip, LocalCluster(2), p99",
        "unit": "us",
        "better": "lower",
        "shoal": ["{bin}/bench_cluster", "b3", "5000", "5"],
        "peers": {
            "raw uds pingpong": ["{bin}/bench_cluster", "b3", "5000", "5"],
            "python ProcessPoolExecutor": [sys.executable, f"{HERE}/python/b3_pool.py", "5000", "3"],
        },
    },
    {
        "id": "B4",
        "name": "100k trivial remote tasks, submit all, gather",
        "unit": "tasks/s",
        "better": "higher",
        "shoal": ["{bin}/bench_cluster", "b4", "100000", "7"],
        "peers": {
            "python ProcessPoolExecutor": [sys.executable, f"{HERE}/python/b4_pool.py", "20000", "3"],
            "python map(chunksize=1000)": [sys.executable, f"{HERE}/python/b4_pool.py", "20000", "3"],
        },
    },
    {
        # The cluster as an operator runs it: standalone shoal-coordinator and two
        # one-thread shoal-worker processes, the client in the benchmark's own process;
        # two hops each way, beside 64 bytes relayed through a middle process and back.
        "id": "B3d",
        "name": "round trip through the daemons, p50",
        "unit": "us",
        "better": "lower",
        "shoal": ["{bin}/bench_daemons", "5000", "5"],
        "peers": {"raw uds relay": ["{bin}/bench_daemons", "5000", "5"]},
    },
    {
        "id": "B3dp99",
        "name": "round trip through the daemons, p99",
        "unit": "us",
        "better": "lower",
        "shoal": ["{bin}/bench_daemons", "5000", "5"],
        "peers": {"raw uds relay": ["{bin}/bench_daemons", "5000", "5"]},
    },
    {
        "id": "B4d",
        "name": "100k trivial tasks through the daemons",
        "unit": "tasks/s",
        "better": "higher",
        "shoal": ["{bin}/bench_daemons", "5000", "5"],
        "peers": {
            "goal (1M tasks/s)": ["{bin}/bench_daemons", "5000", "5"],
            "LocalCluster(2) (B4)": ["{bin}/bench_daemons", "5000", "5"],
        },
    },
    {
        # Cost that grows with the work: tasks/s should stay flat from 10k to 1M.
        "id": "B4_10k",
        "name": "10k trivial remote tasks (B4 at 10k)",
        "unit": "tasks/s",
        "better": "higher",
        "shoal": ["{bin}/bench_cluster", "scale", "5"],
        "peers": {"B4 at 100k": ["{bin}/bench_cluster", "scale", "5"]},
    },
    {
        # Cost that grows with the work: tasks/s should stay flat from 10k to 1M.
        "id": "B4_1M",
        "name": "1M trivial remote tasks (B4 at 1M)",
        "unit": "tasks/s",
        "better": "higher",
        "shoal": ["{bin}/bench_cluster", "scale", "5"],
        "peers": {"B4 at 100k": ["{bin}/bench_cluster", "scale", "5"]},
    },
    {
        # A round trip should not grow with the cluster.
        "id": "B3w1",
        "name": "round trip p50 on 1 one-thread worker",
        "unit": "us",
        "better": "lower",
        "shoal": ["{bin}/bench_cluster", "scale", "5"],
        "peers": {"B3 on 2 workers": ["{bin}/bench_cluster", "scale", "5"]},
    },
    {
        # A round trip should not grow with the cluster.
        "id": "B3w8",
        "name": "round trip p50 on 8 one-thread workers",
        "unit": "us",
        "better": "lower",
        "shoal": ["{bin}/bench_cluster", "scale", "5"],
        "peers": {"B3 on 2 workers": ["{bin}/bench_cluster", "scale", "5"]},
    },
    {
        # A round trip should not grow with the cluster.
        "id": "B3w32",
        "name": "round trip p50 on 32 one-thread workers",
        "unit": "us",
        "better": "lower",
        "shoal": ["{bin}/bench_cluster", "scale", "5"],
        "peers": {"B3 on 2 workers": ["{bin}/bench_cluster", "scale", "5"]},
    },
    {
        # Scale: B4 with 256 one-thread worker processes on this machine, beside B4 with 2
        # (issue 16's goal: at least half of it).
        "id": "B4w256",
        "name": "100k tasks on 256 one-thread workers",
        "unit": "tasks/s",
        "better": "higher",
        "shoal": ["{bin}/bench_cluster", "b4w", "100000", "5", "256"],
        "peers": {"B4 on 2 workers": ["{bin}/bench_cluster", "b4w", "100000", "5", "256"]},
    },
    {
        # The scheduler alone (no sockets): result+pick cycles per second with 1,000
        # workers and 1,000,000 queued tasks, beside 10 workers and 1,000 queued (how the
        # cost grows), and with one task in ten asking for a GPU 10 workers offer.
        "id": "SCHED",
        "name": "scheduler decisions, 1,000 workers, 1M queued",
        "unit": "decisions/s",
        "better": "higher",
        "shoal": ["{bin}/bench_sched", "200000", "5"],
        "peers": {"10 workers, 1,000 queued": ["{bin}/bench_sched", "200000", "5"]},
    },
    {
        "id": "SCHEDgpu",
        "name": "scheduler decisions, 1 in 10 tasks asks for 1 of 10 GPUs",
        "unit": "decisions/s",
        "better": "higher",
        "shoal": ["{bin}/bench_sched", "200000", "5"],
        "peers": {"no requests": ["{bin}/bench_sched", "200000", "5"]},
    },
    {
        # The client's hop over TCP loopback with mutual TLS, beside the same without TLS,
        # rounds alternating in one process (the workers' hop is a Unix socket in both).
        "id": "B3tls",
        "name": "round trip, client over TCP with TLS, p50",
        "unit": "us",
        "better": "lower",
        "shoal": ["{bin}/bench_cluster", "tls", "5000", "5"],
        "peers": {"tcp without TLS": ["{bin}/bench_cluster", "tls", "5000", "5"]},
    },
    {
        "id": "B4tls",
        "name": "100k tasks, client over TCP with TLS",
        "unit": "tasks/s",
        "better": "higher",
        "shoal": ["{bin}/bench_cluster", "tls", "5000", "5"],
        "peers": {"tcp without TLS": ["{bin}/bench_cluster", "tls", "5000", "5"]},
    },
    {
        # The cost of watching (issue 14): the HTTP server on and a scraper reading
        # /metrics every 100 ms, beside a LocalCluster(2) with no HTTP server, rounds
        # alternating in one process. At most 5% is the bound.
        "id": "B3metrics",
        "name": "round trip with /metrics scraped every 100 ms, p50",
        "unit": "us",
        "better": "lower",
        "shoal": ["{bin}/bench_cluster", "metrics", "3000", "9"],
        "peers": {"without HTTP": ["{bin}/bench_cluster", "metrics", "3000", "9"]},
    },
    {
        "id": "B4metrics",
        "name": "100k tasks with /metrics scraped every 100 ms",
        "unit": "tasks/s",
        "better": "higher",
        "shoal": ["{bin}/bench_cluster", "metrics", "3000", "9"],
        "peers": {"without HTTP": ["{bin}/bench_cluster", "metrics", "3000", "9"]},
    },
    {
        # The journal's cost: a LocalCluster(2) with --journal (SQLite, WAL, one fsync per
        # commit on this disk) beside one without, rounds alternating in one process.
        "id": "B3j",
        "name": "round trip with the journal on, p50",
        "unit": "us",
        "better": "lower",
        "shoal": ["{bin}/bench_cluster", "journal", "3000", "5"],
        "peers": {"without the journal": ["{bin}/bench_cluster", "journal", "3000", "5"]},
    },
    {
        "id": "B4j",
        "name": "100k tasks with the journal on",
        "unit": "tasks/s",
        "better": "higher",
        "shoal": ["{bin}/bench_cluster", "journal", "3000", "5"],
        "peers": {"without the journal": ["{bin}/bench_cluster", "journal", "3000", "5"]},
    },
    {
        # Memory per queued task: 1,000,000 tasks waiting on a standalone coordinator (a
        # function no worker has), its RSS growth per task; the peer is the goal.
        "id": "B9",
        "name": "coordinator bytes per queued task (1M queued)",
        "unit": "bytes/task",
        "better": "lower",
        "shoal": ["{bin}/bench_cluster", "b9", "1000000"],
        "peers": {"goal (issue 12)": ["{bin}/bench_cluster", "b9", "1000000"]},
    },
    {
        "id": "B9client",
        "name": "client bytes per pending remote future (1M)",
        "unit": "bytes/task",
        "better": "lower",
        "shoal": ["{bin}/bench_cluster", "b9", "1000000"],
        "peers": {"goal (issue 12)": ["{bin}/bench_cluster", "b9", "1000000"]},
    },
    {
        # Large values: a 64 MiB shoal::Bytes echoed by a worker (shared memory on one
        # host), MB/s of payload per round trip; memcpy into a fresh buffer in the same
        # program, and Python's process pool echoing 64 MiB of bytes.
        "id": "B7",
        "name": "64 MiB Bytes echo on LocalCluster(2)",
        "unit": "MB/s",
        "better": "higher",
        "shoal": ["{bin}/bench_cluster", "b7", "7"],
        "peers": {
            "memcpy fresh": ["{bin}/bench_cluster", "b7", "7"],
            "python ProcessPoolExecutor": [sys.executable, f"{HERE}/python/b7_pool.py", "5"],
        },
    },
    {
        # The object store: one 64 MiB put read by 100 tasks, beside 100 submits each
        # carrying the 64 MiB (at most 8 in flight), total seconds.
        "id": "B7put",
        "name": "one 64 MiB put read by 100 tasks",
        "unit": "s",
        "better": "lower",
        "shoal": ["{bin}/bench_cluster", "b7put", "5"],
        "peers": {"100 separate submits": ["{bin}/bench_cluster", "b7put", "5"]},
    },
    {
        # 1,000 remote coroutine tasks sleeping 10 ms each overlap on the workers' loops:
        # the ideal is 10 ms for all of them.
        "id": "B5",
        "name": "1,000 remote coroutine tasks sleeping 10 ms",
        "unit": "ms",
        "better": "lower",
        "shoal": ["{bin}/bench_workloads", "b5", "1000", "5"],
        "peers": {"ideal (10 ms, all overlapping)": ["{bin}/bench_workloads", "b5", "1000", "5"]},
    },
    {
        "id": "B6",
        "name": "CPU-bound map, 64 x 7.5 ms on 2 workers",
        "unit": "speedup",
        "better": "higher",
        "shoal": ["{bin}/bench_workloads", "b6", "B6", "64", "7500", "5"],
        "peers": {"python ProcessPoolExecutor": [sys.executable, f"{HERE}/python/b6_pool.py", "B6", "64", "7500", "3"]},
    },
    {
        "id": "B6s",
        "name": "CPU-bound map, 64 x 0.1 ms on 2 workers",
        "unit": "speedup",
        "better": "higher",
        "shoal": ["{bin}/bench_workloads", "b6", "B6s", "64", "100", "21"],
        "peers": {"python ProcessPoolExecutor": [sys.executable, f"{HERE}/python/b6_pool.py", "B6s", "64", "100", "11"]},
    },
    {
        # An idle cluster should cost almost nothing: CPU of the client process and its
        # workers over 10 s, from /proc.
        "id": "IDLE",
        "name": "idle LocalCluster(2), CPU over 10 s",
        "unit": "% of a core",
        "better": "lower",
        "shoal": ["{bin}/bench_workloads", "idle", "10", "1"],
        "peers": {"goal (1% of a core)": ["{bin}/bench_workloads", "idle", "10", "1"]},
    },
    {
        # The same for a `shoal start` cluster (coordinator, supervisor, 2 workers).
        "id": "IDLEstart",
        "name": "idle `shoal start` cluster, CPU over 10 s",
        "unit": "% of a core",
        "better": "lower",
        "shoal": [sys.executable, f"{HERE}/python/idle_start.py", "{bin}", "10"],
        "peers": {"goal (1% of a core)": [sys.executable, f"{HERE}/python/idle_start.py", "{bin}", "10"]},
    },
    {
        # A figure the noise does not move: instructions per remote trivial task (one
        # round trip at a time) over every process it crosses (client, coordinator, two
        # workers), counted by callgrind (bench/python/insn.py).
        "id": "INSN",
        "name": "instructions per remote round trip (all processes)",
        "unit": "insn/task",
        "better": "lower",
        "shoal": [sys.executable, f"{HERE}/python/insn.py", "{bin}"],
        "peers": {"python ProcessPoolExecutor": [sys.executable, f"{HERE}/python/insn.py", "{bin}"]},
    },
    {
        "id": "INSNb",
        "name": "instructions per task, submitted all then gathered",
        "unit": "insn/task",
        "better": "lower",
        "shoal": [sys.executable, f"{HERE}/python/insn.py", "{bin}"],
        "peers": {"python ProcessPoolExecutor": [sys.executable, f"{HERE}/python/insn.py", "{bin}"]},
    },
    {
        "id": "B8",
        "name": "LocalCluster(2) start to first result",
        "unit": "ms",
        "better": "lower",
        "shoal": ["{bin}/bench_cluster", "b8", "7"],
        "peers": {"python ProcessPoolExecutor": [sys.executable, f"{HERE}/python/b8_pool.py", "5"]},
    },
]


_outputs = {}


def results_of(cmd):
    """Every JSON object a command prints; each command runs once per invocation, however
    many figures are read from it."""
    key = tuple(cmd)
    if key not in _outputs:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if run.returncode != 0:
            sys.stderr.write(run.stderr[-4000:])
            raise SystemExit(f"{' '.join(cmd)} failed (exit {run.returncode})")
        out = run.stdout
        _outputs[key] = [json.loads(l) for l in out.splitlines() if l.strip().startswith("{")]
    return _outputs[key]


def median_of(cmd, want_id, peer=None):
    """The median of the samples `cmd` printed for want_id: shoal's own figure (an object
    without "peer") when peer is None, else the object naming that peer."""
    for obj in results_of(cmd):
        if obj.get("id") == want_id and obj.get("peer") == peer:
            return statistics.median(obj["samples"])
    raise RuntimeError(f"{cmd[0]} printed no result for {want_id} ({peer or 'shoal'})")


def ratio(better, ours, peer):
    """Times better than the peer; None when the figure it divides by is 0 (an idle
    cost below what /proc can count, say): no ratio, and no crash."""
    num, den = (peer, ours) if better == "lower" else (ours, peer)
    return num / den if den else None


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
        ours = median_of(cmd, b["id"])
        entry = {"id": b["id"], "name": b["name"], "unit": b["unit"], "better": b["better"],
                 "shoal": round(ours, 3), "peers": {}, "ratios": {}}
        for peer, pcmd in b["peers"].items():
            pv = median_of([c.format(bin=bindir) for c in pcmd], b.get("peer_id", b["id"]), peer)
            entry["peers"][peer] = round(pv, 3)
            r = ratio(b["better"], ours, pv)
            entry["ratios"][peer] = None if r is None else round(r, 2)
            shown = "-" if r is None else f"{r:.1f}x"
            print(f"{b['id']:<6} {b['name']:<42} {ours:>10.1f} {b['unit']:<3} {peer:<28} "
                  f"{pv:>10.1f} {b['unit']:<3} {shown:>8}")
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
