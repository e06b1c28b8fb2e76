"""The seed's headline: a full gradient by backpropagation against finite differences.

    python benchmarks/bench_backprop.py

For networks from about 10^2 to 10^5 parameters, the time of one backpropagation pass
(one forward and one backward pass give every partial derivative: eqs. 3-I to 3-IV)
against central finite differences (eq. 3-1: two forward passes per parameter), on a
batch of 32 examples, in float64. Finite differences are timed on up to 200 weights of
the first layer and scaled to all the parameters.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _common import table

ARCHITECTURES = [(8, 6, 4), (20, 32, 10), (64, 128, 10), (200, 256, 128, 10)]
HEAD = ["network", "parameters", "backprop (ms)", "finite differences (s)", "speed-up"]


def main() -> None:
    from layerkit import Sequential
    from layerkit.gradcheck import numeric_gradient
    from layerkit.layers import Dense, Sigmoid, Softmax
    from layerkit.losses import CategoricalCrossEntropy

    rng = np.random.default_rng(0)
    loss = CategoricalCrossEntropy()
    rows: list[list[str]] = []
    print(table(HEAD, []), flush=True)
    for sizes in ARCHITECTURES:
        layers = []
        for width in sizes[1:-1]:
            layers += [Dense(width), Sigmoid()]
        net = Sequential([*layers, Dense(sizes[-1]), Softmax()]).build(sizes[0], random_state=0)
        n_params = sum(p.size for p in net.params.values())
        x = rng.normal(size=(32, sizes[0]))
        y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], 32)]
        reps = 50
        start = time.perf_counter()
        for _ in range(reps):
            net.loss_and_grads(x, y, loss)
        backprop = (time.perf_counter() - start) / reps
        W = net.params["0.W"]
        sample = [np.unravel_index(i, W.shape) for i in range(min(200, n_params, W.size))]
        start = time.perf_counter()
        numeric_gradient(lambda n=net, a=x, b=y: n.loss_value(a, b, loss), W, sample, 1e-6)
        per_param = (time.perf_counter() - start) / len(sample)
        finite = per_param * n_params
        rows.append(
            [
                "-".join(map(str, sizes)),
                f"{n_params:,}",
                f"{backprop * 1e3:.3f}",
                f"{finite:.3f}",
                f"{finite / backprop:,.0f}",
            ]
        )
        print(table(HEAD, rows[-1:]).splitlines()[-1], flush=True)  # a row as soon as measured


if __name__ == "__main__":
    main()
