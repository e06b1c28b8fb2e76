"""The loss contract: a batch-mean cost C and its gradient ∇_a C (eq. 3-I's first factor)."""

from __future__ import annotations

import contextlib
import contextvars
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .._configurable import Configurable
from ..layers.base import Array, Layer


class Loss(Configurable, register=False):
    """Base class of losses: ``C = Σ_x s_x C_x / Σ_x s_x`` over a batch.

    A subclass defines the cost of one example, ``per_example(a, y)`` (shape ``(m,)``),
    and its gradient ``per_example_grad(a, y) = ∂C_x/∂a`` (shape ``(m, k)``); the base
    class turns them into the batch mean ``value`` and its gradient ``grad``, with
    sample weights ``s`` (uniform when ``None``). A batch whose weights are all zero has
    ``value == 0`` and a zero gradient: it carries no information, and is not an error.

    A loss whose ``link`` is set forms a *canonical pair* with that output activation:
    ``δ^L = (a - y) s / Σ s``, and the cost can be computed from the logits ``z``
    (``value_from_logits``, ``delta_from_logits``), exactly and without overflow.

    Shape
    -----
    ``a`` and ``y``: ``(m, k)``; a 1-d ``y`` is accepted when ``k == 1``.
    ``sample_weight``: ``(m,)``.

    Notes
    -----
    ``grad`` is ∇_a C including the 1/m (or ``s/Σs``), the first factor of eq. 3-I; so
    parameter gradients come out as batch means and plain SGD is eqs. 2-5/2-6.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.losses import Loss
    >>> class AbsoluteError(Loss):
    ...     def per_example(self, a, y):
    ...         return np.abs(a - y).sum(axis=1)
    ...     def per_example_grad(self, a, y):
    ...         return np.sign(a - y)
    >>> AbsoluteError().value(np.array([[1.0], [3.0]]), np.array([0.0, 0.0]))
    2.0
    """

    _kind = "loss"
    _hooks = ("per_example", "per_example_grad")

    #: The output activation this loss pairs with canonically (``None``: no fused form).
    link: type[Layer] | None = None

    def has_fused_form(self) -> bool:
        """Whether the logits path (``value_from_logits``, ``delta_from_logits``) computes
        this loss: a ``link`` is set, and the fused δ comes from the same class as the
        cost (``per_example``, ``per_example_grad``, ``per_example_from_logits``,
        ``value``, ``grad``), or from a subclass of it. A subclass of a built-in loss that
        overrides the cost but not the δ (``link_output``, ``delta_from_logits``) is
        therefore trained by the general path, ``∇_a C ⊙ σ'(z)``, and never silently with
        its parent's δ; one that only wraps ``value_from_logits`` (to log, say) keeps the
        fused path. (Write the cost as ``per_example``, on the outputs, for any loss: the
        general path trains by it; ``per_example_from_logits`` is a stable form of the
        same cost, and ``check_loss`` compares the two.)
        """
        if self.link is None:
            return False
        cls = type(self)
        found = _FUSED.get(cls)
        if found is None:
            found = _FUSED[cls] = _fused(cls)
        return found

    # ---------------------------------------------------------------- subclass API
    def per_example(self, a: Array, y: Array) -> Array:
        """The cost ``C_x`` of each example, shape ``(m,)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement per_example()")

    def per_example_grad(self, a: Array, y: Array) -> Array:
        """``∂C_x/∂a`` for each example, shape ``(m, k)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement per_example_grad()")

    def per_example_from_logits(self, z: Array, y: Array) -> Array:
        """``C_x`` computed from the logits of the canonical link (canonical pairs)."""
        raise NotImplementedError(f"{type(self).__name__} has no canonical link")

    def link_output(self, z: Array, out: Array) -> Array:
        """Write the canonical link's output ``a = σ(z)`` into ``out``."""
        raise NotImplementedError(f"{type(self).__name__} has no canonical link")

    # ---------------------------------------------------------------- public API
    def value(self, a: Array, y: Array, sample_weight: Array | None = None) -> float:
        """The batch mean cost (weighted mean with ``sample_weight``)."""
        a, y = self._check(a, y)
        with np.errstate(over="ignore"):  # an infinite cost is the honest value
            return _mean(self, "per_example", self.per_example(a, y), len(a), sample_weight)

    def grad(self, a: Array, y: Array, sample_weight: Array | None = None) -> Array:
        """∇_a C of the batch mean, shape of ``a`` (the first factor of eq. 3-I)."""
        a, y = self._check(a, y)
        g = np.asarray(self.per_example_grad(a, y), dtype=a.dtype)
        if np.may_share_memory(g, a) or np.may_share_memory(g, y):
            g = g.copy()  # (a per_example_grad returning a itself: scaled below, in place)
        return _scale_rows(self, g, sample_weight)

    def value_from_logits(self, z: Array, y: Array, sample_weight: Array | None = None) -> float:
        """The batch mean cost of ``link(z)``, computed stably from the logits ``z``."""
        z, y = self._check(z, y)
        with np.errstate(over="ignore"):  # an infinite cost is the honest value
            per_example = self.per_example_from_logits(z, y)
            return _mean(self, "per_example_from_logits", per_example, len(z), sample_weight)

    def delta_from_logits(
        self,
        z: Array,
        y: Array,
        sample_weight: Array | None = None,
        out: Array | None = None,
    ) -> Array:
        """The fused output error ``δ^L = (link(z) - y) s / Σ s`` of a canonical pair."""
        cls = type(self)
        if self.link is not None and not self.has_fused_form():
            raise NotImplementedError(_not_fused(cls))
        z, y = self._check(z, y)
        out = np.empty_like(z) if out is None else out
        with np.errstate(over="ignore"):
            self.link_output(z, out)
        self._link_term(out, y)
        out -= y
        return _scale_rows(self, out, sample_weight)

    def _link_term(self, a: Array, y: Array) -> None:
        """Turn ``a = link(z)`` into the first term of the fused δ, in place (as it is,
        unless a loss's cost from the logits says otherwise)."""

    def _check(self, a: Array, y: Array) -> tuple[Array, Array]:
        a = np.asarray(a)
        y = np.asarray(y)
        if a.dtype.kind in "biu":  # integer outputs: their gradient is not an integer
            a = a.astype(np.float64)
        if a.ndim != 2:
            raise ValueError(f"{self!r} expected a 2-d output a of shape (m, k), got {a.shape}")
        if y.ndim == 1 and a.shape[1] == 1:
            y = y.reshape(-1, 1)
        if y.shape != a.shape:
            raise ValueError(f"{self!r} expected y of shape {a.shape} like a, got {y.shape}")
        if y.dtype != a.dtype:
            y = y.astype(a.dtype)
        return a, y


