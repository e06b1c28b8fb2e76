"""What the built-in losses need of their targets: a cross-entropy's probabilities, a
Poisson loss's counts. Training on targets outside that domain makes the loss fall
without bound (a negative cross-entropy), with nothing to report it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Loss
from .cross_entropy import BinaryCrossEntropy, CategoricalCrossEntropy
from .poisson import PoissonLoss


def _negative(Y: Any) -> str | None:
    low = float(Y.min())
    return f"a minimum of {low!r}" if low < 0 else None


def _outside_unit_interval(Y: Any) -> str | None:
    low, high = float(Y.min()), float(Y.max())
    return f"targets from {low!r} to {high!r}" if low < 0 or high > 1 else None


def _not_distributions(Y: Any) -> str | None:
    if Y.shape[1] < 2:
        return (
            "one column (the softmax of one output is always 1: nothing to learn); for "
            "probabilities of one event use BinaryCrossEntropy"
        )
    negative = _negative(Y)
    if negative is not None:
        return negative
    # rows summing to 1 up to rounding: √ε of their dtype (scikit-learn's log_loss's
    # tolerance), and at least 1e-6, what rows computed in float32 (a softmax) keep when
    # stored as float64 (off by up to 1.6e-7 for 10 classes)
    dtype = Y.dtype if Y.dtype.kind == "f" else np.dtype(np.float64)
    totals = Y.sum(axis=1)
    tol = max(float(np.sqrt(np.finfo(dtype).eps)), 1e-6)
    deviation = np.abs(totals - 1.0)
    if not deviation.max(initial=0.0) > tol:  # (one pass in the usual case; NaN: below)
        return None
    off = np.flatnonzero(~(deviation <= tol))
    if len(off):
        i = int(off[0])
        return f"{len(off)} row(s) that do not sum to 1 (row {i} sums to {float(totals[i])!r})"
    return None


#: What a loss needs of its targets, checked at fit (the estimators' and
#: ``Sequential.fit``): the loss class (its subclasses included), the need as the
#: message states it, and a function naming how the targets (2-D) fall short of it, or
#: None.
_TARGET_NEEDS: tuple[tuple[type[Loss], str, Callable[[Any], str | None]], ...] = (
    (PoissonLoss, "non-negative targets", _negative),
    (BinaryCrossEntropy, "targets in [0, 1] (a probability per output)", _outside_unit_interval),
    (
        CategoricalCrossEntropy,
        "targets whose rows are probability distributions (at least 2 columns, "
        "non-negative, each row summing to 1)",
        _not_distributions,
    ),
)


def target_shortfall(loss: Loss, Y: Any, *, exact: bool = False) -> str | None:
    """``"needs ..., got ..."`` if the targets ``Y`` (2-D) are outside what ``loss`` is
    defined on, else None. ``exact``: for the built-in classes only, not subclasses."""
    for kind, needs, shortfall in _TARGET_NEEDS:
        applies = type(loss) is kind if exact else isinstance(loss, kind)
        found = shortfall(Y) if applies else None
        if found is not None:
            return f"needs {needs}, got {found}"
    return None
