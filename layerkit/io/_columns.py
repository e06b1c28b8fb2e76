"""Categorical columns in a model file: scikit-learn's OneHotEncoder and OrdinalEncoder,
and the ColumnTransformer (and Pipelines inside it) that send each column to its step.

An encoder is saved as its settings and its fitted ``categories_``, each feature's
categories as JSON values beside their dtype; loading fits a fresh encoder on one row
of those categories (``categories=`` given), so everything else it keeps is derived by
scikit-learn itself, never read. A ColumnTransformer is saved as its
settings, and each of its steps with its columns; loading fits it on one row of zeros
with stand-ins of the fitted steps' widths (so it resolves columns and output slices
itself), then puts the fitted steps the file holds in their place."""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import numpy as np

from ..exceptions import ModelFileError
from ._values import decoded, encode

ENCODERS = ("OneHotEncoder", "OrdinalEncoder")
COMPOSITES = ("ColumnTransformer", "Pipeline")
#: Step types a file of format version 5 may hold, and earlier ones cannot (nor an
#: imputer fitted on objects)
LATER_STEPS = ENCODERS + COMPOSITES
#: What an encoder's fit derives from its settings and categories_: computed on load
#: by fitting again, never read
ENCODER_DERIVED = (
    "drop_idx_",
    "_drop_idx_after_grouping",
    "_infrequent_enabled",
    "_n_features_outs",
    "_missing_indices",
    "_default_to_infrequent_mappings",
)
#: The widest input of a ColumnTransformer without feature names (the columns it drops
#: make it wider than anything the file holds)
WIDEST_UNNAMED = 2**16
DROP = "drop"
#: How deep Pipelines and ColumnTransformers may nest in a file (scikit-learn's own
#: checks of a nested Pipeline grow threefold a level)
MAX_DEPTH = 4
#: The most worker processes a ColumnTransformer of a file may ask for
MAX_JOBS = 64
#: While a composite is built: how deep, and the widest output its steps may give
_NESTING: ContextVar[tuple[int, int | None]] = ContextVar("_NESTING", default=(0, None))
PASSTHROUGH = "passthrough"
_CHOICES = (DROP, PASSTHROUGH)


def encoder_classes() -> dict[str, type]:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    found = (OneHotEncoder, OrdinalEncoder, ColumnTransformer, Pipeline)
    return {cls.__name__: cls for cls in found}


def holds_later_steps(spec: Any) -> bool:
    """Whether a pipeline entry (JSON data, or its validated model) holds a step of
    LATER_STEPS, or an imputer of objects, at any depth."""
    return _holds(spec, _is_later_step)


def _is_later_step(entry: dict[str, Any]) -> bool:
    if entry.get("type") in LATER_STEPS:
        return True
    # (an imputer of categories: earlier versions refuse its dtype)
    dtypes = entry.get("dtypes") or {}
    return entry.get("type") == "SimpleImputer" and any(map(_is_object_dtype, dtypes.values()))


def holds_selectors(spec: Any) -> bool:
    """Whether a pipeline entry (JSON data, or its validated model) holds a
    make_column_selector, at any depth."""
    return _holds(spec, lambda entry: "$selector" in entry)


def _holds(spec: Any, found: Callable[[dict[str, Any]], bool]) -> bool:
    """Whether ``found`` holds for a mapping anywhere in ``spec`` (JSON data, or a
    validated model of it)."""
    if hasattr(spec, "model_dump"):
        spec = spec.model_dump(mode="json")
    if isinstance(spec, dict):
        return found(spec) or any(_holds(v, found) for v in spec.values())
    if isinstance(spec, list):
        return any(_holds(v, found) for v in spec)
    return False


def _is_object_dtype(text: Any) -> bool:
    try:
        return isinstance(text, str) and np.dtype(text).kind == "O"
    except TypeError:
        return False


# -- saving ------------------------------------------------------------------------------


def encoder_categories(where: str, step: Any) -> list[dict[str, Any]]:
    """An encoder's ``categories_``, each feature's as its dtype and its values."""
    for name in ("min_frequency", "max_categories"):
        if getattr(step, name, None) is not None:
            raise TypeError(
                f"layerkit.save cannot save {where} with {name}={getattr(step, name)!r}: "
                "a model file holds encoders without infrequent categories; leave "
                "min_frequency and max_categories at None (each category its own "
                "column or code), or pickle or joblib.dump the model, for files you trust"
            )
    saved = []
    for j, cats in enumerate(step.categories_):
        what = f"{where}.categories_[{j}]"
        if not isinstance(cats, np.ndarray) or cats.ndim != 1 or cats.dtype.kind not in "biufOU":
            raise TypeError(
                f"layerkit.save cannot save {what}: a model file holds categories of "
                f"numbers, booleans, text or objects, got {type(cats).__name__} "
                f"{repr(cats)[:80]}"
            )
        values = cats.tolist()
        if cats.dtype.kind == "O":  # (NumPy's scalars, a np.True_, as Python's)
            values = [v.item() if isinstance(v, np.generic) else v for v in values]
        if cats.dtype.kind == "O" and not all(_is_category(v) for v in values):
            odd = next(v for v in values if not _is_category(v))
            raise TypeError(
                f"layerkit.save cannot save {what}: a model file holds categories that are "
                f"strings, numbers, booleans or missing (None, NaN), got "
                f"{type(odd).__name__} {odd!r}"
            )
        saved.append({"dtype": cats.dtype.str, "values": [encode(v, what) for v in values]})
    return saved


