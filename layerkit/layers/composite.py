"""Composite: a layer made of layers (a residual block, a gated block)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .base import Array, Layer


class Composite(Layer):
    """A layer that runs layers of its own: ``inner``, a list of layer objects, becomes
    a network ``self.net`` at ``build``, and ``forward``/``backward`` run through it (eq.
    3-II, layer by layer inside the block). Subclass it and change what goes around
    ``self.net``; a residual block, ``x + f(x)``, sends δ both ways and sums:

    ``forward``: ``x + self.net.forward(x, training)``;
    ``backward``: ``delta + self.net.backward(delta)``.

    What a layer holding layers needs besides comes with it: ``params`` and ``grads``
    are the inner network's (keys ``"0.W"``, ...), the inner layers' state (a
    BatchNorm's running statistics) is this layer's own, so model files and early
    stopping keep it, the estimators' ``alpha`` reaches the inner weights
    (``penalized``), and ``get_params``/``set_params`` reach the inner layers
    (``layers__1__inner__0__units``). A subclass with arguments of its own takes
    ``inner`` first and calls ``super().__init__(inner)``.

    Parameters
    ----------
    inner : list of Layer
        The layers this one runs, in order; each object once (a layer object both
        here and elsewhere in the network is refused).

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import Composite, Dense, Tanh
    >>> class Residual(Composite, register=False):
    ...     def forward(self, x, training=False):
    ...         return x + self.net.forward(x, training)
    ...     def backward(self, delta):
    ...         return delta + self.net.backward(delta)
    >>> block = Residual([Dense(8), Tanh(), Dense(4)])
    >>> block.build(4, np.random.default_rng(0), np.float64)
    4
    >>> sorted(block.params)
    ['0.W', '0.b', '2.W', '2.b']
    """

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner

    @property
    def penalized(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(
            f"{i}.{name}" for i, layer in enumerate(self.inner or ()) for name in layer.penalized
        )

    def build(self, n_in: int, rng: np.random.Generator, dtype: DTypeLike = np.float64) -> int:
        from ..network import Sequential

        if not isinstance(self.inner, (list, tuple)) or not self.inner:
            raise TypeError(
                f"{type(self).__name__}: inner must be a non-empty list of layer objects, "
                f"got {self.inner!r}"
            )
        try:
            net = Sequential([*self.inner])
        except (TypeError, ValueError) as error:  # named as the user wrote it: inner
            text = str(error).removeprefix("Sequential").removeprefix(":").lstrip()
            raise type(error)(f"{type(self).__name__}: inner: {text}") from None
        self.net = net.build(n_in, random_state=rng, dtype=dtype)
        # the inner layers' state under names of this layer's own, looked up in the inner
        # layers at each use (one that puts a new array there, rather than updating its
        # own, is followed), and set there
        keys = {f"inner_{k.replace('.', '_')}": k for k in self.net.state}
        self.__dict__["_inner_state"] = keys
        self.state_attributes = tuple(keys)
        return int(self.net.n_out_)

    def __getattr__(self, name: str) -> Any:
        keys = self.__dict__.get("_inner_state")
        if keys is not None and name in keys:
            return self.net.state[keys[name]]
        return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        keys = self.__dict__.get("_inner_state")
        if keys is not None and name in keys:
            self.net._set_state({keys[name]: value})
        else:
            super().__setattr__(name, value)

    @property
    def params(self) -> dict[str, Array]:  # type: ignore[override]
        return self.net.params if "net" in self.__dict__ else {}

    @property
    def grads(self) -> dict[str, Array]:  # type: ignore[override]
        return self.net.grads if "net" in self.__dict__ else {}

    def forward(self, x: Array, training: bool = False) -> Array:
        return self.net.forward(x, training)

    def backward(self, delta: Array) -> Array:
        return self.net.backward(delta)
