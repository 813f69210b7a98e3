"""B7 peer: ProcessPoolExecutor(2) echoing 64 MiB of bytes, MB/s of payload per round trip."""
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def echo(b):
    return b


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    payload = bytes(64 << 20)
    samples = []
    with ProcessPoolExecutor(2) as pool:
        assert len(pool.submit(echo, payload).result()) == len(payload)  # warm
        for _ in range(rounds):
            t0 = time.perf_counter()
            back = pool.submit(echo, payload).result()
            s = time.perf_counter() - t0
            assert len(back) == len(payload)
            samples.append(len(payload) / s / 1e6)
    print(json.dumps({"id": "B7", "peer": "python ProcessPoolExecutor", "unit": "MB/s", "samples": samples}))
