"""Smooth activations of modern networks: ELU, GELU, SiLU and Softplus.

Each is ``a = σ(z)`` forward and ``δ ⊙ σ'(z)`` backward (eqs. 3-I, 3-II), overflow- and
warning-free for any finite input in float32 and float64: no exponential is taken of a
positive number.
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from pydantic import Field
from scipy.special import expit, ndtr

from .activations import Activation
from .base import Array
from .workspace import scratch

#: Beyond this |z|, z φ(z) is 0 in float64 (φ(40) = 1.5e-348): the clip keeps z² finite.
_GELU_CLIP = 40.0
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class ELU(Activation):
    """Exponential linear unit, ``a = z`` for z > 0 and ``alpha (exp(z) - 1)`` otherwise.

    Parameters
    ----------
    alpha : float
        The value negative inputs saturate to is ``-alpha``; ``alpha >= 0``.

    Notes
    -----
    σ'(z) = 1 for z > 0, ``a + alpha`` otherwise. ``exp`` is taken of ``min(z, 0)`` only.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import ELU
    >>> ELU().forward(np.array([[-1e4, 0.0, 2.0]]))
    array([[-1.,  0.,  2.]])
    """

    def __init__(self, alpha: Annotated[float, Field(ge=0)] = 1.0) -> None:
        self.alpha = alpha

    def _activate(self, z: Array, out: Array) -> None:
        self._positive = np.greater(z, 0, out=scratch(self, "mask", z.shape, np.bool_))
        np.minimum(z, 0, out=out)
        np.expm1(out, out=out)
        out *= self.alpha
        np.copyto(out, z, where=self._positive)
        self._a = out

    def _derivative(self, delta: Array, out: Array) -> None:
        np.add(self._a, self.alpha, out=out)
        np.copyto(out, 1, where=self._positive)
        out *= delta


class Softplus(Activation):
    """Softplus, ``a = log(1 + exp(z))``: a smooth ReLU.

    Notes
    -----
    σ'(z) = 1 / (1 + exp(-z)), the logistic sigmoid. Computed as ``logaddexp(0, z)``,
    exact for large ``z`` (where ``a = z``) and for very negative ones (``a = exp(z)``).

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import Softplus
    >>> Softplus().forward(np.array([[-1e4, 0.0, 1e4]]))
    array([[0.00000000e+00, 6.93147181e-01, 1.00000000e+04]])
    """

    def _activate(self, z: Array, out: Array) -> None:
        self._s = expit(z, out=scratch(self, "s", z.shape, z.dtype))
        np.logaddexp(0, z, out=out)

    def _derivative(self, delta: Array, out: Array) -> None:
        np.multiply(delta, self._s, out=out)


class SiLU(Activation):
    """Sigmoid-weighted linear unit (also called swish), ``a = z σ(z)``.

    Notes
    -----
    σ'(z) = s + a (1 - s) with ``s = 1 / (1 + exp(-z))``.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import SiLU
    >>> SiLU().forward(np.array([[-1.0, 0.0, 2.0]]))
    array([[-0.26894142,  0.        ,  1.76159416]])
    """

    def _activate(self, z: Array, out: Array) -> None:
        s = self._s = expit(z, out=scratch(self, "s", z.shape, z.dtype))
        np.multiply(z, s, out=out)
        self._a = out

    def _derivative(self, delta: Array, out: Array) -> None:
        s = self._s
        np.subtract(1, s, out=out)
        out *= self._a
        out += s
        out *= delta


class GELU(Activation):
    """Gaussian error linear unit, ``a = z Φ(z)``, Φ the standard normal distribution
    function (the exact form, not the tanh approximation).

    Notes
    -----
    σ'(z) = Φ(z) + z φ(z), φ the standard normal density. Φ comes from
    ``scipy.special.ndtr``, accurate in both tails.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import GELU
    >>> GELU().forward(np.array([[-1e4, 0.0, 1.0]]))
    array([[-0.        ,  0.        ,  0.84134475]])
    """

    _transient = (*Activation._transient, "_phi", "_zc")

    def _activate(self, z: Array, out: Array) -> None:
        self._phi = ndtr(z, out=scratch(self, "phi", z.shape, z.dtype))
        self._zc = np.clip(z, -_GELU_CLIP, _GELU_CLIP, out=scratch(self, "zc", z.shape, z.dtype))
        np.multiply(z, self._phi, out=out)

    def _derivative(self, delta: Array, out: Array) -> None:
        zc = self._zc
        np.multiply(zc, zc, out=out)
        out *= -0.5
        np.exp(out, out=out)
        out *= _INV_SQRT_2PI  # φ(z)
        out *= zc
        out += self._phi
        out *= delta
