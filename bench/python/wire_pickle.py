"""WIRE1/WIRE2 peers: pickle.dumps + pickle.loads of the same small argument tuple
(int, str, float, list of 8 ints) in ns per message, and of a 1 MiB bytes payload in GB/s."""
import json
import pickle
import sys
import time


def small_round(n):
    args = [42, "hello, world", 3.5, [1, 2, 3, 4, 5, 6, 7, 8]]
    start = time.perf_counter()
    for i in range(n):
        args[0] = i
        back = pickle.loads(pickle.dumps(tuple(args), protocol=pickle.HIGHEST_PROTOCOL))
    took = time.perf_counter() - start
    assert back[0] == n - 1
    return took * 1e9 / n


def payload_round(n, payload):
    start = time.perf_counter()
    for _ in range(n):
        back = pickle.loads(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
    took = time.perf_counter() - start
    assert len(back) == len(payload)
    return len(payload) * n / took / 1e9


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    small = [small_round(200000) for _ in range(rounds)]
    payload = bytes(range(256)) * 4096
    big = [payload_round(200, payload) for _ in range(rounds)]
    print(json.dumps({"id": "WIRE1", "peer": "python pickle", "unit": "ns/message", "samples": small}))
    print(json.dumps({"id": "WIRE2", "peer": "python pickle", "unit": "GB/s", "samples": big}))
