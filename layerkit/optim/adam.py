"""Adam: per-parameter step sizes from running moments of the gradient."""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from pydantic import Field

from ..layers.base import Array
from ._flat import axpy, flat_of, flat_slot
from .base import Optimizer


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), in the form scikit-learn's MLP uses.

    Parameters
    ----------
    learning_rate : float
        The step size α > 0.
    beta_1, beta_2 : float
        Decay rates of the first and second moment estimates, in ``[0, 1)``.
    epsilon : float
        Added to the denominator for numerical stability.
    clip_norm : float or None
        Scale the gradients together to a global norm (over every array) of at most
        this before each step, as PyTorch's ``clip_grad_norm_``; None: never.

    Notes
    -----
    With ``t`` the step count: ``m ← β1 m + (1-β1) g``, ``v ← β2 v + (1-β2) g²``,
    ``α_t = α √(1-β2^t) / (1-β1^t)`` and ``w ← w - α_t m / (√v + ε)``: eqs. 2-5/2-6
    with a per-parameter, bias-corrected step. PyTorch and Keras add ε to the
    bias-corrected ``√v̂`` instead, so their steps differ slightly (equal as ε → 0).

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.optim import Adam
    >>> params, grads = {"w": np.array([1.0])}, {"w": np.array([5.0])}
    >>> Adam(learning_rate=0.1).step(params, grads)  # the first step has size α
    >>> params["w"].round(6)
    array([0.9])
    """

    _new_arguments = ("clip_norm",)  # (since 0.3.0)

    def __init__(
        self,
        learning_rate: Annotated[float, Field(gt=0)] = 0.001,
        beta_1: Annotated[float, Field(ge=0, lt=1)] = 0.9,
        beta_2: Annotated[float, Field(ge=0, lt=1)] = 0.999,
        epsilon: Annotated[float, Field(gt=0)] = 1e-8,
        clip_norm: Annotated[float, Field(gt=0)] | None = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.clip_norm = clip_norm

    def step(self, params: dict[str, Array], grads: dict[str, Array]) -> None:
        self._check_pairs(params, grads)
        grads = self._clipped(grads)
        b1, b2 = self.beta_1, self.beta_2
        t = self.state["t"] = int(self.state.get("t", 0)) + 1
        lr_t = self.current_learning_rate * math.sqrt(1 - b2**t) / (1 - b1**t)
        w_flat, g_flat = flat_of(params), flat_of(grads)
        if w_flat is not None and g_flat is not None:  # whole-buffer passes
            m, v = flat_slot(self, "m", params), flat_slot(self, "v", params)
            self._update(w_flat, g_flat, m, v, self._tmp("flat", w_flat), lr_t)
            return
        for name, w in params.items():
            m, v = self._slot("m", name, w), self._slot("v", name, w)
            self._update(w, grads[name], m, v, self._tmp(name, w), lr_t)

    def _update(self, w: Array, g: Array, m: Array, v: Array, tmp: Array, lr_t: float) -> None:
        """m = β1 m + (1-β1) g; v = β2 v + (1-β2) g²; w -= lr_t m / (√v + ε), in place."""
        b1, b2 = self.beta_1, self.beta_2
        m *= b1
        axpy(g, m, 1 - b1, tmp)
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += self.epsilon
        np.divide(m, tmp, out=tmp)
        tmp *= lr_t
        w -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay (AdamW, Loshchilov & Hutter, 2019).

    Parameters
    ----------
    learning_rate : float
        The step size α > 0.
    beta_1, beta_2 : float
        Decay rates of the first and second moment estimates, in ``[0, 1)``.
    epsilon : float
        Added to the denominator for numerical stability.
    weight_decay : float
        λ ≥ 0: each step shrinks every parameter by the factor ``1 - α λ``.
    clip_norm : float or None
        As for ``Adam``: the gradients' global norm, clipped before each step.

    Notes
    -----
    Each step first decays, ``w ← (1 - α λ) w``, then takes ``Adam``'s step from the
    gradient alone. L2 regularization (the estimators' ``alpha``) instead adds ``λ w`` to
    the gradient, where Adam's per-parameter scaling then shrinks it wherever gradients
    are large; the decoupled decay is the same for every parameter. α here is the
    current learning rate (a schedule scales the decay too), not Adam's bias-corrected
    step: PyTorch's ``AdamW`` does the same, and differs only in where ε goes (see
    ``Adam``).

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.optim import AdamW
    >>> params, grads = {"w": np.array([2.0])}, {"w": np.array([5.0])}
    >>> AdamW(learning_rate=0.1, weight_decay=0.5).step(params, grads)
    >>> params["w"].round(6)  # 2 (1 - 0.1 * 0.5) - 0.1
    array([1.8])
    """

    def __init__(
        self,
        learning_rate: Annotated[float, Field(gt=0)] = 0.001,
        beta_1: Annotated[float, Field(ge=0, lt=1)] = 0.9,
        beta_2: Annotated[float, Field(ge=0, lt=1)] = 0.999,
        epsilon: Annotated[float, Field(gt=0)] = 1e-8,
        weight_decay: Annotated[float, Field(ge=0)] = 0.01,
        clip_norm: Annotated[float, Field(gt=0)] | None = None,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, clip_norm)
        self.weight_decay = weight_decay

    def step(self, params: dict[str, Array], grads: dict[str, Array]) -> None:
        self._check_pairs(params, grads)  # (before the decay: nothing moves on bad grads)
        shrink = 1.0 - self.current_learning_rate * self.weight_decay
        if shrink != 1.0:
            w_flat = flat_of(params)
            if w_flat is not None and flat_of(grads) is not None:
                w_flat *= shrink
            else:
                for w in params.values():
                    w *= shrink
        super().step(params, grads)
