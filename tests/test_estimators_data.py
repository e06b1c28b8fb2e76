"""Targets of every kind and inputs of every kind, on every solver."""

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.datasets import (
    load_iris,
    make_classification,
    make_multilabel_classification,
    make_regression,
)

from layerkit import MLPClassifier, MLPRegressor
from layerkit.layers import Dense, Layer, ReLU
from layerkit.losses import BinaryCrossEntropy, CategoricalCrossEntropy, PoissonLoss

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
SOLVERS = ["adam", "sgd", "lbfgs"]


def test_binary_labels_of_any_type():
    X, y = make_classification(200, 5, random_state=0)
    labels = np.array(["spam", "ham"])[y]
    clf = MLPClassifier((10,), solver="lbfgs", random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["ham", "spam"]
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    assert set(clf.predict(X)) <= {"ham", "spam"}
    proba = clf.predict_proba(X)
    assert proba.shape == (200, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    assert clf.score(X, labels) > 0.9


def test_multiclass_with_string_labels():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    clf = MLPClassifier(solver="lbfgs", random_state=0).fit(X, names)
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3
    assert clf.predict(X[:1])[0] == "setosa"


def test_multilabel_indicator_targets():
    X, Y = make_multilabel_classification(200, 10, n_classes=4, random_state=0)
    clf = MLPClassifier((30,), solver="lbfgs", max_iter=300, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 4
    pred = clf.predict(X)
    assert pred.shape == (200, 4)
    assert clf.predict_proba(X).shape == (200, 4)
    assert clf.score(X, Y) > 0.5  # subset accuracy


@pytest.mark.parametrize("low, high", [(-1, 1), (0, 2)])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_label_matrix_of_other_values_than_0_and_1_is_refused(low, high, method):
    """scikit-learn takes two values for an indicator matrix; trained on as targets of a
    cross-entropy, -1/1 gave a negative loss (-2.2) and a subset accuracy of 0.05."""
    X = np.random.default_rng(0).normal(size=(40, 3))
    Y = np.where(X[:, :2] > 0, high, low)
    clf = MLPClassifier((4,), max_iter=3)
    kwargs = {"classes": [0, 1]} if method == "partial_fit" else {}
    with pytest.raises(ValueError, match=rf"must hold 0 and 1, got the values \[{low}, {high}\]"):
        getattr(clf, method)(X, Y, **kwargs)
    assert not hasattr(clf, "classes_")


def test_single_and_multi_output_regression():
    X, y = make_regression(200, 5, n_targets=3, noise=0.1, random_state=0)
    y = y / y.std(axis=0)
    reg = MLPRegressor((30,), solver="lbfgs", random_state=0).fit(X, y)
    assert reg.predict(X).shape == (200, 3)
    assert reg.score(X, y) > 0.95
    reg1 = MLPRegressor((30,), solver="lbfgs", random_state=0).fit(X, y[:, 0])
    assert reg1.predict(X).shape == (200,)


def test_poisson_regression_uses_the_exp_link():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1]))
    reg = MLPRegressor((10,), loss="poisson", solver="lbfgs", random_state=0).fit(X, y)
    assert reg.out_activation_ == "exp"
    assert (reg.predict(X) > 0).all()
    with pytest.raises(ValueError, match="non-negative targets"):
        MLPRegressor(loss="poisson").fit(X, -y - 1)


