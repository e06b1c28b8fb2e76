"""The loss of a canonical output pair and its fused δ, from the logits, in few calls."""

from __future__ import annotations

from math import isfinite
from typing import Any

import numpy as np
from scipy.special import expit

from ..losses import BinaryCrossEntropy, CategoricalCrossEntropy, SquaredError

Array = Any


def loss_stage(plan: Any, z: Array, d: Array, y: Array, m: int) -> Any:
    """``run(sample_weight) -> value`` writing the fused δ into ``d``: ``(link(z) - y)/m``
    (``(softmax(z) Σ_j y_j - y)/m`` for softmax cross-entropy on rows not summing to 1)."""
    loss, inv_m = plan.loss, 1.0 / m
    kind = type(loss)

    def general(sw: Array | None) -> float:  # (weighted: its value sums y's rows too)
        value = loss.value_from_logits(z, y, sw)
        loss.delta_from_logits(z, y, sw, out=d)
        return value

    ones = np.ones(z.size, z.dtype)
    if kind is CategoricalCrossEntropy and plan.normalized_targets:
        return _softmax_cross_entropy(z, d, y, inv_m, ones[:m], general)
    if kind is BinaryCrossEntropy:
        # per element, softplus(z) - y z (= -y log σ(z) - (1 - y) log(1 - σ(z)), exact
        # for any z: logaddexp(0, z) never overflows) and δ = (σ(z) - y) / m
        t = np.empty_like(z)
        t_flat, dot, vdot, logaddexp = t.reshape(-1), np.dot, np.vdot, np.logaddexp

        def bce(sw: Array | None) -> float:
            if sw is not None:
                return general(sw)
            logaddexp(0.0, z, out=t)
            value = (float(dot(t_flat, ones)) - float(vdot(y, z))) * inv_m
            if not isfinite(value):  # (a logit of ±inf: inf - inf here, its limit there)
                return general(None)
            expit(z, out=d)
            np.subtract(d, y, out=d)
            np.multiply(d, inv_m, out=d)
            return value

        return bce
    if kind is SquaredError:

        def squared(sw: Array | None) -> float:
            if sw is not None:
                return general(sw)
            np.subtract(z, y, out=d)
            value = 0.5 * float(np.vdot(d, d)) * inv_m
            np.multiply(d, inv_m, out=d)
            return value

        return squared
    return general


def _softmax_cross_entropy(
    z: Array, d: Array, y: Array, inv_m: float, ones: Array, general: Any
) -> Any:
    """Σ_x (log Σ_j exp z_j - z_y) / m and δ = (softmax(z) - y) / m (targets summing to 1).

    Any per-row shift c gives log Σ_j exp z_j = c + log Σ_j exp(z_j - c), and, as each
    row of y sums to 1, z_y - c = y · (z - c). The row mean is the cheap shift: z minus
    its row means is one product, z (I - 1 1ᵀ/k), and Σ_j exp(z_j - mean) ≥ 1, so
    nothing underflows to a zero sum; it overflows only when a row's max is ~88
    (float32) above its mean; then the value is not finite and the row max (slower to
    reduce) is used instead.
    """
    m, k = z.shape
    shift, total, log_total = (np.empty((m, 1), z.dtype) for _ in range(3))
    centering = np.eye(k, dtype=z.dtype) - np.full((k, k), 1.0 / k, z.dtype)
    ones_k = np.ones((k, 1), z.dtype)
    mm, dot, vdot = np.matmul, np.dot, np.vdot

    def shifted(sw: Array | None, exact: bool = False) -> float:
        if sw is not None:
            return general(sw)
        if exact:
            np.max(z, axis=1, keepdims=True, out=shift)
            np.subtract(z, shift, out=d)
        else:
            mm(z, centering, out=d)  # z less its row means, in one product
        zy = float(vdot(y, d))  # Σ_x (z_y - c)
        np.exp(d, out=d)
        mm(d, ones_k, out=total)  # row sums, as one product
        np.log(total, out=log_total)
        value = (float(dot(ones, log_total[:, 0])) - zy) * inv_m
        if not isfinite(value):  # overflow (or a NaN, which stays NaN), or a logit of
            # -inf (0 · -inf in y · z): the row max, then the loss's own limits
            return general(None) if exact else shifted(sw, exact=True)
        np.divide(d, total, out=d)  # softmax
        np.subtract(d, y, out=d)
        np.multiply(d, inv_m, out=d)
        return value

    return shifted
