"""JSON encodings of hyperparameter values, typed objects and random generators."""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._configurable import Configurable, RegistryError, lookup, registry_name_of

_BIT_GENERATORS = {
    name: getattr(np.random, name) for name in ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
}


class SharedObjectError(TypeError):
    """An object held in two places that a model file cannot keep as one."""


class _LayerList:
    """While a list of layers is encoded: the position of each layer of the list, the
    one being encoded, and where every other object was met."""

    def __init__(self, layers: list[Any]) -> None:
        self.position = {id(layer): i for i, layer in enumerate(layers)}
        self.current = 0
        self.met: dict[int, str] = {}


_ENCODING: contextvars.ContextVar[_LayerList | None] = contextvars.ContextVar(
    "_ENCODING", default=None
)
_DECODING: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "_DECODING", default=None
)


def encode_layers(layers: list[Any], where: str) -> Iterator[dict[str, Any]]:
    """``typed(layer)`` for each layer of a network's list, in order. A layer that holds
    an earlier layer of the list (a skip connection reading what it saved) holds it as
    ``{"$layer": i}``, so that a loaded network's layer holds the loaded layer, not a
    copy of its own; any other object held in two places is refused."""
    session = _LayerList(layers)
    token = _ENCODING.set(session)
    try:
        for i, layer in enumerate(layers):
            session.current = i
            yield typed(layer)
    finally:
        _ENCODING.reset(token)


@contextlib.contextmanager
def decoding_layers(built: list[Any]) -> Iterator[None]:
    """Within: ``{"$layer": i}`` is ``built[i]``, a layer built earlier from the list."""
    token = _DECODING.set(built)
    try:
        yield
    finally:
        _DECODING.reset(token)


def _reference(value: Any, where: str) -> Any:
    """``{"$layer": i}`` for an earlier layer of the list being encoded, or None."""
    session = _ENCODING.get()
    if session is None:
        return None
    i = session.position.get(id(value))
    if i is not None:
        if i >= session.current:
            raise SharedObjectError(
                f"{where} is the layer at position {i} of the network, not an earlier one; "
                "a model file keeps a layer's reference to an earlier layer of the list "
                "only: put the layer it refers to before it"
            )
        return {"$layer": i}
    first = session.met.get(id(value))
    session.met[id(value)] = where
    if first is not None:
        raise SharedObjectError(
            f"{where} = {value!r} is the same object as {first}; a model file would "
            "rebuild it as two objects: hold it in one place, or refer to a layer of the "
            "network's own list (a skip connection), which a model file keeps"
        )
    return None


