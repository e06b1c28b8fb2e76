"""Training and prediction speed: layerkit, scikit-learn, PyTorch (if installed), floor.

    python benchmarks/bench_training.py [--rounds 5] [--workloads W1 W1-float64 W2]

For each workload, every round times one epoch of each contender back to back (the
floor, layerkit, scikit-learn, PyTorch), so a slow spell of the machine hits all of
them. The table gives the median time of each, and the median over rounds of each
round's ratio (layerkit/floor, layerkit/scikit-learn, layerkit/PyTorch): machine
speed cancels out of the ratios. The floor is only the matrix products an epoch needs
(benchmarks/floor.py). Both MLPs train with plain SGD (no momentum, no L2 penalty),
softmax cross-entropy (logistic for the binary W2), the same batch size and learning
rate. Then the same for prediction (predict_proba) on 100,000 rows, against the
forward products alone in the fastest of several chunk sizes (chosen once, before the rounds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
# Thread pools (PyTorch's OpenMP, OpenBLAS) keep spinning for a while after a call,
# taking a core from whichever contender is timed next: pause between contenders
PAUSE = float(os.environ.get("LAYERKIT_BENCH_PAUSE", "0.3"))

from _common import Workload, machine, quiet, table
from contenders import TorchMLP, estimator_epoch, fitted, torch_available
from floor import epoch_floor, predict_floor

FLOOR_CHUNKS = (512, 1024, 2048, 4096)
HEAD = [
    "workload",
    "floor (s)",
    "layerkit (s)",
    "scikit-learn (s)",
    "PyTorch (s)",
    "layerkit/floor",
    "layerkit/sklearn",
    "layerkit/PyTorch",
]


def _row(label: str, times: dict[str, list[float]]) -> list[str]:
    med = {k: statistics.median(v) for k, v in times.items() if v}

    def ratio(other: str) -> str:
        if other not in med:
            return "n/a"
        per_round = [a / b for a, b in zip(times["layerkit"], times[other], strict=True)]
        return f"{statistics.median(per_round):.3f}"

    return [
        label,
        *(
            f"{med[k]:.3f}" if k in med else "n/a"
            for k in ("floor", "layerkit", "scikit-learn", "PyTorch")
        ),
        ratio("floor"),
        ratio("scikit-learn"),
        ratio("PyTorch"),
    ]


def _interleave(contenders: dict, times: dict[str, list[float]], rounds: int) -> None:
    """Each round times every contender once, starting from a different one each time."""
    names = list(contenders)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(contenders[name]())
            time.sleep(PAUSE)


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
            k: [] for k in ("floor", "layerkit", "scikit-learn", "PyTorch")
        }
        contenders = {
            "floor": partial(epoch_floor, w),
            "layerkit": partial(estimator_epoch, MLPClassifier, w, X, y),
            "scikit-learn": partial(estimator_epoch, SkClassifier, w, X, y),
        }
        if torch_mlp is not None:
            contenders["PyTorch"] = torch_mlp.epoch
        _interleave(contenders, times, rounds)
        label = (
            f"{name}: n={w.n}, {'-'.join(map(str, w.sizes))}, batch {w.batch_size}, "
            f"{np.dtype(w.dtype).name}, s/epoch"
        )
        rows.append(_row(label, times))
        print(table(HEAD, rows[-1:]).splitlines()[-1], flush=True)
    return rows


def floor_chunk(w: Workload, X: np.ndarray, repeats: int = 5) -> int:
    """The chunk size in which the forward products run fastest: the least median of
    ``repeats`` timings each, chosen once before the rounds. (Taking, in every round,
    the least of one timing per chunk size would bias the floor low by the machine's
    noise: the least of four draws, against one draw for every other contender.)"""
    medians = {
        chunk: statistics.median(predict_floor(w, X, chunk) for _ in range(repeats))
        for chunk in FLOOR_CHUNKS
    }
    best = min(medians, key=medians.__getitem__)
    shown = ", ".join(f"{chunk}: {t:.3f} s" for chunk, t in medians.items())
    print(f"prediction floor, median by chunk size ({shown}): chunks of {best}", flush=True)
    return best


def prediction(rounds: int, name: str = "W1", rows: int = 100_000) -> list[list[str]]:
    from sklearn.neural_network import MLPClassifier as SkClassifier

    from layerkit import MLPClassifier

    w = Workload.get(name)
    X, y = w.data()
    Xp = np.random.default_rng(5).standard_normal((rows, w.sizes[0]), dtype=np.float32)
    ours, theirs = fitted(MLPClassifier, w, X, y), fitted(SkClassifier, w, X, y)
    torch_mlp = TorchMLP(w, X, y) if torch_available() else None
    times: dict[str, list[float]] = {
        k: [] for k in ("floor", "layerkit", "scikit-learn", "PyTorch")
    }

    def timed(est: object) -> float:
        start = time.perf_counter()
        est.predict_proba(Xp)  # type: ignore[attr-defined]
        return time.perf_counter() - start

    chunk = floor_chunk(w, Xp)
    contenders = {
        # the floor: the forward products alone, in the chunk size that suits them best
        "floor": partial(predict_floor, w, Xp, chunk),
        "layerkit": lambda: timed(ours),
        "scikit-learn": lambda: timed(theirs),
    }
    if torch_mlp is not None:
        contenders["PyTorch"] = lambda: torch_mlp.predict(Xp)
    _interleave(contenders, times, rounds)
    row = _row(f"predict_proba on {rows:,} rows, {name} network, float32, s", times)
    print(table(HEAD, [row]).splitlines()[-1], flush=True)
    return [row]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--workloads", nargs="*", default=["W1", "W1-float64", "W2"])
    parser.add_argument("--no-predict", action="store_true")
    parser.add_argument("--predict-workload", default="W1", help="the network to predict with")
    parser.add_argument("--predict-rows", type=int, default=100_000)
    args = parser.parse_args()
    quiet()
    print(f"machine: {machine()}")
    print(f"PyTorch: {'installed' if torch_available() else 'not installed (columns n/a)'}\n")
    print(table(HEAD, []))
    rows = training(args.workloads, args.rounds)
    if not args.no_predict:
        rows += prediction(args.rounds, args.predict_workload, args.predict_rows)
    print("\n" + table(HEAD, rows))


if __name__ == "__main__":
    main()