def _distributions(n, k, seed=0):
    p = np.random.default_rng(seed).random((n, k))
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(
    ("loss", "targets", "pattern"),
    [
        (
            BinaryCrossEntropy(),
            lambda X: 5 * X[:, 0] - 3,
            r"MLPRegressor\(loss=BinaryCrossEntropy\(\)\) needs targets in \[0, 1\].*got "
            r"targets from -\d",
        ),
        (
            BinaryCrossEntropy(),
            lambda X: np.c_[_distributions(len(X), 2), np.full(len(X), 1.5)],
            r"needs targets in \[0, 1\].*got targets from 0\.\d+ to 1\.5",
        ),
        (
            CategoricalCrossEntropy(),
            lambda X: np.ones(len(X)),  # (a distribution over one class: always 1)
            r"MLPRegressor\(loss=CategoricalCrossEntropy\(\)\) needs targets whose rows are "
            r"probability distributions \(at least 2 columns, non-negative, each row summing "
            r"to 1\), got one column",
        ),
        (
            CategoricalCrossEntropy(),
            lambda X: _distributions(len(X), 3) - [0.5, 0, 0] + [0, 0.5, 0],
            r"probability distributions .* got a minimum of -0\.\d+",
        ),
        (
            CategoricalCrossEntropy(),
            lambda X: 0.99 * _distributions(len(X), 3),
            r"probability distributions .* got 200 row\(s\) that do not sum to 1 "
            r"\(row 0 sums to 0\.99",
        ),
        ("poisson", lambda X: -np.abs(X[:, 0]), r"\(loss='poisson'\) needs non-negative"),
        (PoissonLoss(), lambda X: -np.abs(X[:, 0]), r"\(loss=PoissonLoss\(\)\) needs non-neg"),
    ],
    ids=[
        "bce_negative",
        "bce_above_1",
        "cce_one_column",
        "cce_negative",
        "cce_rows_not_summing_to_1",
        "poisson_by_name",
        "poisson_object",
    ],
)
def test_a_regressor_refuses_targets_its_loss_cannot_fit(loss, targets, pattern):
    X = np.random.default_rng(0).normal(size=(200, 3))
    Y = targets(X)
    for fit in ("fit", "partial_fit"):
        reg = MLPRegressor((4,), loss=loss, max_iter=2, random_state=0)
        with pytest.raises(ValueError, match=pattern):
            getattr(reg, fit)(X, Y)
        assert not hasattr(reg, "network_")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_regressor_fits_the_targets_its_loss_is_made_for(dtype):
    X = np.random.default_rng(0).normal(size=(200, 3))
    P = _distributions(len(X), 3).astype(dtype)  # (rows sum to 1 up to rounding)
    reg = MLPRegressor((4,), loss=CategoricalCrossEntropy(), max_iter=5, random_state=0)
    np.testing.assert_allclose(reg.fit(X, P).predict(X).sum(axis=1), 1, rtol=1e-5)
    reg = MLPRegressor((4,), loss=BinaryCrossEntropy(), max_iter=5, random_state=0)
    assert reg.fit(X, P[:, :2]).predict(X).shape == (200, 2)


