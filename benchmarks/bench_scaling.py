"""Epoch time against the number of rows: W1's network at 20,000 and 200,000 rows.

    python benchmarks/bench_scaling.py [--rounds 5]

A training loop that copies nothing per epoch and does the same work per batch takes
time linear in n: the ratio of the two epoch times should be close to 10. The two sizes
are measured in alternating rounds and the ratio is taken within each round (the median
is reported), so that the machine's drift in speed cancels out as far as it can. Each
size trains for about the same time in a round (3 epochs of 200,000 rows, 30 of 20,000:
an epoch's time is the difference of two fits, divided by their difference in epochs),
so that a slow spell of the machine weighs on both alike; with 3 epochs of each, the
20,000-row epoch's 0.6 s took the machine's spells alone, and single runs missed 9 to
11 on either side (11.04, then 8.90).
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
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    quiet()
    sizes = (20_000, 200_000)
    data = {n: Workload.get("W1", n=n).data() for n in sizes}
    times: dict[int, list[float]] = {n: [] for n in sizes}
    ratios = []
    for _ in range(args.rounds):
        for n in sizes:
            X, y = data[n]
            epochs = 3 * sizes[-1] // n  # (about the same time for each size)
            w = Workload.get("W1", n=n)
            times[n].append(estimator_epoch(MLPClassifier, w, X, y, epochs))
        ratios.append(times[sizes[1]][-1] / times[sizes[0]][-1])
        print(f"round {len(ratios)}: ratio {ratios[-1]:.2f}", flush=True)
    rows = [[f"{n:,}", f"{statistics.median(t):.3f}"] for n, t in times.items()]
    print(table(["rows (W1 network, float32)", "layerkit s/epoch (median)"], rows))
    print(
        f"\nratio 200,000 / 20,000 (median of {args.rounds} rounds): "
        f"{statistics.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )


if __name__ == "__main__":
    main()
