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


class _Smooth(Activation):
    """What the four share: ``_derivative`` is ``δ ⊙ σ'(z)`` with σ'(z) written by
    ``_factor`` from the forward pass's caches; ``_in_place`` applies σ without touching
    the layer (the inference plan's form, safe from several threads at once)."""

    _transient = (*Activation._transient, "_e", "_s", "_phi", "_zc")

    def _derivative(self, delta: Array, out: Array) -> None:
        self._factor(out)
        np.multiply(out, delta, out=out)

    def _factor(self, out: Array) -> None:
        """Write σ'(z) of the last forward pass into ``out``."""
        raise NotImplementedError

    def _in_place(self, a: Array, tmp: Array, mask: Array) -> None:
        """Overwrite ``a`` with σ(a); ``tmp`` (float) and ``mask`` (bool) are scratch."""
        raise NotImplementedError


class ELU(_Smooth):
    """Exponential linear unit, ``a = z`` for z > 0 and ``alpha (exp(z) - 1)`` otherwise.

    Parameters
    ----------
    alpha : float
        The value negative inputs saturate to is ``-alpha``; ``0 <= alpha < inf``.

    Notes
    -----
    σ'(z) = 1 for z > 0, ``alpha exp(z)`` otherwise (kept from the forward pass, so it
    stays accurate where ``a + alpha`` would cancel). ``exp`` is taken of ``min(z, 0)``.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import ELU
    >>> ELU().forward(np.array([[-1e4, 0.0, 2.0]]))
    array([[-1.,  0.,  2.]])
    """

    def __init__(self, alpha: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0) -> None:
        self.alpha = alpha

    def _activate(self, z: Array, out: Array) -> None:
        # (locals, not the attributes, are read back: predict runs in several threads)
        positive = self._positive = np.greater(z, 0, out=scratch(self, "mask", z.shape, bool))
        np.minimum(z, 0, out=out)
        self._e = np.exp(out, out=scratch(self, "e", z.shape, z.dtype))
        np.expm1(out, out=out)
        out *= self.alpha
        np.copyto(out, z, where=positive)

    def _factor(self, out: Array) -> None:
        np.multiply(self._e, self.alpha, out=out)
        np.copyto(out, 1, where=self._positive)

    def _in_place(self, a: Array, tmp: Array, mask: Array) -> None:
        np.less_equal(a, 0, out=mask)
        np.minimum(a, 0, out=tmp)
        np.expm1(tmp, out=tmp)
        tmp *= self.alpha
        np.copyto(a, tmp, where=mask)


class Softplus(_Smooth):
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

    def _factor(self, out: Array) -> None:
        np.copyto(out, self._s)

    def _in_place(self, a: Array, tmp: Array, mask: Array) -> None:
        np.logaddexp(0, a, out=a)


class SiLU(_Smooth):
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

    def _factor(self, out: Array) -> None:
        s = self._s
        np.subtract(1, s, out=out)
        out *= self._a
        out += s

    def _in_place(self, a: Array, tmp: Array, mask: Array) -> None:
        expit(a, out=tmp)
        a *= tmp


class GELU(_Smooth):
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

    def _activate(self, z: Array, out: Array) -> None:
        phi = self._phi = ndtr(z, out=scratch(self, "phi", z.shape, z.dtype))
        self._zc = np.clip(z, -_GELU_CLIP, _GELU_CLIP, out=scratch(self, "zc", z.shape, z.dtype))
        np.multiply(z, phi, out=out)  # (phi, not self._phi: predict runs in several threads)

    def _factor(self, out: Array) -> None:
        zc = self._zc
        np.multiply(zc, zc, out=out)
        out *= -0.5
        np.exp(out, out=out)
        out *= _INV_SQRT_2PI  # φ(z)
        out *= zc
        out += self._phi

    def _in_place(self, a: Array, tmp: Array, mask: Array) -> None:
        ndtr(a, out=tmp)
        a *= tmp


#: The smooth activations, which the training and inference plans run by these methods.
SMOOTH = frozenset({ELU, GELU, SiLU, Softplus})
