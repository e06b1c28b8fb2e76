"""Inverted dropout: random units are zeroed in training, the rest scaled up."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from numpy.typing import DTypeLike
from pydantic import Field

from .base import Array, Layer
from .workspace import scratch


class Dropout(Layer):
    """Inverted dropout: zero each input with probability ``rate`` while training.

    Parameters
    ----------
    rate : float
        Probability of dropping a unit, ``0 <= rate < 1``.

    Shape
    -----
    Output has the shape of the input.

    Notes
    -----
    In training the output is ``x ⊙ mask / (1 - rate)`` with ``mask`` a fresh Bernoulli
    draw per call, so the expected output equals ``x`` and no rescaling is needed at
    prediction time; ``backward`` multiplies δ by the same ``mask / (1 - rate)``. With
    ``training=False`` the layer is the identity. The mask stream comes from the
    generator given to ``build``, so a fixed ``random_state`` makes it reproducible.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import Dropout
    >>> layer = Dropout(0.5)
    >>> layer.build(4, np.random.default_rng(0), np.float64)
    4
    >>> layer.forward(np.ones((1, 4)))  # inference: the identity
    array([[1., 1., 1., 1.]])
    >>> a = layer.forward(np.ones((1000, 4)), training=True)  # training: 0 or 1/(1-rate)
    >>> sorted(set(a.ravel().tolist()))
    [0.0, 2.0]
    """

    _transient = ("_scale",)

    def __init__(self, rate: Annotated[float, Field(ge=0, lt=1)] = 0.5) -> None:
        self.rate = rate

    def build(self, n_in: int, rng: np.random.Generator, dtype: DTypeLike) -> int:
        self._rng = rng
        return n_in

    def forward(self, x: Array, training: bool = False) -> Array:
        if not training or self.rate == 0:
            self._scale = None
            return x
        if "_rng" not in self.__dict__:
            raise RuntimeError(f"{self!r} must be built before a training forward pass")
        keep = 1.0 - float(self.rate)
        scale = scratch(self, "mask", x.shape, x.dtype)
        self._rng.random(out=scale, dtype=scale.dtype)  # uniform in [0, 1)
        np.less(scale, keep, out=scale, casting="unsafe")  # 1 with probability keep
        scale *= 1.0 / keep
        self._scale = scale
        out = scratch(self, "a", x.shape, x.dtype)
        with np.errstate(over="ignore"):  # 2 x max float is infinite, honestly
            return np.multiply(x, scale, out=out)

    def backward(self, delta: Array) -> Array:
        if self._scale is None:
            return delta
        out = scratch(self, "d", delta.shape, delta.dtype)
        return np.multiply(delta, self._scale, out=out)
