"""JSON encodings of hyperparameter values, typed objects and random generators."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._configurable import Configurable, RegistryError, lookup, registry_name_of

_BIT_GENERATORS = {
    name: getattr(np.random, name) for name in ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
}


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
        return {"$object": typed(value)}
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


def decoded(value: Any, where: str) -> Any:
    """``decode(value)``, a malformed value named by where it is in the manifest (a
    ModelFileError; a type not registered stays a RegistryError)."""
    from ..exceptions import ModelFileError

    try:
        return decode(value)
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
