"""B2 peer: N trivial submit + result on concurrent.futures.ThreadPoolExecutor(2)."""
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def trivial(i):
    return i + 1


def one_round(n):
    with ThreadPoolExecutor(2) as pool:
        start = time.perf_counter()
        fs = [pool.submit(trivial, i) for i in range(n)]
        total = sum(f.result() for f in fs)
        took = time.perf_counter() - start
    assert total == n * (n + 1) // 2
    return n / took


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    one_round(n // 10)
    samples = [one_round(n) for _ in range(rounds)]
    print(json.dumps({"id": "B2", "peer": "python ThreadPoolExecutor", "unit": "tasks/s", "n": n, "samples": samples}))
