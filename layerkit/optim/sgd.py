"""Stochastic gradient descent: the seed's eqs. 2-5 and 2-6, with momentum if asked."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import Field

from ..layers.base import Array
from ._flat import axpy, flat_slot
from .base import Optimizer


class SGD(Optimizer):
    """Mini-batch stochastic gradient descent, optionally with (Nesterov) momentum.

    Parameters
    ----------
    learning_rate : float
        The step size η > 0.
    momentum : float
        μ in ``[0, 1]`` (as scikit-learn allows); 0 gives plain gradient descent, 1 a
        velocity that never decays.
    nesterov : bool
        Use Nesterov's momentum (look-ahead) instead of classical momentum.
    weight_decay : float
        Adds ``weight_decay * w`` to every gradient (L2 on all parameters).
    clip_norm : float or None
        Scale the gradients together to a global norm (over every array) of at most
        this before each step, as PyTorch's ``clip_grad_norm_``; None: never.

    Notes
    -----
    With ``g`` the batch-mean gradient (the loss carries the 1/m), the defaults do
    ``w ← w - η g`` and ``b ← b - η g_b``: exactly the seed's eqs. 2-5 and 2-6. With
    momentum, the velocity ``v ← μ v - η g`` is applied as ``w ← w + v`` (classical) or
    ``w ← w + μ v - η g`` (Nesterov), the form scikit-learn's MLP uses, so a learning
    rate schedule scales new steps only.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.optim import SGD
    >>> params, grads = {"w": np.array([1.0, 2.0])}, {"w": np.array([10.0, -10.0])}
    >>> SGD(learning_rate=0.01).step(params, grads)
    >>> params["w"]
    array([0.9, 2.1])
    """

    _new_arguments = ("clip_norm",)  # (since 0.3.0)

    def __init__(
        self,
        learning_rate: Annotated[float, Field(gt=0)] = 0.01,
        momentum: Annotated[float, Field(ge=0, le=1)] = 0.0,
        nesterov: bool = False,
        weight_decay: Annotated[float, Field(ge=0)] = 0.0,
        clip_norm: Annotated[float, Field(gt=0)] | None = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm

    def step(self, params: dict[str, Array], grads: dict[str, Array]) -> None:
        self._check_pairs(params, grads)
        grads = self._clipped(grads)
        w, g = getattr(params, "flat", None), getattr(grads, "flat", None)
        if w is not None and g is not None:
            if not self.momentum and not self.weight_decay and "lr" not in self._state_dict():
                axpy(g, w, -self.learning_rate, self._tmp("flat", w))  # eqs. 2-5, 2-6
            else:
                self._step_flat(params, w, g)
            return
        lr, mu, wd = self.current_learning_rate, self.momentum, self.weight_decay
        for name, w in params.items():
            g = grads[name]
            tmp = self._tmp(name, w)
            if wd:
                np.multiply(w, wd, out=tmp)
                tmp += g
                g = tmp
            np.multiply(g, lr, out=tmp)  # tmp = η g
            if not mu:
                w -= tmp
                continue
            v = self._slot("velocity", name, w)
            v *= mu
            v -= tmp  # v = μ v - η g
            if self.nesterov:
                w -= tmp
                np.multiply(v, mu, out=tmp)
            else:
                tmp = v
            w += tmp

    def _step_flat(self, params: Any, w: Array, g: Array) -> None:
        """The same update, in whole-buffer passes over ``Sequential.flatten``'s buffers.

        Weight decay rides in the gradient, ``g + λ w``, as in the per-array passes:
        applied on its own, as ``w (1 - ηλ)``, a factor ``1 - ηλ`` rounded to float32 is
        exactly 1 for ``ηλ`` below 2⁻²⁵ and off by up to 100% just above it."""
        lr, mu, wd = self.current_learning_rate, self.momentum, self.weight_decay
        tmp = self._tmp("flat", w)
        if wd:  # (its own buffer: axpy without BLAS writes its scratch, tmp)
            decayed = self._tmp("flat decayed", w)
            np.multiply(w, wd, out=decayed)
            np.add(decayed, g, out=decayed)  # g + λ w
            g = decayed
        if not mu:
            axpy(g, w, -lr, tmp)  # w - η (g + λ w)
            return
        v = flat_slot(self, "velocity", params)
        v *= mu
        axpy(g, v, -lr, tmp)  # v = μ v - η (g + λ w)
        if self.nesterov:  # w += μ v - η (g + λ w)
            axpy(v, w, mu, tmp)
            axpy(g, w, -lr, tmp)
        else:
            w += v
