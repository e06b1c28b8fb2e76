"""Poisson deviance for counts, with the log link."""

from __future__ import annotations

import numpy as np

from ..layers.activations import Exp, exp_clipped
from ..layers.base import Array
from .base import Loss


class PoissonLoss(Loss):
    """Half Poisson deviance, ``C_x = Σ_j [y_j log(y_j / a_j) - y_j + a_j]``.

    Shape
    -----
    ``a`` (positive means), ``y`` (non-negative counts): ``(m, k)``.

    Notes
    -----
    ``∂C_x/∂a = 1 - y/a``. Canonical pair: ``Exp`` (the log link), for which
    ``δ^L = (a - y)/m``. This is scikit-learn's MLPRegressor ``loss='poisson'``.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.losses import PoissonLoss
    >>> PoissonLoss().value(np.array([[2.0]]), np.array([[2.0]]))  # a == y: zero
    0.0
    """

    link = Exp

    def per_example(self, a: Array, y: Array) -> Array:
        tiny = np.finfo(a.dtype).tiny
        return (_xlogx(y) - y * np.log(np.maximum(a, tiny)) - y + a).sum(axis=1)

    def per_example_grad(self, a: Array, y: Array) -> Array:
        tiny = np.finfo(a.dtype).tiny
        return 1 - y / np.maximum(a, tiny)

    def per_example_from_logits(self, z: Array, y: Array) -> Array:
        with np.errstate(over="ignore", invalid="ignore"):
            a = np.exp(z)  # infinite for large z: then so is the cost (exp dominates y z)
            terms = _xlogx(y) - y * z - y + a
            np.copyto(terms, np.inf, where=np.isinf(a))
            return terms.sum(axis=1)

    def link_output(self, z: Array, out: Array) -> Array:
        return exp_clipped(z, out)


def _xlogx(y: Array) -> Array:
    """y log y with 0 log 0 = 0."""
    out = np.zeros_like(y)
    np.log(y, out=out, where=y > 0)
    return out * y
