"""Fully connected layer: z = x W + b (the seed's eq. 1-7, batch first)."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from numpy.typing import DTypeLike
from pydantic import Field

from .base import Array, Layer, not_built
from .workspace import scratch


class Dense(Layer):
    """Fully connected layer ``z = x @ W + b``.

    Parameters
    ----------
    units : int
        Number of output features (the width of the layer). The input width is inferred
        when the layer is built.
    init : {"glorot_uniform", "glorot_normal", "he_uniform", "he_normal"}
        How ``W`` is drawn. Glorot: variance ``2 / (n_in + units)``; He: ``2 / n_in``.
    gain : float
        Multiplies the initial weights (scikit-learn's MLP uses ``sqrt(1/3)`` before a
        logistic activation).
    bias_init : {"zeros", "uniform"}
        ``"uniform"`` draws ``b`` from the same interval as a uniform ``W``, as
        scikit-learn's MLP does (with a normal ``W``: from ``±`` its standard deviation).

    Shape
    -----
    ``x``: ``(m, n_in)``, dense or scipy sparse; output ``(m, units)``.
    ``params["W"]``: ``(n_in, units)``; ``params["b"]``: ``(units,)``.

    Notes
    -----
    ``W`` is the transpose of the seed's ``w^l_{jk}`` (row = input, column = output), so
    a whole batch is one product ``x @ W``; it equals scikit-learn's ``coefs_[i]``.
    ``backward(delta)`` implements eqs. 3-III (``∂C/∂b = Σ_x δ``) and 3-IV
    (``∂C/∂W = x^T δ``) and returns ``δ W^T``, the first factor of eq. 3-II for the layer
    below. The loss already carries the 1/m, so the sums over the batch are means.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import Dense
    >>> layer = Dense(2)
    >>> layer.build(3, np.random.default_rng(0), np.float64)
    2
    >>> layer.params["W"].shape, layer.params["b"].shape
    ((3, 2), (2,))
    >>> layer.forward(np.zeros((4, 3))).shape
    (4, 2)
    """

    penalized = ("W",)
    _transient = ("_x",)

    def __init__(
        self,
        units: Annotated[int, Field(ge=1)],
        *,
        init: Literal["glorot_uniform", "glorot_normal", "he_uniform", "he_normal"] = (
            "glorot_uniform"
        ),
        gain: Annotated[float, Field(gt=0)] = 1.0,
        bias_init: Literal["zeros", "uniform"] = "zeros",
    ) -> None:
        self.units = units
        self.init = init
        self.gain = gain
        self.bias_init = bias_init

    def build(self, n_in: int, rng: np.random.Generator, dtype: DTypeLike) -> int:
        n_out = int(self.units)
        fan = n_in + n_out if self.init.startswith("glorot") else n_in
        std = self.gain * math.sqrt(2.0 / fan)
        if self.init.endswith("uniform"):
            bound = std * math.sqrt(3.0)
            W = rng.uniform(-bound, bound, (n_in, n_out))
            b = rng.uniform(-bound, bound, n_out) if self.bias_init == "uniform" else None
        else:
            W = rng.normal(0.0, std, (n_in, n_out))
            b = rng.uniform(-std, std, n_out) if self.bias_init == "uniform" else None
        b = np.zeros(n_out) if b is None else b
        self.params = {"W": W.astype(dtype), "b": b.astype(dtype)}
        self.grads = {
            "W": np.zeros_like(self.params["W"]),
            "b": np.zeros_like(self.params["b"]),
        }
        return n_out

    def forward(self, x: Array, training: bool = False) -> Array:
        try:
            W, b = self.params["W"], self.params["b"]
        except KeyError:
            raise not_built(self) from None
        if not isinstance(x, np.ndarray) and not hasattr(x, "tocsr"):
            x = np.asarray(x)  # (a list, called directly)
        if x.ndim != 2 or x.shape[1] != W.shape[0]:
            raise ValueError(f"{self!r} expected input of shape (m, {W.shape[0]}), got {x.shape}")
        self._x = x
        z = scratch(self, "z", (x.shape[0], W.shape[1]), W.dtype)
        if isinstance(x, np.ndarray):
            np.matmul(x, W, out=z)
        else:  # scipy sparse: the product stays sparse-aware, the result is dense
            z[...] = x @ W
        z += b
        return z

    def param_grads(self, delta: Array) -> None:
        """Write eqs. 3-III and 3-IV into ``grads`` without the input delta."""
        x, gW = self._x, self.grads["W"]
        if isinstance(x, np.ndarray):
            np.matmul(x.T, delta, out=gW)
        else:
            gW[...] = x.T @ delta
        np.sum(delta, axis=0, out=self.grads["b"])

    def backward(self, delta: Array) -> Array:
        W, x = self.params["W"], self.__dict__.get("_x")
        if x is not None and np.shape(delta) != (x.shape[0], W.shape[1]):
            raise ValueError(
                f"{self!r} expected delta of shape {(x.shape[0], W.shape[1])}, the shape of "
                f"the last forward's output, got {np.shape(delta)}"
            )
        self.param_grads(delta)
        dx = scratch(self, "dx", (delta.shape[0], W.shape[0]), W.dtype)
        return np.matmul(delta, W.T, out=dx)
