"""A Pipeline of scikit-learn's scalers and imputers ending in a layerkit network, saved
whole in the safe format (format version 3) and loaded to the same predictions."""

import io
import json
import warnings
import zipfile

import numpy as np
import pytest
from helpers import rewritten_model
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    PolynomialFeatures,
    RobustScaler,
    StandardScaler,
)

import layerkit
from layerkit import MLPClassifier, MLPRegressor, ModelFileError
from layerkit.io import read_manifest


def quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


@pytest.fixture(scope="module")
def iris_with_gaps():
    X, y = load_iris(return_X_y=True)
    X = X.copy()
    X[[0, 7, 30], [0, 2, 3]] = np.nan
    return X, y


def _same(a, b):
    """Equal parameters, NaN equal to NaN (SimpleImputer's missing_values)."""
    assert a.keys() == b.keys()
    return all(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a)


STEPS = {
    "imputer and standard scaler": lambda: [SimpleImputer(), StandardScaler()],
    "median imputer and min-max to (-1, 1)": lambda: [
        SimpleImputer(strategy="median"),
        MinMaxScaler(feature_range=(-1, 1), clip=True),
    ],
    "max-abs and squares": lambda: [
        SimpleImputer(strategy="constant", fill_value=-1.0),
        MaxAbsScaler(),
        PolynomialFeatures(degree=2, include_bias=False),
    ],
    "robust, a passthrough, normalizer": lambda: [
        SimpleImputer(strategy="most_frequent"),
        RobustScaler(quantile_range=(10.0, 90.0)),
        "passthrough",
        Normalizer(norm="l1"),
    ],
    "scaling only": lambda: [SimpleImputer(), StandardScaler(with_mean=False)],
}


@pytest.mark.parametrize("case", list(STEPS))
def test_a_fitted_pipeline_loads_to_the_same_predictions(iris_with_gaps, case, tmp_path):
    X, y = iris_with_gaps
    pipe = make_pipeline(*STEPS[case](), MLPClassifier((8,), max_iter=40, random_state=0))
    quiet_fit(pipe, X, y)
    path = layerkit.save(pipe, tmp_path / "p.lkm")
    loaded = layerkit.load(path)
    assert type(loaded) is Pipeline and loaded is not pipe
    assert [name for name, _ in loaded.steps] == [name for name, _ in pipe.steps]
    for (_, mine), (_, theirs) in zip(loaded.steps[:-1], pipe.steps[:-1], strict=True):
        if mine == "passthrough":
            assert theirs == "passthrough"
            continue
        assert type(mine) is type(theirs) and _same(mine.get_params(), theirs.get_params())
        assert mine is not theirs
    np.testing.assert_array_equal(loaded[:-1].transform(X), pipe[:-1].transform(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    assert read_manifest(path)["format_version"] == 3


def test_a_regression_pipeline_with_feature_names_round_trips(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    pipe = make_pipeline(StandardScaler(), MLPRegressor((16,), max_iter=30, random_state=0))
    quiet_fit(pipe, X, y)
    loaded = layerkit.load(layerkit.save(pipe, tmp_path / "r.lkm"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (the names match: no warning)
        np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    assert list(loaded.feature_names_in_) == list(X.columns)
    renamed = X.rename(columns={"age": "years"})
    with pytest.raises(ValueError, match="feature names"):  # (as the original refuses it)
        pipe.predict(renamed)
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(renamed)
    assert isinstance(X, pd.DataFrame)


def test_a_searchs_best_pipeline_is_saved_and_trains_on(iris_with_gaps, tmp_path):
    X, y = iris_with_gaps
    search = GridSearchCV(
        make_pipeline(SimpleImputer(), StandardScaler(), MLPClassifier((8,), max_iter=20)),
        {"mlpclassifier__alpha": [1e-4, 1e-2]},
        cv=2,
    )
    quiet_fit(search, X, y)
    with pytest.raises(TypeError, match=r"save the estimator it found, search\.best_estimator_"):
        layerkit.save(search, tmp_path / "s.lkm")
    loaded = layerkit.load(layerkit.save(search.best_estimator_, tmp_path / "s.lkm"))
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))
    loaded.set_params(mlpclassifier__warm_start=True, mlpclassifier__max_iter=3)
    quiet_fit(loaded, X, y)  # (the steps refit, the network trains on)
    assert len(loaded[-1].loss_curve_) == len(search.best_estimator_[-1].loss_curve_) + 3


def test_an_unfitted_pipeline_keeps_its_settings(tmp_path):
    pipe = make_pipeline(MinMaxScaler(feature_range=(0, 2)), MLPRegressor((4,), alpha=0.5))
    loaded = layerkit.load(layerkit.save(pipe, tmp_path / "u.lkm"))
    assert loaded[0].feature_range == (0, 2) and loaded[-1].alpha == 0.5
    assert not hasattr(loaded[0], "scale_") and not hasattr(loaded[-1], "network_")


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: make_pipeline(FunctionTransformer(np.log1p), MLPClassifier()),
            r"step 'functiontransformer', a sklearn\..*FunctionTransformer: a model file "
            r"holds these steps before the network: ColumnTransformer, MaxAbsScaler, .* and "
            r"'passthrough' .*joblib",
        ),
        (
            lambda: make_pipeline(StandardScaler(), LogisticRegression()),
            "ends in a layerkit MLPClassifier or MLPRegressor, got one ending in "
            "sklearn's LogisticRegression",
        ),
        (
            lambda: make_pipeline(StandardScaler(), MLPClassifier(), memory="/tmp/cache"),
            "memory is '/tmp/cache'; a model file holds a Pipeline with memory=None",
        ),
    ],
)
def test_what_a_file_cannot_hold_is_refused_by_name(make, match, tmp_path):
    with pytest.raises(TypeError, match=match):
        layerkit.save(make(), tmp_path / "x.lkm")
    assert not list(tmp_path.iterdir())


