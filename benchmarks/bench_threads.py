"""BLAS threads: epoch time with 1 and with 2 BLAS threads, per workload.

    python benchmarks/bench_threads.py [--rounds 5]

OpenBLAS splits a product across threads only above a size threshold; below it the
product runs on the calling thread. This measures whether limiting BLAS to one thread
(threadpoolctl) would help any workload, and what a busy second core costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))

from _common import Workload, quiet, table
from contenders import estimator_epoch
from floor import epoch_floor


def busy(stop: threading.Event) -> None:
    """Keep one core busy (the GIL is released inside numpy's sum)."""
    a = np.ones(2_000_000)
    while not stop.is_set():
        a.sum()


def main() -> None:
    from layerkit import MLPClassifier

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    quiet()
    rows = []
    for name in ("W1", "W1-float64", "W2"):
        w = Workload.get(name)
        X, y = w.data()
        cells = [name]
        for busy_core in (False, True):
            stop = threading.Event()
            worker = threading.Thread(target=busy, args=(stop,), daemon=True)
            if busy_core:
                worker.start()
            for threads in (1, 2):
                with threadpool_limits(threads, user_api="blas"):
                    lk = statistics.median(
                        estimator_epoch(MLPClassifier, w, X, y) for _ in range(args.rounds)
                    )
                    fl = statistics.median(epoch_floor(w) for _ in range(args.rounds))
                cells += [f"{lk:.3f}", f"{fl:.3f}"]
            stop.set()
            if busy_core:
                worker.join()
        rows.append(cells)
        print(rows[-1], flush=True)
    head = ["workload"] + [
        f"{what} ({t} thread{'s' if t > 1 else ''}{', other core busy' if b else ''})"
        for b in (False, True)
        for t in (1, 2)
        for what in ("layerkit", "floor")
    ]
    print("\n" + table(head, rows))


if __name__ == "__main__":
    main()
