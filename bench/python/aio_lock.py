"""AIO_LOCK_CONTENDED peer: 100 tasks taking an asyncio.Lock 2,000 times each, holding
it across a sleep(0)."""
import asyncio
import json
import sys
import time


async def worker(lock, iterations, counter):
    for _ in range(iterations):
        async with lock:
            counter[0] += 1
            await asyncio.sleep(0)


async def one_round(tasks, iterations):
    lock = asyncio.Lock()
    counter = [0]
    start = time.perf_counter()
    await asyncio.gather(*(worker(lock, iterations, counter) for _ in range(tasks)))
    took = time.perf_counter() - start
    assert counter[0] == tasks * iterations
    return took * 1e9 / (tasks * iterations)


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    samples = [asyncio.run(one_round(100, 2000)) for _ in range(rounds)]
    print(json.dumps({"id": "AIO_LOCK_CONTENDED", "peer": "python asyncio.Lock", "unit": "ns/op", "samples": samples}))