class SpyDense(Dense):
    """Records what kind of array it receives."""

    seen: ClassVar[list] = []

    def forward(self, x, training=False):
        SpyDense.seen.append(type(x).__name__)
        return super().forward(x, training)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_sparse_input_stays_sparse_through_the_first_layer(fmt, solver):
    X, y = make_classification(120, 20, random_state=0)
    X[np.abs(X) < 1] = 0
    Xs = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    SpyDense.seen = []
    clf = MLPClassifier(layers=[SpyDense(8), ReLU()], solver=solver, max_iter=20, random_state=0)
    clf.fit(Xs, y)
    assert SpyDense.seen and all(name.startswith("csr") for name in SpyDense.seen)
    dense_pred = MLPClassifier(
        layers=[Dense(8), ReLU()], solver=solver, max_iter=20, random_state=0
    )
    dense_pred.fit(X, y)
    np.testing.assert_allclose(
        clf.predict_proba(Xs), dense_pred.predict_proba(X), rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize(
    "layers, sparse",
    [(None, True), ([], True), ([SpyDense(4), ReLU()], True), ([ReLU(), Dense(4)], False)],
)
def test_the_sparse_tag_says_whether_sparse_x_is_taken(layers, sparse):
    """(It said True for a network refusing sparse X: a non-Dense first layer.)"""
    X = sp.csr_matrix(np.eye(6))
    clf = MLPClassifier(layers=layers, max_iter=2)
    assert clf.__sklearn_tags__().input_tags.sparse is sparse
    if not sparse:
        with pytest.raises(TypeError, match="sparse X needs a Dense first layer"):
            clf.fit(X, [0, 1] * 3)


@pytest.mark.parametrize("layers", [Dense(4), 5, {"a": Dense(4)}])
def test_the_tags_of_an_invalid_layers_value_leave_the_error_to_fit(layers):
    """(indexing it in __sklearn_tags__ broke is_classifier and the notebook display)"""
    from sklearn.base import is_classifier

    clf = MLPClassifier(layers=layers)
    assert is_classifier(clf) and clf.__sklearn_tags__().input_tags.sparse
    assert "MLPClassifier" in clf._repr_html_()
    with pytest.raises(ValueError, match="layers"):
        clf.fit(np.eye(4), [0, 1, 0, 1])


def test_dataframe_feature_names_are_recorded_and_checked():
    X, y = load_iris(return_X_y=True, as_frame=True)
    clf = MLPClassifier(solver="lbfgs", random_state=0).fit(X, y)
    assert list(clf.feature_names_in_) == list(X.columns)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(X.rename(columns={X.columns[0]: "other"}))
    assert clf.predict(X).shape == (150,)


def test_read_only_and_memory_mapped_inputs(tmp_path):
    X, y = load_iris(return_X_y=True)
    X_ro = X.copy()
    X_ro.setflags(write=False)
    y_ro = y.copy()
    y_ro.setflags(write=False)
    MLPClassifier(max_iter=5, random_state=0).fit(X_ro, y_ro).predict(X_ro)
    path = tmp_path / "X.npy"
    np.save(path, X)
    X_mm = np.load(path, mmap_mode="r")
    a = MLPClassifier(max_iter=5, random_state=0).fit(X_mm, y).predict_proba(X_mm)
    b = MLPClassifier(max_iter=5, random_state=0).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_float32_input_stays_float32(Est, solver):
    X, y = make_classification(100, 6, random_state=0)
    X = X.astype(np.float32)
    est = Est((8,), solver=solver, max_iter=10, random_state=0).fit(X, y)
    assert all(c.dtype == np.float32 for c in est.coefs_ + est.intercepts_)
    assert est.network_.dtype == np.float32
    out = est.predict_proba(X) if Est is MLPClassifier else est.predict(X)
    assert out.dtype == np.float32
    if solver != "lbfgs":
        for slot in est._optimizer.state.values():
            if isinstance(slot, dict):
                assert all(a.dtype == np.float32 for a in slot.values())


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])  # (relu: NaN found in the logits)
@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_float64_input_beyond_float32_range_is_refused_by_a_float32_model(Est, activation, sparse):
    X, y = make_classification(100, 6, random_state=0)
    est = Est((8,), activation=activation, max_iter=10, random_state=0)
    est.fit(X.astype(np.float32), y)
    big = X[:5].copy()
    big[0, 2] = 1e39  # finite in float64, infinite in float32
    big = sp.csr_matrix(big) if sparse else big
    methods = ["predict", "predict_proba", "predict_log_proba"] if Est is MLPClassifier else []
    for method in methods or ["predict", "score"]:
        args = (big, y[:5]) if method == "score" else (big,)
        with pytest.raises(
            ValueError,
            match=r"X holds 1 value\(s\) beyond the range of float32 \(largest magnitude "
            r"1e\+39.*computes in float32.*fit on float64 X \(X.astype\(np.float64\)\)",
        ):
            getattr(est, method)(*args)
    # values within float32's range predict as before, as the float32 data does
    np.testing.assert_array_equal(est.predict(X[:5]), est.predict(X[:5].astype(np.float32)))
    # a float64 model computes in float64: nothing to refuse
    wide = Est((8,), activation=activation, max_iter=2, random_state=0).fit(X, y)
    assert np.isfinite(wide.predict(big)).all()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_continuing_a_float32_model_on_values_beyond_float32_is_refused(how, sparse):
    """(reported as a divergence: 'Lower the learning rate')"""
    X, y = make_classification(100, 6, random_state=0)
    est = MLPClassifier((8,), max_iter=5, random_state=0, warm_start=how == "warm_start")
    est.fit(X.astype(np.float32), y)
    before = [c.copy() for c in est.coefs_]
    big = X.copy()
    big[3, 2] = -1e39
    big = sp.csr_matrix(big) if sparse else big
    with pytest.raises(ValueError, match=r"X holds 1 value\(s\) beyond the range of float32 .* "
                       "would be infinite and the training diverge"):  # fmt: skip
        est.partial_fit(big, y) if how == "partial_fit" else est.fit(big, y)
    for a, b in zip(before, est.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)  # left as it was


