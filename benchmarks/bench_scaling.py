"""Epoch time against the number of rows: W1's network at 20,000 and 200,000 rows.

    python benchmarks/bench_scaling.py [--rounds 3]

A training loop that copies nothing per epoch and does the same work per batch takes
time linear in n: the ratio of the two epoch times should be close to 10.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import Workload, quiet, table
from contenders import estimator_epoch


def main() -> None:
    from layerkit import MLPClassifier

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    quiet()
    times = {}
    for n in (20_000, 200_000):
        w = Workload.get("W1", n=n)
        X, y = w.data()
        times[n] = statistics.median(
            estimator_epoch(MLPClassifier, w, X, y) for _ in range(args.rounds)
        )
        del X, y
    rows = [[f"{n:,}", f"{t:.3f}"] for n, t in times.items()]
    print(table(["rows (W1 network, float32)", "layerkit s/epoch"], rows))
    print(f"\nratio 200,000 / 20,000: {times[200_000] / times[20_000]:.2f}")


if __name__ == "__main__":
    main()
