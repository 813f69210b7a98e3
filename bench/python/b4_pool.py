"""B4 peer: N submits then every result on ProcessPoolExecutor(2) (tasks/s), and map(chunksize=1000)."""
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def noop(i):
    return i


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    submit_rates, map_rates = [], []
    with ProcessPoolExecutor(2) as pool:
        [f.result() for f in [pool.submit(noop, i) for i in range(1000)]]
        for _ in range(rounds):
            t0 = time.perf_counter()
            fs = [pool.submit(noop, i) for i in range(n)]
            total = sum(f.result() for f in fs)
            submit_rates.append(n / (time.perf_counter() - t0))
            assert total == n * (n - 1) // 2
            m = n * 10
            t0 = time.perf_counter()
            total = sum(pool.map(noop, range(m), chunksize=1000))
            map_rates.append(m / (time.perf_counter() - t0))
    print(json.dumps({"id": "B4", "peer": "python ProcessPoolExecutor", "unit": "tasks/s", "samples": submit_rates}))
    print(json.dumps({"id": "B4", "peer": "python map(chunksize=1000)", "unit": "tasks/s", "samples": map_rates}))