def test_float64_targets_beyond_float32_with_float32_x_are_refused():
    X, y = make_classification(100, 6, random_state=0)
    with pytest.raises(ValueError, match=r"y holds values beyond the range of float32"):
        MLPRegressor((8,), max_iter=5).fit(X.astype(np.float32), y * 1e39)
    # continuing a float32 model on float64 X: checked before the targets are cast
    reg = MLPRegressor((8,), solver="sgd", max_iter=5).partial_fit(X.astype(np.float32), y)
    with pytest.raises(ValueError, match=r"beyond the range of float32 .* the dtype of the X "
                       "it was fitted on"):  # fmt: skip
        reg.partial_fit(X, np.full(len(X), 1e39))


def test_float64_input_stays_float64():
    X, y = make_classification(100, 6, random_state=0)
    est = MLPClassifier((8,), max_iter=10, random_state=0).fit(X, y)
    assert est.coefs_[0].dtype == np.float64


def test_integer_and_list_input_are_converted():
    X = [[0, 1], [1, 0], [1, 1], [0, 0]] * 10
    y = [1, 1, 0, 0] * 10
    clf = MLPClassifier((8,), solver="lbfgs", random_state=0).fit(X, y)
    assert clf.coefs_[0].dtype == np.float64
    assert clf.predict(X).shape == (40,)


def test_pandas_series_target_and_categorical_labels():
    X, y = load_iris(return_X_y=True)
    labels = pd.Series(pd.Categorical(np.array(["a", "b", "c"])[y]))
    clf = MLPClassifier(solver="lbfgs", random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["a", "b", "c"]


def _peak_during(call):
    import tracemalloc

    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("layout", ["fortran", "dataframe", "column slice"])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_training_set_in_any_layout_is_not_copied_per_batch(layout, weighted):
    """(an audit: numpy's take copies a non-C-ordered array whole before gathering, so
    every batch copied all of X: 195 MiB and 36 s an epoch instead of 0.3 s for a
    100,000 x 512 DataFrame)"""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 128)).astype(np.float32)  # 10 MiB
    given = {
        "fortran": np.asfortranarray(X),
        "dataframe": pd.DataFrame(X),
        "column slice": np.repeat(X, 2, axis=1)[:, ::2],
    }[layout]
    y = rng.normal(size=(20_000, 2)).astype(np.float32)
    sw = np.ones(20_000) if weighted else None
    reg = MLPRegressor((8,), max_iter=2, batch_size=64, random_state=0)
    peak = _peak_during(lambda: reg.fit(given, np.asfortranarray(y), sample_weight=sw))
    assert peak < X.nbytes / 4, f"{peak / 2**20:.1f} MiB"


def test_a_fitted_lbfgs_model_keeps_no_activation_of_the_training_set():
    """(an audit: after a full-batch fit the first Dense layer held X itself, and every
    layer its activations for every row, for as long as the model lived)"""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2_000, 16))
    reg = MLPRegressor((32,), solver="lbfgs", max_iter=5, random_state=0)
    reg.fit(X, X.sum(axis=1))
    held = {
        f"{i}.{name}": value.shape
        for i, layer in enumerate(reg.network_.layers)
        for name, value in vars(layer).items()
        if isinstance(value, np.ndarray) and value.shape[:1] == (2_000,)
    }
    assert held == {}
    np.testing.assert_allclose(reg.predict(X[:5]), reg.predict(X)[:5])


@pytest.mark.parametrize("kind", ["float64", "int64", "float64 memmap"])
@pytest.mark.parametrize("call", ["predict", "predict_proba", "score"])
def test_predicting_on_x_of_another_dtype_casts_it_chunk_by_chunk(kind, call, tmp_path):
    """(an audit: float64 X for a float32 model was cast whole before the chunks,
    a copy of X: 200 MiB for 100,000 x 512; a float64 memmap was read whole for it)"""
    rng = np.random.default_rng(0)
    X32 = rng.normal(size=(2_000, 16)).astype(np.float32)
    y = (X32[:, 0] > 0).astype(int)
    clf = MLPClassifier((8,), max_iter=3, random_state=0).fit(X32, y)
    big = rng.normal(size=(40_000, 16)) * 3  # 5 MiB of float64
    if kind == "int64":
        big = big.astype(np.int64)
    elif kind == "float64 memmap":
        np.save(tmp_path / "X.npy", big)
        big = np.load(tmp_path / "X.npy", mmap_mode="r")
    labels = (big[:, 0] > 0).astype(int)
    args = (big, labels) if call == "score" else (big,)
    peak = _peak_during(lambda: getattr(clf, call)(*args))
    assert peak < big.nbytes / 4, f"{peak / 2**20:.2f} MiB"
    expected = getattr(clf, call)(np.asarray(big, dtype=np.float32), *args[1:])
    np.testing.assert_array_equal(getattr(clf, call)(*args), expected)


