"""Training speed with a user's own layer: does it cost more than the built-in one?

    python benchmarks/bench_custom_layer.py [--workload W1] [--rounds 7]

One epoch of the workload's network (plain SGD), timed four ways, rounds interleaved in
one process: the hidden activations as layerkit's ``ReLU``, and as the same ReLU written
by a user (``forward``/``backward`` in plain numpy, as docs/extending.md teaches), each
through the training plan and through the general path (``Sequential.loss_and_grads``
plus ``optimizer.step``, as every user layer took before the plan learnt to call one).
Medians per epoch, and each time over the built-in network's plan time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _common import WORKLOADS, Workload, machine, quiet, table


def user_relu() -> type:
    from layerkit.layers import Layer

    class UserReLU(Layer, register=False):
        """max(x, 0), written the way a user writes a layer."""

        def forward(self, x, training=False):  # type: ignore[no-untyped-def]
            self.mask = x > 0
            return x * self.mask

        def backward(self, delta):  # type: ignore[no-untyped-def]
            return delta * self.mask

    return UserReLU


def runner(w: Workload, activation: type, general: bool):  # type: ignore[no-untyped-def]
    from layerkit import Sequential
    from layerkit.layers import Dense, Softmax
    from layerkit.losses import CategoricalCrossEntropy
    from layerkit.optim import SGD
    from layerkit.training import EpochRunner

    X, labels = w.data()
    Y = np.eye(w.sizes[-1], dtype=w.dtype)[labels]
    hidden = [layer for units in w.sizes[1:-1] for layer in (Dense(units), activation())]
    net = Sequential([*hidden, Dense(w.sizes[-1]), Softmax()])
    net.build(w.sizes[0], random_state=0, dtype=w.dtype)
    run = EpochRunner(net, X, Y, CategoricalCrossEntropy(), SGD(0.01), batch_size=w.batch_size)
    if general:
        run._plan = None  # what a network with a user's layer ran through before
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", default="W1", choices=sorted(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    quiet()
    from layerkit.layers import ReLU

    w = Workload.get(args.workload)
    contenders = {
        "built-in ReLU, plan": runner(w, ReLU, general=False),
        "user's ReLU, plan": runner(w, user_relu(), general=False),
        "built-in ReLU, general path": runner(w, ReLU, general=True),
        "user's ReLU, general path": runner(w, user_relu(), general=True),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for i in range(args.rounds + 1):
        for name, run in contenders.items():
            rng = np.random.default_rng(i)
            start = time.perf_counter()
            run.run(rng)
            if i:  # the first round builds the plans' buffers
                times[name].append(time.perf_counter() - start)
    base = statistics.median(times["built-in ReLU, plan"])
    rows = [
        [name, f"{statistics.median(t):.3f}", f"{statistics.median(t) / base:.2f}"]
        for name, t in times.items()
    ]
    sizes = "-".join(map(str, w.sizes))
    print(f"{machine()}\n{w.name}: n={w.n:,}, {sizes} ReLU, batch {w.batch_size}, plain SGD\n")
    print(table(["network", "s/epoch (median)", "/ built-in plan"], rows))


if __name__ == "__main__":
    main()
