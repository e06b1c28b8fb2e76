"""The optimizer contract: turn gradients into in-place parameter updates."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._configurable import Configurable
from ..layers.base import Array


class Optimizer(Configurable, register=False):
    """Base class of optimizers: ``step(params, grads)`` updates ``params`` in place.

    ``params`` and ``grads`` are flat dicts ``{name: array}`` with the same keys (for
    a network, ``"0.W"``, ``"0.b"``, ...). An optimizer never knows layer types. Its
    state (velocities, moments, step count, current learning rate) lives in
    ``self.state``, keyed by the same parameter names, so it can be saved and restored.

    Notes
    -----
    Gradients arrive as batch means (the loss carries the 1/m), so plain gradient
    descent ``w -= η g`` is the seed's eqs. 2-5 and 2-6.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.optim import Optimizer
    >>> class SignDescent(Optimizer):
    ...     def __init__(self, learning_rate=0.1):
    ...         self.learning_rate = learning_rate
    ...     def step(self, params, grads):
    ...         for name, p in params.items():
    ...             p -= self.current_learning_rate * np.sign(grads[name])
    >>> w = {"w": np.array([1.0, -1.0])}
    >>> SignDescent().step(w, {"w": np.array([3.0, -0.5])})
    >>> w["w"]
    array([ 0.9, -0.9])
    """

    _kind = "optimizer"
    _hooks = ("step",)

    learning_rate: float

    @property
    def state(self) -> dict[str, Any]:
        """Everything the optimizer has learned, keyed by parameter name."""
        return self.__dict__.setdefault("_state", {})

    @state.setter
    def state(self, value: dict[str, Any]) -> None:
        self.__dict__["_state"] = value

    def _state_dict(self) -> dict[str, Any]:
        state = self.__dict__.get("_state")
        return {} if state is None else state

    @property
    def current_learning_rate(self) -> float:
        """The step size in use: ``learning_rate`` until a schedule changes it."""
        if "lr" in self.state:
            return float(self.state["lr"])
        if "learning_rate" not in self.__dict__ and not hasattr(type(self), "learning_rate"):
            raise AttributeError(
                f"{type(self).__name__} has no learning_rate: store the step size as "
                "self.learning_rate in __init__ (schedules and checkers read it)"
            )
        return float(self.learning_rate)

    @current_learning_rate.setter
    def current_learning_rate(self, value: float) -> None:
        self.state["lr"] = float(value)

    def reset(self) -> None:
        """Forget all state, as if the optimizer had never stepped."""
        self.state = {}
        self.__dict__.pop("_scratch", None)

    def step(self, params: dict[str, Array], grads: dict[str, Array]) -> None:
        """Update every array of ``params`` in place from ``grads``."""
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    # ------------------------------------------------------------------ helpers
    def _clipped(self, grads: Any) -> Any:
        """``grads``, scaled together to a global norm of at most ``clip_norm`` (as
        PyTorch's ``clip_grad_norm_``): ``g ← g · clip_norm / ‖g‖`` when ``‖g‖``, over
        every array, exceeds it; the same dict otherwise (and for a norm that is not
        finite: the loss shows that divergence). Never changes the arrays given."""
        limit = getattr(self, "clip_norm", None)
        if not limit:
            return grads
        flat = getattr(grads, "flat", None)
        arrays = [flat] if flat is not None else list(grads.values())
        squares = sum(float(np.vdot(g, g)) for g in arrays)
        if not math.isfinite(squares):  # (float32 squares overflow from a norm of 1.8e19)
            squares = sum(
                float(np.einsum("i,i->", g.ravel(), g.ravel(), dtype=np.float64)) for g in arrays
            )
        norm = math.sqrt(squares) if math.isfinite(squares) else math.inf
        if not math.isfinite(norm) or norm <= limit:
            return grads
        factor = limit / norm
        if flat is not None:
            from ..network import FlatDict
            from ._flat import mirror

            scaled = self._tmp("clipped", flat)
            np.multiply(flat, factor, out=scaled)
            return FlatDict(mirror(grads, scaled), flat=scaled)
        return {
            name: np.multiply(g, factor, out=self._tmp(f"clipped:{name}", g))
            for name, g in grads.items()
        }

    def _check_pairs(self, params: Any, grads: Any) -> None:
        """Refuse ``grads`` that are not one array per parameter, of its shape: the
        whole-buffer updates would read past a smaller gradient's memory."""
        flats = (getattr(params, "flat", None), getattr(grads, "flat", None))
        scratch = self.__dict__.setdefault("_scratch", {})
        known = scratch.get("checked_flats")
        if known is not None and known[0] is flats[0] and known[1] is flats[1]:
            return  # (one network's buffers, checked at the first step: laid out alike)
        where = f"{type(self).__name__}.step"
        for what, arrays in (("params", params), ("grads", grads)):
            if not isinstance(arrays, Mapping):
                raise TypeError(
                    f"{where} expected {what} as a dict of arrays by name (a network's "
                    f"net.{what}), got {type(arrays).__name__}"
                )
        if params.keys() != grads.keys():
            missing = [k for k in params if k not in grads]
            extra = [k for k in grads if k not in params]
            raise ValueError(
                f"{where}: grads must have the keys of params; "
                + (f"missing {missing}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"not in params: {extra}" if extra else "")
                + " (pass a network's grads with its own params)"
            )
        for name, p in params.items():
            g = grads[name]
            if not isinstance(p, np.ndarray) or not p.flags.writeable:
                raise TypeError(
                    f"{where}: params[{name!r}] must be a writable numpy array (updated in "
                    f"place), got {_described(p)}"
                )
            if not isinstance(g, np.ndarray) or g.shape != p.shape:
                raise ValueError(
                    f"{where}: grads[{name!r}] must be an array of params[{name!r}]'s "
                    f"shape {p.shape}, got {_described(g)} (pass a network's grads with "
                    "its own params)"
                )
        if flats[0] is not None and flats[1] is not None:
            scratch["checked_flats"] = flats

    def _slot(self, kind: str, name: str, like: Array) -> Array:
        """The state array ``state[kind][name]``, created as zeros shaped like ``like``."""
        slots = self.state.setdefault(kind, {})
        arr = slots.get(name)
        if arr is None:
            arr = slots[name] = np.zeros_like(like)
        elif arr.shape != like.shape:
            raise self._stale_state(kind, name, arr.shape, like.shape)
        return arr

    def _stale_state(self, kind: str, name: str, held: Any, now: Any) -> ValueError:
        return ValueError(
            f"{self!r} holds state {kind}[{name!r}] of shape {held}, but the parameter now "
            f"has shape {now}: it was stepping another network (or this one before a "
            "rebuild); call reset() first, or give each network an optimizer of its own"
        )

    def _tmp(self, name: str, like: Array) -> Array:
        """Scratch space shaped like a parameter (not part of the saved state)."""
        scratch = self.__dict__.setdefault("_scratch", {})
        buf = scratch.get(name)
        if buf is None or buf.shape != like.shape or buf.dtype != like.dtype:
            buf = scratch[name] = np.empty_like(like)
        return buf

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_scratch", None)
        return state


def _described(value: Any) -> str:
    if isinstance(value, np.ndarray):
        what = "a read-only array" if not value.flags.writeable else "an array"
        return f"{what} of shape {value.shape}"
    return type(value).__name__
