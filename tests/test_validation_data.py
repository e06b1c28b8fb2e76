"""Validation data given to fit (X_val, y_val, sample_weight_val) for early stopping, as
scikit-learn's HistGradientBoosting takes it, in place of validation_fraction's split."""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight

from layerkit import MLPClassifier, MLPRegressor

X, y = load_digits(return_X_y=True)
X = X / 16
X_train, y_train, X_val, y_val = X[:1200], y[:1200], X[1200:], y[1200:]


def _quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def test_all_of_x_trains_and_the_best_epoch_on_the_given_data_is_kept():
    """Epoch by epoch the same weights as a fit without early stopping on all of X
    (nothing held out), and the model kept is the epoch that scored best on X_val."""
    settings = dict(hidden_layer_sizes=(16,), random_state=0, learning_rate_init=0.01)
    stopped = _quiet_fit(
        MLPClassifier(early_stopping=True, max_iter=8, n_iter_no_change=100, **settings),
        X_train,
        y_train,
        X_val=X_val,
        y_val=y_val,
    )
    plain = [
        _quiet_fit(MLPClassifier(max_iter=k, **settings), X_train, y_train) for k in range(1, 9)
    ]
    scores = [accuracy_score(y_val, est.predict(X_val)) for est in plain]
    np.testing.assert_allclose(stopped.validation_scores_, scores)
    best = plain[int(np.argmax(scores))]
    for got, expected in zip(stopped.coefs_, best.coefs_, strict=True):
        np.testing.assert_array_equal(got, expected)
    assert stopped.best_validation_score_ == max(scores) == stopped.score(X_val, y_val)


def test_class_weight_and_sample_weight_val_weigh_the_validation_score():
    weights_val = np.linspace(0.5, 2.0, len(y_val))
    est = _quiet_fit(
        MLPClassifier(
            (16,), early_stopping=True, max_iter=5, class_weight="balanced", random_state=0
        ),
        X_train,
        y_train,
        X_val=X_val,
        y_val=y_val,
        sample_weight_val=weights_val,
    )
    per_class = compute_class_weight("balanced", classes=np.arange(10), y=y_train)
    expected = accuracy_score(
        y_val, est.predict(X_val), sample_weight=weights_val * per_class[y_val]
    )
    assert est.best_validation_score_ == pytest.approx(expected, rel=1e-12)


def test_a_regressor_takes_validation_data_too():
    Xr = load_iris().data
    target = Xr[:, 3]
    est = _quiet_fit(
        MLPRegressor((8,), early_stopping=True, max_iter=50, random_state=0),
        Xr[:100, :3],
        target[:100],
        X_val=Xr[100:, :3],
        y_val=target[100:],
    )
    assert est.best_validation_score_ == pytest.approx(est.score(Xr[100:, :3], target[100:]))


def test_a_pipeline_transforms_x_val_as_it_transforms_x():
    with sklearn.config_context(enable_metadata_routing=True):
        model = MLPClassifier((16,), early_stopping=True, max_iter=5, random_state=0)
        model.set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline([("scale", StandardScaler()), ("mlp", model)], transform_input=["X_val"])
        _quiet_fit(pipe, X_train * 7, y_train, X_val=X_val * 7, y_val=y_val)
    fitted = pipe[-1]
    scaled = pipe[0].transform(X_val * 7)
    assert fitted.best_validation_score_ == fitted.score(scaled, y_val)


