"""INSN's peer: N tasks on ProcessPoolExecutor(2), once: one submit and result at a
time, or (`batch`) all submitted then gathered (insn.py counts its instructions under
callgrind)."""
import sys
from concurrent.futures import ProcessPoolExecutor


def noop(i):
    return i


if __name__ == "__main__":
    n = int(sys.argv[1])
    batch = len(sys.argv) > 2 and sys.argv[2] == "batch"
    with ProcessPoolExecutor(2) as pool:
        if batch:
            total = sum(f.result() for f in [pool.submit(noop, i) for i in range(n)])
        else:
            total = sum(pool.submit(noop, i).result() for i in range(n))
        assert total == n * (n - 1) // 2
