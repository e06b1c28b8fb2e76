"""Quadratic cost C_x = ½ ‖a - y‖², whose gradient a - y is the seed's ∇_a C (eq. 3-I)."""

from __future__ import annotations

import numpy as np

from ..layers.activations import Identity
from ..layers.base import Array
from .base import Loss


class SquaredError(Loss):
    """Half squared error, ``C_x = ½ Σ_j (a_j - y_j)²``, averaged over the batch.

    Shape
    -----
    ``a``, ``y``: ``(m, k)``.

    Notes
    -----
    ``∇_a C = (a - y)/m``, so with the seed's quadratic cost eq. 3-I reads
    ``δ^L = (a - y) ⊙ σ'(z^L)/m``. Canonical pair: ``Identity``. For one output this is
    scikit-learn's MLPRegressor loss; for k outputs it sums over them (scikit-learn also
    divides the reported value by k).

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.losses import SquaredError
    >>> a, y = np.array([[1.0], [2.0]]), np.array([[0.0], [0.0]])
    >>> SquaredError().value(a, y)  # (½·1 + ½·4) / 2
    1.25
    >>> SquaredError().grad(a, y)
    array([[0.5],
           [1. ]])
    """

    link = Identity

    def per_example(self, a: Array, y: Array) -> Array:
        r = a - y
        return 0.5 * np.einsum("ij,ij->i", r, r)

    def per_example_grad(self, a: Array, y: Array) -> Array:
        return a - y

    def per_example_from_logits(self, z: Array, y: Array) -> Array:
        return self.per_example(z, y)

    def link_output(self, z: Array, out: Array) -> Array:
        np.copyto(out, z)
        return out
