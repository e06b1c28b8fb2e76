"""Cross-entropy costs for classification, exact from the logits."""

from __future__ import annotations

import numpy as np

from ..layers.activations import Sigmoid, Softmax, row_max, sigmoid, softmax
from ..layers.base import Array
from .base import Loss


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy, ``C_x = -Σ_j [y_j log a_j + (1 - y_j) log(1 - a_j)]``.

    Parameters
    ----------
    (none)

    Shape
    -----
    ``a``, ``y``: ``(m, k)``, one independent probability per column (binary: k = 1,
    multilabel: k labels). ``y`` may be boolean.

    Notes
    -----
    Canonical pair: ``Sigmoid``, for which ``δ^L = (a - y)/m`` and
    ``C_x = Σ_j softplus(z_j) - y_j z_j`` is computed from the logits, exact for any z.
    On probabilities, ``a`` is clipped to ``[eps, 1 - eps]`` so the value stays finite.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.losses import BinaryCrossEntropy
    >>> loss = BinaryCrossEntropy()
    >>> round(loss.value(np.array([[0.5]]), np.array([[1.0]])), 6)  # log 2
    0.693147
    >>> loss.value_from_logits(np.array([[-1000.0]]), np.array([[1.0]]))
    1000.0
    """

    link = Sigmoid

    def per_example(self, a: Array, y: Array) -> Array:
        eps = np.finfo(a.dtype).eps
        a = np.clip(a, eps, 1 - eps)
        return -(y * np.log(a) + (1 - y) * np.log1p(-a)).sum(axis=1)

    def per_example_grad(self, a: Array, y: Array) -> Array:
        eps = np.finfo(a.dtype).eps
        a = np.clip(a, eps, 1 - eps)
        return (a - y) / (a * (1 - a))

    def per_example_from_logits(self, z: Array, y: Array) -> Array:
        softplus = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))  # log(1 + e^z)
        with np.errstate(invalid="ignore"):
            terms = softplus - y * z
            infinite = np.isinf(z)
            if infinite.any():  # the limits: the cost of the target mass on the wrong side
                wrong = np.where(z > 0, 1 - y, y)[infinite]  # (∞ - ∞ and 0 · ∞ are NaN)
                terms[infinite] = np.where(wrong == 0, 0.0, np.sign(wrong) * np.inf)
        return terms.sum(axis=1)

    def link_output(self, z: Array, out: Array) -> Array:
        return sigmoid(z, out, np.empty_like(out))


class CategoricalCrossEntropy(Loss):
    """Categorical cross-entropy, ``C_x = -Σ_j y_j log a_j`` for one-hot ``y``.

    Shape
    -----
    ``a``, ``y``: ``(m, k)`` with k classes; ``y`` one-hot (boolean or float) or any
    rows of class probabilities.

    Notes
    -----
    Canonical pair: ``Softmax``, for which ``C_x = Σ_j y_j (logsumexp(z) - z_j)`` is
    computed from the logits, finite for any z (exact up to rounding at the logits'
    magnitude), and ``δ^L = (a Σ_j y_j - y)/m``: ``(a - y)/m`` for rows of ``y`` that
    sum to 1 (one-hot, or probabilities). On probabilities, ``a`` is clipped below at
    ``eps``.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.losses import CategoricalCrossEntropy
    >>> loss = CategoricalCrossEntropy()
    >>> round(loss.value(np.array([[0.25, 0.75]]), np.array([[0, 1]])), 6)  # -log 0.75
    0.287682
    >>> loss.value_from_logits(np.array([[1000.0, -1000.0]]), np.array([[0, 1]]))
    2000.0
    """

    link = Softmax

    def per_example(self, a: Array, y: Array) -> Array:
        eps = np.finfo(a.dtype).eps
        return -(y * np.log(np.maximum(a, eps))).sum(axis=1)

    def per_example_grad(self, a: Array, y: Array) -> Array:
        eps = np.finfo(a.dtype).eps
        return -y / np.maximum(a, eps)

    def per_example_from_logits(self, z: Array, y: Array) -> Array:
        zmax = row_max(z)
        lse = zmax + np.log(np.exp(z - zmax[:, None]).sum(axis=1))
        with np.errstate(invalid="ignore"):
            yz = np.einsum("ij,ij->i", y, z)
            if not np.isfinite(yz).all():  # a logit of -inf: its class, if not a target,
                yz = np.where(y != 0, y * z, 0.0).sum(axis=1)  # adds 0, not 0 · -inf
        return y.sum(axis=1) * lse - yz

    def link_output(self, z: Array, out: Array) -> Array:
        return softmax(z, out)

    def _link_term(self, a: Array, y: Array) -> None:
        """``a Σ_j y_j``, so that ``δ^L = (a Σ_j y_j - y)/m`` is the gradient of the
        cost for any rows of ``y`` (``(a - y)/m`` when they sum to 1)."""
        totals = y.sum(axis=1, keepdims=True)
        if not np.all(totals == 1):
            a *= totals