def encode(value: Any, where: str) -> Any:
    """A hyperparameter value as JSON data; tuples, dicts and objects are tagged."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": str(value)}
    if isinstance(value, tuple):
        return {"$tuple": [encode(v, where) for v in value]}
    if isinstance(value, list):
        return [encode(v, where) for v in value]
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "biufU":
        # (an array comes back an array, of its dtype: a list would lose both)
        items = [encode(v, where) for v in value.tolist()]
        return {"$array": {"dtype": value.dtype.str, "values": items}}
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return [encode(v, where) for v in value.tolist()]
    if isinstance(value, dict):
        return {"$dict": [[encode(k, where), encode(v, where)] for k, v in value.items()]}
    if isinstance(value, Configurable):
        return _reference(value, where) or {"$object": typed(value)}
    if isinstance(value, (np.random.RandomState, np.random.Generator)):
        raise TypeError(
            f"{where} = {value!r} cannot be saved: a model file holds a seed, not a "
            "random generator object; give an int seed (random_state=0), which makes the "
            "fit reproducible too (the training's own random streams are saved either way)"
        )
    raise TypeError(
        f"{where} = {_shown(value)} cannot be saved: a model file holds None, bools, "
        "numbers, strings, lists, tuples, dicts, 1-d arrays and registered layerkit objects"
    )


def _shown(value: Any) -> str:
    """``value`` for a message: an array by its shape and dtype, else a short repr."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} ({value.dtype})"
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def decode(value: Any) -> Any:
    """Invert ``encode``; objects are rebuilt from the registry only. A dict without a
    ``$`` key is no tag (configs from before they tagged dicts): its values are decoded."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict) and not any(str(k).startswith("$") for k in value):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, dict):
        if set(value) == {"$float"}:
            return float(value["$float"])
        if set(value) == {"$tuple"}:
            return tuple(decode(v) for v in value["$tuple"])
        if set(value) == {"$dict"}:
            pairs = value["$dict"]
            if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 for p in pairs
            ):
                raise ValueError(
                    f"a $dict value must be a list of [key, value] pairs, got {str(pairs)[:80]}"
                )
            return {decode(k): decode(v) for k, v in pairs}
        if set(value) == {"$array"}:
            return _array(value["$array"])
        if set(value) == {"$layer"}:
            return _earlier_layer(value["$layer"])
        if set(value) == {"$object"}:
            spec = value["$object"]
            if not isinstance(spec, dict) or set(spec) != {"kind", "type", "config"}:
                raise ValueError(
                    f"an $object value must hold kind, type and config, got {str(spec)[:80]}"
                )
            if not isinstance(spec["config"], dict):
                raise ValueError(
                    f"an $object's config must be a table, got {str(spec['config'])[:80]}"
                )
            return build(spec["kind"], spec["type"], spec["config"])
        raise ValueError(f"unknown tagged value with keys {sorted(value)}")
    return value


def decode_layers(value: Any) -> Any:
    """``decode`` for a list (or tuple) of layers, in which a layer may hold an earlier
    one as ``{"$layer": i}``."""
    is_tuple = isinstance(value, dict) and set(value) == {"$tuple"}
    items = value["$tuple"] if is_tuple else value
    if not isinstance(items, list):
        return decode(value)
    built: list[Any] = []
    with decoding_layers(built):
        for item in items:
            built.append(decode(item))
    return tuple(built) if is_tuple else built


def _earlier_layer(i: Any) -> Any:
    built = _DECODING.get()
    if built is None:
        raise ValueError("a $layer reference stands only in a layer of a network's list")
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(built):
        raise ValueError(
            f"a $layer reference must name an earlier layer of the list, a position from 0 "
            f"to {len(built) - 1}, got {i!r}"
        )
    return built[i]


def decoded(value: Any, where: str, *, layers: bool = False) -> Any:
    """``decode(value)`` (``decode_layers`` for a list of ``layers``), a malformed value
    named by where it is in the manifest (a ModelFileError; a type not registered stays
    a RegistryError)."""
    from ..exceptions import ModelFileError

    try:
        return decode_layers(value) if layers else decode(value)
    except RegistryError:
        raise
    except (ValueError, TypeError, KeyError) as err:
        raise ModelFileError(f"{where}: {err}") from None


def _array(spec: Any) -> np.ndarray:
    """A tagged 1-d array: only plain numeric, boolean and text dtypes (no objects)."""
    if not isinstance(spec, dict) or set(spec) != {"dtype", "values"}:
        raise ValueError(f"malformed $array value {str(spec)[:80]!r}")
    dtype = np.dtype(spec["dtype"])
    if dtype.kind not in "biufU" or not isinstance(spec["values"], list):
        raise ValueError(f"unsupported $array value {str(spec)[:80]!r}")
    return np.array([decode(v) for v in spec["values"]], dtype=dtype)


def typed(obj: Configurable) -> dict[str, Any]:
    """A registered object as {kind, type, config}."""
    return {"kind": obj._kind, "type": registry_name_of(obj), "config": obj.get_config()}


def build(kind: str, name: str, config: dict[str, Any]) -> Any:
    """Rebuild a registered object from its config (never importing anything)."""
    if kind not in ("layer", "loss", "optimizer"):
        raise ValueError(f"unknown object kind {kind!r}")
    return lookup(kind, name).from_config(config)


def generator_state(rng: np.random.Generator) -> dict[str, Any]:
    state = rng.bit_generator.state
    return _listify(state)


def restore_generator(state: Any) -> np.random.Generator:
    if not isinstance(state, dict) or state.get("bit_generator") not in _BIT_GENERATORS:
        raise ValueError(f"unsupported random generator state {str(state)[:80]!r}")
    bit_generator = _BIT_GENERATORS[state["bit_generator"]]()
    if state["bit_generator"] == "MT19937":
        state = dict(state)
        inner = dict(state["state"])
        inner["key"] = np.asarray(inner["key"], dtype=np.uint32)
        state["state"] = inner
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
