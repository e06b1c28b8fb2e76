"""One epoch (and one prediction pass) of each library on a workload."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
from _common import Workload

LEARNING_RATE = 0.01


def _mlp_kwargs(w: Workload, max_iter: int) -> dict[str, Any]:
    # identical settings for layerkit and scikit-learn: plain SGD (no momentum, no L2
    # penalty, as the PyTorch contender), no early stop
    return dict(
        hidden_layer_sizes=w.sizes[1:-1],
        solver="sgd",
        momentum=0.0,
        alpha=0.0,
        learning_rate_init=LEARNING_RATE,
        batch_size=w.batch_size,
        max_iter=max_iter,
        tol=0.0,
        n_iter_no_change=10**6,
        random_state=0,
    )


def estimator_epoch(
    cls: type, w: Workload, X: np.ndarray, y: np.ndarray, epochs: int = 3
) -> float:
    """Seconds per epoch of ``cls`` (an MLPClassifier): (fit(1 + epochs) - fit(1)) /
    epochs, so the per-fit setup (validation, label encoding, initialization) cancels
    out."""

    def fit(k: int) -> float:
        est = cls(**_mlp_kwargs(w, k))
        start = time.perf_counter()
        est.fit(X, y)
        return time.perf_counter() - start

    return (fit(1 + epochs) - fit(1)) / epochs


def fitted(cls: type, w: Workload, X: np.ndarray, y: np.ndarray) -> Any:
    return cls(**_mlp_kwargs(w, 1)).fit(X, y)


def torch_available() -> bool:
    if os.environ.get("LAYERKIT_BENCH_NO_TORCH"):
        return False
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


class TorchMLP:
    """The same network in PyTorch on the CPU: softmax cross-entropy, plain SGD."""

    def __init__(self, w: Workload, X: np.ndarray, y: np.ndarray) -> None:
        import torch

        torch.manual_seed(0)
        torch.set_num_threads(2)
        self.torch = torch
        dtype = torch.float32 if w.dtype == np.float32 else torch.float64
        layers: list[Any] = []
        for i, (a, b) in enumerate(zip(w.sizes[:-1], w.sizes[1:], strict=True)):
            layers.append(torch.nn.Linear(a, b, dtype=dtype))
            if i < len(w.sizes) - 2:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.X = torch.from_numpy(X)
        self.y = torch.from_numpy(y.astype(np.int64))
        self.w = w
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LEARNING_RATE)
        self.loss = torch.nn.CrossEntropyLoss()

    def epoch(self) -> float:
        torch, w = self.torch, self.w
        start = time.perf_counter()
        order = torch.randperm(w.n)
        for s in range(0, w.n, w.batch_size):
            idx = order[s : s + w.batch_size]
            xb, yb = self.X.index_select(0, idx), self.y.index_select(0, idx)
            self.opt.zero_grad()  # PyTorch's default (set_to_none=True): no memset
            self.loss(self.model(xb), yb).backward()
            self.opt.step()
        return time.perf_counter() - start

    def predict(self, X: np.ndarray) -> float:
        torch = self.torch
        data = torch.from_numpy(X)
        start = time.perf_counter()
        with torch.no_grad():
            torch.softmax(self.model(data), dim=1)
        return time.perf_counter() - start
