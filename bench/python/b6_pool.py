"""B6 peer: CALLS CPU-bound calls of US microseconds on ProcessPoolExecutor(2): the speedup
over running them one after another in this process."""
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def burn(us):
    until = time.perf_counter() + us / 1e6
    spins = 0
    while time.perf_counter() < until:
        spins += 1
    return us


if __name__ == "__main__":
    ident = sys.argv[1] if len(sys.argv) > 1 else "B6"
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    us = int(sys.argv[3]) if len(sys.argv) > 3 else 7500
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    speedups = []
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(burn, [us] * 4))
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(calls):
                burn(us)
            sequential = time.perf_counter() - t0
            t0 = time.perf_counter()
            assert sum(pool.map(burn, [us] * calls)) == us * calls
            speedups.append(sequential / (time.perf_counter() - t0))
    print(json.dumps({"id": ident, "peer": "python ProcessPoolExecutor", "unit": "speedup", "samples": speedups}))
