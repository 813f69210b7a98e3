"""IDLE for a `shoal start` cluster (shoal's own figure, run by make bench beside the
goal): `shoal start` with 2 workers in a private state directory, then the CPU its
processes (coordinator, supervisor, workers; pids from its cluster.json) use over
SECONDS, from /proc, in % of one core. Usage: idle_start.py BIN_DIR SECONDS"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])  # utime, stime


if __name__ == "__main__":
    bindir = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    state = tempfile.mkdtemp(prefix="idle-")  # mode 0700, as shoal start wants
    shoal = [os.path.join(bindir, "shoal"), "--state-dir", state, "-a", f"unix://{state}/c.sock"]
    try:
        subprocess.run(shoal + ["start", "-w", "2", "--http", "off"], check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 60
        while True:
            out = subprocess.run(shoal + ["--json", "workers"], capture_output=True, text=True, timeout=30)
            if out.returncode == 0 and len(json.loads(out.stdout)) == 2:
                break
            if time.monotonic() > deadline:
                raise SystemExit("idle_start: the workers did not register within 60 s")
            time.sleep(0.05)
        with open(os.path.join(state, "cluster.json")) as f:
            cluster = json.load(f)
        pids = [cluster["coordinator"], cluster["supervisor"]] + cluster["workers"]
        time.sleep(1)  # the start's own work settles
        t0, c0 = time.monotonic(), sum(ticks(p) for p in pids)
        time.sleep(seconds)
        used = (sum(ticks(p) for p in pids) - c0) / os.sysconf("SC_CLK_TCK")
        percent = 100 * used / (time.monotonic() - t0)
        print(json.dumps({"id": "IDLEstart", "unit": "% of a core", "samples": [percent]}))
        print(json.dumps({"id": "IDLEstart", "peer": "goal (1% of a core)", "unit": "% of a core", "samples": [1.0]}))
    finally:
        subprocess.run(shoal + ["stop"], capture_output=True, timeout=60)
        shutil.rmtree(state, ignore_errors=True)
