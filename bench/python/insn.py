#!/usr/bin/env python3
"""INSN: instructions per remote trivial task, summed over every process it crosses (the
client, a standalone shoal-coordinator, two one-thread shoal-workers), counted by
callgrind: a count, not a time. Each run starts the three daemons under callgrind, runs
`bench_daemons insn` under callgrind, then stops the daemons with SIGTERM (callgrind
writes its count at their exit). The figure is the difference between a run of N2 and
one of N1 tasks over N2 - N1: start-up, registration and shut-down cancel out.
INSN runs one round trip at a time: the same messages each time, so the count hardly
moves from run to run. INSNb submits all and gathers (B4d's pattern): cheaper per task,
but how many tasks share a frame depends on timing, so it moves by some 15%.
The peer is Python's ProcessPoolExecutor(2) counted the same way (its interpreter and
its worker processes), one submit and result at a time for INSN, all at once for INSNb.

usage: insn.py BINDIR
       insn.py BINDIR --hops [KEEP_DIR]
           the per-hop profile: the same counts split by process (client, coordinator,
           worker), and with KEEP_DIR the callgrind files of the larger runs kept there
           (callgrind_annotate KEEP_DIR/INSN/cg.PID names where each process spends them)
"""
import glob
import json
import shutil
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def callgrind(out_dir, cmd):
    return ["valgrind", "--tool=callgrind", "--trace-children=yes", "--quiet",
            f"--callgrind-out-file={out_dir}/cg.%p"] + cmd


def role(cmd):
    """Which hop a callgrind file's `cmd:` line names."""
    for program, hop in (("shoal-coordinator", "coordinator"), ("shoal-worker", "workers"), ("bench_daemons", "client")):
        if program in cmd:
            return hop
    return "python"


def by_role(out_dir, keep=None):
    """Instructions counted in `out_dir`, by hop."""
    counts = {}
    for path in glob.glob(f"{out_dir}/cg.*"):
        cmd, n = "", 0
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith("cmd:"):
                    cmd = line
                if line.startswith("summary:") or line.startswith("totals:"):
                    n = int(line.split()[1])
                    break
        counts[role(cmd)] = counts.get(role(cmd), 0) + n
    if keep:
        os.makedirs(keep, exist_ok=True)
        for path in glob.glob(f"{out_dir}/cg.*"):
            shutil.copy(path, keep)
    return counts


def total(out_dir):
    return sum(by_role(out_dir).values())


def shoal_run(bindir, lib, n, batch, keep=None):
    """Instructions by hop for n tasks; with `keep`, the callgrind files copied there."""
    with tempfile.TemporaryDirectory(prefix="shoal-insn-") as d:
        address = f"unix://{d}/c.sock"
        daemons = []
        try:
            out = open(f"{d}/coordinator.out", "w")
            daemons.append(subprocess.Popen(
                callgrind(d, [f"{bindir}/shoal-coordinator", "--listen", address, "--quiet"]),
                stdout=out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL))
            deadline = time.time() + 120
            while not open(f"{d}/coordinator.out").read().startswith("ready"):
                if time.time() > deadline or daemons[0].poll() is not None:
                    raise SystemExit("shoal-coordinator under callgrind did not print ready")
                time.sleep(0.05)
            for i in range(2):
                daemons.append(subprocess.Popen(
                    callgrind(d, [f"{bindir}/shoal-worker", "-c", address, "--load", lib, "-t", "1",
                                  "--name", f"w{i}", "--quiet"]),
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL))
            client = subprocess.run(callgrind(d, [f"{bindir}/bench_daemons", "insn", address, str(n)] + (["batch"] if batch else [])),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=900)
            if client.returncode != 0:
                sys.stderr.write(client.stderr[-4000:])
                raise SystemExit(f"bench_daemons insn under callgrind failed (exit {client.returncode})")
        finally:
            for p in reversed(daemons):  # the workers first: the coordinator sees them go
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        return by_role(d, keep)


def python_run(n, batch):
    with tempfile.TemporaryDirectory(prefix="shoal-insn-") as d:
        run = subprocess.run(callgrind(d, [sys.executable, f"{HERE}/insn_pool.py", str(n)] + (["batch"] if batch else [])),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=900)
        if run.returncode != 0:
            sys.stderr.write(run.stderr[-4000:])
            raise SystemExit(f"insn_pool.py under callgrind failed (exit {run.returncode})")
        return total(d)


def hops(bindir, lib, keep):
    """The per-hop profile: instructions per task in each process."""
    for ident, batch, (n1, n2) in (("INSN", False, (1000, 5000)), ("INSNb", True, (5000, 25000))):
        big = shoal_run(bindir, lib, n2, batch, os.path.join(keep, ident) if keep else None)
        small = shoal_run(bindir, lib, n1, batch)
        per = {r: (big.get(r, 0) - small.get(r, 0)) / (n2 - n1) for r in big}
        per["all"] = sum(per.values())
        print(json.dumps({"id": ident, "unit": "instructions/task", "by_process": {k: round(v) for k, v in per.items()}}))


if __name__ == "__main__":
    bindir = os.path.abspath(sys.argv[1])
    lib = os.path.join(os.path.dirname(bindir), "lib", "libshoal_bench_tasks.so")
    if len(sys.argv) > 2 and sys.argv[2] == "--hops":
        hops(bindir, lib, os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None)
        sys.exit(0)
    for ident, batch, (n1, n2), (p1, p2) in (("INSN", False, (1000, 5000), (300, 1300)),
                                             ("INSNb", True, (5000, 25000), (1000, 3000))):
        shoal = (sum(shoal_run(bindir, lib, n2, batch).values()) -
                 sum(shoal_run(bindir, lib, n1, batch).values())) / (n2 - n1)
        python = (python_run(p2, batch) - python_run(p1, batch)) / (p2 - p1)
        print(json.dumps({"id": ident, "unit": "instructions/task", "samples": [shoal]}))
        print(json.dumps({"id": ident, "peer": "python ProcessPoolExecutor", "unit": "instructions/task",
                          "samples": [python]}))
