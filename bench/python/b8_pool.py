"""B8 peer: ProcessPoolExecutor(2) creation to the first result (ms), a fresh interpreter per sample."""
import json
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def noop(i):
    return i


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--once":
        t0 = time.perf_counter()
        with ProcessPoolExecutor(2) as pool:
            assert pool.submit(noop, 1).result() == 1
            ms = (time.perf_counter() - t0) * 1e3
        print(ms)
        sys.exit(0)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    samples = []
    for r in range(rounds + 1):
        out = subprocess.run([sys.executable, __file__, "--once"], check=True, capture_output=True, text=True).stdout
        if r > 0:
            samples.append(float(out.strip()))
    print(json.dumps({"id": "B8", "peer": "python ProcessPoolExecutor", "unit": "ms", "samples": samples}))
