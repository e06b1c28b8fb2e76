"""Checks of user-written layers at the first call that shows a broken contract.

Built-in layers are trusted (and tested); for any other layer, ``Sequential`` checks
what ``forward`` and ``backward`` return, what ``grads`` holds, that its state (named in
``state_attributes``) is float arrays after ``build``, and ``EpochRunner`` that training
never finds its ``params``/``grads`` arrays replaced; each raises
``LayerContractError`` naming the layer's position and class, what was expected and
what was got. A non-finite result counts as broken only when the layer's input was
finite (otherwise the network is diverging, which the training loop reports).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._configurable import near_misses
from .exceptions import LayerContractError
from .layers import BUILT_IN

#: The built-in layers: the training loop trusts their code (no contract checks) and the
#: training and inference plans run their arithmetic on fixed buffers.
TRUSTED = BUILT_IN


def trusted(layer: Any) -> bool:
    return type(layer) in TRUSTED


def note_where(error: BaseException, position: int, layer: Any, method: str) -> None:
    """Add to ``error``, raised inside a user's layer, where it came from (its class, the
    method, its position in the network), and a hook whose name the class misspells
    (``bulid`` for ``build``): a ``KeyError: 'w'`` from a forward alone names neither.
    (Python 3.11 and later: notes are shown below the error.)"""
    add = getattr(error, "add_note", None)
    if add is None:
        return
    name = type(layer).__name__
    slips = "".join(
        f"; {name} defines {slip}(), which layerkit never calls: did you mean {hook}()?"
        for slip, hook in near_misses(type(layer))
    )
    note = f"(raised in {name}.{method}(), the layer at position {position}{slips})"
    if note not in getattr(error, "__notes__", ()):
        add(note)


def _fail(position: int, layer: Any, message: str) -> LayerContractError:
    return LayerContractError(f"{layer!r} at position {position}: {message}")


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    shape = getattr(value, "shape", None)
    return f"an array of shape {shape}" if shape is not None else f"a {type(value).__name__}"


def _finite(a: Any) -> bool:
    data = a.data if hasattr(a, "tocsr") else a
    return bool(np.isfinite(data).all())


def check_forward(position: int, layer: Any, x: Any, out: Any) -> None:
    """``forward(x)`` must return an ``(m, n_out)`` array, finite if ``x`` is."""
    width = layer.__dict__.get("_n_out")
    expected = (x.shape[0], width) if width is not None else (x.shape[0], "n_out")
    if (
        not isinstance(out, np.ndarray)
        or out.ndim != 2
        or out.shape[0] != x.shape[0]
        or (width is not None and out.shape[1] != width)
    ):
        raise _fail(
            position,
            layer,
            f"forward returned {_describe(out)}; expected an array of shape {expected}",
        )
    if not _finite(out) and _finite(x):
        raise _fail(
            position,
            layer,
            "forward returned non-finite values (NaN or infinity) for a finite input",
        )


def check_backward(position: int, layer: Any, delta: Any, dx: Any, input_shape: tuple) -> None:
    """``backward(delta)`` must return ∂C/∂x of the input's shape and fill ``grads``."""
    if not isinstance(dx, np.ndarray) or dx.shape != tuple(input_shape):
        raise _fail(
            position,
            layer,
            f"backward returned {_describe(dx)}; expected ∂C/∂x, an "
            f"array of the input's shape {tuple(input_shape)}",
        )
    finite = _finite(delta)
    if finite and not _finite(dx):
        raise _fail(position, layer, "backward returned non-finite values for a finite delta")
    check_grads(position, layer, finite)


def check_grads(
    position: int, layer: Any, finite_expected: bool = False, dtype: Any = None
) -> None:
    """``grads`` must have the keys of ``params``, each array of the same shape (and,
    at build, ``params`` and ``grads`` of the network's ``dtype``)."""
    params, grads = layer.params, layer.grads
    if dtype is not None:
        for kind, arrays in (("params", params), ("grads", grads)):
            for name, a in arrays.items():
                if not isinstance(a, np.ndarray):  # (a list's missing dtype: np.dtype(None)
                    # is float64, so the comparison below would let it through)
                    raise _fail(
                        position,
                        layer,
                        f"build() made {kind}[{name!r}] a {type(a).__name__}; make it a "
                        f"numpy array in the dtype build() receives "
                        "(np.zeros(shape, dtype=dtype))",
                    )
                if a.dtype != dtype:
                    raise _fail(
                        position,
                        layer,
                        f"build() made {kind}[{name!r}] of dtype {a.dtype} "
                        f"in a {dtype} network; make it in the dtype build() receives "
                        "(np.zeros(shape, dtype=dtype))",
                    )
    if set(grads) != set(params):
        raise _fail(
            position,
            layer,
            f"grads has keys {sorted(grads)}; expected the keys of params, {sorted(params)}",
        )
    for name, p in params.items():
        g = grads[name]
        if np.shape(g) != np.shape(p):
            raise _fail(
                position,
                layer,
                f"grads[{name!r}] has shape {np.shape(g)}; expected "
                f"the shape of params[{name!r}], {np.shape(p)}",
            )
        if finite_expected and not np.isfinite(g).all():
            raise _fail(
                position, layer, f"grads[{name!r}] holds non-finite values for a finite delta"
            )


