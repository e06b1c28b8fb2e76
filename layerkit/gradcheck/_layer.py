"""check_layer: a layer's backward against finite differences of its forward."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..layers.base import Layer
from ._core import GradientCheckError, GradientReport, Tolerance, as_float64, compare


def check_layer(
    layer: Layer,
    x: Any = None,
    *,
    training: bool = False,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    max_entries: int | None = 64,
    random_state: int = 0,
) -> GradientReport:
    """Prove a layer's ``backward`` right with central differences (eq. 3-1), in float64.

    The layer is copied (never modified). An unbuilt layer is built for the width of
    ``x``; a built one keeps its parameter values, upcast to float64. With the scalar
    test cost ``C = Σ r ⊙ forward(x)`` (``r`` random), ``backward(r)`` must equal the
    finite-difference gradient with respect to every entry of ``x`` and of every
    parameter (at most ``max_entries`` random entries per array; ``None``: all).

    Parameters
    ----------
    layer : Layer
        The layer to check.
    x : array of shape (m, n_in), optional
        Where to check; by default a random ``(4, 5)`` batch (or of the built width).
    training : bool
        Check the training-mode pass (dropout masks are held fixed across evaluations).

    Returns
    -------
    GradientReport
        The worst relative error per array (``"input"`` and each parameter name).

    Raises
    ------
    GradientCheckError
        Naming the layer, the array, the worst entry, both values and the error.

    Examples
    --------
    >>> from layerkit.gradcheck import check_layer
    >>> from layerkit.layers import Dense
    >>> report = check_layer(Dense(3))
    >>> sorted(report.errors)
    ['W', 'b', 'input']
    >>> report.worst_error < 1e-6
    True
    """
    tol = Tolerance(eps, rtol, atol, max_entries)
    rng = np.random.default_rng(random_state)
    built_width = layer.__dict__.get("_n_in")
    if x is None:
        x = rng.normal(size=(4, built_width or 5))
    x = np.array(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"check_layer expected x of shape (m, n_in), got {x.shape}")
    base = as_float64(layer)
    if not base.params:
        base.build(x.shape[1], np.random.default_rng(random_state), np.float64)
    report = GradientReport(repr(layer))

    def run() -> Any:  # a fresh copy per evaluation: the same dropout mask every time
        return copy.deepcopy(base)

    probe = run()
    out = np.asarray(probe.forward(x.copy(), training))
    r = rng.normal(size=out.shape)
    dx = probe.backward(r.copy())
    if dx is None or np.shape(dx) != x.shape:
        raise GradientCheckError(
            f"{report.subject}: backward must return ∂C/∂x of the input's shape "
            f"{x.shape}, got {None if dx is None else np.shape(dx)}"
        )
    if set(probe.grads) != set(probe.params):
        raise GradientCheckError(
            f"{report.subject}: grads keys {sorted(probe.grads)} do not match params "
            f"keys {sorted(probe.params)}"
        )

    def cost(xv: Any) -> float:
        return float(np.sum(r * run().forward(xv.copy(), training)))

    compare(report, "input", dx, lambda: cost(x), x, tol, rng)
    for name, value in base.params.items():
        compare(report, name, probe.grads[name], lambda: cost(x), value, tol, rng)
    return report