def encoder_dtype(name: Any, where: str) -> Any:
    """An encoder's ``dtype`` setting, a NumPy number type, from its name."""
    try:
        dtype = np.dtype(name) if isinstance(name, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biuf":
        raise ModelFileError(f"{where}.params.dtype: a NumPy number type, got {str(name)[:40]}")
    return dtype.type


def _is_category(value: Any) -> bool:
    """A value an object array of categories may hold (booleans too: pandas reads a
    column of True, False and gaps as objects)."""
    return value is None or isinstance(value, (str, int, float, bool))


def composite_spec(
    where: str, kind: str, step: Any, spec_of: Callable[[str, str, Any], dict[str, Any]]
) -> dict[str, Any]:
    """A ColumnTransformer's or an inner Pipeline's entry: its settings, and its steps
    (each by ``spec_of(name, kind, step)``), fitted ones when it is fitted."""
    depth = _NESTING.get()[0]
    if depth >= MAX_DEPTH:
        raise TypeError(
            f"layerkit.save cannot save {where}: a model file holds Pipelines and "
            f"ColumnTransformers nested at most {MAX_DEPTH} deep"
        )
    token = _NESTING.set((depth + 1, None))
    try:
        if kind == "Pipeline":
            return _pipeline_spec(where, step, spec_of)
        return _column_transformer_spec(where, step, spec_of)
    finally:
        _NESTING.reset(token)


def _column_transformer_spec(
    where: str, step: Any, spec_of: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    kind = "ColumnTransformer"
    jobs = step.n_jobs
    if jobs is not None and not (isinstance(jobs, int) and 1 <= abs(jobs) <= MAX_JOBS):
        raise TypeError(
            f"layerkit.save cannot save {where} with n_jobs={jobs!r}: a model file holds "
            f"None or -{MAX_JOBS} to {MAX_JOBS} (not 0)"
        )
    params = step.get_params(deep=False)
    fitted = hasattr(step, "transformers_")
    entries = []
    as_fitted = {n: t for n, t, _ in step.transformers_} if fitted else {}
    for i, (name, given, columns) in enumerate(step.transformers):
        if not (isinstance(given, str) and given in _CHOICES) and name in as_fitted:
            given = as_fitted[name]  # (the step as fitted; passthrough and drop as given)
        at = f"{where}.transformers[{i}] ({name!r})"
        chose = next((c for n, _, c in step.transformers_ if n == name), None) if fitted else None
        entries.append([name, _inner(at, name, given, spec_of), _columns(at, columns, chose)])
    remainder = step.remainder
    if fitted and not isinstance(remainder, str):
        remainder = next((t for n, t, _ in step.transformers_ if n == "remainder"), remainder)
    if params.get("transformer_weights") is not None:
        raise TypeError(
            f"layerkit.save cannot save {where} with transformer_weights: scale the "
            "columns in a step instead"
        )
    saved = {
        k: encode(v, f"{where}.{k}")
        for k, v in params.items()
        if k not in ("transformers", "remainder")
    }
    saved["transformers"] = entries
    saved["remainder"] = _inner(f"{where}.remainder", "remainder", remainder, spec_of)
    spec: dict[str, Any] = {"name": where, "type": kind, "params": saved}
    if fitted:
        spec["fitted"] = {
            "n_features_in_": int(step.n_features_in_),
            "sparse_output_": bool(step.sparse_output_),
        }
        names = getattr(step, "feature_names_in_", None)
        if names is not None:
            spec["fitted"]["feature_names_in_"] = [str(v) for v in names.tolist()]
    return spec


def _pipeline_spec(
    where: str, pipe: Any, spec_of: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    refuse_pipeline_settings(pipe, where)
    steps = [
        [name, _inner(f"{where}.steps[{i}]", name, step, spec_of)]
        for i, (name, step) in enumerate(pipe.steps)
    ]
    return {
        "name": where,
        "type": "Pipeline",
        "params": {"steps": steps, "verbose": bool(pipe.verbose)},
    }


def refuse_pipeline_settings(pipe: Any, what: str) -> None:
    """Refuse a Pipeline whose settings a file cannot hold (``what``: it, named)."""
    for name in ("memory", "transform_input"):
        if getattr(pipe, name, None) is not None:
            raise TypeError(
                f"layerkit.save: {what}'s {name} is {getattr(pipe, name)!r}; a model file "
                f"holds a Pipeline with {name}=None"
            )


#: A step's name as a file holds it (and scikit-learn's nested parameters split at "__")
_STEP_NAME = re.compile(r"^[^\x00-\x1f]{1,200}$")


def refuse_step_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not _STEP_NAME.fullmatch(name) or "__" in name:
        raise TypeError(
            f"layerkit.save cannot save {what} name {name!r}: a model file holds names of "
            "1 to 200 characters, without control characters or '__'"
        )


def _inner(where: str, name: Any, step: Any, spec_of: Callable[..., dict[str, Any]]) -> Any:
    """A step inside a composite: "drop", "passthrough", or its own entry."""
    refuse_step_name(name, f"{where}'s")
    if step is None or (isinstance(step, str) and step in _CHOICES):
        return PASSTHROUGH if step is None else step
    from ._pipeline import step_classes

    kind = type(step).__name__
    if step_classes().get(kind) is not type(step):
        raise TypeError(
            f"layerkit.save cannot save {where}, a {type(step).__module__}."
            f"{type(step).__qualname__}: a model file holds these steps: "
            f"{', '.join(sorted(step_classes()))}, 'passthrough' and 'drop' (pickle or "
            "joblib.dump the model otherwise, for code you trust)"
        )
    spec = spec_of(name, kind, step)
    spec["name"] = name
    return spec


#: The dtypes a make_column_selector's dtype_include and dtype_exclude may name, as a
#: file holds them, and what they load as: NumPy's abstract types by the names pandas'
#: ``select_dtypes`` takes, Python's object and bool (NumPy's object_ and bool_ are
#: saved as these, which select the same columns), and pandas' own names
SELECTOR_DTYPES = {
    "number": np.number,
    "integer": np.integer,
    "floating": np.floating,
    "bool": bool,
    "object": object,
    "datetime64": np.datetime64,
    "timedelta64": np.timedelta64,
    "category": "category",
    "str": "str",  # (pandas 3's text)
    "string": "string",
}
_SELECTOR_TYPES = {
    np.object_: "object",
    np.bool_: "bool",
    **{v: k for k, v in SELECTOR_DTYPES.items()},
}
#: the longest pattern a file's selector holds
LONGEST_PATTERN = 1000


def _selector(where: str, selector: Any, chose: Any) -> dict[str, Any]:
    """A make_column_selector as data: its pattern and dtypes by name, and the columns
    the fitted ColumnTransformer chose with it (which a loaded one keeps, as fitted)."""
    pattern = selector.pattern
    problem = pattern_problem(pattern)
    if problem:
        raise TypeError(
            f"layerkit.save cannot save {where}'s make_column_selector pattern "
            f"{repr(pattern)[:80]}: a model file holds {problem}"
        )
    spec: dict[str, Any] = {"pattern": pattern}
    for key in ("dtype_include", "dtype_exclude"):
        given = getattr(selector, key)
        if given is None:
            spec[key] = None
            continue
        many = isinstance(given, (list, tuple))
        names = [_dtype_name(where, key, v) for v in (given if many else [given])]
        spec[key] = names if many else names[0]
    listed = None if chose is None else _columns(where, column_list(chose))
    return {"$selector": spec, "chose": listed}


def pattern_problem(pattern: Any) -> str | None:
    """What is wrong with a selector's pattern for a model file (None: nothing): it must
    be null or a string of at most LONGEST_PATTERN characters that Python's ``re``
    compiles (pandas matches it with ``re``, or with pyarrow's RE2 for pyarrow strings,
    whose syntax differs: one both take loads anywhere)."""
    if pattern is None:
        return None
    if not isinstance(pattern, str) or len(pattern) > LONGEST_PATTERN:
        return f"null or a string of at most {LONGEST_PATTERN} characters"
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as err:
        return f"a regular expression Python's re module compiles ({err})"
    return None


def _dtype_name(where: str, key: str, value: Any) -> str:
    if isinstance(value, str) and value in SELECTOR_DTYPES:
        return value
    try:
        return _SELECTOR_TYPES[value]
    except (KeyError, TypeError):
        raise TypeError(
            f"layerkit.save cannot save {where}'s make_column_selector {key}={value!r}: a "
            f"model file holds {', '.join(repr(n) for n in SELECTOR_DTYPES)} (as names or "
            "as NumPy's types), object and bool; give the selector one of these, or the "
            "columns as a list"
        ) from None


def _columns(where: str, columns: Any, chose: Any = None) -> Any:
    """A ColumnTransformer step's columns: a list of names, of indices or of booleans,
    or a make_column_selector (``chose``: the fitted selection)."""
    from sklearn.compose import make_column_selector

    if type(columns) is make_column_selector:
        return _selector(where, columns, chose)
    if isinstance(columns, (str, int, np.str_, np.integer)) and not isinstance(columns, bool):
        return columns.item() if isinstance(columns, np.generic) else columns
    if hasattr(columns, "tolist") and getattr(columns, "ndim", 1) == 1:  # (an array, an Index)
        columns = columns.tolist()
    if isinstance(columns, (list, tuple)):  # (NumPy's ints and strings as Python's)
        columns = [
            c.item() if isinstance(c, (np.integer, np.str_, np.bool_)) else c for c in columns
        ]
    if isinstance(columns, list) and all(isinstance(c, (str, int)) for c in columns):
        kinds = {bool if isinstance(c, bool) else type(c) for c in columns}
        if len(kinds) <= 1:
            return [c if isinstance(c, (str, bool)) else int(c) for c in columns]
    shown = "a callable" if callable(columns) else repr(columns)[:80]
    fitted = ""
    if chose is not None and not isinstance(chose, slice):
        listed = [c if isinstance(c, str) else int(c) for c in column_list(chose)]
        fitted = f" (the fitted one chose {repr(listed)[:200]})"
    raise TypeError(
        f"layerkit.save cannot save {where}'s columns, {shown}: a model file holds "
        f"columns as a list of names, of indices or of booleans, or a "
        "make_column_selector; give them as a list"
        f"{fitted}, or pickle or joblib.dump the model, for files you trust"
    )


# -- loading -----------------------------------------------------------------------------


def build_encoder(built: Any, step: Any, where: str, limit: int) -> int:
    """Fit ``built`` (an encoder of the file's settings) to the file's categories; its
    input width."""
    fitted = dict(step.fitted)
    required = {"categories_", "n_features_in_"}
    extra = step.dtypes or step.scalars or step.object_arrays
    if not required <= set(fitted) <= required | {"feature_names_in_"} or extra:
        raise ModelFileError(
            f"{where}: expected the fitted categories_, n_features_in_ and (optional) "
            f"feature_names_in_ only, got {sorted(fitted)}"
        )
    for name in ("min_frequency", "max_categories"):
        if getattr(built, name) is not None:
            raise ModelFileError(f"{where}: {name} must be null (no infrequent categories)")
    n_in = fitted["n_features_in_"]
    if isinstance(n_in, bool) or not isinstance(n_in, int) or not 1 <= n_in <= max(limit, 1):
        raise ModelFileError(
            f"{where}: n_features_in_ must be an int from 1 to {max(limit, 1)}, got "
            f"{repr(n_in)[:40]}"
        )
    raw = fitted["categories_"]
    if not isinstance(raw, list) or len(raw) != n_in:
        raise ModelFileError(f"{where}: categories_ must be a list of {n_in} features' categories")
    categories = [_categories(f"{where}.categories_[{j}]", c) for j, c in enumerate(raw)]
    given = built.get_params(deep=False)["categories"]
    if given != "auto" and not _same_categories(given, categories):
        raise ModelFileError(f"{where}: its categories setting differs from its categories_")
    # one row suffices: with the categories given, a fit checks and derives from them
    X = np.empty((1, n_in), dtype=object)
    X[0, :] = [cats[0] for cats in categories]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            built.set_params(categories=[c.astype(object) for c in categories]).fit(X)
    except Exception as err:
        raise ModelFileError(f"{where}: its categories do not fit its settings: {err}") from None
    built.set_params(categories=given)
    built.categories_ = categories
    names = fitted.get("feature_names_in_")
    if names is not None:
        if (
            not isinstance(names, list)
            or len(names) != n_in
            or not all(isinstance(v, str) for v in names)
        ):
            raise ModelFileError(f"{where}: feature_names_in_ must be {n_in} strings")
        built.feature_names_in_ = np.array(names, dtype=object)
    return n_in


def _same_categories(given: Any, categories: list[np.ndarray]) -> bool:
    """Whether a ``categories`` setting lists exactly the fitted categories."""
    if not isinstance(given, list) or len(given) != len(categories):
        return False
    for setting, cats in zip(given, categories, strict=True):
        values = setting.tolist() if isinstance(setting, np.ndarray) else setting
        if not isinstance(values, list) or len(values) != len(cats):
            return False
        for a, b in zip(values, cats.tolist(), strict=True):
            both_nan = isinstance(a, float) and isinstance(b, float) and a != a and b != b
            if not (both_nan or a == b):
                return False
    return True


def _categories(where: str, spec: Any) -> np.ndarray:
    """A feature's categories from the file: of a numeric, boolean, text or object
    dtype; numbers sorted, a NaN last (as the encoder's own search needs them)."""
    if not isinstance(spec, dict) or set(spec) != {"dtype", "values"}:
        raise ModelFileError(f"{where}: expected {{'dtype': ..., 'values': [...]}}")
    try:
        dtype = np.dtype(spec["dtype"]) if isinstance(spec["dtype"], str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biufOU" or (dtype.kind != "U" and dtype.itemsize > 8):
        raise ModelFileError(
            f"{where}: dtype must be numeric, boolean, text or object, got {spec['dtype']!r}"
        )
    values = decoded(spec["values"], where)
    if not isinstance(values, list) or not values:
        raise ModelFileError(f"{where}: values must be a non-empty list")
    kinds = {
        "b": lambda v: isinstance(v, bool),
        "U": lambda v: isinstance(v, str),
        "O": _is_category,
    }
    is_number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    if not all(kinds.get(dtype.kind, is_number)(v) for v in values):
        raise ModelFileError(
            f"{where}: values must be of dtype {dtype} (strings, numbers, booleans or null)"
        )
    if dtype.kind == "U" and dtype.itemsize > 4 * max(256, max(len(v) for v in values)):
        raise ModelFileError(f"{where}: dtype {dtype} is wider than its values")
    if dtype.kind == "O":
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    try:
        out = np.array(values, dtype=dtype)
    except (OverflowError, ValueError) as err:
        raise ModelFileError(f"{where}: {err}") from None
    nan = [isinstance(v, float) and math.isnan(v) for v in values]
    if dtype.kind in "iu" and out.tolist() != values:
        raise ModelFileError(f"{where}: values do not fit dtype {dtype}")
    ordered = out[: len(out) - sum(nan)] if dtype.kind in "biuf" else None
    if ordered is not None and (
        any(nan[: len(nan) - sum(nan)]) or sum(nan) > 1 or (ordered[1:] <= ordered[:-1]).any()
    ):
        raise ModelFileError(f"{where}: numbers must be sorted, without repeats, a NaN last")
    return out


def build_composite(
    step: Any, where: str, limit: int, build: Callable[..., tuple[Any, int | None]]
) -> tuple[Any, int | None]:
    """The ColumnTransformer or Pipeline ``step`` describes; ``build(spec, where, limit)``
    builds each inner step. Returns it and its input width (None: not fitted)."""
    if (
        step.dtypes
        or step.scalars
        or step.object_arrays
        or (step.type == "Pipeline" and step.fitted is not None)
    ):
        raise ModelFileError(
            f"{where}: a {step.type} holds its fitted values in its steps and its fitted "
            "entry, nothing else"
        )
    depth, widest = _NESTING.get()
    if depth >= MAX_DEPTH:
        raise ModelFileError(
            f"{where}: Pipelines and ColumnTransformers nested more than {MAX_DEPTH} deep"
        )
    # (no step inside gives more features than the outermost's limit: the steps' widths
    # chain to the network's)
    token = _NESTING.set((depth + 1, widest if widest is not None else limit))
    try:
        return _build_composite(step, where, limit, build)
    finally:
        _NESTING.reset(token)


def _build_composite(
    step: Any, where: str, limit: int, build: Callable[..., tuple[Any, int | None]]
) -> tuple[Any, int | None]:
    params = dict(step.params)
    if step.type == "Pipeline":
        return _build_pipeline(params, where, limit, build)
    from sklearn.compose import ColumnTransformer

    entries = params.pop("transformers", None)
    remainder = params.pop("remainder", DROP)
    if not isinstance(entries, list):
        raise ModelFileError(f"{where}: transformers must be a list")
    from ._pipeline import _plain

    settings = {k: _plain(v, f"{where}.params.{k}") for k, v in params.items()}
    fitted = step.fitted
    # (its input may be wider than its output: columns dropped; named, as many as named)
    n_in = None if fitted is None else _n_in(fitted, where, max(limit, WIDEST_UNNAMED))
    widest = _NESTING.get()[1] or limit
    limit = max(limit, n_in or 0)
    jobs = settings.get("n_jobs")
    if jobs is not None and not (isinstance(jobs, int) and 1 <= abs(jobs) <= MAX_JOBS):
        raise ModelFileError(
            f"{where}: n_jobs must be null or from -{MAX_JOBS} to {MAX_JOBS} (not 0)"
        )
    names_in = None if fitted is None else fitted.get("feature_names_in_")
    given, stand_ins, built_steps = [], [], {}
    widths: dict[str, int | None] = {}  # (each step's input width, None: not fitted)
    for i, entry in enumerate(entries):
        at = f"{where}.transformers[{i}]"
        if not isinstance(entry, list) or len(entry) != 3 or not isinstance(entry[0], str):
            raise ModelFileError(f"{at}: expected [name, step, columns]")
        name, inner, raw_columns = entry
        selector, columns = _loaded_columns(raw_columns, f"{at}.columns", fitted is not None)
        obj, width = _inner_built(inner, at, limit, build, fitted is not None, widest)
        through = _passes_through(obj)  # (a Pipeline of passthroughs: as "passthrough")
        if width is None and not isinstance(obj, str) and fitted is not None and not through:
            if not _selects_none(columns):  # (a step of no columns is not fitted)
                raise ModelFileError(f"{at}: not fitted, where its ColumnTransformer is")
            width = 0
        given.append((name, _unfitted(obj), columns if selector is None else selector))
        stand_in = "passthrough" if through else obj if isinstance(obj, str) else _Width(width)
        stand_ins.append((name, stand_in, columns))
        built_steps[name] = obj
        widths[name] = width
    rest, rest_width = _inner_built(
        remainder, f"{where}.remainder", limit, build, fitted is not None, widest
    )
    try:
        ct = ColumnTransformer(given, remainder=_unfitted(rest), **settings)
        ct._validate_params()
    except Exception as err:
        raise ModelFileError(f"{where}: {err}") from None
    if fitted is None or n_in is None:
        return ct, None
    stand_in = ColumnTransformer(  # (fitted in this process: no workers started)
        stand_ins,
        remainder=rest if isinstance(rest, str) else _Width(rest_width),
        **{**settings, "n_jobs": None},
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            by_position = not any(
                isinstance(c, str) for _, _, cols in stand_ins for c in column_list(cols)
            )
            stand_in.fit(_zeros(n_in, names_in, where, by_position))
            if names_in is not None and not hasattr(stand_in, "feature_names_in_"):
                stand_in.feature_names_in_ = np.array(names_in, dtype=object)
    except ModelFileError:
        raise
    except Exception as err:
        raise ModelFileError(f"{where}: its steps do not fit its columns: {err}") from None
    built_steps["remainder"] = rest
    widths["remainder"] = rest_width
    for name, trans, cols in stand_in.transformers_:
        unfitted = widths[name] is None
        if isinstance(trans, _Width) and unfitted and not _selects_none(column_list(cols)):
            raise ModelFileError(f"{where}: its step {name!r} has columns, and is not fitted")
    for key, value in vars(stand_in).items():
        if key not in ct.get_params(deep=False):
            setattr(ct, key, value)
    ct.transformers_ = [
        (
            name,
            built_steps[name]
            if isinstance(trans, _Width) or _passes_through(built_steps.get(name))
            else trans,
            cols,
        )
        for name, trans, cols in stand_in.transformers_
    ]
    ct._remainder = (stand_in._remainder[0], ct.remainder, stand_in._remainder[2])
    if any(callable(columns) for _, _, columns in given):  # (selectors: as scikit-learn
        rest_at = positions(ct, column_list(ct._remainder[2]))  # gives the rest, by position)
        ct._remainder = (*ct._remainder[:2], rest_at)
        ct.transformers_ = [
            (name, trans, rest_at if name == "remainder" else cols)
            for name, trans, cols in ct.transformers_
        ]
    sparse = fitted.get("sparse_output_")
    if not isinstance(sparse, bool):
        raise ModelFileError(f"{where}: sparse_output_ must be true or false")
    ct.sparse_output_ = sparse
    return ct, n_in


def _n_in(fitted: dict[str, Any], where: str, limit: int) -> int:
    n_in = fitted.get("n_features_in_")
    names = fitted.get("feature_names_in_")
    if isinstance(names, list):  # (as many as it names: the names are in memory already)
        limit = len(names)
    if isinstance(n_in, bool) or not isinstance(n_in, int) or not 1 <= n_in <= max(limit, 1):
        raise ModelFileError(
            f"{where}: n_features_in_ must be an int from 1 to {max(limit, 1)}, got "
            f"{repr(n_in)[:40]}"
        )
    extra = set(fitted) - {"n_features_in_", "feature_names_in_", "sparse_output_"}
    if extra:
        raise ModelFileError(f"{where}: unknown fitted attributes {sorted(extra)}")
    if names is not None and (
        not isinstance(names, list)
        or len(names) != n_in
        or not all(isinstance(v, str) for v in names)
    ):
        raise ModelFileError(f"{where}: feature_names_in_ must be {n_in} strings")
    return n_in


def _loaded_columns(raw: Any, where: str, fitted: bool) -> tuple[Any, Any]:
    """A step's columns as a file holds them: (None, the columns), or for a
    make_column_selector (the selector, the columns it chose when fitted)."""
    from ._pipeline import _plain

    if not (isinstance(raw, dict) and "$selector" in raw):
        return None, _plain(raw, where)
    spec = raw["$selector"]
    if set(raw) != {"$selector", "chose"} or not isinstance(spec, dict):
        raise ModelFileError(f"{where}: expected a selector and the columns it chose")
    if set(spec) != {"pattern", "dtype_include", "dtype_exclude"}:
        raise ModelFileError(
            f"{where}: a selector holds pattern, dtype_include and dtype_exclude, got "
            f"{sorted(map(str, spec))[:10]}"
        )
    pattern = spec["pattern"]
    problem = pattern_problem(pattern)
    if problem:
        raise ModelFileError(f"{where}: pattern must be {problem}, got {repr(pattern)[:80]}")
    dtypes: dict[str, Any] = {}
    for key in ("dtype_include", "dtype_exclude"):
        value = spec[key]
        names = value if isinstance(value, list) else [value]
        if value is None:
            dtypes[key] = None
            continue
        if not all(isinstance(n, str) and n in SELECTOR_DTYPES for n in names):
            raise ModelFileError(
                f"{where}: {key} must be null, or one or a list of "
                f"{', '.join(map(repr, SELECTOR_DTYPES))}; got {repr(value)[:80]}"
            )
        loaded = [SELECTOR_DTYPES[n] for n in names]
        dtypes[key] = loaded if isinstance(value, list) else loaded[0]
    from sklearn.compose import make_column_selector

    selector = make_column_selector(pattern, **dtypes)
    chose = raw["chose"]
    if fitted and chose is None:
        raise ModelFileError(f"{where}: a fitted selector must hold the columns it chose")
    return selector, _plain(chose, f"{where}.chose")


def _passes_through(step: Any) -> bool:
    """Whether ``step`` is a Pipeline of passthrough steps only (it gives its input)."""
    steps = getattr(step, "steps", None)
    return steps is not None and all(s is None or s == "passthrough" for _, s in steps)


def _zeros(n_in: int, names: list[str] | None, where: str, by_position: bool) -> Any:
    """One row of zeros with the fitted input's columns: a DataFrame when named, but an
    array where pandas is not installed and the columns are picked by position (the
    names are then set as a DataFrame's fit would set them)."""
    if names is None:
        return np.zeros((1, n_in))
    try:
        import pandas as pd
    except ImportError:
        if by_position:
            return np.zeros((1, n_in))
        raise ModelFileError(
            f"{where} was fitted on a table with named columns, and loading it needs "
            "pandas: pip install pandas"
        ) from None
    return pd.DataFrame(np.zeros((1, n_in)), columns=names)


def _build_pipeline(
    params: dict[str, Any], where: str, limit: int, build: Callable[..., tuple[Any, int | None]]
) -> tuple[Any, int | None]:
    from sklearn.pipeline import Pipeline

    raw = params.get("steps")
    verbose = params.get("verbose")
    if set(params) != {"steps", "verbose"} or not isinstance(raw, list) or not raw:
        raise ModelFileError(f"{where}: expected a Pipeline's steps and verbose")
    steps, n_in, fitted = [], None, None
    width = None  # (what the fitted steps so far give)
    for i, entry in enumerate(raw):
        at = f"{where}.steps[{i}]"
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], str):
            raise ModelFileError(f"{at}: expected [name, step]")
        obj, width_in = _inner_built(entry[1], at, limit, build, None)
        if width_in is not None:
            if width is not None and width_in != width:
                raise ModelFileError(
                    f"{at}: takes {width_in} features, and the steps before it give {width}"
                )
            width = _width(obj, at)
        if width_in is not None and n_in is None:
            n_in = width_in
        if not isinstance(obj, str):
            is_fitted = width_in is not None
            if fitted is not None and is_fitted != fitted:
                raise ModelFileError(f"{where}: some steps are fitted, others not")
            fitted = is_fitted
        steps.append((entry[0], obj))
    try:
        pipe = Pipeline(steps, verbose=_plain_bool(verbose, where))
        pipe._validate_steps()
    except ModelFileError:
        raise
    except Exception as err:
        raise ModelFileError(f"{where}: {err}") from None
    return pipe, n_in


def _plain_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ModelFileError(f"{where}: verbose must be true or false")
    return value


def _inner_built(
    inner: Any,
    where: str,
    limit: int,
    build: Callable[..., tuple[Any, int | None]],
    fitted: bool | None,
    widest: int = 0,
) -> tuple[Any, int | None]:
    """A composite's inner step, and (fitted) its output width; inside a Pipeline, its
    input width instead (``fitted`` None)."""
    if isinstance(inner, str) and inner in _CHOICES:
        return inner, None
    from ._manifest import StepSpec

    try:
        spec = StepSpec.model_validate(inner)
    except Exception as err:
        raise ModelFileError(f"{where}: {str(err)[:300]}") from None
    if spec.type == PASSTHROUGH:
        return PASSTHROUGH, None
    obj, n_in = build(spec, where, limit)
    if fitted is None or n_in is None:
        return obj, n_in
    if not fitted:
        raise ModelFileError(f"{where}: fitted, where its ColumnTransformer is not")
    return obj, output_width(obj, where, widest)


def output_width(step: Any, where: str, limit: int) -> int:
    """How many features a fitted step gives, refused above ``limit`` before anything of
    that size is made (PolynomialFeatures' names would make its powers first)."""
    width = _width(step, where)
    if width > max(limit, 1):
        raise ModelFileError(
            f"{where}: gives {width} features, more than {max(limit, 1)} (the widest a "
            "step of this file may give)"
        )
    return int(width)


def _width(step: Any, where: str) -> int:
    """How many features a fitted step gives, found without making anything of that
    size (PolynomialFeatures' names would make its powers first): a Pipeline's last
    step's, a ColumnTransformer's from its output slices."""
    kind = type(step).__name__
    try:
        if kind == "PolynomialFeatures":
            return int(step.n_output_features_)
        if kind == "ColumnTransformer":  # (its slices, from its steps' checked widths)
            return max((s.stop for s in step.output_indices_.values()), default=0)
        if kind == "Pipeline":
            inner = [s for _, s in step.steps if not isinstance(s, str) and s is not None]
            if inner:
                return _width(inner[-1], where)
        return len(step.get_feature_names_out())
    except ModelFileError:
        raise
    except Exception as err:
        raise ModelFileError(f"{where}: {err}") from None


def _selects_none(columns: Any) -> bool:
    """Whether a column selection (as saved) selects no column."""
    return isinstance(columns, list) and not any(c is not False for c in columns)


def column_list(columns: Any) -> list[Any]:
    """A fitted selection as a list (scikit-learn 1.6's remainder columns are a list
    of its own class)."""
    if isinstance(columns, (str, int, np.integer)):
        return [columns]
    return list(columns)


def _unfitted(step: Any) -> Any:
    """The settings' copy of a fitted step (a ColumnTransformer's ``transformers``)."""
    if isinstance(step, str):
        return step
    from sklearn.base import clone

    return clone(step)


class _Width:
    """A stand-in step of a given output width, fitted in a ColumnTransformer's place."""

    def __init__(self, width: int | None = None) -> None:
        self.width = width

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"width": self.width}

    def set_params(self, **params: Any) -> _Width:
        self.width = params.get("width", self.width)
        return self

    def fit(self, X: Any, y: Any = None) -> _Width:
        return self

    def transform(self, X: Any) -> Any:
        return np.zeros((np.shape(X)[0], self.width or 0))

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        return self.transform(X)


def sample_input(step: Any) -> Any:
    """One row a fitted step takes (``examples``; a DataFrame where a ColumnTransformer
    selects columns by name)."""
    values = examples(step)
    while type(step).__name__ == "Pipeline":  # (its first step takes the row)
        step = next((s for _, s in step.steps if not isinstance(s, str) and s is not None), None)
    names = getattr(step, "feature_names_in_", None)
    by_name = type(step).__name__ == "ColumnTransformer" and any(
        isinstance(c, str) for _, _, cols in step.transformers_ for c in column_list(cols)
    )
    return _row(values, [str(n) for n in names] if by_name and names is not None else None)


def examples(step: Any) -> list[Any]:
    """A value each input column of a fitted step takes: an encoder's first category of
    it (a string for text categories), else 0.0 (NaN where an imputer drops the
    column). Through a ColumnTransformer to each of its steps, and through an inner
    Pipeline's imputers to the encoder after them."""
    kind = type(step).__name__
    if kind == "Pipeline":
        inner = [s for _, s in step.steps if not isinstance(s, str) and s is not None]
        for i, s in enumerate(inner):
            if type(s).__name__ in ENCODERS:  # (back through the steps before it)
                taken: list[Any] | None = examples(s)
                for before in reversed(inner[:i]):
                    taken = _before(before, taken)
                if taken is not None:
                    return taken
                break
        return examples(inner[0]) if inner else []
    if kind in ENCODERS:
        return [cats[0] for cats in step.categories_]
    n_in = int(step.n_features_in_)
    if kind == "SimpleImputer" and step._fit_dtype.kind == "O":
        stats = step.statistics_.tolist()
        return [0.0 if isinstance(v, float) and math.isnan(v) else v for v in stats]
    if kind != "ColumnTransformer":
        return [0.0] * n_in
    values: list[Any] = [0.0] * n_in
    for _, trans, columns in step.transformers_:
        if isinstance(trans, str) or type(trans).__name__ == "FunctionTransformer":
            continue
        columns = column_list(columns)
        if _selects_none(columns):
            continue
        for i, value in zip(positions(step, columns), examples(trans), strict=False):
            values[i] = value
    return values


def positions(ct: Any, columns: list[Any]) -> list[int]:
    """The input positions of a fitted ColumnTransformer's column selection."""
    n_in = int(ct.n_features_in_)
    if columns and all(isinstance(c, (bool, np.bool_)) for c in columns):
        return [i for i, c in enumerate(columns) if c]
    given = getattr(ct, "feature_names_in_", None)
    names = [] if given is None else [str(n) for n in given]
    return [names.index(c) if isinstance(c, str) else int(c) % n_in for c in columns]


def _before(step: Any, after: list[Any] | None) -> list[Any] | None:
    """Values a fitted step takes to give ``after``: through an imputer (NaN for a
    column it drops), or a step's ``inverse_transform`` (a scaler's); None if not."""
    if after is None:
        return None
    if type(step).__name__ == "SimpleImputer":
        return _before_imputer(step, after)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row = np.asarray(step.inverse_transform(np.array([after], dtype=float)))
    except Exception:
        return None
    return row[0].tolist() if row.ndim == 2 and row.shape[1] == step.n_features_in_ else None


def _before_imputer(imputer: Any, after: list[Any]) -> list[Any]:
    """``after`` (a value per column the imputer gives) per column it takes: NaN for
    a column it drops (empty when fitted)."""
    if imputer.keep_empty_features:
        return after
    stats = imputer.statistics_.tolist()
    kept = [not (isinstance(v, float) and math.isnan(v)) for v in stats]
    given = iter(after)
    return [next(given, 0.0) if keep else math.nan for keep in kept]


def _row(values: list[Any], names: list[str] | None) -> Any:
    if names is not None:
        import pandas as pd

        return pd.DataFrame([values], columns=names)
    numeric = all(isinstance(v, (int, float, np.number)) for v in values)
    row = np.empty((1, len(values)), dtype=float if numeric else object)
    row[0, :] = values
    return row