def live_arrays(layer: Any) -> list[tuple[str, Any, Any]]:
    """``(name, params[name], grads[name])`` for each parameter: the arrays an optimizer
    is given to update, to be compared with ``check_live`` after every pass."""
    return [(k, p, layer.grads.get(k)) for k, p in layer.params.items()]


def replaced_array(layer: Any, live: list[tuple[str, Any, Any]]) -> str | None:
    """The first of ``params``/``grads`` no longer holding the memory it held (as
    ``live_arrays`` took it), as ``"grads['W']"``; None when none was replaced.

    Compared by memory, not identity: a property may hand out a fresh view of the same
    memory at each access.
    """
    params, grads = layer.params, layer.grads
    for name, p, g in live:
        for kind, held, was in (("grads", grads, g), ("params", params, p)):
            if not _same_memory(held.get(name), was):
                return f"{kind}[{name!r}]"
    return None


def _same_memory(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray):
        return False
    return (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.shape == b.shape
        and a.strides == b.strides
        and a.dtype == b.dtype
    )


def check_live(position: int, layer: Any, live: list[tuple[str, Any, Any]]) -> None:
    """``params`` and ``grads`` must still hold the memory they held before the pass.

    Optimizers update the arrays a layer held when training started; one replaced by a
    new array (``self.grads[k] = ...`` instead of ``self.grads[k][...] = ...``) would
    never be trained, silently.
    """
    which = replaced_array(layer, live)
    if which is not None:
        raise _fail(
            position,
            layer,
            f"{which} was replaced by a new array during training; write into the one it "
            f"holds ({which}[...] = ...): the optimizer updates that array, so a replaced "
            "one would never be trained",
        )


def check_penalized(position: int, layer: Any) -> None:
    """``penalized`` must be a tuple of names of ``params`` (the L2 penalty's arrays)."""
    names = layer.penalized
    try:
        listed = list(names) if not isinstance(names, str) else None
    except TypeError:
        listed = None
    if listed is None or not all(isinstance(name, str) for name in listed):
        raise _fail(
            position, layer, f"penalized must be a tuple of names in params, got {names!r}"
        )
    unknown = [name for name in listed if name not in layer.params]
    if unknown:
        raise _fail(
            position,
            layer,
            f"penalized names {unknown}, which params does not have (its keys after build: "
            f"{sorted(layer.params)}); penalized lists the params the L2 penalty alpha "
            "applies to",
        )


def check_state(position: int, layer: Any) -> None:
    """Each name in ``state_attributes`` must be a float array once ``build`` ran."""
    names = layer.state_attributes
    if isinstance(names, str) or not isinstance(names, (tuple, list)):
        raise _fail(
            position,
            layer,
            f"state_attributes must be a tuple of attribute names, got {names!r}",
        )
    for name in names:
        if not (isinstance(name, str) and name.isidentifier() and name.isascii()):
            raise _fail(
                position, layer, f"state_attributes names {name!r}: not an ASCII identifier"
            )
        if isinstance(getattr(type(layer), name, None), property):
            raise _fail(
                position,
                layer,
                f"state_attributes names {name!r}, a property: name the attribute that "
                "holds the array (loading and early stopping put the values there)",
            )
        value = getattr(layer, name, None)
        if not isinstance(value, np.ndarray) or value.dtype not in (np.float32, np.float64):
            raise _fail(
                position,
                layer,
                f"state_attributes names {name!r}, so build() must create it as a float32 "
                f"or float64 array; after build it is {_describe(value)}"
                + (f" of dtype {value.dtype}" if isinstance(value, np.ndarray) else ""),
            )
    # what build made: a model file holds the state in this shape and dtype
    layer.__dict__["_state_built"] = {
        name: (getattr(layer, name).shape, getattr(layer, name).dtype) for name in names
    }


def state_as_built(position: int, layer: Any, name: str, value: Any) -> Any:
    """``value`` (the layer's state ``name``) in the dtype build gave it; an error when
    its shape is not the built one (a model file could not hold it)."""
    built = layer.__dict__.get("_state_built", {}).get(name)
    if built is None:
        return value
    shape, dtype = built
    if np.shape(value) != shape:
        raise _fail(
            position,
            layer,
            f"state {name!r} has shape {np.shape(value)}, but build made it {shape}: state "
            "must keep the shape build gave it to be saved",
        )
    return np.asarray(value, dtype=dtype)