PROBLEMS = {
    "X_val alone": (dict(X_val=X_val), {}, r"X_val given without y_val"),
    "y_val alone": (dict(y_val=y_val), {}, r"y_val given without X_val"),
    "no early stopping": (
        dict(X_val=X_val, y_val=y_val),
        dict(early_stopping=False),
        r"early_stopping=False; set early_stopping=True",
    ),
    "lbfgs": (
        dict(X_val=X_val, y_val=y_val),
        dict(solver="lbfgs"),
        r"which solver='lbfgs' does not do",
    ),
    "a label y lacks": (
        dict(X_val=X_val, y_val=y_val + 10),
        {},
        r"y_val has labels that y does not have, \[10, 11",
    ),
    "another number of features": (
        dict(X_val=X_val[:, :5], y_val=y_val),
        {},
        r"X_val, y_val: X_val has 5 features, but MLPClassifier is expecting 64",
    ),
    "weights summing to 0": (
        dict(X_val=X_val, y_val=y_val, sample_weight_val=np.zeros(len(y_val))),
        {},
        # (scikit-learn >= 1.8 refuses all-zero weights itself; before, layerkit does)
        r"sample_weight_val: Sample weights must contain at least one non-zero number"
        r"|the validation data's weights \(sample_weight_val, class_weight\) sum to 0",
    ),
    "class weights zero where the validation rows weigh": (
        dict(X_val=X_val[:4], y_val=y_val[:4], sample_weight_val=np.array([0, 0, 0, 1.0])),
        dict(class_weight={int(c): 0.0 for c in y_val[3:4]}),
        r"validation data's weights \(sample_weight_val, class_weight\) sum to 0",
    ),
    "missing labels": (
        dict(X_val=X_val[:3], y_val=np.array([1, None, 2], dtype=object)),
        {},
        r"MLPClassifier: y_val has missing labels",
    ),
    "one row": (  # (a trial: every score was NaN, the starting weights came back)
        dict(X_val=X_val[:1], y_val=y_val[:1]),
        {},
        r"X_val has 1 row\(s\), and early stopping needs at least 2 validation samples",
    ),
}


@pytest.mark.parametrize("case", PROBLEMS)
def test_validation_data_it_cannot_use_is_refused_before_training(case, monkeypatch):
    import layerkit.estimators._base as base

    def no_training(*args, **kwargs):
        raise AssertionError("training started before the validation data was refused")

    monkeypatch.setattr(base, "fit_stochastic", no_training)
    monkeypatch.setattr(base, "fit_lbfgs", no_training)
    fit_args, settings, match = PROBLEMS[case]
    est = MLPClassifier(**{"early_stopping": True, **settings})
    with pytest.raises(ValueError, match=match):
        est.fit(X_train, y_train, **fit_args)
    assert not hasattr(est, "network_")


def test_x_val_beyond_a_float32_networks_range_is_refused():
    """(a review: every validation score was NaN, and the starting weights came back)"""
    X_bad = X_val.copy()
    X_bad[0, 0] = 1e39
    est = MLPClassifier(early_stopping=True, max_iter=3)
    with pytest.raises(ValueError, match=r"X_val holds values beyond the range of float32"):
        est.fit(X_train.astype(np.float32), y_train, X_val=X_bad, y_val=y_val)


def test_scikit_learns_messages_about_the_validation_data_name_it():
    """(a trial: "Input X contains NaN" when X_val held it)"""
    X_nan = X_val.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"MLPClassifier.fit: X_val, y_val: Input X contains NaN"):
        MLPClassifier(early_stopping=True).fit(X_train, y_train, X_val=X_nan, y_val=y_val)


def test_a_regressors_y_val_must_have_ys_outputs():
    est = MLPRegressor(early_stopping=True)
    with pytest.raises(ValueError, match=r"y_val has 2 column\(s\), y has 1"):
        est.fit(X_train, y_train.astype(float), X_val=X_val, y_val=np.ones((len(y_val), 2)))


