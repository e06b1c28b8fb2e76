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


class _Frames:
    """While layers are encoded: for each list of layers open (the network's, then a
    block's ``inner`` inside it...), each layer's position and the one being encoded;
    and where each other layer was met."""

    def __init__(self) -> None:
        self.positions: list[dict[int, int]] = []
        self.current: list[int] = []
        self.met: dict[int, str] = {}

    @contextlib.contextmanager
    def open(self, layers: list[Any]) -> Iterator[None]:
        positions: dict[int, int] = {}
        for i, layer in enumerate(layers):  # (a layer at two positions: the first, which
            positions.setdefault(id(layer), i)  # fit's copy of the list refers to)
        self.positions.append(positions)
        self.current.append(0)
        try:
            yield
        finally:
            self.positions.pop()
            self.current.pop()


_ENCODING: contextvars.ContextVar[_Frames | None] = contextvars.ContextVar(
    "_ENCODING", default=None
)
#: while layers are decoded: the layers built so far of each list open
_DECODING: contextvars.ContextVar[list[list[Any]] | None] = contextvars.ContextVar(
    "_DECODING", default=None
)


def _new_layer_list(value: Any) -> bool:
    """Whether ``value``, met while layers are encoded, is a list of layers of its own
    (a block's ``inner``), whose layers get positions, rather than a list of references
    to layers of a list open already (a skip connection adding several saved inputs),
    which are encoded one by one, each as ``{"$layer": ...}``."""
    from ..layers.base import Layer

    frames = _ENCODING.get()
    return (
        frames is not None
        and bool(value)
        and all(isinstance(v, Layer) for v in value)
        and not any(id(v) in positions for v in value for positions in frames.positions)
    )


def encode_layers(layers: list[Any], where: str, *, repeats: bool = False) -> list[dict[str, Any]]:
    """``typed(layer)`` for each layer of a network's list. A layer holding an earlier
    layer of a list it is in (the network's, a block's ``inner``), or of a list that
    holds that block, as a skip connection holds the layer whose input it adds, holds it
    as ``{"$layer": i}`` (this list's i-th) or ``{"$layer": [d, i]}`` (the i-th of the
    list d levels out), so that the loaded layer holds the loaded layer, not a copy of
    its own; another layer held in two places is refused. ``repeats``: one layer object
    may stand at two positions of ``layers`` (an estimator's ``layers``, which ``fit``
    copies: a ``Tanh()`` twice trains as two), each saved as a layer of its own."""
    frames = _ENCODING.get()
    token = _ENCODING.set(_Frames()) if frames is None else None
    try:
        return _encode_list(layers, where, repeats=repeats)
    finally:
        if token is not None:
            _ENCODING.reset(token)


def _encode_list(
    layers: list[Any], where: str = "the network", *, repeats: bool = False
) -> list[dict[str, Any]]:
    frames = _ENCODING.get()
    assert frames is not None
    for i, layer in enumerate(layers):  # (each layer placed once: twice would be two)
        if not (repeats and any(layer is other for other in layers[:i])):
            _meet(frames, layer, f"{where}[{i}]")
    specs = []
    with frames.open(layers):
        for i, layer in enumerate(layers):
            frames.current[-1] = i
            specs.append(typed(layer))
    return specs


def _meet(frames: _Frames, layer: Any, place: str) -> None:
    """Note where ``layer`` is placed; refuse it if it was placed before."""
    first = frames.met.get(id(layer))
    frames.met[id(layer)] = place
    if first is not None:
        raise SharedObjectError(
            f"{place} = {layer!r} is the same layer object as {first}; a model file would "
            "rebuild it as two: hold it in one place, or have it in a list of layers (the "
            "network's, or a block's inner) before the layer that refers to it, which a "
            "model file keeps as a reference"
        )


def decode_layers(value: Any) -> Any:
    """``decode`` for a list (or tuple) of layers, in which a layer may hold an earlier
    one as ``{"$layer": ...}``."""
    is_tuple = isinstance(value, dict) and set(value) == {"$tuple"}
    items = value["$tuple"] if is_tuple else value
    if not isinstance(items, list):
        return decode(value)
    built: list[Any] = []
    with decoding_layers(built):
        for item in items:
            built.append(decode(item))
    return tuple(built) if is_tuple else built


