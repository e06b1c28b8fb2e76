"""Early stopping's validation score, as the ``scoring`` parameter chooses it, and the
validation loss beside it (``validation_loss_curve_``), from one pass over the rows.

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
from sklearn.base import is_regressor

from .._plan._inference import link_in_place
from ..network import Sequential

Score = Callable[[], tuple[float, float]]


def validation_score(est: Any, net: Sequential, X_val: Any, y_val: Any, weights: Any) -> Score:
    """A function giving ``net``'s score on the validation data, ``X_val`` and ``y_val``
    as validated, as ``est.scoring`` says, and its validation loss: the network's
    outputs (its logits, for a canonical pair) are computed once for both."""
    scoring, loss = est.scoring, est._loss
    Y_val = est._training_targets(y_val).astype(net.dtype, copy=False)  # (as it trains)
    fused = net.is_canonical(loss)
    scorer = None
    if scoring is not None and not (isinstance(scoring, str) and scoring == "loss"):
        scorer = checked_scorer(est, scoring, weights is not None)

    def score() -> tuple[float, float]:
        out = net._predict_checked(X_val, logits=fused)
        value = _loss_of(loss, fused, out, Y_val, weights)
        if scorer is not None:
            return _scored(est, scorer, _view(est, net), X_val, y_val, weights), value
        if scoring is not None:  # 'loss'
            return -value, value
        if fused and not link_in_place(net.layers[-1], out):
            out = net._predict_checked(X_val)  # (an output layer of the user's)
        if not np.isfinite(out).all():
            return float("nan"), value
        return est._score_outputs(out, y_val, weights), value

    return score


def checked_scorer(
    est: Any,
    scoring: Any,
    weighted: bool,
    who: str | None = None,
    weighted_why: str = (
        "the validation rows are weighted (by class_weight, sample_weight or "
        "sample_weight_val) and an unweighted score would disagree with the training loss"
    ),
) -> Any:
    """The scorer ``scoring`` names or is (``est.scoring``, or a callback's), refused
    before the first epoch when it cannot score this estimator: a metric function
    (``accuracy_score``) in place of a scorer, a scorer of a method the estimator lacks
    (``neg_log_loss`` needs ``predict_proba``), or one whose function takes no
    ``sample_weight`` when the validation rows are weighted (``weighted_why`` says why
    that matters). Messages begin with ``who`` (the estimator's name)."""
    from sklearn.metrics import check_scoring

    from ._validation import InvalidParameterError

    owner = type(est).__name__
    who = who or owner
    try:
        scorer = check_scoring(est, scoring)
    except ValueError as err:  # (scikit-learn's, on a metric function from sklearn.metrics)
        raise InvalidParameterError(f"{who}: {err}") from None
    regressor = is_regressor(est)
    methods = getattr(scorer, "_response_method", None)  # (scikit-learn's scorers)
    if methods is not None:
        methods = [methods] if isinstance(methods, str) else list(methods)
        if not any(hasattr(est, m) for m in methods):
            raise InvalidParameterError(
                f"{who}: scoring={scoring!r} scores the output of "
                f"{' or '.join(methods)}, which {owner} does not have; choose a scorer "
                f"for {'regression' if regressor else 'classification'}"
            )
    function = getattr(scorer, "_score_func", scorer)  # (a scorer's metric, or the callable)
    task = _metric_task(function)
    if task is not None and (task == "regression") != regressor:
        raise InvalidParameterError(
            f"{who}: scoring={scoring!r} scores {task} ({function.__name__}), and "
            f"{owner} is a {'regressor' if regressor else 'classifier'}; choose a scorer "
            f"for {'regression' if regressor else 'classification'}"
        )
    parameters = _parameters(function)
    if parameters is None:  # (no signature to read: called as it is)
        return scorer
    positional = [
        name
        for name, p in parameters.items()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if function is scorer and positional[:1] in (["y_true"], ["y"]):
        raise InvalidParameterError(
            f"{who}: scoring={scoring!r} looks like a metric function, "
            f"{positional[0]} first; a scorer takes the estimator first, "
            "scorer(estimator, X, y): wrap the metric with sklearn.metrics.make_scorer"
        )
    takes_weights = "sample_weight" in parameters or any(
        p.kind is p.VAR_KEYWORD for p in parameters.values()
    )
    if weighted and not takes_weights:
        name = getattr(function, "__name__", repr(function))
        fix = (
            "define it as scorer(estimator, X, y, sample_weight=None) and weigh the score by it"
            if function is scorer
            else "choose a scorer whose metric takes sample weights"
        )
        raise TypeError(
            f"{who}: scoring={scoring!r}: {name} takes no sample_weight, but {weighted_why}; {fix}"
        )
    return scorer


def _metric_task(function: Any) -> str | None:
    """'classification' or 'regression' for one of scikit-learn's metrics of that kind
    (by the module it is defined in), else None."""
    module = getattr(function, "__module__", None) or ""
    return {
        "sklearn.metrics._classification": "classification",
        "sklearn.metrics._regression": "regression",
    }.get(module)


def _parameters(function: Any) -> Any:
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return None


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
    """How a plot, ``inspect`` and a model file name what scores were by: the name given
    (``'f1_macro'``), a function's name with ``()``, a scikit-learn scorer object's repr
    (``make_scorer(f1_score, ...)``), else its class's name with ``()`` (None: the
    estimator's own score). Only a name given can equal a scoring's value."""
    if scoring is None or isinstance(scoring, str):
        return scoring
    if inspect.isfunction(scoring) or inspect.isbuiltin(scoring) or inspect.ismethod(scoring):
        return f"{scoring.__name__}()"
    if hasattr(scoring, "_score_func"):  # a scikit-learn scorer: make_scorer(f1_score, ...)
        return repr(scoring)[:200]
    return f"{type(scoring).__name__}()"


def _loss_of(loss: Any, fused: bool, out: Any, Y: Any, weights: Any) -> float:
    """The (weighted) mean cost of the network's outputs ``out`` (its logits when
    ``fused``), ``Σ_x s_x C_x / Σ_x s_x``; NaN when an output is not finite. ``Y``: the
    targets in the network's dtype, which is ``out``'s."""
    if not np.isfinite(out).all():
        return float("nan")
    cost = loss.value_from_logits if fused else loss.value
    with np.errstate(all="ignore"):
        return float(cost(out, Y, weights))


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
    return as_score(
        value,
        f"{type(est).__name__}: scoring={est.scoring!r} must return a single number "
        "(higher is better) for early stopping",
    )


def as_score(value: Any, must: str) -> float:
    """A scorer's result as a float: a number, or an array holding one; anything else
    is refused with ``must``, followed by what it was."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{must}, got {value!r}")
    return float(value)
