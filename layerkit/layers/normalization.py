"""Batch normalization: each feature standardized over the batch, then scaled and shifted."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from numpy.typing import DTypeLike
from pydantic import Field

from .base import Array, Layer, not_built


class BatchNorm(Layer):
    """Batch normalization (Ioffe & Szegedy, 2015) of every input feature.

    Parameters
    ----------
    momentum : float
        How far each training batch moves the running statistics, in ``(0, 1]``:
        ``running ← (1 - momentum) running + momentum · batch`` (PyTorch's convention;
        Keras's ``momentum=0.99`` is ``momentum=0.01`` here).
    epsilon : float
        Added to the variance before its square root, > 0.

    Shape
    -----
    Output has the shape of the input. Parameters ``gamma`` (ones) and ``beta`` (zeros),
    one per feature; state ``running_mean`` (zeros) and ``running_var`` (ones), saved
    with the model.

    Notes
    -----
    In training, with ``μ`` and ``σ²`` the batch's mean and (biased) variance of each
    feature: ``x̂ = (x - μ) / √(σ² + ε)`` and ``a = γ x̂ + β``. Backward, over the m rows
    of the batch (eq. 3-II through the batch statistics):
    ``∂C/∂β = Σ δ``, ``∂C/∂γ = Σ δ x̂`` and
    ``∂C/∂x = γ / (m √(σ² + ε)) · (m δ - Σ δ - x̂ Σ δ x̂)``.
    Each training batch moves the running statistics (the running variance takes the
    unbiased ``σ² m/(m-1)``, as PyTorch's). In prediction (``training=False``) the
    running statistics replace the batch's, so each row is normalized on its own, and
    ``∂C/∂x = γ δ / √(running_var + ε)``. A training batch of one row, which has no
    variance (its x̂ would be 0 and no gradient would reach the layers before), is
    normalized with the running statistics too, and leaves them as they are (PyTorch
    refuses such a batch). The batch statistics ignore sample weights. The ``lbfgs``
    solver evaluates the network in prediction mode throughout: there the layer is a
    learned per-feature affine map of its input at running statistics lbfgs never moves
    (0 and 1 in a new network).

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import BatchNorm
    >>> layer = BatchNorm()
    >>> layer.build(2, np.random.default_rng(0), np.float64)
    2
    >>> a = layer.forward(np.array([[1.0, 10.0], [3.0, 30.0]]), training=True)
    >>> a.round(4)  # each column standardized over the batch
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> layer.running_mean  # moved by momentum 0.1 towards the batch's means
    array([0.2, 2. ])
    """

    state_attributes = ("running_mean", "running_var")
    _transient = ("_xhat", "_inv_std")

    def __init__(
        self,
        momentum: Annotated[float, Field(gt=0, le=1)] = 0.1,
        epsilon: Annotated[float, Field(gt=0)] = 1e-5,
    ) -> None:
        self.momentum = momentum
        self.epsilon = epsilon

    def build(self, n_in: int, rng: np.random.Generator, dtype: DTypeLike) -> int:
        self.params = {"gamma": np.ones(n_in, dtype), "beta": np.zeros(n_in, dtype)}
        self.grads = {"gamma": np.zeros(n_in, dtype), "beta": np.zeros(n_in, dtype)}
        self.running_mean = np.zeros(n_in, dtype)
        self.running_var = np.ones(n_in, dtype)
        return n_in

    def forward(self, x: Array, training: bool = False) -> Array:
        try:
            gamma, beta = self.params["gamma"], self.params["beta"]
        except KeyError:
            raise not_built(self) from None
        shape = getattr(x, "shape", None) or np.shape(x)
        if len(shape) != 2 or shape[1] != gamma.size:
            raise ValueError(f"{self!r} expected input of shape (m, {gamma.size}), got {shape}")
        batch = training and len(x) > 1  # (one row has no variance: see Notes)
        if batch:
            mean = x.mean(axis=0)
            var = x.var(axis=0)
            self._update_running(mean, var, len(x))
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1.0 / np.sqrt(var + self.epsilon)
        xhat = (x - mean) * inv_std
        self._xhat, self._inv_std, self._batch = xhat, inv_std, batch
        return xhat * gamma + beta

    def _update_running(self, mean: Array, var: Array, m: int) -> None:
        keep, take = 1.0 - self.momentum, self.momentum
        self.running_mean *= keep
        self.running_mean += take * mean
        self.running_var *= keep
        self.running_var += (take * m / (m - 1)) * var

    def backward(self, delta: Array) -> Array:
        xhat, inv_std = self._xhat, self._inv_std
        self.grads["beta"][...] = delta.sum(axis=0)
        self.grads["gamma"][...] = (delta * xhat).sum(axis=0)
        scaled = self.params["gamma"] * inv_std
        if not self._batch:
            return delta * scaled
        m = len(delta)
        return (scaled / m) * (m * delta - self.grads["beta"] - xhat * self.grads["gamma"])
