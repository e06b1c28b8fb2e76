"""The loss of a canonical output pair and its fused δ, from the logits, in few calls."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..losses import BinaryCrossEntropy, CategoricalCrossEntropy, SquaredError

Array = Any


def loss_stage(plan: Any, z: Array, d: Array, y: Array, m: int) -> Any:
    """``run(sample_weight) -> value`` writing the fused δ = (link(z) - y)/m into ``d``."""
    loss, inv_m = plan.loss, 1.0 / m
    kind = type(loss)

    def general(sw: Array | None) -> float:
        value = loss.value_from_logits(z, y, sw)
        loss.delta_from_logits(z, y, sw, out=d)
        return value

    ones = np.ones(m, z.dtype)
    add_reduce = np.add.reduce
    if kind is CategoricalCrossEntropy and plan.normalized_targets:
        zmax, total = np.empty((m, 1), z.dtype), np.empty((m, 1), z.dtype)
        ones_k = np.ones((z.shape[1], 1), z.dtype)

        def cce(sw: Array | None) -> float:
            if sw is not None:
                return general(sw)
            np.max(z, axis=1, keepdims=True, out=zmax)
            np.subtract(z, zmax, out=d)
            np.exp(d, out=d)  # exp(z - max z): never overflows
            np.matmul(d, ones_k, out=total)  # row sums, as one product
            np.divide(d, total, out=d)  # softmax
            np.log(total, out=total)  # log-sum-exp = max z + log Σ exp(z - max z)
            lse_sum = float(np.dot(ones, total[:, 0])) + float(np.dot(ones, zmax[:, 0]))
            value = (lse_sum - float(np.vdot(y, z))) * inv_m  # Σ_x (lse - z_y) / m
            np.subtract(d, y, out=d)
            np.multiply(d, inv_m, out=d)
            return value

        return cce
    if kind is BinaryCrossEntropy:
        # y holds s = 1 - 2y here (TrainingPlan.targets): with it, per element,
        #   softplus(z) - y z = |z|/2 + log1p(exp(-|z|)) + s z / 2   (exact for any z)
        #   σ(z) - y = (tanh(z/2) + s) / 2                           (δ, to float precision)
        e, t, y_plain = np.empty_like(z), np.empty_like(z), np.empty_like(y)
        half_m = 0.5 * inv_m

        def bce(sw: Array | None) -> float:
            if sw is not None:  # the general path wants y itself back
                np.subtract(1.0, y, out=y_plain)
                np.multiply(y_plain, 0.5, out=y_plain)
                value = loss.value_from_logits(z, y_plain, sw)
                loss.delta_from_logits(z, y_plain, sw, out=d)
                return value
            np.abs(z, out=e)
            abs_sum = float(add_reduce(e, None))
            np.negative(e, out=e)
            np.exp(e, out=e)
            np.log1p(e, out=t)
            value = (
                0.5 * abs_sum + float(add_reduce(t, None)) + 0.5 * float(np.vdot(y, z))
            ) * inv_m
            np.multiply(z, 0.5, out=d)
            np.tanh(d, out=d)
            np.add(d, y, out=d)
            np.multiply(d, half_m, out=d)
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
