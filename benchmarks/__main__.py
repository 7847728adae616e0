"""`make bench`: run every benchmark, one process each, and print their markdown tables.

Each benchmark measures its baseline in the same run and prints ratios against it
(never absolute thresholds: this machine has 2 noisy cores).

    python -m benchmarks              # all
    python -m benchmarks body node    # only bench_body.py and bench_node.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    names = argv if argv is not None else sys.argv[1:]
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if names:
        unknown = [n for n in names if f"bench_{n}" not in modules]
        if unknown:
            print(f"unknown benchmark(s) {unknown}; available: {[m[6:] for m in modules]}")
            return 2
        modules = [f"bench_{n}" for n in names]
    failures = []
    for module in modules:
        print(f"\n## {module}\n", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{module}"], cwd=HERE.parent)
        print(f"\n({module}: {time.perf_counter() - started:.0f} s, exit {code})", flush=True)
        if code:
            failures.append(module)
    if failures:
        print(f"\nbenchmarks that failed: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