_DELTA_METHODS = ("link_output", "delta_from_logits", "_link_term")
_COST_METHODS = ("per_example_from_logits", "per_example", "per_example_grad", "value", "grad")
#: has_fused_form per class (it depends on the class's methods only)
_FUSED: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


def _fused(cls: type) -> bool:
    if Loss in (_owner(cls, "per_example_from_logits"), _owner(cls, "link_output")):
        return False  # no logits form written
    # (value_from_logits is the public wrapper of the logits form, which a subclass may
    # wrap again, to log, say; value and grad may carry a cost of their own, a Huber
    # loss written there: they count)
    return issubclass(_deepest(cls, _DELTA_METHODS), _deepest(cls, _COST_METHODS))


def _not_fused(cls: type) -> str:
    """Why ``delta_from_logits`` is not the gradient of ``cls``'s cost."""
    missing = [m for m in ("per_example_from_logits", "link_output") if _owner(cls, m) is Loss]
    if missing:
        return (
            f"{cls.__name__} writes no {' and no '.join(missing)}, so it is no canonical "
            "pair with its link and has no fused output error: take grad(a, y) through the "
            "link layer's backward instead (Sequential does so for this loss)"
        )
    cost, delta = _deepest(cls, _COST_METHODS), _deepest(cls, _DELTA_METHODS)
    return (
        f"{cls.__name__}'s cost comes from {cost.__name__} but its fused output error "
        f"(link_output, delta_from_logits) from {delta.__name__}, so delta_from_logits "
        "would not be the gradient of that cost: take grad(a, y) through the link layer's "
        "backward instead (Sequential does so for this loss), or override delta_from_logits"
    )