def test_names_and_steps_a_file_cannot_hold_are_refused_at_save(tmp_path):
    pytest.importorskip("pandas")
    _, y = load_iris(return_X_y=True)
    with pytest.raises(TypeError, match=r"step name 'm\\n': a model file holds names of 1 to"):
        layerkit.save(
            Pipeline([("s", StandardScaler()), ("m\n", MLPClassifier())]), tmp_path / "x.lkm"
        )
    with pytest.raises(TypeError, match="got one ending in 'passthrough'"):
        layerkit.save(
            Pipeline([("s", StandardScaler()), ("m", "passthrough")]), tmp_path / "x.lkm"
        )
    imputer = quiet_fit(SimpleImputer(), np.ones((4, 1)), y[:4])
    imputer._fit_dtype = np.dtype("datetime64[ns]")  # (as no fit of scikit-learn's sets it)
    with pytest.raises(TypeError, match=r"fitted on columns of dtype datetime64"):
        layerkit.save(make_pipeline(imputer, MLPClassifier()), tmp_path / "x.lkm")
    assert not list(tmp_path.iterdir())


def test_an_imputer_with_an_indicator_is_refused(iris_with_gaps, tmp_path):
    X, y = iris_with_gaps
    pipe = make_pipeline(SimpleImputer(add_indicator=True), MLPClassifier((4,), max_iter=5))
    quiet_fit(pipe, X, y)
    with pytest.raises(TypeError, match="add_indicator=True: its MissingIndicator"):
        layerkit.save(pipe, tmp_path / "x.lkm")


@pytest.fixture(scope="module")
def saved_pipeline(iris_with_gaps, tmp_path_factory):
    X, y = iris_with_gaps
    pipe = make_pipeline(SimpleImputer(), StandardScaler(), MLPClassifier((8,), max_iter=30))
    quiet_fit(pipe, X, y)
    path = layerkit.save(pipe, tmp_path_factory.mktemp("p") / "p.lkm")
    return path.read_bytes(), pipe.predict_proba(X), X


def _edited(data, edit):
    """The file with its manifest edited by ``edit`` (the pipeline's digest not updated)."""
    return rewritten_model(data, lambda manifest: edit(manifest["pipeline"]))


def _redigest(edit):
    """``edit``, then the digest made right again: what only validation can catch."""
    from layerkit.io._manifest import pipeline_digest

    def both(spec):
        edit(spec)
        spec["sha256"] = pipeline_digest({k: v for k, v in spec.items() if k != "sha256"})

    return both


def _load(data, tmp_path):
    path = tmp_path / "edited.lkm"
    path.write_bytes(data)
    return layerkit.load(path)


def _scale_mean(spec):
    spec["steps"][1]["fitted"]["mean_"]["$array"]["values"][0] += 1.0


