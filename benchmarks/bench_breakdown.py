"""Where an epoch's time goes: the floor against layerkit's gather, forward, loss, backward.

    python benchmarks/bench_breakdown.py [--workload W1] [--seconds 60]

Every round times one epoch of the floor (benchmarks/floor.py), one epoch of layerkit's
training loop (plain SGD, as in bench_training.py), and then the same epoch's batches
again piece by piece: gathering the shuffled rows into the batch buffers, the forward
pass (products, bias adds, activations), the loss with its fused output error, and the
backward pass with the SGD step. Rounds repeat for ``--seconds``, one table row each, so
a change in the machine's state shows as a change between rows: on a shared machine,
the gather (rows read from memory, not from cache) slows far more than the products.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _common import Workload, machine, quiet, table
from floor import epoch_floor

HEAD = ["floor (s)", "layerkit (s)", "ratio", "gather", "forward", "loss", "backward + step"]


def runner_for(w: Workload):  # type: ignore[no-untyped-def]
    from layerkit import Sequential
    from layerkit.layers import Dense, ReLU, Sigmoid, Softmax
    from layerkit.losses import BinaryCrossEntropy, CategoricalCrossEntropy
    from layerkit.optim import SGD
    from layerkit.training import EpochRunner

    X, y = w.data()
    hidden = [layer for units in w.sizes[1:-1] for layer in (Dense(units), ReLU())]
    if w.sizes[-1] == 2:  # one logistic unit, as MLPClassifier does for two classes
        out, loss, Y = [Dense(1), Sigmoid()], BinaryCrossEntropy(), y[:, None].astype(w.dtype)
    else:
        k = w.sizes[-1]
        out, loss, Y = (
            [Dense(k), Softmax()],
            CategoricalCrossEntropy(),
            np.eye(k, dtype=w.dtype)[y],
        )
    net = Sequential(hidden + out).build(w.sizes[0], random_state=0, dtype=w.dtype)
    return EpochRunner(net, X, Y, loss, SGD(0.01), batch_size=w.batch_size)


def pieces(runner, order: np.ndarray) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Seconds per epoch of each piece, over the full batches of ``order``."""
    plan, bs = runner._plan, runner.batch_size
    batch = plan.batch(bs)
    X, Y, x, y = runner.X, runner.Y, batch.x, batch.y
    plan.rates[0] = runner.optimizer.learning_rate
    acc = dict.fromkeys(["gather", "forward", "loss", "backward"], 0.0)
    clock = time.perf_counter
    with np.errstate(all="ignore"):
        for start in range(0, len(order) - bs + 1, bs):
            idx = order[start : start + bs]
            t0 = clock()
            X.take(idx, 0, x, "clip")
            Y.take(idx, 0, y, "clip")
            t1 = clock()
            for fwd in batch.forward:
                fwd()
            t2 = clock()
            batch.loss_step(None)
            t3 = clock()
            for bwd in batch.backward:
                bwd()
            if not plan.fused:
                plan.flat_step(-plan.rates[0])
            t4 = clock()
            for key, dt in zip(acc, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                acc[key] += dt
    return acc


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workload", default="W1")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    quiet()
    w = Workload.get(args.workload)
    runner = runner_for(w)
    if runner._plan is None or runner._plan.sgd is None:
        raise SystemExit("this breakdown needs the training plan with plain SGD")
    rng = np.random.default_rng(0)
    runner.run(rng)  # builds every batch's buffers
    print(f"machine: {machine()}")
    print(f"{w.name}: n={w.n}, {'-'.join(map(str, w.sizes))}, batch {w.batch_size}, s/epoch\n")
    print(table(HEAD, []), flush=True)
    end = time.perf_counter() + args.seconds
    while True:
        floor = epoch_floor(w)
        start = time.perf_counter()
        runner.run(rng)
        ours = time.perf_counter() - start
        parts = pieces(runner, rng.permutation(w.n))
        row = [f"{floor:.3g}", f"{ours:.3g}", f"{ours / floor:.2f}"]
        print(table(HEAD, [row + [f"{v:.3g}" for v in parts.values()]]).splitlines()[-1])
        sys.stdout.flush()
        if time.perf_counter() >= end:
            break


if __name__ == "__main__":
    main()
