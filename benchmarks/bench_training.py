"""Training and prediction speed: layerkit, scikit-learn, PyTorch (if installed), floor.

    python benchmarks/bench_training.py [--rounds 3] [--quick]

For each workload, one epoch of each contender per round, rounds interleaved, medians
reported with the ratios layerkit/floor, layerkit/scikit-learn and layerkit/PyTorch.
The floor is only the matrix products an epoch needs (benchmarks/floor.py). Then the
prediction throughput on 100,000 rows against the floor of its forward products.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _common import Workload, machine, quiet, table
from contenders import TorchMLP, estimator_epoch, fitted, torch_available
from floor import epoch_floor, predict_floor


def training(names: list[str], rounds: int) -> list[list[str]]:
    from sklearn.neural_network import MLPClassifier as SkClassifier

    from layerkit import MLPClassifier

    rows = []
    for name in names:
        w = Workload.get(name)
        X, y = w.data()
        torch_mlp = TorchMLP(w, X, y) if torch_available() else None
        if torch_mlp is not None:
            torch_mlp.epoch()  # warm-up
        times: dict[str, list[float]] = {
            "floor": [],
            "layerkit": [],
            "scikit-learn": [],
            "PyTorch": [],
        }
        for _ in range(rounds):
            times["floor"].append(epoch_floor(w))
            times["layerkit"].append(estimator_epoch(MLPClassifier, w, X, y))
            times["scikit-learn"].append(estimator_epoch(SkClassifier, w, X, y))
            if torch_mlp is not None:
                times["PyTorch"].append(torch_mlp.epoch())
        med = {k: statistics.median(v) for k, v in times.items() if v}
        lk = med["layerkit"]
        rows.append(
            [
                f"{name} (n={w.n}, {'-'.join(map(str, w.sizes))}, batch {w.batch_size}, "
                f"{np.dtype(w.dtype).name})",
                f"{med['floor']:.3f}",
                f"{lk:.3f}",
                f"{med['scikit-learn']:.3f}",
                f"{med['PyTorch']:.3f}" if "PyTorch" in med else "n/a",
                f"{lk / med['floor']:.2f}",
                f"{lk / med['scikit-learn']:.2f}",
                f"{lk / med['PyTorch']:.2f}" if "PyTorch" in med else "n/a",
            ]
        )
        print(table(HEAD, rows[-1:]).splitlines()[-1], flush=True)
    return rows


HEAD = [
    "workload",
    "floor s/epoch",
    "layerkit",
    "scikit-learn",
    "PyTorch",
    "layerkit/floor",
    "layerkit/sklearn",
    "layerkit/PyTorch",
]


def prediction(rounds: int) -> list[list[str]]:
    from sklearn.neural_network import MLPClassifier as SkClassifier

    from layerkit import MLPClassifier

    w = Workload.get("W1")
    X, y = w.data()
    Xp = np.random.default_rng(5).standard_normal((100_000, w.sizes[0]), dtype=np.float32)
    ours, theirs = fitted(MLPClassifier, w, X, y), fitted(SkClassifier, w, X, y)
    torch_mlp = TorchMLP(w, X, y) if torch_available() else None
    times: dict[str, list[float]] = {
        "floor": [],
        "layerkit": [],
        "scikit-learn": [],
        "PyTorch": [],
    }
    for _ in range(rounds):
        times["floor"].append(predict_floor(w, Xp, 4096))
        for label, est in (("layerkit", ours), ("scikit-learn", theirs)):
            start = time.perf_counter()
            est.predict_proba(Xp)
            times[label].append(time.perf_counter() - start)
        if torch_mlp is not None:
            times["PyTorch"].append(torch_mlp.predict(Xp))
    med = {k: statistics.median(v) for k, v in times.items() if v}
    lk = med["layerkit"]
    return [
        [
            "predict_proba, 100,000 rows of W1 (float32)",
            f"{med['floor']:.3f}",
            f"{lk:.3f}",
            f"{med['scikit-learn']:.3f}",
            f"{med['PyTorch']:.3f}" if "PyTorch" in med else "n/a",
            f"{lk / med['floor']:.2f}",
            f"{lk / med['scikit-learn']:.2f}",
            f"{lk / med['PyTorch']:.2f}" if "PyTorch" in med else "n/a",
        ]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", nargs="*", default=["W1", "W1-float64", "W2"])
    args = parser.parse_args()
    quiet()
    print(f"machine: {machine()}")
    print(f"PyTorch: {'installed' if torch_available() else 'not installed (column n/a)'}\n")
    print(table(HEAD, []))
    rows = training(args.workloads, args.rounds)
    rows += prediction(args.rounds)
    print(table(HEAD, rows[-1:]).splitlines()[-1])
    print("\n" + table(HEAD, rows))


if __name__ == "__main__":
    main()
