"""Validation data given to ``fit`` (``X_val``, ``y_val``, ``sample_weight_val``) for
early stopping, in place of the split of ``validation_fraction``, as scikit-learn's
HistGradientBoosting takes it (scikit-learn 1.7)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sklearn.utils.validation import _check_sample_weight, _get_feature_names

from .._fit_inputs import refuse_beyond_dtype
from ._callbacks import SOLVER_STACKLEVEL


def given_validation(
    est: Any, y: Any, X_val: Any, y_val: Any, sample_weight_val: Any
) -> tuple[Any, Any, Any] | None:
    """``(X_val, y_val, weights)`` checked as ``fit`` checks X, y and its weights (the
    class weights included), or None when none is given. ``y``: the training targets,
    as validated (a 1-d y for one output)."""
    if X_val is None and y_val is None and sample_weight_val is None:
        return None
    where = f"{type(est).__name__}.fit"
    if X_val is None or y_val is None:
        given = [n for n, v in (("X_val", X_val), ("y_val", y_val)) if v is not None]
        raise ValueError(
            f"{where}: {' and '.join(given) or 'sample_weight_val'} given without "
            f"{' and '.join(n for n in ('X_val', 'y_val') if n not in given)}: early stopping "
            "scores on validation data X_val with its targets y_val"
        )
    if not est.early_stopping:
        raise ValueError(
            f"{where}: X_val and y_val are the validation data of early stopping, but "
            "early_stopping=False; set early_stopping=True (they then replace the split of "
            "validation_fraction)"
        )
    if not est._is_stochastic():
        raise ValueError(
            f"{where}: X_val and y_val are for early stopping, which solver='lbfgs' does "
            "not do; use solver='adam' or 'sgd'"
        )
    est._check_raw_targets(y_val, "y_val")
    try:
        with _feature_names_told(est, X_val, where):
            X_val, y_val = est._validated_xy(X_val, y_val, reset=False)
    except ValueError as err:  # (scikit-learn's words name them X and y)
        raise ValueError(f"{where}: X_val, y_val: {_as_x_val(str(err))}") from None
    if X_val.shape[0] < 2:
        raise ValueError(
            f"{where}: X_val has {X_val.shape[0]} row(s), and early stopping needs at least "
            "2 validation samples (a score of one row is undefined for R² and says "
            "little for accuracy); give more rows, or leave X_val out to split "
            "validation_fraction of X"
        )
    if y_val.ndim == 2 and y_val.shape[1] == 1 and not hasattr(y_val, "toarray"):
        y_val = y_val.ravel()
    width, width_val = (1 if a.ndim == 1 else a.shape[1] for a in (y, y_val))
    if width_val != width:
        raise ValueError(
            f"{where}: y_val has {width_val} column(s), y has {width}: the validation "
            "targets must be of the training targets' kind"
        )
    est._check_validation_targets(y_val)
    weights = None
    if sample_weight_val is not None:
        try:
            weights = _check_sample_weight(sample_weight_val, X_val, dtype=np.float64)
        except ValueError as err:  # (scikit-learn's words, about "sample weights")
            raise ValueError(f"{where}: sample_weight_val: {err}") from None
        if not (weights >= 0).all():
            raise ValueError(
                f"{where}: sample_weight_val must be non-negative, got a minimum of "
                f"{float(np.min(weights))!r}"
            )
    extra = est._validation_class_weight(y, y_val)
    if extra is not None:
        weights = extra if weights is None else weights * extra
    if weights is not None and not weights.sum() > 0:
        raise ValueError(
            f"{where}: the validation data's weights (sample_weight_val, class_weight) sum "
            "to 0, so it cannot be scored; give weight to more of its rows"
        )
    return X_val, y_val, weights


@contextmanager
def _feature_names_told(est: Any, X_val: Any, where: str) -> Iterator[None]:
    """scikit-learn's warning that X_val has feature names where X had none, or the
    reverse, said of X_val (its words say X) and pointing at the user's ``fit``; for the
    ``with`` block the estimator's ``feature_names_in_`` is X_val's, so that the check
    inside scikit-learn's ``validate_data`` finds nothing more to say. (Not by catching
    warnings: that swaps the process's warning filters, and would take other threads'
    warnings for fit's.)"""
    fitted, given = est.__dict__.get("feature_names_in_"), _get_feature_names(X_val)
    if (fitted is None) == (given is None):
        yield  # (both named: scikit-learn compares the names, and refuses a mismatch)
        return
    name = type(est).__name__
    said = (
        f"X_val has feature names, but {name} was fitted without feature names"
        if fitted is None
        else f"X_val does not have valid feature names, but {name} was fitted with feature names"
    )
    # (from given_validation's with, which _fit_unchecked calls as it calls a solver:
    # two frames more, this generator's and contextlib's, to point at the user's fit)
    text = f"{where}: X_val, y_val: {said}"
    warnings.warn(text, UserWarning, stacklevel=SOLVER_STACKLEVEL + 2)
    if given is None:
        del est.feature_names_in_
    else:
        est.feature_names_in_ = given
    try:
        yield
    finally:
        if fitted is None:
            del est.feature_names_in_
        else:
            est.feature_names_in_ = fitted


def _as_x_val(said: str) -> str:
    """scikit-learn's words about ``X`` (which ``fit`` was given as ``X_val``)."""
    for start in ("X has ", "X does not have "):
        if said.startswith(start):
            return "X_val" + said.removeprefix("X")
    return said


def refuse_validation_beyond(est: Any, X_val: Any, dtype: Any) -> None:
    """A ValueError if ``X_val`` holds values the network's dtype cannot (float64 values
    beyond float32's range, for a network fitted on float32 X): every validation score
    would be NaN, and early stopping would keep the weights it started from."""
    refuse_beyond_dtype(
        X_val,
        dtype,
        "X_val",
        f"{type(est).__name__}.fit",
        "every validation score would be NaN (the network computes in the dtype of X); "
        "rescale X_val as X is, or fit on float64 X",
    )
