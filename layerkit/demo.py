"""The README's main job: train a network on the digits data that ships with scikit-learn."""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_digits

from .layers import Dense, ReLU, Softmax
from .losses import CategoricalCrossEntropy
from .network import Sequential
from .optim import SGD


def run_demo(random_state: int = 0, max_iter: int = 30) -> float:
    """Train 64-64-10 on 8x8 digits with the low-level API; print and return test accuracy."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    order = np.random.default_rng(random_state).permutation(len(X))
    train, test = order[:1400], order[1400:]
    Y = np.eye(10, dtype=np.float32)[y]
    net = Sequential([Dense(64), ReLU(), Dense(10), Softmax()])
    net.build(64, random_state=random_state, dtype=np.float32)
    print(f"layerkit demo: {net!r}")
    print(f"training on {len(train)} digits (8x8 pixels), testing on {len(test)}")
    start = time.perf_counter()
    losses = net.fit(
        X[train],
        Y[train],
        loss=CategoricalCrossEntropy(),
        optimizer=SGD(learning_rate=0.1, momentum=0.9),
        batch_size=32,
        max_iter=max_iter,
        random_state=random_state,
    )
    elapsed = time.perf_counter() - start
    for epoch in (0, len(losses) // 2, len(losses) - 1):
        print(f"  epoch {epoch + 1:3d}: loss {losses[epoch]:.4f}")
    accuracy = float(np.mean(net.forward(X[test]).argmax(axis=1) == y[test]))
    print(f"trained {max_iter} epochs in {elapsed:.2f} s")
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy
