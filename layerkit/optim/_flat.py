"""Whole-buffer updates over a network's flat parameter buffer (``Sequential.flatten``).

One vectorized operation over every parameter at once replaces a loop of small ones
per parameter; ``axpy`` (y += a x) is BLAS's when numpy's BLAS can be reached
(``_blas``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._blas import axpy

__all__ = ["axpy", "flat_of", "flat_slot", "mirror"]


def flat_of(arrays: Any) -> Any:
    """The contiguous buffer behind a ``FlatDict``, or None."""
    return getattr(arrays, "flat", None)


def mirror(params: Any, buffer: Any) -> dict[str, Any]:
    """Views of ``buffer`` laid out like ``params`` (views of ``params.flat``)."""
    base = params.flat.__array_interface__["data"][0]
    itemsize = params.flat.itemsize
    views = {}
    for name, p in params.items():
        start = (p.__array_interface__["data"][0] - base) // itemsize
        views[name] = buffer[start : start + p.size].reshape(p.shape)
    return views


class SlotViews(dict):
    """An optimizer's per-parameter state of one kind, as views of a flat buffer that
    the one-pass update reads: an array assigned to a name is copied into that name's
    view (``state["m"]["0.W"] = zeros`` resets it), where replacing the view would leave
    the update on the old values and the assignment without effect, silently. Removing
    entries (``clear``, ``pop``, ``del``) marks the dict ``changed``: the next step makes
    a new buffer from what is left (zeros for the rest, as for a fresh state)."""

    changed = False

    def __setitem__(self, name: Any, value: Any) -> None:
        view = self.get(name)
        if view is None:  # (a new name, or a copy being filled: as any dict)
            super().__setitem__(name, value)
            return
        value = np.asarray(value)
        if value.shape != view.shape:
            raise ValueError(
                f"the state array for {name!r} has shape {view.shape}, its parameter's; "
                f"got an array of shape {value.shape}"
            )
        view[...] = value

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, value in dict(*args, **kwargs).items():
            self[name] = value

    def __ior__(self, other: Any) -> SlotViews:  # type: ignore[misc]
        self.update(other)
        return self

    def setdefault(self, name: Any, default: Any = None) -> Any:
        if name not in self:
            self[name] = default
        return self[name]

    def __delitem__(self, name: Any) -> None:
        super().__delitem__(name)
        self.changed = True

    def pop(self, *args: Any) -> Any:
        self.changed = True
        return super().pop(*args)

    def popitem(self) -> Any:
        self.changed = True
        return super().popitem()

    def clear(self) -> None:
        super().clear()
        self.changed = True


def flat_slot(opt: Any, kind: str, params: Any) -> Any:
    """A flat state buffer for ``kind`` whose per-parameter views are ``opt.state[kind]``.

    Existing per-parameter state (e.g. loaded from a file) is copied in the first time.
    """
    cache = opt.__dict__.setdefault("_scratch", {})
    key = ("flat", kind)
    entry = cache.get(key)
    slots = opt.state.get(kind)
    flat = params.flat
    if entry is not None and entry[1] is slots and entry[2] is flat and not slots.changed:
        return entry[0]  # (the same buffer of the same network: a shape could be another's)
    buffer = np.zeros_like(flat)
    views = SlotViews(mirror(params, buffer))
    for name, old in (slots or {}).items():
        if name not in views:
            continue
        if np.shape(old) != views[name].shape:  # as the per-parameter path refuses it
            raise opt._stale_state(kind, name, np.shape(old), views[name].shape)
        views[name][...] = old
    opt.state[kind] = views
    cache[key] = (buffer, views, flat)
    return buffer
