"""INSN's peer: N submits then every result on ProcessPoolExecutor(2), once (insn.py
counts its instructions under callgrind)."""
import sys
from concurrent.futures import ProcessPoolExecutor


def noop(i):
    return i


if __name__ == "__main__":
    n = int(sys.argv[1])
    with ProcessPoolExecutor(2) as pool:
        assert sum(f.result() for f in [pool.submit(noop, i) for i in range(n)]) == n * (n - 1) // 2