def _owner(cls: type, method: str) -> type:
    """The class in ``cls``'s MRO that defines ``method``."""
    return next(k for k in cls.__mro__ if method in vars(k))


def _deepest(cls: type, methods: tuple[str, ...]) -> type:
    """The most derived class of ``cls``'s MRO that defines one of ``methods``."""
    return next(k for k in cls.__mro__ if any(m in vars(k) for m in methods))


def _mean(
    loss: Loss, method: str, per_example: Array, m: int, sample_weight: Array | None
) -> float:
    """The (weighted) mean of the costs ``per_example`` that ``loss.method`` returned."""
    if np.shape(per_example) != (m,):  # (one comparison per batch: no pass over the data)
        raise ValueError(
            f"{type(loss).__name__}.{method} returned costs of shape "
            f"{np.shape(per_example)}, expected (m,) = ({m},): one cost per example, "
            "summed over the outputs (e.g. .sum(axis=1))"
        )
    if sample_weight is None:
        return float(np.mean(per_example)) if per_example.size else 0.0
    w, total = _weights(loss, sample_weight, m)
    if total == 0.0:
        return 0.0
    return float(np.dot(w, per_example)) / total


#: The batch of sample weights a training loop is on, checked with all of them once, at
#: the loop's start: the losses take that very array as it is (its batches pay no
#: check). Any other array, one a user's loss derives from it (-w, w[:1]) too, is checked.
_CHECKED_BATCH: contextvars.ContextVar[Array | None] = contextvars.ContextVar(
    "_CHECKED_BATCH", default=None
)


@contextlib.contextmanager
def checked_batches() -> Iterator[Callable[[Array | None], Any]]:
    """Within: ``mark(weights)`` makes ``weights`` the batch taken as checked."""
    token = _CHECKED_BATCH.set(None)
    try:
        yield _CHECKED_BATCH.set
    finally:
        _CHECKED_BATCH.reset(token)


def _weights(loss: Loss, sample_weight: Array, m: int) -> tuple[Array, float]:
    """``sample_weight`` as an array, and its sum; refused unless it holds one finite,
    non-negative weight per row (a negative one made a squared error negative)."""
    if sample_weight is _CHECKED_BATCH.get():
        return sample_weight, float(sample_weight.sum())
    w = np.asarray(sample_weight)
    if w.shape != (m,):
        raise ValueError(
            f"{loss!r} expected sample_weight of shape ({m},), one weight per row, got "
            f"{'a ' + type(sample_weight).__name__ if w.ndim == 0 else 'shape ' + str(w.shape)}"
        )
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{loss!r} expected sample_weight of numbers, got dtype {w.dtype}")
    with np.errstate(over="ignore"):
        total = float(w.sum())
    if not np.isfinite(total) or (m and w.min() < 0):  # (an inf or NaN makes the sum one)
        finite = bool(np.isfinite(w).all())
        if finite and w.min() >= 0:  # finite weights whose sum overflows: their ratios
            w = w / w.max()  # are what counts (a fresh array: the caller's stays)
            return w, float(w.sum())
        raise ValueError(
            f"{loss!r} expected sample_weight of finite, non-negative numbers, got "
            f"{'negative ones' if finite else 'NaN or infinite ones'}"
        )
    return w, total


def _scale_rows(loss: Loss, g: Array, sample_weight: Array | None) -> Array:
    """Multiply row x of ``g`` by ``1/m`` (or ``s_x/Σs``), in place."""
    if sample_weight is None:
        g *= 1.0 / max(g.shape[0], 1)
        return g
    w, total = _weights(loss, sample_weight, g.shape[0])
    if total == 0.0:
        g[...] = 0.0
        return g
    g *= (w / total).astype(g.dtype, copy=False)[:, None]
    return g
