"""B1 peer: spawn + await of trivial coroutine tasks in asyncio (create_task, then gather)."""
import asyncio
import json
import sys
import time


async def trivial(i):
    return i


async def one_round(n):
    start = time.perf_counter()
    tasks = [asyncio.create_task(trivial(i)) for i in range(n)]
    results = await asyncio.gather(*tasks)
    took = time.perf_counter() - start
    assert len(results) == n and results[-1] == n - 1
    return took * 1e9 / n


async def main(n, rounds):
    await one_round(n // 10)  # warm-up
    return [await one_round(n) for _ in range(rounds)]


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    samples = asyncio.run(main(n, rounds))
    print(json.dumps({"id": "B1", "peer": "python asyncio", "unit": "ns/task", "n": n, "samples": samples}))
