"""Early stopping's validation score, as the ``scoring`` parameter chooses it.

- ``None``: the estimator's own ``score`` (accuracy, R²), as scikit-learn's MLP.
- ``'loss'``: minus the validation loss, ``-Σ_x s_x C_x / Σ_x s_x`` with the training
  loss's cost ``C_x`` (its data term: the ``alpha`` penalty does not depend on the data),
  so that higher is better, as HistGradientBoosting's ``scoring='loss'``.
- a scorer's name or a callable ``scorer(estimator, X, y[, sample_weight])``: called on a
  view of the estimator that predicts with the weights of the epoch just trained.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from ..network import Sequential

Score = Callable[[], float]


def validation_score(est: Any, net: Sequential, X_val: Any, y_val: Any, weights: Any) -> Score:
    """A function scoring ``net`` on the validation data, ``X_val`` and ``y_val`` as
    validated, as ``est.scoring`` says."""
    scoring = est.scoring
    if scoring is None:
        return lambda: est._score_arrays(X_val, y_val, weights, network=net)
    if isinstance(scoring, str) and scoring == "loss":
        Y_val = est._training_targets(y_val)  # (as the network trains on them)
        return lambda: _minus_loss(est._loss, net, X_val, Y_val, weights)
    scorer = _checked_scorer(est, weights is not None)
    return lambda: _scored(est, scorer, _view(est, net), X_val, y_val, weights)


def _checked_scorer(est: Any, weighted: bool) -> Any:
    """The scorer ``est.scoring`` names or is, refused before the first epoch when it
    cannot be called as ``scorer(estimator, X, y[, sample_weight=...])``: a metric
    function (``accuracy_score``) in place of a scorer, or a callable taking no
    ``sample_weight`` when the validation rows are weighted."""
    from sklearn.metrics import check_scoring

    from ._validation import InvalidParameterError

    scoring, owner = est.scoring, type(est).__name__
    try:
        scorer = check_scoring(est, scoring)
    except ValueError as err:  # (scikit-learn's, on a metric function from sklearn.metrics)
        raise InvalidParameterError(f"{owner}: scoring={scoring!r}: {err}") from None
    if isinstance(scoring, str):
        return scorer
    try:
        parameters = inspect.signature(scoring).parameters
    except (TypeError, ValueError):  # (no signature to read: called as it is)
        return scorer
    positional = [
        name
        for name, p in parameters.items()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if positional[:1] in (["y_true"], ["y"]):
        raise InvalidParameterError(
            f"{owner}: scoring={scoring!r} looks like a metric function, "
            f"{positional[0]} first; a scorer takes the estimator first, "
            "scorer(estimator, X, y): wrap the metric with sklearn.metrics.make_scorer"
        )
    takes_weights = "sample_weight" in parameters or any(
        p.kind is p.VAR_KEYWORD for p in parameters.values()
    )
    if weighted and not takes_weights:
        raise TypeError(
            f"{owner}: scoring={scoring!r} takes no sample_weight, but the validation "
            "rows are weighted (by class_weight, sample_weight or sample_weight_val) and "
            "an unweighted score would disagree with the training loss; define it as "
            "scorer(estimator, X, y, sample_weight=None) and weigh the score by it"
        )
    return scorer


def scored_by(est: Any) -> None:
    """Record the scoring this fit's validation scores are by; scores of another scoring
    before them (a warm start that changed it) are dropped, as when early stopping is
    switched on: ``validation_scores_`` are the last epochs' scores, all by one."""
    before = est.__dict__.get("_validation_scoring")  # (None: a model from before it)
    if not _same_scoring(before, est.scoring) and est.validation_scores_:
        est.validation_scores_ = []
    est._validation_scoring = est.scoring


def _same_scoring(a: Any, b: Any) -> bool:
    return a is b or (isinstance(a, str) and isinstance(b, str) and a == b)


def scoring_label(scoring: Any) -> str | None:
    """How a plot, ``inspect`` and a model file name what scores were by: a scorer's
    name, or a callable's name with ``()``, never a scorer's name (None: the estimator's
    own score)."""
    if scoring is None or isinstance(scoring, str):
        return scoring
    return f"{getattr(scoring, '__name__', type(scoring).__name__)}()"


def _minus_loss(loss: Any, net: Sequential, X: Any, Y: Any, weights: Any) -> float:
    """Minus the mean validation cost; NaN when an output is not finite. The network's
    outputs (its logits for a canonical pair) come a chunk of rows at a time."""
    fused = net.is_canonical(loss)
    out = net._predict_checked(X, logits=fused)
    if not np.isfinite(out).all():
        return float("nan")
    Y = Y if Y.dtype == out.dtype else Y.astype(out.dtype)
    cost = loss.value_from_logits if fused else loss.value
    with np.errstate(all="ignore"):
        return -float(cost(out, Y, weights))


def _view(est: Any, net: Sequential) -> Any:
    """An estimator sharing ``est``'s attributes that predicts with ``net`` as it stands
    (no copy of the weights). It knows no feature names: the validation rows it is
    scored on are arrays already checked against them."""
    view = object.__new__(type(est))
    view.__dict__.update(est.__dict__)
    view.__dict__.pop("feature_names_in_", None)
    view._set_network(net)
    return view


def _scored(est: Any, scorer: Any, view: Any, X: Any, y: Any, weights: Any) -> float:
    # (a scorer of the user's may take no sample_weight: it gets one only when needed)
    kwargs = {} if weights is None else {"sample_weight": weights}
    try:
        value = scorer(view, X, y, **kwargs)
    except Exception as error:  # (Python 3.11 and later: the note shows below it)
        if hasattr(error, "add_note"):
            error.add_note(
                f"(raised scoring the validation data for early stopping, "
                f"{type(est).__name__}(scoring={est.scoring!r}))"
            )
        raise
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{type(est).__name__}: scoring={est.scoring!r} must return a single number "
            f"(higher is better) for early stopping, got {value!r}"
        )
    return float(value)
