"""The layer contract: ``forward`` computes a layer's output, ``backward`` sends δ back."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .._configurable import Configurable

Array = NDArray[Any]


class Layer(Configurable, register=False):
    """Base class of every layer: one step of the forward pass and of the backward pass.

    A layer maps its input ``x`` of shape ``(m, n_in)`` to an output of shape
    ``(m, n_out)``. ``backward(delta)`` receives ∂C/∂(output) and returns ∂C/∂(input),
    writing the gradient of every parameter into ``grads`` on the way (overwriting,
    never accumulating). Subclasses store their constructor arguments as attributes of
    the same name (the scikit-learn convention), so a layer can be copied, cloned and
    described from its arguments.

    Parameters
    ----------
    (none; subclasses define their own)

    Shape
    -----
    - input ``x``: ``(m, n_in)``, batch first.
    - output: ``(m, n_out)`` where ``n_out`` is what ``build`` returns.

    Notes
    -----
    ``backward`` generalizes the seed's eq. 3-II: a parameter-free activation multiplies
    the incoming δ by σ'(z) (the ``⊙ σ'(z)`` factor), a ``Dense`` layer produces eqs.
    3-III/3-IV and the ``(w)^T δ`` factor. ``params`` and ``grads`` are dicts of *live*
    arrays with the same keys; optimizers update ``params`` in place.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.layers import Layer
    >>> class Double(Layer):
    ...     def forward(self, x, training=False):
    ...         return 2 * x
    ...     def backward(self, delta):
    ...         return 2 * delta
    >>> layer = Double()
    >>> layer.build(3, np.random.default_rng(0), np.float64)
    3
    >>> layer.forward(np.ones((1, 3)))
    array([[2., 2., 2.]])
    >>> layer.params
    {}
    """

    _kind = "layer"
    _hooks = ("build", "forward", "backward")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:
            cls.build = _recording_width(cls.__dict__["build"])  # type: ignore[method-assign]

    #: Parameter names that the estimators' L2 penalty ``alpha`` applies to.
    penalized: tuple[str, ...] = ()

    #: Attributes holding the layer's state: float arrays, made by ``build``, that are
    #: not trained but belong to the model (running statistics). They are saved and
    #: loaded with it, and early stopping restores those of the best epoch.
    state_attributes: tuple[str, ...] = ()

    #: Attributes that only live between a forward and a backward pass (caches of the
    #: last batch); they are dropped when the layer is pickled or copied.
    _transient: tuple[str, ...] = ()

    params: dict[str, Array]
    grads: dict[str, Array]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in ("_workspace", *self._transient):
            state.pop(name, None)
        return state

    def __getattr__(self, name: str) -> Any:
        # A layer that never set ``params``/``grads`` (a parameter-free layer, or a
        # user layer before ``build``) has empty ones; they are created on first use
        # so that every instance owns its own dicts.
        if name in ("params", "grads"):
            value: dict[str, Array] = {}
            self.__dict__[name] = value
            return value
        cls = type(self)
        if name in cls._transient and cls.__module__.startswith("layerkit.layers."):
            # what a built-in layer's forward keeps for its backward
            raise AttributeError(
                f"{cls.__name__} has no {name} yet: backward reads what forward kept of "
                "its batch, so call forward(x, training) before backward"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def build(self, n_in: int, rng: np.random.Generator, dtype: DTypeLike) -> int:
        """Allocate parameters for ``n_in`` input features and return the output width.

        The default (for parameter-free layers) allocates nothing and returns ``n_in``.
        """
        return n_in

    def forward(self, x: Array, training: bool = False) -> Array:
        """Return the layer's output for the batch ``x``."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def backward(self, delta: Array) -> Array:
        """Take ∂C/∂(output), write ``grads``, return ∂C/∂(input)."""
        raise NotImplementedError(f"{type(self).__name__} must implement backward()")


def not_built(layer: Layer) -> RuntimeError:
    """The error for a layer with parameters used before ``build``."""
    return RuntimeError(
        f"{layer!r} is not built: call build(n_in, rng, dtype) first, or use it in a "
        "Sequential (whose build builds every layer)"
    )


def _recording_width(build: Any) -> Any:
    """``build`` that also records the input width it was given (``_n_in``), however it
    is called (``Sequential.build`` or directly), for ``check_layer``'s default input,
    and that takes a seed (an int, None, a ``RandomState``) for its generator as
    ``random_state`` does: ``layer.build(4, 0, dtype)`` draws from ``default_rng(0)``."""
    if getattr(build, "_records_width", False):
        return build
    names = list(inspect.signature(build).parameters)
    width_name = names[1] if len(names) > 1 else None  # (after self, however it is named)
    rng_name = names[2] if len(names) > 2 else None

    @functools.wraps(build)
    def recorded(self: Layer, *args: Any, **kwargs: Any) -> Any:
        if len(args) > 1 and not isinstance(args[1], np.random.Generator):
            args = (args[0], _generator(args[1]), *args[2:])
        elif rng_name in kwargs and not isinstance(kwargs[rng_name], np.random.Generator):
            kwargs[rng_name] = _generator(kwargs[rng_name])
        n_out = build(self, *args, **kwargs)
        n_in = args[0] if args else kwargs.get(width_name) if width_name else None
        if isinstance(n_in, (int, np.integer)):
            self.__dict__["_n_in"] = int(n_in)
        return n_out

    recorded._records_width = True  # type: ignore[attr-defined]
    return recorded


def _generator(seed: Any) -> np.random.Generator:
    from .._random import as_generator

    try:
        return as_generator(seed)
    except TypeError:
        raise TypeError(
            "build(n_in, rng, dtype) expected rng to be a numpy Generator (or a seed: an "
            f"int, None or a RandomState), got {type(seed).__name__}"
        ) from None
