"""B3 peer: sequential submit(noop, i).result() round trips on ProcessPoolExecutor(2): p50, p99 (us)."""
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def noop(i):
    return i


def pct(xs, p):
    xs = sorted(xs)
    return xs[int(p * (len(xs) - 1))]


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    p50, p99 = [], []
    with ProcessPoolExecutor(2) as pool:
        for i in range(500):
            pool.submit(noop, i).result()
        for _ in range(rounds):
            us = []
            for i in range(n):
                t0 = time.perf_counter()
                assert pool.submit(noop, i).result() == i
                us.append((time.perf_counter() - t0) * 1e6)
            p50.append(pct(us, 0.5))
            p99.append(pct(us, 0.99))
    print(json.dumps({"id": "B3", "peer": "python ProcessPoolExecutor", "unit": "us", "samples": p50}))
    print(json.dumps({"id": "B3p99", "peer": "python ProcessPoolExecutor", "unit": "us", "samples": p99}))
