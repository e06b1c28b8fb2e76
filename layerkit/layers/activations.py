"""Element-wise activations: a = σ(z) forward, δ ⊙ σ'(z) backward (eqs. 3-I, 3-II).

Every activation here is overflow-free for any finite input, in float32 and float64:
no exponential is taken of a positive number, except by ``Exp``, whose ``exp(z)`` is
clipped at the largest finite float.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import Field

from .base import Array, Layer
from .workspace import scratch


def sigmoid(
    z: Array,
    out: Array,
    tmp: Array,
    mask: Array | None = None,
    *,
    mask_ready: bool = False,
    exp_neg_abs: Array | None = None,
) -> Array:
    """Write σ(z) into ``out`` without overflow; ``tmp`` (and ``mask``) are scratch.

    ``out`` may be ``z`` itself. ``mask_ready``: ``mask`` already holds ``z >= 0``;
    ``exp_neg_abs``: ``exp(-|z|)`` already computed (it may be ``out``'s own buffer).
    """
    positive = mask if mask_ready else np.greater_equal(z, 0, out=mask)
    if exp_neg_abs is None:
        e = np.abs(z, out=out)
        np.negative(e, out=e)
        np.exp(e, out=e)  # e = exp(-|z|) in (0, 1]
    else:
        e = exp_neg_abs
    np.add(e, 1, out=tmp)
    np.divide(e, tmp, out=out)  # σ(-|z|), accurate even when tiny
    np.subtract(1, out, out=out, where=positive)  # σ(|z|) = 1 - σ(-|z|)
    return out


def row_max(z: Array) -> Array:
    """The maximum of each row of a 2-d ``z`` (NaN where a row has one), shape ``(n,)``.

    For short rows, k - 1 passes of ``np.maximum`` over the columns: a reduction along
    rows of 10 took 4.4 ms on 100,000 rows, the passes 0.6 ms."""
    k = z.shape[1]
    if k > 64:
        return z.max(axis=1)
    top = z[:, 0].copy()
    for j in range(1, k):
        np.maximum(top, z[:, j], out=top)
    return top


def softmax(z: Array, out: Array) -> Array:
    """Write the row-wise softmax of ``z`` into ``out``, the row maximum subtracted."""
    with np.errstate(over="ignore"):  # z - max z may reach -inf: exp gives 0, exactly
        np.subtract(z, row_max(z)[:, None], out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def exp_clipped(z: Array, out: Array) -> Array:
    """Write exp(z) into ``out``, z clipped where exp would overflow: the largest finite."""
    np.minimum(z, _max_exponent(out.dtype), out=out)
    return np.exp(out, out=out)


_MAX_EXPONENT: dict[Any, Any] = {}


def _max_exponent(dtype: Any) -> Any:
    """The largest z of ``dtype`` whose exp is finite (log(max) rounded can overflow)."""
    dtype = np.dtype(dtype)
    if dtype not in _MAX_EXPONENT:
        z = dtype.type(np.log(np.finfo(dtype).max))
        with np.errstate(over="ignore"):
            while not np.isfinite(np.exp(z)):
                z = np.nextafter(z, dtype.type(0))
        _MAX_EXPONENT[dtype] = z
    return _MAX_EXPONENT[dtype]


def _float_array(layer: Layer, x: Any) -> Array:
    """``x`` as a float array (integers as float64), or a clear error: what a layer
    called directly, not through a network, may be given. (Any shape: an element-wise
    activation applies to each entry.)"""
    if hasattr(x, "tocsr"):
        raise TypeError(f"{layer!r} expected a dense array; got a sparse matrix: pass x.toarray()")
    x = np.asarray(x)
    if x.dtype.kind in "biu":
        return x.astype(np.float64)
    if x.dtype.kind != "f":
        raise TypeError(f"{layer!r} expected an array of numbers, got dtype {x.dtype}")
    return x


class Activation(Layer, register=False):
    """Base of the parameter-free element-wise activations.

    Subclasses write σ(z) in ``_activate(z, out)`` and δ ⊙ σ'(z) in
    ``_derivative(delta, out)``, reading whatever they cached in ``_activate``.

    Notes
    -----
    ``backward`` is the ``⊙ σ'(z)`` factor of the seed's eqs. 3-I and 3-II.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import Activation
    >>> class Square(Activation):
    ...     def _activate(self, z, out):
    ...         self._z = z
    ...         np.multiply(z, z, out=out)
    ...     def _derivative(self, delta, out):
    ...         np.multiply(delta, 2 * self._z, out=out)
    >>> layer = Square()
    >>> layer.forward(np.array([[3.0]])), layer.backward(np.array([[1.0]]))
    (array([[9.]]), array([[6.]]))
    """

    _transient: tuple[str, ...] = ("_a", "_mask", "_positive", "_z")

    def forward(self, x: Array, training: bool = False) -> Array:
        if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
            x = _float_array(self, x)
        out = scratch(self, "a", x.shape, x.dtype)
        self._activate(x, out)
        return out

    def backward(self, delta: Array) -> Array:
        out = scratch(self, "d", delta.shape, delta.dtype)
        self._derivative(delta, out)
        return out

    def _activate(self, z: Array, out: Array) -> None:
        raise NotImplementedError

    def _derivative(self, delta: Array, out: Array) -> None:
        raise NotImplementedError


class Identity(Activation):
    """The identity, ``a = z``: the regression output and a linear bottleneck.

    Notes
    -----
    σ'(z) = 1, so δ passes unchanged. With ``SquaredError`` it is a canonical pair: the
    output error (eq. 3-I) is ``(a - y)/m``.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import Identity
    >>> Identity().forward(np.array([[-1.0, 2.0]]))
    array([[-1.,  2.]])
    """

    def forward(self, x: Array, training: bool = False) -> Array:
        return x

    def backward(self, delta: Array) -> Array:
        return delta

    @staticmethod
    def _apply(z: Array, out: Array) -> Array:
        """z into ``out`` (nothing to do when ``out`` is ``z``), keeping nothing."""
        if out is not z:
            np.copyto(out, z)
        return out


class ReLU(Activation):
    """Rectified linear unit, ``a = max(z, 0)``.

    Notes
    -----
    σ'(z) = 1 where z > 0, else 0: it does not vanish for large z, which is the seed's
    remedy for the sigmoid's learning slowdown.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import ReLU
    >>> ReLU().forward(np.array([[-1.0, 2.0]]))
    array([[0., 2.]])
    """

    def _activate(self, z: Array, out: Array) -> None:
        # z times a 0/1 mask (kept for backward): fast passes where np.maximum is slow;
        # adding 0.0 turns the -0.0 of negative inputs into 0.0; NaN stays NaN
        mask = self._mask = np.greater(z, 0, out=scratch(self, "mask", z.shape, z.dtype))
        np.multiply(z, mask, out=out)
        out += 0.0

    def _derivative(self, delta: Array, out: Array) -> None:
        np.multiply(delta, self._mask, out=out)


class LeakyReLU(Activation):
    """Leaky rectifier, ``a = z`` for z > 0 and ``negative_slope * z`` otherwise.

    Parameters
    ----------
    negative_slope : float
        The slope for negative inputs, ``0 <= negative_slope < 1``.

    Notes
    -----
    σ'(z) = 1 for z > 0, ``negative_slope`` otherwise: the gradient never dies.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import LeakyReLU
    >>> LeakyReLU(0.1).forward(np.array([[-1.0, 2.0]]))
    array([[-0.1,  2. ]])
    """

    def __init__(self, negative_slope: Annotated[float, Field(ge=0, lt=1)] = 0.01) -> None:
        self.negative_slope = negative_slope

    def _activate(self, z: Array, out: Array) -> None:
        positive = self._positive = np.greater(z, 0, out=scratch(self, "mask", z.shape, bool))
        np.multiply(z, self.negative_slope, out=out)
        np.copyto(out, z, where=positive)  # (the local: predict runs in several threads)

    def _derivative(self, delta: Array, out: Array) -> None:
        np.multiply(delta, self.negative_slope, out=out)
        np.copyto(out, delta, where=self._positive)


class Sigmoid(Activation):
    """Logistic sigmoid, ``a = 1 / (1 + exp(-z))``: the seed's σ.

    Notes
    -----
    σ'(z) = a (1 - a). Computed as ``e/(1+e)`` with ``e = exp(-|z|)``, so the
    exponential never overflows and small probabilities keep their relative precision.
    With ``BinaryCrossEntropy`` it is a canonical pair: the output error is
    ``(a - y)/m``.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import Sigmoid
    >>> Sigmoid().forward(np.array([[0.0, 1e4, -1e4]]))
    array([[0.5, 1. , 0. ]])
    """

    def _activate(self, z: Array, out: Array) -> None:
        tmp = scratch(self, "tmp", z.shape, z.dtype)
        self._a = sigmoid(z, out, tmp, scratch(self, "mask", z.shape, np.bool_))

    @staticmethod
    def _apply(z: Array, out: Array) -> Array:
        """σ(z) into ``out`` (which may be ``z``), keeping nothing: prediction's form."""
        return sigmoid(z, out, np.empty_like(out), np.empty(out.shape, np.bool_))

    def _derivative(self, delta: Array, out: Array) -> None:
        a = self._a
        np.subtract(1, a, out=out)
        out *= a
        out *= delta


class Tanh(Activation):
    """Hyperbolic tangent, ``a = tanh(z)``.

    Notes
    -----
    σ'(z) = 1 - a².

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import Tanh
    >>> Tanh().forward(np.array([[0.0, 1e4]]))
    array([[0., 1.]])
    """

    def _activate(self, z: Array, out: Array) -> None:
        np.tanh(z, out=out)
        self._a = out

    def _derivative(self, delta: Array, out: Array) -> None:
        a = self._a
        np.multiply(a, a, out=out)
        np.subtract(1, out, out=out)
        out *= delta


class Softmax(Activation):
    """Softmax over the features of each row, ``a_j = exp(z_j) / Σ_k exp(z_k)``.

    Notes
    -----
    Not element-wise: ``backward`` applies the Jacobian, ``δ_z = a ⊙ (δ_a - Σ_j δ_a,j
    a_j)``, which is the general form of eq. 3-I's ``∇_a C ⊙ σ'(z)``. The row maximum
    is subtracted first, so no exponential overflows. With ``CategoricalCrossEntropy``
    it is a canonical pair: the output error is ``(a - y)/m``.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import Softmax
    >>> Softmax().forward(np.array([[0.0, 0.0], [1e4, -1e4]]))
    array([[0.5, 0.5],
           [1. , 0. ]])
    """

    def _activate(self, z: Array, out: Array) -> None:
        if z.ndim != 2:  # (over the features of each row: rows are needed)
            raise ValueError(f"{self!r} expected input of shape (m, n), got shape {z.shape}")
        self._a = softmax(z, out)

    @staticmethod
    def _apply(z: Array, out: Array) -> Array:
        """softmax(z) into ``out`` (which may be ``z``), keeping nothing."""
        return softmax(z, out)

    def _derivative(self, delta: Array, out: Array) -> None:
        a = self._a
        np.multiply(delta, a, out=out)
        dot = out.sum(axis=1, keepdims=True)
        np.subtract(delta, dot, out=out)
        out *= a


class Exp(Activation):
    """Exponential, ``a = exp(z)``: the log link of Poisson regression.

    Notes
    -----
    σ'(z) = a. Inputs above ``log(max float)`` are clipped there, so the output is the
    largest finite number instead of an overflow. With ``PoissonLoss`` it is a canonical
    pair: the output error is ``(a - y)/m``.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import Exp
    >>> Exp().forward(np.array([[0.0, 1.0]]))
    array([[1.        , 2.71828183]])
    """

    def _activate(self, z: Array, out: Array) -> None:
        self._a = exp_clipped(z, out)

    @staticmethod
    def _apply(z: Array, out: Array) -> Array:
        """exp(z), clipped, into ``out`` (which may be ``z``), keeping nothing."""
        return exp_clipped(z, out)

    def _derivative(self, delta: Array, out: Array) -> None:
        np.multiply(delta, self._a, out=out)
