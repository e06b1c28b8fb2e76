"""A Pipeline in a model file: scikit-learn's scalers and imputers before a layerkit
network, saved as their settings and fitted values (JSON data, no code), and rebuilt
from a fixed list of classes, never from a name the file gives."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..exceptions import ModelFileError
from ._manifest import pipeline_digest
from ._values import decoded, encode

#: The steps a model file can hold before the network, by class name, with the
#: attributes a fit gives them (besides n_features_in_ and feature_names_in_).
FITTED = {
    "StandardScaler": ("mean_", "var_", "scale_", "n_samples_seen_"),
    "MinMaxScaler": ("scale_", "min_", "data_min_", "data_max_", "data_range_", "n_samples_seen_"),
    "MaxAbsScaler": ("max_abs_", "scale_", "n_samples_seen_"),
    "RobustScaler": ("center_", "scale_"),
    "SimpleImputer": ("statistics_", "indicator_", "_fit_dtype", "_fill_dtype"),
    "PolynomialFeatures": ("_min_degree", "_max_degree", "n_output_features_", "_n_out_full"),
    "Normalizer": (),
}
PASSTHROUGH = "passthrough"
_COMMON = ("n_features_in_", "feature_names_in_")


def _classes() -> dict[str, type]:
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
    return {cls.__name__: cls for cls in (*found, PolynomialFeatures, Normalizer)}


def is_pipeline(obj: Any) -> bool:
    from sklearn.pipeline import Pipeline

    return isinstance(obj, Pipeline)


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
    for name in ("memory", "transform_input"):
        if getattr(pipe, name, None) is not None:
            raise TypeError(
                f"layerkit.save: the Pipeline's {name} is {getattr(pipe, name)!r}; a model "
                f"file holds a Pipeline with {name}=None"
            )
    *before, (final_name, final) = pipe.steps
    if not isinstance(final, BaseMLP):
        raise TypeError(
            "layerkit.save saves a Pipeline that ends in a layerkit MLPClassifier or "
            f"MLPRegressor, got one ending in {type(final).__name__}"
        )
    classes = _classes()
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
                f"these steps before the network: {', '.join(sorted(classes))} (pickle "
                "or joblib.dump the Pipeline otherwise, for code you trust)"
            )
        steps.append(_step_spec(name, kind, step))
    spec = {
        "steps": steps,
        "final": final_name,
        "verbose": bool(pipe.verbose),
        "sklearn_version": sklearn.__version__,
    }
    spec["sha256"] = pipeline_digest(spec)
    return spec, final


def _step_spec(name: str, kind: str, step: Any) -> dict[str, Any]:
    where = f"Pipeline step {name!r} ({kind})"
    params = step.get_params(deep=False)
    spec: dict[str, Any] = {
        "name": name,
        "type": kind,
        "params": {k: encode(v, f"{where}.{k}") for k, v in params.items()},
    }
    attributes = {k: v for k, v in vars(step).items() if k not in params}
    if not attributes:  # (not fitted: its settings only)
        return spec
    known = set(FITTED[kind]) | set(_COMMON)
    unknown = sorted(set(attributes) - known)
    if unknown:
        import sklearn

        raise TypeError(
            f"layerkit.save cannot save {where}: it has attributes this layerkit does not "
            f"know for {kind} ({', '.join(unknown)}; scikit-learn {sklearn.__version__})"
        )
    if getattr(step, "indicator_", None) is not None:
        raise TypeError(
            f"layerkit.save cannot save {where} with add_indicator=True: its "
            "MissingIndicator is not among the steps a model file holds"
        )
    fitted, dtypes, names = {}, {}, []
    for key, value in attributes.items():
        if isinstance(value, np.dtype):
            dtypes[key] = value.str
        elif isinstance(value, np.ndarray) and value.dtype == object:
            # (feature names; a constant imputer's fill values)
            items = value.tolist()
            if value.ndim != 1 or not all(isinstance(v, (str, int, float)) for v in items):
                raise TypeError(f"layerkit.save cannot save {where}.{key}: {value!r}")
            names.append(key)
            fitted[key] = [encode(v, f"{where}.{key}") for v in items]
        else:
            fitted[key] = encode(value, f"{where}.{key}")
    spec.update(fitted=fitted, dtypes=dtypes, object_arrays=names)
    return spec


def build_pipeline(spec: Any, final: Any) -> Any:
    """The Pipeline ``spec`` (a validated ``PipelineSpec``) describes, ending in
    ``final``, the network estimator already loaded; each fitted step is checked by
    transforming a row of zeros into as many features as the network takes."""
    import sklearn
    from sklearn.pipeline import Pipeline

    if pipeline_digest(spec) != spec.sha256:
        raise ModelFileError(
            "the pipeline's steps do not match their SHA-256: the file is damaged"
        )
    classes = _classes()
    steps: list[tuple[str, Any]] = []
    for i, step in enumerate(spec.steps):
        where = f"pipeline.steps.{i} ({step.name!r}, {step.type})"
        if step.type == PASSTHROUGH:
            steps.append((step.name, PASSTHROUGH))
            continue
        params = {k: decoded(v, f"{where}.params.{k}") for k, v in step.params.items()}
        try:
            built = classes[step.type](**params)
            built._validate_params()
        except Exception as err:  # (unknown or invalid settings)
            raise ModelFileError(f"{where}: {err}") from None
        if step.fitted is not None:
            _set_fitted(built, step, where)
        steps.append((step.name, built))
    steps.append((spec.final, final))
    try:
        pipe = Pipeline(steps, verbose=spec.verbose)
    except Exception as err:  # (repeated names, say)
        raise ModelFileError(f"pipeline: {err}") from None
    if "n_features_in_" in final.__dict__ and any(s.fitted is not None for s in spec.steps):
        _check_chain(pipe, final, spec.sklearn_version, sklearn.__version__)
    return pipe


def _set_fitted(built: Any, step: Any, where: str) -> None:
    known = set(FITTED[step.type]) | set(_COMMON)
    given = set(step.fitted) | set(step.dtypes)
    if not given <= known:
        raise ModelFileError(f"{where}: unknown fitted attributes {sorted(given - known)}")
    missing = sorted((set(FITTED[step.type]) | {"n_features_in_"}) - given)
    if missing:
        raise ModelFileError(f"{where}: fitted attributes missing: {missing}")
    for key, value in step.fitted.items():
        if key in step.object_arrays:
            items = decoded(value, f"{where}.fitted.{key}")
            if not isinstance(items, list) or not all(
                isinstance(v, (str, int, float)) for v in items
            ):
                raise ModelFileError(f"{where}: {key} must be a list of strings or numbers")
            column = np.empty(len(items), dtype=object)
            column[:] = items
            setattr(built, key, column)
        else:
            setattr(built, key, decoded(value, f"{where}.fitted.{key}"))
    for key, text in step.dtypes.items():
        try:
            dtype = np.dtype(text)
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in "biuf":
            raise ModelFileError(f"{where}: {key} must be a numeric dtype, got {text!r}")
        setattr(built, key, dtype)
    if built.__dict__.get("indicator_") is not None:
        raise ModelFileError(f"{where}: indicator_ must be null")


def _check_chain(pipe: Any, final: Any, saved_with: str, running: str) -> None:
    """The steps turn a row of the first step's features into one of the network's."""
    first = next((s for _, s in pipe.steps[:-1] if s != PASSTHROUGH), None)
    n_in = getattr(first, "n_features_in_", final.n_features_in_)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (no feature names on the probe row)
            out = pipe[:-1].transform(np.zeros((1, n_in)))
    except Exception as err:
        raise ModelFileError(
            f"the Pipeline's steps do not run (saved with scikit-learn {saved_with}, "
            f"this is {running}): {err}"
        ) from None
    if np.shape(out)[1] != final.n_features_in_:
        raise ModelFileError(
            f"the Pipeline's steps give {np.shape(out)[1]} features, and its network "
            f"takes {final.n_features_in_}"
        )