EDITS = {
    "a mean changed, digest kept": (_scale_mean, "do not match their SHA-256"),
    "a class outside the list": (
        lambda s: s["steps"][0].update(type="FunctionTransformer"),
        "does not validate",
    ),
    "an unknown attribute": (
        _redigest(lambda s: s["steps"][1]["fitted"].update(__class__=1)),
        r"unknown fitted attributes \['__class__'\]",
    ),
    "a missing attribute": (
        _redigest(lambda s: s["steps"][1]["fitted"].pop("scale_")),
        r"fitted attributes missing: \['scale_'\]",
    ),
    "a mean too short": (
        _redigest(lambda s: s["steps"][1]["fitted"]["mean_"]["$array"]["values"].pop()),
        r"mean_ must be a number or 4 of them \(one per input feature\)",
    ),
    "a mean of text, 200 MB a value": (
        _redigest(
            lambda s: s["steps"][1]["fitted"].update(
                mean_={"$array": {"dtype": "<U50000000", "values": ["0"] * 4}}
            )
        ),
        r"fitted\.mean_: expected plain data",
    ),
    "an object in a setting": (
        _redigest(
            lambda s: s["steps"][0]["params"].update(
                fill_value={"$object": {"kind": "loss", "type": "SquaredError", "config": {}}}
            )
        ),
        r"params\.fill_value: expected plain data",
    ),
    "feature names of another length": (
        _redigest(
            lambda s: (
                s["steps"][1]["fitted"].update(feature_names_in_=["a"]),
                s["steps"][1]["object_arrays"].append("feature_names_in_"),
            )
        ),
        "feature_names_in_ must be a number or 4 of them",
    ),
    "an input wider than anything in the file": (
        _redigest(lambda s: s["steps"][0]["fitted"].update(n_features_in_=50_000_000)),
        r"n_features_in_ must be an int from 1 to 4 .*got 50000000",
    ),
    "two steps of one name": (
        _redigest(lambda s: s["steps"][1].update(name="simpleimputer")),
        "Names provided are not unique",
    ),
    "a second step taking another width": (
        _redigest(
            lambda s: (
                s["steps"][1]["fitted"].update(n_features_in_=3),
                [
                    s["steps"][1]["fitted"][k]["$array"]["values"].pop()
                    for k in ("mean_", "var_", "scale_")
                ],
            )
        ),
        "takes 3 features, and the steps before it give 4",
    ),
    "an unknown setting": (
        _redigest(lambda s: s["steps"][1]["params"].update(with_nothing=True)),
        "unexpected keyword argument 'with_nothing'",
    ),
    "an invalid setting": (
        _redigest(lambda s: s["steps"][0]["params"].update(strategy="mode")),
        "strategy",
    ),
    "a name with __": (
        lambda s: s["steps"][0].update(name="simple__imputer"),
        "holds no '__'",
    ),
    "an object dtype": (
        _redigest(lambda s: s["steps"][0]["dtypes"].update(_fit_dtype="<M8[ns]")),
        "_fit_dtype must be a numeric or object dtype, got '<M8\\[ns\\]'",
    ),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_an_edited_pipeline_entry_is_refused_by_name(saved_pipeline, case, tmp_path):
    data, _, _ = saved_pipeline
    edit, match = EDITS[case]
    with pytest.raises(ModelFileError, match=match):
        _load(_edited(data, edit), tmp_path)


def test_every_changed_digit_of_the_steps_is_refused(saved_pipeline, tmp_path):
    """(A review: flipped bytes were all caught by the zip's CRC, never reaching the
    digest.) Each digit of the steps' JSON changed, in a rewritten, sound zip: the
    pipeline's SHA-256 refuses every one."""
    data, expected, X = saved_pipeline
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    text = json.dumps(manifest["pipeline"]["steps"])
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    assert len(digits) > 100
    refused = 0
    for i in digits[:: max(1, len(digits) // 40)]:
        changed = text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1 :]

        def edit(spec, changed=changed):
            spec["steps"] = json.loads(changed)

        try:
            model = _load(_edited(data, edit), tmp_path)
        except ModelFileError as err:
            assert "do not match their SHA-256" in str(err)
            refused += 1
            continue
        # (a 17th digit beyond a float's precision: the same number, the same model)
        np.testing.assert_array_equal(model.predict_proba(X), expected)
    assert refused >= 30


def test_an_attribute_only_some_scikit_learn_versions_give_is_optional(saved_pipeline, tmp_path):
    """(scikit-learn 1.7's SimpleImputer has no _fill_dtype, 1.9's has: a file from
    either loads in the other, the missing one taken as the data's dtype)"""
    data, expected, X = saved_pipeline

    def older(spec):
        spec["steps"][0]["dtypes"].pop("_fill_dtype", None)

    loaded = _load(_edited(data, _redigest(older)), tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    assert loaded[0]._fill_dtype == loaded[0]._fit_dtype


def test_a_derived_attribute_is_computed_not_read(tmp_path):
    """(A review: a file's PolynomialFeatures._max_degree of 200,000 made every
    predict loop 200,000 times.) What the settings give is computed on load; the file
    may not say it."""
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(PolynomialFeatures(2), MLPClassifier((4,), max_iter=5))
    quiet_fit(pipe, X, y)
    data = layerkit.save(pipe, tmp_path / "p.lkm").read_bytes()
    assert "_max_degree" not in json.dumps(read_manifest(tmp_path / "p.lkm")["pipeline"])
    loaded = layerkit.load(tmp_path / "p.lkm")
    assert loaded[0]._max_degree == 2 and loaded[0].n_output_features_ == 15  # 1 + 4 + 10
    crafted = _edited(
        data, _redigest(lambda s: s["steps"][0]["fitted"].update(_max_degree=200000))
    )
    with pytest.raises(ModelFileError, match=r"unknown fitted attributes \['_max_degree'\]"):
        _load(crafted, tmp_path)


def test_numpy_scalars_and_output_settings_come_back_as_they_were(tmp_path):
    """(A review: n_samples_seen_ came back a Python float, and partial_fit then failed;
    set_output was refused as an unknown attribute.)"""
    pytest.importorskip("pandas")
    X, y = load_iris(return_X_y=True, as_frame=True)
    scaler = StandardScaler().set_output(transform="pandas")
    pipe = make_pipeline(scaler, MLPClassifier((4,), max_iter=5))
    quiet_fit(pipe, X, y)
    loaded = layerkit.load(layerkit.save(pipe, tmp_path / "p.lkm"))
    seen = loaded[0].n_samples_seen_
    assert type(seen) is type(scaler.n_samples_seen_) and seen == scaler.n_samples_seen_
    assert type(loaded[0].transform(X)).__name__ == "DataFrame"
    loaded[0].partial_fit(X)
    scaler.partial_fit(X)
    np.testing.assert_array_equal(loaded[0].mean_, scaler.mean_)


def test_inspect_names_the_steps_before_the_network(saved_pipeline, tmp_path, capsys):
    from layerkit.cli import main

    data, _, _ = saved_pipeline
    path = tmp_path / "p.lkm"
    path.write_bytes(data)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "MLPClassifier in a Pipeline" in out
    assert "steps before the network: simpleimputer: SimpleImputer(), standardscaler: " in out
    assert "input: 4 features" in out


def test_layerkit_predict_runs_a_pipeline_file_its_imputer_filling_gaps(tmp_path, capsys):
    """(the steps run in the CLI too: a column with gaps is refused for a bare network,
    and filled by a Pipeline's imputer)"""
    pd = pytest.importorskip("pandas")
    from layerkit.cli import main

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.iloc[[0, 9], [0, 3]] = np.nan
    pipe = make_pipeline(SimpleImputer(), StandardScaler(), MLPClassifier((8,), max_iter=50))
    quiet_fit(pipe, X, y)
    layerkit.save(pipe, tmp_path / "p.lkm")
    X.to_csv(tmp_path / "rows.csv", index=False)
    status = main(
        [
            "predict",
            str(tmp_path / "p.lkm"),
            str(tmp_path / "rows.csv"),
            "-o",
            str(tmp_path / "out.csv"),
        ]
    )
    assert status == 0, capsys.readouterr().err
    written = pd.read_csv(tmp_path / "out.csv")["prediction"].to_numpy()
    np.testing.assert_array_equal(written, pipe.predict(X))
    passing = make_pipeline("passthrough", StandardScaler(), MLPClassifier((8,), max_iter=5))
    quiet_fit(passing, X.fillna(0), y)
    layerkit.save(passing, tmp_path / "pass.lkm")
    X.fillna(0).to_csv(tmp_path / "full.csv", index=False)
    out = str(tmp_path / "o1.csv")
    assert (
        main(["predict", str(tmp_path / "pass.lkm"), str(tmp_path / "full.csv"), "-o", out]) == 0
    )
    assert main(["inspect", str(tmp_path / "pass.lkm")]) == 0
    assert "input: 4 features" in capsys.readouterr().out  # (not "not fitted")
    bare = quiet_fit(MLPClassifier((8,), max_iter=5), X.fillna(0), y)
    layerkit.save(bare, tmp_path / "bare.lkm")
    status = main(
        [
            "predict",
            str(tmp_path / "bare.lkm"),
            str(tmp_path / "rows.csv"),
            "-o",
            str(tmp_path / "o2.csv"),
        ]
    )
    assert status == 1 and "missing value(s)" in capsys.readouterr().err
