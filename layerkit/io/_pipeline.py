"""A Pipeline in a model file: scikit-learn's scalers, imputers and encoders before a layerkit
network, saved as their settings and fitted values (JSON data, no code), and rebuilt
from a fixed list of classes, never from a name the file gives.

Loading trusts nothing the file says about sizes: every fitted vector must be as long
as its step's input, the steps' widths must chain into the network's input (whose
weights the file holds), and what a step computes from its settings alone
(PolynomialFeatures' powers, Normalizer) is computed again, not read."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np

from ..exceptions import ModelFileError
from ._columns import (
    COMPOSITES,
    ENCODER_DERIVED,
    ENCODERS,
    build_composite,
    build_encoder,
    composite_spec,
    encoder_categories,
    encoder_classes,
    encoder_dtype,
    holds_later_steps,
    output_width,
    refuse_pipeline_settings,
    refuse_step_name,
    sample_input,
)
from ._manifest import pipeline_digest
from ._values import decoded, encode

#: The steps a model file can hold before the network, by class name, with the
#: attributes read from the file (besides n_features_in_ and feature_names_in_).
FITTED = {
    "StandardScaler": ("mean_", "var_", "scale_", "n_samples_seen_"),
    "MinMaxScaler": ("scale_", "min_", "data_min_", "data_max_", "data_range_", "n_samples_seen_"),
    "MaxAbsScaler": ("max_abs_", "scale_", "n_samples_seen_"),
    "RobustScaler": ("center_", "scale_"),
    "SimpleImputer": ("statistics_", "indicator_", "_fit_dtype"),
    "PolynomialFeatures": (),
    "Normalizer": (),
    "OneHotEncoder": ("categories_",),
    "OrdinalEncoder": ("categories_",),
}
#: Attributes only some scikit-learn versions give (1.9's SimpleImputer has
#: _fill_dtype, 1.7's has not): saved when there, and on load, when missing, taken as
#: the attribute named beside it (_fill_dtype is the dtype of the data fitted on)
OPTIONAL = {"SimpleImputer": {"_fill_dtype": "_fit_dtype"}}
#: Attributes a fit derives from the settings and the input width: computed on load by
#: fitting on a row of zeros, never read (a file's _max_degree set the loops' length)
DERIVED = {
    "PolynomialFeatures": ("_min_degree", "_max_degree", "n_output_features_", "_n_out_full"),
    "OneHotEncoder": ENCODER_DERIVED,
    "OrdinalEncoder": ENCODER_DERIVED,
}
PASSTHROUGH = "passthrough"
_COMMON = ("n_features_in_", "feature_names_in_")
_OUTPUT_CONFIG = "_sklearn_output_config"


def step_classes() -> dict[str, type]:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import (
        MaxAbsScaler,
        MinMaxScaler,
        Normalizer,
        PolynomialFeatures,
        RobustScaler,
        StandardScaler,
    )

    found = (StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler, SimpleImputer)
    classes = {cls.__name__: cls for cls in (*found, PolynomialFeatures, Normalizer)}
    return {**classes, **encoder_classes()}


def is_pipeline(obj: Any) -> bool:
    from sklearn.pipeline import Pipeline

    return isinstance(obj, Pipeline)


# -- saving ------------------------------------------------------------------------------


def pipeline_spec(pipe: Any) -> tuple[dict[str, Any], Any]:
    """The manifest's ``pipeline`` entry, and the network estimator ending the Pipeline
    (described by the caller). Anything a file cannot hold is refused, named."""
    import sklearn
    from sklearn.pipeline import Pipeline

    from ..estimators._base import BaseMLP

    if type(pipe) is not Pipeline:
        raise TypeError(
            f"layerkit.save saves a sklearn.pipeline.Pipeline, not its subclass "
            f"{type(pipe).__qualname__}"
        )
    refuse_pipeline_settings(pipe, "the Pipeline")
    *before, (final_name, final) = pipe.steps
    if not isinstance(final, BaseMLP):
        shown = (
            repr(final)
            if isinstance(final, str) or final is None
            else f"{type(final).__module__.split('.')[0]}'s {type(final).__name__}"
        )
        raise TypeError(
            "layerkit.save saves a Pipeline that ends in a layerkit MLPClassifier or "
            f"MLPRegressor, got one ending in {shown}"
        )
    for name, _ in pipe.steps:
        refuse_step_name(name, "the Pipeline's step")
    classes = step_classes()
    steps = []
    for name, step in before:
        if step is None or (isinstance(step, str) and step == PASSTHROUGH):
            steps.append({"name": name, "type": PASSTHROUGH, "params": {}})
            continue
        kind = type(step).__name__
        if classes.get(kind) is not type(step):
            raise TypeError(
                f"layerkit.save cannot save the Pipeline's step {name!r}, a "
                f"{type(step).__module__}.{type(step).__qualname__}: a model file holds "
                f"these steps before the network: {', '.join(sorted(classes))} and "
                f"'passthrough' (pickle "
                "or joblib.dump the Pipeline otherwise, for code you trust)"
            )
        steps.append(step_spec(name, kind, step))
    spec = {
        "steps": steps,
        "final": final_name,
        "verbose": bool(pipe.verbose),
        "sklearn_version": sklearn.__version__,
    }
    spec["sha256"] = pipeline_digest(spec)
    return spec, final


def step_spec(name: str, kind: str, step: Any) -> dict[str, Any]:
    where = f"Pipeline step {name!r} ({kind})"
    params = step.get_params(deep=False)
    output = getattr(step, _OUTPUT_CONFIG, None)
    if kind in COMPOSITES:
        spec = composite_spec(where, kind, step, step_spec)
        spec["name"] = name
    else:
        if kind in ENCODERS:  # (its dtype, a NumPy type, by name; arrays as lists)
            params = {**params, "dtype": np.dtype(params["dtype"]).name}
            if isinstance(params["categories"], (list, tuple)):
                params["categories"] = [_listed(c) for c in params["categories"]]
            if "drop" in params:
                params["drop"] = _listed(params["drop"])
        spec = {
            "name": name,
            "type": kind,
            "params": {k: encode(v, f"{where}.{k}") for k, v in params.items()},
        }
    if output:
        if set(output) != {"transform"}:
            raise TypeError(f"layerkit.save cannot save {where}'s set_output({output!r})")
        spec["output"] = output["transform"]
    if kind in COMPOSITES:
        return spec
    attributes = {k: v for k, v in vars(step).items() if k not in params}
    attributes.pop(_OUTPUT_CONFIG, None)
    for derived in DERIVED.get(kind, ()):
        attributes.pop(derived, None)
    if not attributes:  # (not fitted: its settings only)
        return spec
    categories = encoder_categories(where, step) if kind in ENCODERS else None
    known = set(FITTED[kind]) | set(_COMMON) | set(OPTIONAL.get(kind, ()))
    unknown = sorted(set(attributes) - known)
    if unknown:
        import sklearn

        raise TypeError(
            f"layerkit.save cannot save {where}: it has attributes this layerkit does not "
            f"know for {kind} ({', '.join(unknown)}; scikit-learn {sklearn.__version__})"
        )
    if kind in ENCODERS:
        spec["fitted"] = {
            "categories_": categories,
            "n_features_in_": int(step.n_features_in_),
        }
        if "feature_names_in_" in attributes:
            spec["fitted"]["feature_names_in_"] = [str(v) for v in step.feature_names_in_]
        return spec
    if getattr(step, "indicator_", None) is not None:
        raise TypeError(
            f"layerkit.save cannot save {where} with add_indicator=True: its "
            "MissingIndicator is not among the steps a model file holds"
        )
    if kind == "SimpleImputer" and step._fit_dtype.kind not in "biufO":
        raise TypeError(
            f"layerkit.save cannot save {where}: it was fitted on columns of dtype "
            f"{step._fit_dtype}; a model file holds imputers of numbers or of categories "
            "(strings, as objects)"
        )
    fitted, dtypes, scalars, names = {}, {}, {}, []
    for key, value in attributes.items():
        if isinstance(value, np.dtype):
            dtypes[key] = value.str
        elif isinstance(value, np.generic):  # (kept a NumPy scalar: partial_fit adds to it)
            scalars[key] = value.dtype.str
            fitted[key] = encode(value.item(), f"{where}.{key}")
        elif isinstance(value, np.ndarray) and value.dtype == object:
            # (feature names; a constant imputer's fill values)
            items = value.tolist()
            if value.ndim != 1 or not all(
                v is None or isinstance(v, (str, int, float)) for v in items
            ):
                raise TypeError(f"layerkit.save cannot save {where}.{key}: {value!r}")
            names.append(key)
            fitted[key] = [encode(v, f"{where}.{key}") for v in items]
        else:
            fitted[key] = encode(value, f"{where}.{key}")
    spec.update(fitted=fitted, dtypes=dtypes, scalars=scalars, object_arrays=names)
    return spec


# -- loading -----------------------------------------------------------------------------


def build_pipeline(spec: Any, final: Any) -> Any:
    """The Pipeline ``spec`` (a validated ``PipelineSpec``) describes, ending in
    ``final``, the network estimator already loaded. Sizes are checked before anything
    is allocated from them; then a row of zeros runs through the fitted steps."""
    import sklearn
    from sklearn.pipeline import Pipeline

    if pipeline_digest(spec) != spec.sha256:
        raise ModelFileError(
            "the pipeline's steps do not match their SHA-256: the file is damaged"
        )
    network_in = final.__dict__.get("n_features_in_")
    # no step's input is wider than the network's or than the longest vector it holds
    limit = max([network_in or 0] + [longest_vector(step.fitted) for step in spec.steps])
    steps: list[tuple[str, Any]] = []
    width = None  # what the steps so far give
    for i, step in enumerate(spec.steps):
        where = f"pipeline.steps.{i} ({step.name!r}, {step.type})"
        if step.type == PASSTHROUGH:
            steps.append((step.name, PASSTHROUGH))
            continue
        built, n_in = build_step(step, where, limit)
        if n_in is not None:
            if width is not None and n_in != width:
                raise ModelFileError(
                    f"{where}: takes {n_in} features, and the steps before it give {width}"
                )
            width = _width_out(built, step.type, n_in, where, limit)
        steps.append((step.name, built))
    if width is not None and network_in is not None and width != network_in:
        raise ModelFileError(
            f"the Pipeline's steps give {width} features, and its network takes {network_in}"
        )
    steps.append((spec.final, final))
    try:
        pipe = Pipeline(steps, verbose=spec.verbose)
        pipe._validate_steps()  # (unique names, none a Pipeline's parameter)
    except Exception as err:
        raise ModelFileError(f"pipeline: {err}") from None
    # (a Pipeline holding an encoder is not probed: no row can be made that every
    # encoder takes after the steps before it; its encoders and ColumnTransformers were
    # each fitted again on their own categories and columns above)
    if width is not None and network_in is not None and not holds_later_steps(spec):
        _probe(pipe, spec.sklearn_version, sklearn.__version__)
    return pipe


def build_step(
    step: Any,
    where: str,
    limit: int,
    limit_what: str = "the network's input or the step's own vectors",
) -> tuple[Any, int | None]:
    """The step ``step`` (a validated ``StepSpec``) describes, from the fixed list of
    classes, its settings checked by scikit-learn; fitted, its attributes set and
    checked, none wider than ``limit`` (``limit_what``, for the message). Returns it
    and its input width (None: not fitted)."""
    if step.type in COMPOSITES:
        built, n_in = build_composite(step, where, limit, build_step)
        if step.output is not None:
            built.set_output(transform=step.output)
        return built, n_in
    params = {k: _plain(v, f"{where}.params.{k}") for k, v in step.params.items()}
    if step.type in ENCODERS:
        params["dtype"] = encoder_dtype(params.get("dtype"), where)
    try:
        built = step_classes()[step.type](**params)
        built._validate_params()
        if step.output is not None:
            built.set_output(transform=step.output)
    except Exception as err:  # (unknown or invalid settings)
        raise ModelFileError(f"{where}: {err}") from None
    if step.fitted is None:
        return built, None
    if step.type in ENCODERS:
        return built, build_encoder(built, step, where, limit)
    return built, _set_fitted(built, step, where, limit, limit_what)


def longest_vector(fitted: dict[str, Any] | None) -> int:
    """The most values any fitted entry holds (JSON data: already in memory)."""
    longest = 0
    for value in (fitted or {}).values():
        if isinstance(value, dict) and set(value) == {"$array"}:
            value = value["$array"].get("values") if isinstance(value["$array"], dict) else []
        if isinstance(value, list):
            longest = max(longest, len(value))
    return longest


def _listed(value: Any) -> Any:
    """An array setting as a list of Python values (a file holds no text arrays)."""
    return value.tolist() if isinstance(value, np.ndarray) else value


def _plain(value: Any, where: str) -> Any:
    """``value`` decoded if it is plain data: numbers, strings, booleans, None, and
    lists, tuples and 1-d numeric arrays of them (no object, dict or layer tags)."""

    def check(v: Any) -> None:
        if isinstance(v, list):
            for item in v:
                check(item)
        elif isinstance(v, dict):
            if set(v) == {"$float"}:
                return
            if set(v) == {"$tuple"} and isinstance(v["$tuple"], list):
                check(v["$tuple"])
                return
            if set(v) == {"$array"} and isinstance(v["$array"], dict):
                dtype = str(v["$array"].get("dtype", ""))
                if re.fullmatch(r"[<>|=]?[biuf]\d{1,2}", dtype):  # (numbers only)
                    check(v["$array"].get("values"))
                    return
            raise ModelFileError(f"{where}: expected plain data, got {str(v)[:80]}")
        elif not (v is None or isinstance(v, (bool, int, float, str))):
            raise ModelFileError(f"{where}: expected plain data, got {str(v)[:80]}")

    check(value)
    return decoded(value, where)


def _set_fitted(built: Any, step: Any, where: str, limit: int, limit_what: str) -> int:
    """Set the fitted attributes of ``step`` on ``built``, each checked; its input width."""
    required = set(FITTED[step.type]) | {"n_features_in_"}
    optional = OPTIONAL.get(step.type, {})
    given = set(step.fitted) | set(step.dtypes)
    allowed = required | set(_COMMON) | set(optional)
    if not given <= allowed:
        raise ModelFileError(f"{where}: unknown fitted attributes {sorted(given - allowed)}")
    if not required <= given:
        raise ModelFileError(f"{where}: fitted attributes missing: {sorted(required - given)}")
    n_in = step.fitted["n_features_in_"]
    if isinstance(n_in, bool) or not isinstance(n_in, int) or not 1 <= n_in <= max(limit, 1):
        raise ModelFileError(
            f"{where}: n_features_in_ must be an int from 1 to {max(limit, 1)} (no wider "
            f"than {limit_what}), got {str(n_in)[:40]}"
        )
    values: dict[str, Any] = {}
    for key, value in step.fitted.items():
        if key in step.object_arrays:
            items = _plain(value, f"{where}.fitted.{key}")
            # (an imputer fitted on objects holds categories: strings and booleans too)
            names = key == "feature_names_in_"
            types = (str,) if names else (int, float, str, bool, type(None))
            if not isinstance(items, list) or not all(
                isinstance(v, types) and not (names and isinstance(v, bool)) for v in items
            ):
                what = "strings" if names else "numbers, strings, booleans or null"
                raise ModelFileError(f"{where}: {key} must be a list of {what}")
            column = np.empty(len(items), dtype=object)
            column[:] = items
            values[key] = column
        else:
            values[key] = _plain(value, f"{where}.fitted.{key}")
        if key in step.scalars:
            values[key] = _scalar(values[key], step.scalars[key], f"{where}.{key}")
    for key, value in values.items():  # (every vector one value per input feature)
        ok = value is None or (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and key != "feature_names_in_"
        )
        if isinstance(value, np.ndarray):
            kinds = "O" if key in step.object_arrays else "iuf"
            ok = value.ndim == 1 and value.dtype.kind in kinds and len(value) == n_in
        if isinstance(value, np.generic):
            ok = value.dtype.kind in "iuf"
        if not ok:
            raise ModelFileError(
                f"{where}: {key} must be a number or {n_in} of them (one per input "
                f"feature), got {str(value)[:80]}"
            )
    for key, text in step.dtypes.items():
        try:
            dtype = np.dtype(text)
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in "biufO":
            raise ModelFileError(f"{where}: {key} must be a numeric or object dtype, got {text!r}")
        values[key] = dtype
    texts = [
        key
        for key, value in values.items()
        if key != "feature_names_in_"
        and isinstance(value, np.ndarray)
        and value.dtype == object
        and any(isinstance(v, str) for v in value)
    ]
    if texts and getattr(values.get("_fit_dtype"), "kind", "f") != "O":
        raise ModelFileError(f"{where}: {texts[0]} holds strings, for numeric columns")
    if values.get("indicator_") is not None:
        raise ModelFileError(f"{where}: indicator_ must be null")
    for key, like in optional.items():
        values.setdefault(key, values[like])
    if not FITTED[step.type]:  # (PolynomialFeatures, Normalizer: all from the settings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            built.fit(np.zeros((1, n_in)))
    for key, value in values.items():
        setattr(built, key, value)
    return int(n_in)


def _scalar(value: Any, text: str, where: str) -> Any:
    try:
        dtype = np.dtype(text)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "iuf" or isinstance(value, bool):
        raise ModelFileError(f"{where}: a NumPy scalar of a numeric dtype, got {text!r}")
    if not isinstance(value, (int, float)):
        raise ModelFileError(f"{where}: a number, got {str(value)[:40]}")
    return dtype.type(value)


def _width_out(built: Any, kind: str, n_in: int, where: str = "", limit: int = 0) -> int:
    """How many features the fitted step gives for ``n_in`` (a ColumnTransformer's and
    an encoder's: no more than ``limit``)."""
    if kind in COMPOSITES or kind in ENCODERS:
        return output_width(built, where, limit)
    if kind == "PolynomialFeatures":
        return int(built.n_output_features_)
    if kind == "SimpleImputer" and not built.keep_empty_features:
        statistics = built.statistics_
        if statistics.dtype != object:  # (an empty column's statistic is NaN: dropped)
            return int(n_in - np.count_nonzero(np.isnan(statistics)))
    return n_in


def _probe(pipe: Any, saved_with: str, running: str) -> None:
    """A row of zeros through the steps (widths checked already): they must run."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (no feature names on the probe row)
            out = pipe[:-1].transform(sample_input(pipe[:-1]))
    except Exception as err:
        versions = (
            f"saved with scikit-learn {saved_with}, this is {running}"
            if saved_with != running
            else "each column 0, or an encoder's first category"
        )
        raise ModelFileError(f"the Pipeline's steps do not run ({versions}): {err}") from None
    if np.shape(out)[1] != pipe[-1].n_features_in_:
        raise ModelFileError(
            f"the Pipeline's steps give {np.shape(out)[1]} features, and its network "
            f"takes {pipe[-1].n_features_in_}"
        )