def test_float64_x_beyond_float32_is_still_refused_when_predicting_by_chunks():
    rng = np.random.default_rng(0)
    X32 = rng.normal(size=(200, 4)).astype(np.float32)
    clf = MLPClassifier((8,), activation="tanh", max_iter=3, random_state=0)
    clf.fit(X32, (X32[:, 0] > 0).astype(int))
    big = rng.normal(size=(3_000, 4))
    big[2_500, 1] = 1e39
    with pytest.raises(ValueError, match=r"X holds 1 value\(s\) beyond the range of float32"):
        clf.predict(big)


class ReusedBufferScale(Layer, name="data_test_ReusedBufferScale"):
    """A user's layer keeping a buffer it reuses in a _transient attribute."""

    _transient = ("_buffer",)

    def __init__(self, c=2.0):
        self.c = c

    def build(self, n_in, rng, dtype):
        self._buffer = None
        return n_in

    def forward(self, x, training=False):
        if self._buffer is None or self._buffer.shape != x.shape:
            self._buffer = np.empty_like(x)
        return np.multiply(x, self.c, out=self._buffer).copy()

    def backward(self, delta):
        return delta * self.c


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_users_layer_keeps_its_transient_attributes_after_fit(solver):
    """(a review: dropping every layer's caches after fit broke a user's layer that
    expects its reusable buffer there: predict raised AttributeError)"""
    X = np.random.default_rng(0).normal(size=(100, 4))
    layers = [Dense(5), ReusedBufferScale(), ReLU()]
    reg = MLPRegressor(layers=layers, solver=solver, max_iter=5, random_state=0)
    reg.fit(X, X.sum(axis=1))
    assert reg.predict(X).shape == (100,)


def test_a_regressors_sigmoid_output_is_named_logistic_as_scikit_learn_names_it(tmp_path):
    """(a trial: the regressor said 'sigmoid' where the classifier, like scikit-learn,
    says 'logistic'); a model file written before says 'sigmoid', and loads as
    'logistic', so that fitting it on goes on"""
    import json
    import zipfile

    import layerkit

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    target = 1 / (1 + np.exp(-X[:, 0]))
    reg = MLPRegressor((4,), loss=BinaryCrossEntropy(), max_iter=3, random_state=0)
    reg.fit(X, target)
    assert reg.out_activation_ == "logistic"
    path = layerkit.save(reg, tmp_path / "reg.lkm")
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["fitted"]["out_activation_"] = "sigmoid"
    members["manifest.json"] = json.dumps(manifest).encode()
    old = tmp_path / "old.lkm"
    with zipfile.ZipFile(old, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    loaded = layerkit.load(old)
    assert loaded.out_activation_ == "logistic"
    loaded.set_params(warm_start=True, max_iter=1)
    loaded.fit(X, target)  # (a continued fit checks the name against the loss's)


def test_a_regressor_pickled_with_the_old_sigmoid_name_fits_on():
    """(a review: a pickle from before keeps 'sigmoid', and a continued fit refused it)"""
    import pickle

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    target = 1 / (1 + np.exp(-X[:, 0]))
    reg = MLPRegressor((4,), loss=BinaryCrossEntropy(), max_iter=3, random_state=0)
    reg.fit(X, target)
    reg.out_activation_ = "sigmoid"  # (as an old pickle holds it)
    old = pickle.loads(pickle.dumps(reg))
    old.set_params(warm_start=True, max_iter=1)
    old.fit(X, target)
    assert old.out_activation_ == "logistic"
