"""Every malformed X, y or sample_weight: a clear ValueError/TypeError before any work,
and the estimator left as it was (unfitted, or still holding its previous model)."""

import numpy as np
import pandas as pd
import pytest
from _same import assert_same, snapshot

from layerkit import MLPClassifier, MLPRegressor

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3))
y = rng.integers(0, 2, 40)
y_reg = rng.normal(size=40)


def _fresh():
    return MLPClassifier((4,), max_iter=5, random_state=0)


def _fitted():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _fresh().fit(X, y)


def _snapshot(est):
    """A deep copy of everything the estimator holds, and its live network's arrays."""
    network = est.__dict__.get("network_")
    return {
        "vars": snapshot(vars(est)),
        "network": network,
        "arrays": None if network is None else dict(network.params),
    }


def _assert_unchanged(est, before):
    # every attribute, fitted or not, with the same value bit for bit, recursively:
    # n_iter_, t_, loss_, loss_curve_, best_loss_, classes_, the label binarizer, the
    # shuffling generator's state, the optimizer's state (its moments and step count)
    # and the network's layers, parameters and gradients
    assert_same(vars(est), before["vars"], "vars(est)")
    if before["network"] is not None:  # the same network, in the same live arrays
        assert est.network_ is before["network"]
        for name, p in est.network_.params.items():
            assert p is before["arrays"][name]


def _with(index, value, base=X):
    bad = base.astype(object if isinstance(value, str) else float).copy()
    bad[index] = value
    return bad


FAULTS = [
    ("nan in X", lambda: (_with((3, 1), np.nan), y, None), ValueError, "Input X contains NaN"),
    (
        "inf in X",
        lambda: (_with((3, 1), np.inf), y, None),
        ValueError,
        "Input X contains infinity",
    ),
    ("X 1-d", lambda: (X[:, 0], y, None), ValueError, "Expected 2D array, got 1D array instead"),
    ("X 3-d", lambda: (X[:, :, None], y, None), ValueError, "Found array with dim 3"),
    ("empty X", lambda: (X[:0], y[:0], None), ValueError, "0 sample"),
    ("no features", lambda: (X[:, :0], y, None), ValueError, "0 feature"),
    ("length mismatch", lambda: (X, y[:30], None), ValueError, "inconsistent numbers of samples"),
    ("complex X", lambda: (X + 1j, y, None), ValueError, "Complex data not supported"),
    (
        "object X",
        lambda: (_with((0, 0), "a"), y, None),
        ValueError,
        "could not convert string to float",
    ),
    ("continuous y", lambda: (X, y_reg, None), ValueError, "Unknown label type"),
    ("nan in y", lambda: (X, np.where(np.arange(40) == 3, np.nan, y), None), ValueError, "NaN"),
    (
        "negative weights",
        lambda: (X, y, np.where(np.arange(40) == 2, -1.0, 1.0)),
        ValueError,
        "MLPClassifier: sample_weight must be non-negative",
    ),
    (
        "all-zero weights",
        lambda: (X, y, np.zeros(40)),
        ValueError,
        "Sample weights must contain at least one non-zero number|sample weights must have a positive sum",
    ),
    (
        "weights length",
        lambda: (X, y, np.ones(39)),
        ValueError,
        r"sample_weight.shape == \(39,\), expected \(40,\)",
    ),
    (
        "weights 2-d",
        lambda: (X, y, np.ones((40, 2))),
        ValueError,
        "Sample weights must be 1D array or scalar",
    ),
    (
        "nan weights",
        lambda: (X, y, np.where(np.arange(40) == 2, np.nan, 1.0)),
        ValueError,
        "contains NaN",
    ),
]


@pytest.mark.parametrize(("name", "make", "error", "pattern"), FAULTS, ids=[f[0] for f in FAULTS])
@pytest.mark.parametrize("state", ["unfitted", "fitted"])
def test_fit_refuses_bad_input_and_keeps_its_state(name, make, error, pattern, state):
    est = _fresh() if state == "unfitted" else _fitted()
    before = _snapshot(est)
    Xb, yb, sw = make()
    with pytest.raises(error, match=pattern):
        est.fit(Xb, yb, sample_weight=sw)
    _assert_unchanged(est, before)


def test_regressor_refuses_non_numeric_targets():
    with pytest.raises(
        ValueError, match=r"MLPRegressor: y must hold numbers, got strings .*\(first 'a'\)"
    ):
        MLPRegressor().fit(X, np.array(["a"] * 40, dtype=object))


PREDICT_FAULTS = [
    ("nan", lambda: _with((1, 1), np.nan), "Input X contains NaN"),
    ("inf", lambda: _with((1, 1), -np.inf), "Input X contains infinity"),
    (
        "feature count",
        lambda: X[:, :2],
        "X has 2 features, but MLPClassifier is expecting 3 features",
    ),
    ("1-d", lambda: X[0], "Expected 2D array, got 1D array instead"),
    ("complex", lambda: X + 1j, "Complex data not supported"),
]


@pytest.mark.parametrize(
    ("name", "make", "pattern"), PREDICT_FAULTS, ids=[f[0] for f in PREDICT_FAULTS]
)
@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba", "score"])
def test_prediction_refuses_bad_input(name, make, pattern, method):
    est = _fitted()
    before = _snapshot(est)
    args = (make(), y) if method == "score" else (make(),)
    with pytest.raises(ValueError, match=pattern):
        getattr(est, method)(*args)
    _assert_unchanged(est, before)


def test_feature_names_must_match_at_prediction():
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    est = _fresh()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(frame, y)
    with pytest.raises(
        ValueError, match="The feature names should match those that were passed during fit"
    ):
        est.predict(frame[["c", "b", "a"]])
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        est.predict(frame.rename(columns={"a": "z"}))


def test_prediction_before_fit_is_a_not_fitted_error():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted yet"):
        _fresh().predict(X)
