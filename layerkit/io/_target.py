"""A TransformedTargetRegressor in a model file: the regressor (a network, or a Pipeline
ending in one) as usual, and its target transformer as JSON data in ``target``.

Training on a scaled target and predicting in the target's own units is scikit-learn's
``TransformedTargetRegressor(regressor, transformer=StandardScaler())``: predict is
``transformer_.inverse_transform(regressor_.predict(X))``. The file holds the scaler's
settings and fitted vectors (one value per output); on load it is rebuilt from a fixed
list of scalers, never from a name the file gives, as a Pipeline's steps are.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import clone

from ..exceptions import ModelFileError
from ._columns import LATER_STEPS, sample_input
from ._manifest import target_digest
from ._pipeline import FITTED, build_step, longest_vector, step_classes, step_spec

#: The target transformers a model file holds: linear, so invertible exactly
TARGET_SCALERS = ("StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler")
_WHAT = (
    "a TransformedTargetRegressor whose regressor is a layerkit MLPRegressor (or a "
    "Pipeline ending in one) and whose transformer is None or one of " + ", ".join(TARGET_SCALERS)
)
_ELSE = "(pickle or joblib.dump it otherwise, for code you trust)"


def is_target_regressor(obj: Any) -> bool:
    from sklearn.compose import TransformedTargetRegressor

    return isinstance(obj, TransformedTargetRegressor)


def network_of(regressor: Any) -> Any:
    """The network estimator a regressor is or ends in (a Pipeline's last step)."""
    steps = getattr(regressor, "steps", None)
    return steps[-1][1] if steps else regressor


def target_spec(ttr: Any) -> tuple[dict[str, Any], Any]:
    """The manifest's ``target`` entry, and the regressor inside (a network estimator or
    a Pipeline, described by the caller). Anything a file cannot hold is refused. A
    fitted one is described by what it fitted (``regressor_``, ``transformer_``: what
    predicts), an unfitted one by its settings."""
    import sklearn
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import FunctionTransformer

    if type(ttr) is not TransformedTargetRegressor:
        raise TypeError(
            f"layerkit.save saves a sklearn.compose.TransformedTargetRegressor, not its "
            f"subclass {type(ttr).__qualname__}"
        )
    fitted = "regressor_" in ttr.__dict__
    inner = ttr.regressor_ if fitted else ttr.regressor
    final = network_of(inner)
    if type(final).__name__ != "MLPRegressor" or not type(final).__module__.startswith(
        "layerkit."
    ):
        shown = "None (a LinearRegression)" if final is None else type(final).__name__
        raise TypeError(f"layerkit.save saves {_WHAT}; this one's regressor is {shown} {_ELSE}")
    transformer = ttr.transformer_ if fitted else ttr.transformer
    functions = (ttr.func, ttr.inverse_func)
    if type(transformer) is FunctionTransformer and fitted:
        functions = (transformer.func, transformer.inverse_func)
        transformer = None  # (the identity, when both are None)
    if functions != (None, None):
        raise TypeError(
            f"layerkit.save saves {_WHAT}; this one has func or inverse_func, functions a "
            f"model file does not hold: give transformer=StandardScaler() instead {_ELSE}"
        )
    step = None
    if transformer is not None:
        kind = type(transformer).__name__
        if kind not in TARGET_SCALERS or step_classes()[kind] is not type(transformer):
            raise TypeError(
                f"layerkit.save saves {_WHAT}; this one's transformer is "
                f"{type(transformer).__module__}.{type(transformer).__qualname__} {_ELSE}"
            )
        if not fitted:  # (a template fitted elsewhere: its settings only, as fit uses them)
            transformer = clone(transformer)
        step = step_spec("target", kind, transformer)
    spec: dict[str, Any] = {
        "transformer": step,
        "check_inverse": bool(ttr.check_inverse),
        "training_dim": int(ttr._training_dim) if fitted else None,
        "sklearn_version": sklearn.__version__,
    }
    spec["sha256"] = target_digest(spec)
    return spec, inner


def build_target(spec: Any, regressor: Any) -> Any:
    """The TransformedTargetRegressor ``spec`` (a validated ``TargetSpec``) describes,
    around ``regressor`` (the network estimator or Pipeline already loaded). Widths and
    values are checked before use; then a row of zeros is predicted. Its ``regressor``
    and ``transformer`` settings are unfitted copies of the fitted ones (the file holds
    what predicts, not settings changed since the fit)."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import FunctionTransformer

    if target_digest(spec) != spec.sha256:
        raise ModelFileError(
            "the target transformer does not match its SHA-256: the file is damaged"
        )
    final = network_of(regressor)
    if type(final).__name__ != "MLPRegressor":
        raise ModelFileError(
            f"target: a TransformedTargetRegressor's network must be an MLPRegressor, the "
            f"file holds {type(final).__name__}"
        )
    net = final.__dict__.get("network_")
    outputs = None if net is None else int(net.n_out_)
    transformer = n_in = None
    if spec.transformer is not None:
        where = f"target.transformer ({spec.transformer.type})"
        if spec.transformer.type not in TARGET_SCALERS:
            raise ModelFileError(
                f"{where}: a target transformer is one of {', '.join(TARGET_SCALERS)}"
            )
        limit = outputs or longest_vector(spec.transformer.fitted)
        transformer, n_in = build_step(spec.transformer, where, limit, "the network's outputs")
        if n_in is not None:
            _check_finite(transformer, spec.transformer.type, where)
    if spec.training_dim is None:  # (saved before fit: the settings only)
        if n_in is not None:
            raise ModelFileError("target: a fitted transformer in an unfitted regressor")
        return TransformedTargetRegressor(
            regressor=regressor, transformer=transformer, check_inverse=spec.check_inverse
        )
    if outputs is None:
        raise ModelFileError("target: fitted (training_dim is set), but its network is not")
    if spec.transformer is not None and n_in is None:
        raise ModelFileError("target: fitted (training_dim is set), but its transformer is not")
    if n_in is not None and n_in != outputs:
        raise ModelFileError(
            f"target.transformer takes {n_in} targets, and the network gives {outputs}"
        )
    if spec.training_dim == 1 and outputs != 1:
        raise ModelFileError(f"target: a 1-d target, and the network gives {outputs} outputs")
    ttr = TransformedTargetRegressor(
        regressor=clone(regressor),
        transformer=None if transformer is None else clone(transformer),
        check_inverse=spec.check_inverse,
    )
    if transformer is None:  # the identity, as scikit-learn fits it for transformer=None
        transformer = FunctionTransformer(validate=True, check_inverse=spec.check_inverse)
        transformer.set_output(transform="default")
        transformer.fit(np.zeros((1, outputs)))
    ttr.regressor_, ttr.transformer_, ttr._training_dim = regressor, transformer, spec.training_dim
    for name in ("n_features_in_", "feature_names_in_"):  # (as fit copies them)
        settable = not isinstance(getattr(type(ttr), name, None), property)
        if settable and hasattr(regressor, name):
            setattr(ttr, name, getattr(regressor, name))
    _probe(ttr, final, spec.sklearn_version)
    return ttr


def _check_finite(transformer: Any, kind: str, where: str) -> None:
    """A target scaler's fitted vectors are finite, and its scale_ never 0 (scikit-learn
    writes 1 for a constant target): a NaN there predicted NaN for every row."""
    for key in FITTED[kind]:
        value = getattr(transformer, key, None)
        if not isinstance(value, np.ndarray):
            if key != "n_samples_seen_" and value is not None:  # (None: with_std=False)
                raise ModelFileError(f"{where}: {key} must be one value per target, got {value!r}")
            continue
        if not np.isfinite(value).all() or (key == "scale_" and not value.all()):
            rule = "finite and not 0" if key == "scale_" else "finite"
            raise ModelFileError(f"{where}: {key} must be {rule}, got {str(value)[:80]}")


def _network_and_target(ttr: Any, final: Any) -> Any:
    """What the wrapper predicts for a network output from a row of zeros, as its own
    predict turns the regressor's outputs into the target's units."""
    raw = final.predict(np.zeros((1, final.n_features_in_)))
    out = ttr.transformer_.inverse_transform(raw.reshape(-1, 1) if raw.ndim == 1 else raw)
    if ttr._training_dim == 1 and out.ndim == 2 and out.shape[1] == 1:
        out = out.squeeze(axis=1)
    return out


def _probe(ttr: Any, final: Any, saved_with: str) -> None:
    """A row of zeros predicted (widths checked already): it must run, to the target's
    shape, and give finite values."""
    import sklearn

    try:
        steps = [s for _, s in getattr(ttr.regressor_, "steps", [])[:-1] if s != "passthrough"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (no feature names on the probe row)
            if any(type(s).__name__ in LATER_STEPS for s in steps):
                out = _network_and_target(ttr, final)  # (no row every encoder takes)
            else:
                out = ttr.predict(sample_input(steps[0] if steps else final))
    except Exception as err:
        raise ModelFileError(
            f"the TransformedTargetRegressor does not run (saved with scikit-learn "
            f"{saved_with}, this is {sklearn.__version__}): {err}"
        ) from None
    expected = (1,) if ttr._training_dim == 1 else (1, final.network_.n_out_)
    if np.shape(out) != expected:
        raise ModelFileError(
            f"the TransformedTargetRegressor predicts shape {np.shape(out)}, not {expected}"
        )
    if not np.isfinite(out).all():
        raise ModelFileError(
            f"the TransformedTargetRegressor predicts {out.ravel()[:4]} for a row of zeros "
            "(or of each encoder's first categories): "
            "its target transformer holds values that are not finite"
        )
