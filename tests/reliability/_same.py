"""``assert_same(a, b)``: a deep, bit-for-bit comparison of two objects' values, and
``snapshot(a)``: a deep copy of everything ``a`` holds, to compare with later.

Arrays must agree in type, dtype, shape and every element (NaN equal to NaN, in the
same places); floats likewise, NaN-aware; containers item by item; random generators
by their bit generator's state; any other object by its class and, recursively, its
``__dict__``. The first difference raises AssertionError naming where it is
(``network_.layers[0].params['W']``, say).
"""

import copy
import math
import types

import numpy as np


def snapshot(a, memo=None):
    """A deep copy that copies every object's ``__dict__`` itself (``copy.deepcopy``
    goes through ``__getstate__``, which may leave out scratch buffers and the like)."""
    memo = {} if memo is None else memo
    if id(a) in memo:
        return memo[id(a)]
    if isinstance(a, np.ndarray):
        out = memo[id(a)] = a.copy()
        return out
    if isinstance(a, np.random.Generator):
        out = memo[id(a)] = copy.deepcopy(a)
        return out
    if isinstance(a, tuple) and type(a) is tuple:
        return tuple(snapshot(value, memo) for value in a)
    if isinstance(a, _KEPT):
        return a  # immutable values (numbers, strings, dtypes), classes and functions
    if not isinstance(a, (dict, list)) and not hasattr(a, "__dict__"):
        out = memo[id(a)] = copy.deepcopy(a)  # sets, RandomState, deques, __slots__ objects
        return out
    out = memo[id(a)] = type(a).__new__(type(a))
    if isinstance(a, dict):
        for key, value in a.items():
            dict.__setitem__(out, key, snapshot(value, memo))
    elif isinstance(a, list):
        list.extend(out, [snapshot(value, memo) for value in a])
    if hasattr(a, "__dict__"):
        object.__setattr__(out, "__dict__", snapshot(vars(a), memo))
    return out


_KEPT = (
    *(type, types.FunctionType, types.MethodType, types.BuiltinFunctionType, types.ModuleType),
    *(str, bytes, int, float, complex, type(None), np.generic, np.dtype, frozenset, range),
)


def assert_same(a, b, where="object"):
    _compare(a, b, where, set())


def _compare(a, b, where, seen):
    if type(a) is not type(b):
        raise AssertionError(f"{where}: {type(a).__name__} != {type(b).__name__}")
    if isinstance(a, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            raise AssertionError(f"{where}: {a.dtype}{a.shape} != {b.dtype}{b.shape}")
        nan_aware = a.dtype.kind in "fc"
        if not np.array_equal(a, b, equal_nan=nan_aware):
            raise AssertionError(f"{where}: the values differ\n{a!r}\n{b!r}")
        return
    if isinstance(a, (float, np.floating)):
        if not (a == b or (math.isnan(a) and math.isnan(b))):
            raise AssertionError(f"{where}: {a!r} != {b!r}")
        return
    if isinstance(a, (str, bytes, int, bool, complex, np.generic, type(None), np.dtype)):
        if a != b:
            raise AssertionError(f"{where}: {a!r} != {b!r}")
        return
    if isinstance(a, np.random.Generator):
        _compare(a.bit_generator.state, b.bit_generator.state, f"{where}.state", seen)
        return
    if isinstance(a, np.random.RandomState):
        _compare(a.get_state(), b.get_state(), f"{where}.get_state()", seen)
        return
    if (id(a), id(b)) in seen:  # (a cycle, or an object shared in both)
        return
    seen.add((id(a), id(b)))
    if hasattr(a, "__dict__") and isinstance(a, (dict, list)):
        _compare(vars(a), vars(b), f"{where}.__dict__", seen)
    if isinstance(a, dict):
        if list(a) != list(b):
            raise AssertionError(f"{where}: keys {list(a)} != {list(b)}")
        for key in a:
            _compare(a[key], b[key], f"{where}[{key!r}]", seen)
        return
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            raise AssertionError(f"{where}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _compare(x, y, f"{where}[{i}]", seen)
        return
    if hasattr(a, "__dict__"):
        _compare(vars(a), vars(b), f"{where}.__dict__", seen)
        return
    if a != b:
        raise AssertionError(f"{where}: {a!r} != {b!r}")
