"""``layerkit demo``: the README's main job, on the digits data that ships with scikit-learn.

Trains an MLPClassifier built from layer objects, with per-epoch progress; prints the
test accuracy; proves the trained network's backpropagation right with the gradient
checker (eq. 3-1) and measures how much faster one backward pass is than finite
differences over every parameter; draws the loss curve to a PNG.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from ..estimators import MLPClassifier
from ..gradcheck import check_network, numeric_gradient
from ..gradcheck._core import as_float64, sample_indices
from ..layers import Dense, ReLU
from ..losses import CategoricalCrossEntropy
from ..optim import Adam
from ._plot import save_loss_curve
from ._progress import EpochPrinter, say


def run_demo(
    *, random_state: int = 0, max_iter: int = 100, plot: Path | None = None
) -> dict[str, Any]:
    """Run the demo; return what it printed as numbers."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)  # pixels 0..16 -> 0..1
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=random_state
    )
    est = MLPClassifier(
        layers=[Dense(64), ReLU()],
        solver=Adam(learning_rate=0.003),
        batch_size=32,
        max_iter=max_iter,
        early_stopping=True,
        n_iter_no_change=10,
        random_state=random_state,
    )
    say("layerkit demo: handwritten digits (8x8 pixels, 10 classes, from scikit-learn)")
    say(f"  {est.__class__.__name__} with layers {est.layers!r}, solver {est.solver!r}")
    say(f"  training on {len(X_train)} images, early stopping on a 10% validation split")
    printer = EpochPrinter(every=5)
    printer.attach(est)
    start = time.perf_counter()
    try:
        est.fit(X_train, y_train)
    finally:
        printer.detach(est)  # the printer is not part of the model
    seconds = time.perf_counter() - start
    accuracy = float(est.score(X_test, y_test))
    say(f"trained {est.n_iter_} epochs in {seconds:.1f} s")
    say(f"test accuracy: {accuracy:.4f} on {len(X_test)} unseen images")
    result: dict[str, Any] = {"accuracy": accuracy, "epochs": est.n_iter_, "fit_seconds": seconds}
    result.update(_prove_backprop(est, X_test[:32], y_test[:32]))
    if plot is not None:
        result["plot"] = save_loss_curve(
            est, plot, name="layerkit demo: digits", command="layerkit demo"
        )
        if result["plot"]:
            say(f"loss curve: {plot}")
    return result


def _prove_backprop(est: Any, x: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Gradient check of the trained network and backprop's speed-up over eq. 3-1."""
    loss = CategoricalCrossEntropy()
    targets = (labels[:, None] == est.classes_).astype(np.float64)
    n = _n_params(est)
    report = check_network(est.network_, x, targets, loss, max_entries=None)
    say(
        f"gradient checker on the trained network: all {n:,} partial derivatives agree "
        "with finite differences (|analytic - numeric| <= 1e-8 + 1e-5 max(|analytic|, "
        f"|numeric|)): "
        f"{'passed' if not report.failed else 'FAILED'}"
    )
    net = as_float64(est.network_)
    x64 = x.astype(np.float64)
    reps = 50
    start = time.perf_counter()
    for _ in range(reps):
        net.loss_and_grads(x64, targets, loss)
    backprop = (time.perf_counter() - start) / reps
    analytic = np.concatenate([g.ravel() for g in net.grads.values()])
    start = time.perf_counter()
    numeric = []
    for param in net.params.values():
        indices = sample_indices(param.shape, None, np.random.default_rng())  # all of them
        f = lambda: net.loss_value(x64, targets, loss)  # noqa: E731
        numeric.append(numeric_gradient(f, param, indices, 1e-6))
    finite = time.perf_counter() - start
    gap = np.linalg.norm(analytic - np.concatenate(numeric)) / np.linalg.norm(analytic)
    say(
        f"backpropagation: all {n:,} partial derivatives in {backprop * 1e3:.2f} ms; "
        f"finite differences ({2 * n:,} forward passes): {finite:.2f} s, "
        f"{finite / backprop:,.0f}x slower (the two gradients differ by {gap:.1e}, relative)"
    )
    return {
        "gradient_gap": float(gap),
        "gradient_check_passed": not report.failed,
        "backprop_seconds": backprop,
        "finite_difference_seconds": finite,
        "speedup": finite / backprop,
    }


def _n_params(est: Any) -> int:
    return int(sum(p.size for p in est.network_.params.values()))