@contextlib.contextmanager
def decoding_layers(built: list[Any]) -> Iterator[None]:
    """Within: ``built`` is the innermost list of layers being decoded (appended to as
    each is built), which ``{"$layer": i}`` refers to."""
    outer = _DECODING.get()
    token = _DECODING.set([*(outer or []), built])
    try:
        yield
    finally:
        _DECODING.reset(token)


def _is_layer_spec_list(items: Any) -> bool:
    return (
        isinstance(items, list)
        and bool(items)
        and all(
            isinstance(v, dict)
            and set(v) == {"$object"}
            and isinstance(v["$object"], dict)
            and v["$object"].get("kind") == "layer"
            for v in items
        )
    )


def _reference(value: Any, where: str) -> Any:
    """``{"$layer": ...}`` for an earlier layer of a list being encoded, or None."""
    frames = _ENCODING.get()
    if frames is None:
        return None
    from ..layers.base import Layer

    for depth, (positions, current) in enumerate(
        zip(reversed(frames.positions), reversed(frames.current), strict=True)
    ):
        i = positions.get(id(value))
        if i is None:
            continue
        if i >= current:
            raise SharedObjectError(
                f"{where} is the layer at position {i} of its list, not an earlier one; a "
                "model file keeps a layer's reference to an earlier layer only: put the "
                "layer it refers to before it"
            )
        return {"$layer": i if depth == 0 else [depth, i]}
    if not isinstance(value, Layer):
        return None  # (a loss or optimizer object held twice: two equal copies will do)
    place = where + "".join(
        f" (in the layer at position {c} of a list of layers)" for c in frames.current[-1:]
    )
    _meet(frames, value, place)
    return None


def encode(value: Any, where: str) -> Any:
    """A hyperparameter value as JSON data; tuples, dicts and objects are tagged."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": str(value)}
    if isinstance(value, (list, tuple)) and _new_layer_list(value):
        specs = [{"$object": spec} for spec in _encode_list(list(value), where)]
        return {"$tuple": specs} if isinstance(value, tuple) else specs
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
        if _DECODING.get() is not None and _is_layer_spec_list(value):
            return decode_layers(value)
        return [decode(v) for v in value]
    if isinstance(value, dict) and not any(str(k).startswith("$") for k in value):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, dict):
        if set(value) == {"$float"}:
            return float(value["$float"])
        if set(value) == {"$tuple"}:
            if _DECODING.get() is not None and _is_layer_spec_list(value["$tuple"]):
                return decode_layers(value)
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


def _earlier_layer(ref: Any) -> Any:
    """The layer ``{"$layer": i}`` (this list's i-th) or ``{"$layer": [d, i]}`` (the i-th
    of the list d levels out) names, built earlier."""
    frames = _DECODING.get()
    if not frames:
        raise ValueError("a $layer reference stands only in a layer of a list of layers")
    depth, i = (0, ref) if not isinstance(ref, list) else [*ref, None, None][:2]
    if (
        isinstance(depth, bool)
        or not isinstance(depth, int)
        or not 0 <= depth < len(frames)
        or (isinstance(ref, list) and len(ref) != 2)
    ):
        raise ValueError(f"a $layer reference names no list of layers open: {ref!r}")
    built = frames[-1 - depth]
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(built):
        raise ValueError(
            f"a $layer reference must name an earlier layer of its list, one of "
            f"{len(built)} built so far, got {ref!r}"
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
    values = [decode(v) for v in spec["values"]]
    if dtype.kind == "U":  # (a text dtype no wider than its values need, or 256: a file's
        # "<U50000000" would otherwise allocate 200 MB a value)
        longest = max((len(v) for v in values if isinstance(v, str)), default=0)
        if dtype.itemsize > 4 * max(256, longest):
            raise ValueError(f"a text $array of dtype {dtype.str} is wider than its values")
    return np.array(values, dtype=dtype)


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