@pytest.mark.parametrize(
    "make",
    [
        lambda n: np.array(["a"] * n),
        lambda n: ["a"] * n,
        lambda n: np.array(["a"] * n, dtype=object),
        lambda n: np.array(["2026-01-01"] * n, dtype="datetime64[D]"),
    ],
    ids=["str-array", "list", "object-array", "dates"],
)
def test_a_regressors_y_val_of_strings_is_refused_by_name(make):
    """(a trial: "could not convert string to float", naming neither y_val nor the
    estimator, where the same y gets this message)"""
    est = MLPRegressor(early_stopping=True)
    with pytest.raises(ValueError, match=r"^MLPRegressor: y_val must hold numbers, got "):
        est.fit(X_train, y_train.astype(float), X_val=X_val[:20], y_val=make(20))
    with pytest.raises(ValueError, match=r"^MLPRegressor: y must hold numbers, got "):
        MLPRegressor().fit(X_train[:20], make(20))


def test_a_regressors_one_validation_row_is_refused():
    est = MLPRegressor(early_stopping=True, max_iter=3)
    with pytest.raises(ValueError, match=r"X_val has 1 row\(s\)"):
        est.fit(X_train, y_train.astype(float), X_val=X_val[:1], y_val=y_val[:1].astype(float))
    _quiet_fit(est, X_train, y_train.astype(float), X_val=X_val[:2], y_val=y_val[:2] + 0.5)
    assert np.isfinite(est.best_validation_score_)


@pytest.mark.parametrize("est_cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("named", ["X", "X_val"])
def test_feature_name_warnings_name_x_val_and_point_at_the_fit(est_cls, named):
    """scikit-learn's feature-name warnings about the validation data say X_val (its
    words say X) and point at the user's call of fit, as its other warnings do."""
    pd = pytest.importorskip("pandas")
    columns = [f"f{i}" for i in range(X.shape[1])]
    train = pd.DataFrame(X_train, columns=columns) if named == "X" else X_train
    val = X_val if named == "X" else pd.DataFrame(X_val, columns=columns)
    expected = (
        "X_val does not have valid feature names, but"
        if named == "X"
        else "X_val has feature names, but"
    )
    est = est_cls((4,), early_stopping=True, max_iter=2, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(train, y_train, X_val=val, y_val=y_val)
    said = [w for w in caught if "feature names" in str(w.message)]
    assert len(said) == 1, [str(w.message) for w in caught]
    assert said[0].category is UserWarning
    assert f"{est_cls.__name__}.fit: X_val, y_val: {expected}" in str(said[0].message)
    assert said[0].filename == __file__


@pytest.mark.parametrize("named", ["X", "X_val"])
def test_x_val_feature_name_warnings_leave_filters_and_the_fitted_names_alone(named, monkeypatch):
    """Said without catching warnings (which swaps the process's filters: another
    thread's warnings were taken for fit's), and before an error about X_val too."""
    pd = pytest.importorskip("pandas")
    columns = [f"f{i}" for i in range(X.shape[1])]
    train = pd.DataFrame(X_train, columns=columns) if named == "X" else X_train
    val = X_val if named == "X" else pd.DataFrame(X_val, columns=columns)
    est = MLPClassifier((4,), early_stopping=True, max_iter=2, random_state=0)
    seen = []
    validated = MLPClassifier._validated_xy

    def spy(self, *args, **kwargs):
        seen.append(warnings.filters)  # (the very list, not a copy: swapped if caught)
        return validated(self, *args, **kwargs)

    monkeypatch.setattr(MLPClassifier, "_validated_xy", spy)
    with pytest.warns(UserWarning, match="X_val, y_val: X_val"):
        _quiet_fit(est, train, y_train, X_val=val, y_val=y_val)
    assert len(seen) == 2 and seen[1] is seen[0]  # (X's filters, then X_val's: the same)
    if named == "X":
        assert list(est.feature_names_in_) == columns
    else:
        assert not hasattr(est, "feature_names_in_")
    narrow = val[:, :5] if named == "X" else val.iloc[:, :5]
    with (
        pytest.warns(UserWarning, match="X_val, y_val: X_val"),
        pytest.raises(ValueError, match="X_val has 5 features"),
    ):
        _quiet_fit(est, train, y_train, X_val=narrow, y_val=y_val)
