"""Categorical columns in the safe model file (format version 5): OneHotEncoder,
OrdinalEncoder, SimpleImputer on categories, and the ColumnTransformer (with Pipelines
inside it) that sends each column to its step, saved whole and loaded to the same
predictions, bit for bit."""

import json
import warnings
import zipfile

import numpy as np
import pytest
from helpers import redigested, rewritten_model
from sklearn.base import clone
from sklearn.compose import (
    ColumnTransformer,
    TransformedTargetRegressor,
    make_column_transformer,
)
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

import layerkit
from layerkit import MLPClassifier, MLPRegressor, ModelFileError
from layerkit.io import read_manifest

pd = pytest.importorskip("pandas")


def quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def passengers(n=240, seed=0):
    """A table of mixed types, as scikit-learn's mixed-types example has: numbers with
    gaps, categories as strings with gaps, and a category coded as integers."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 12, n),
            "fare": rng.exponential(30, n),
            "embarked": rng.choice(["C", "Q", "S", "-"], n),
            "pclass": rng.choice([1, 2, 3], n),
        }
    )
    frame.loc[::11, "age"] = np.nan
    # (gaps as NaN, as pandas 2 and 3 both read them: pandas 2 keeps a None, which an
    # imputer of NaN then takes for a category)
    frame["embarked"] = frame["embarked"].replace("-", np.nan)
    y = ((frame["age"].fillna(40) > 40) ^ (frame["embarked"] == "C")).to_numpy(int)
    return frame, y


def mixed_types_pipeline(**mlp):
    numbers = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categories = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    columns = ColumnTransformer(
        [
            ("num", numbers, ["age", "fare"]),
            ("cat", categories, ["embarked"]),
            ("ord", OrdinalEncoder(), ["pclass"]),
        ]
    )
    return make_pipeline(columns, MLPClassifier((16,), max_iter=30, random_state=0, **mlp))


def unseen(frame):
    """The rows with categories no fit saw, and gaps where the training had none."""
    other = frame.copy()
    other.loc[:4, "embarked"] = "Z"
    other.loc[5:7, "fare"] = np.nan
    return other


def round_trip(model, tmp_path, name="m.lkm"):
    path = tmp_path / name
    layerkit.save(model, path)
    return layerkit.load(path), path


def test_the_mixed_types_pipeline_predicts_the_same_after_a_round_trip(tmp_path):
    frame, y = passengers()
    pipe = quiet(mixed_types_pipeline().fit, frame, y)
    again, path = round_trip(pipe, tmp_path)
    other = unseen(frame)
    assert np.array_equal(quiet(again.predict_proba, other), quiet(pipe.predict_proba, other))
    assert np.array_equal(quiet(again[:-1].transform, other), quiet(pipe[:-1].transform, other))
    assert repr(again) == repr(pipe)
    assert read_manifest(path)["format_version"] == 5
    inner = again[0].named_transformers_
    assert inner["cat"][-1].categories_[0].tolist() == ["C", "Q", "S"]
    assert (
        inner["ord"].categories_[0].dtype
        == pipe[0].named_transformers_["ord"].categories_[0].dtype
    )
    assert list(again[0].get_feature_names_out()) == list(pipe[0].get_feature_names_out())
    # the loaded Pipeline is a scikit-learn object as the original: it clones and refits
    refit, fit = quiet(clone(again).fit, frame, y), quiet(clone(pipe).fit, frame, y)
    assert np.array_equal(refit.predict_proba(frame), fit.predict_proba(frame))


def _numbers(n=200, seed=1):
    rng = np.random.default_rng(seed)
    X = np.c_[
        rng.normal(size=n),
        rng.choice([1.0, 2.0, 5.0], n),
        rng.choice([0.0, 1.0], n),
        rng.normal(size=n),
    ]
    X[::13, 1] = np.nan
    other = X.copy()
    other[:3, 1] = 7.0  # (a category no fit saw)
    return X, (X[:, 0] > 0).astype(int), other


def _mlp():
    return MLPClassifier((8,), max_iter=20, random_state=0)


CASES = {
    "an encoder alone, sparse output": lambda: make_pipeline(
        OneHotEncoder(handle_unknown="ignore"), _mlp()
    ),
    "indices, the rest passed through": lambda: make_pipeline(
        ColumnTransformer(
            [
                (
                    "o",
                    OneHotEncoder(drop="if_binary", sparse_output=False, handle_unknown="ignore"),
                    [1, 2],
                )
            ],
            remainder="passthrough",
        ),
        _mlp(),
    ),
    "a mask, the rest scaled, sparse": lambda: make_pipeline(
        ColumnTransformer(
            [
                (
                    "o",
                    OneHotEncoder(drop="first", handle_unknown="ignore"),
                    [False, True, True, False],
                )
            ],
            remainder=StandardScaler(),
            sparse_threshold=0.9,
        ),
        _mlp(),
    ),
    "ordinal codes, a column dropped": lambda: make_pipeline(
        ColumnTransformer(
            [
                (
                    "o",
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value",
                        unknown_value=-1,
                        encoded_missing_value=-2,
                    ),
                    [1],
                ),
                ("d", "drop", [2]),
                ("s", MinMaxScaler(), [0, 3]),
            ]
        ),
        _mlp(),
    ),
    "a step of no columns": lambda: make_pipeline(
        ColumnTransformer([("o", OneHotEncoder(), []), ("s", StandardScaler(), [0])]), _mlp()
    ),
    "float32 codes": lambda: make_pipeline(
        ColumnTransformer([("o", OneHotEncoder(dtype=np.float32, handle_unknown="ignore"), [1])]),
        _mlp(),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_kind_of_column_transformer_predicts_the_same(case, tmp_path):
    X, y, other = _numbers()
    pipe = quiet(CASES[case]().fit, X, y)
    again, _ = round_trip(pipe, tmp_path)
    assert np.array_equal(quiet(again.predict_proba, other), quiet(pipe.predict_proba, other))
    got, want = quiet(again[:-1].transform, other), quiet(pipe[:-1].transform, other)
    assert type(got) is type(want)
    if hasattr(want, "toarray"):
        got, want = got.toarray(), want.toarray()
    assert np.array_equal(got, want, equal_nan=True)


def test_pandas_output_names_and_a_regressor_in_a_target_wrapper(tmp_path):
    frame, _ = passengers()
    columns = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["embarked"]),
        (SimpleImputer(), ["age"]),
        remainder="passthrough",
    ).set_output(transform="pandas")
    wrapped = TransformedTargetRegressor(
        make_pipeline(columns, MLPRegressor((8,), max_iter=20, random_state=0)),
        transformer=StandardScaler(),
    )
    target = frame["fare"].to_numpy() * 100
    quiet(wrapped.fit, frame, target)
    again, path = round_trip(wrapped, tmp_path)
    other = unseen(frame).fillna({"fare": 0.0})
    assert np.array_equal(quiet(again.predict, other), quiet(wrapped.predict, other))
    out = quiet(again.regressor_[0].transform, other)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(quiet(wrapped.regressor_[0].transform, other).columns)
    assert read_manifest(path)["format_version"] == 5


def test_an_unfitted_pipeline_keeps_its_settings(tmp_path):
    frame, y = passengers()
    pipe = mixed_types_pipeline()
    again, _ = round_trip(pipe, tmp_path)
    assert repr(again) == repr(pipe)
    assert not hasattr(again[0], "transformers_")
    assert np.array_equal(
        quiet(again.fit, frame, y).predict_proba(frame),
        quiet(pipe.fit, frame, y).predict_proba(frame),
    )


def test_a_file_without_encoders_keeps_its_earlier_format_version(tmp_path):
    X, y, _ = _numbers()
    pipe = quiet(make_pipeline(SimpleImputer(), _mlp()).fit, X, y)
    _, path = round_trip(pipe, tmp_path)
    assert read_manifest(path)["format_version"] == 3


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: OneHotEncoder(min_frequency=3),
            r"OneHotEncoder\) with min_frequency=3: a model file holds encoders without "
            "infrequent categories; leave min_frequency and max_categories at None",
        ),
        (
            lambda: make_column_transformer((OneHotEncoder(), lambda X: ["embarked"])),
            r"transformers\[0\] \('onehotencoder'\)'s columns, a callable: a model file "
            r"holds columns as a list of names, of indices or of booleans, or a "
            r"make_column_selector; give them as a list \(the fitted one chose "
            r"\['embarked'\]\), or pickle",
        ),
        (
            lambda: ColumnTransformer([("o", OneHotEncoder(), slice(2, 3))]),
            r"columns, slice\(2, 3, None\): a model file holds columns as a list",
        ),
        (
            lambda: ColumnTransformer(
                [("o", OneHotEncoder(), ["embarked"])], transformer_weights={"o": 2.0}
            ),
            "with transformer_weights: scale the columns in a step instead",
        ),
        (
            lambda: ColumnTransformer([("f", FunctionTransformer(), ["age"])]),
            r"transformers\[0\] \('f'\), a sklearn\..*FunctionTransformer: a model file holds these "
            r"steps: ColumnTransformer, .*'passthrough' and 'drop' \(pickle or joblib",
        ),
    ],
)
def test_what_a_file_cannot_hold_is_refused_at_save_by_name(make, match, tmp_path):
    frame, y = passengers()
    pipe = make_pipeline(make(), _mlp())
    if not isinstance(pipe[0], OneHotEncoder):
        quiet(pipe.fit, frame.fillna({"embarked": "S", "age": 0.0}), y)
    else:
        quiet(pipe.fit, frame[["pclass"]], y)
    with pytest.raises(TypeError, match=match):
        layerkit.save(pipe, tmp_path / "x.lkm")
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    frame, y = passengers()
    pipe = quiet(mixed_types_pipeline().fit, frame, y)
    path = tmp_path_factory.mktemp("columns") / "m.lkm"
    layerkit.save(pipe, path)
    return path.read_bytes(), pipe, frame


def _columns(spec):
    return spec["steps"][0]["params"]["transformers"]


def _categories(spec):  # (the one-hot encoder's, inside the "cat" Pipeline)
    return _columns(spec)[1][1]["params"]["steps"][1][1]["fitted"]["categories_"]


def _codes(spec):  # (the ordinal encoder's, of integers)
    return _columns(spec)[2][1]["fitted"]["categories_"]


EDITS = {
    "a category changed, digest kept": (
        lambda m: _categories(m["pipeline"])[0]["values"].__setitem__(0, "X"),
        "do not match their SHA-256",
    ),
    "a dtype of dates": (
        redigested(lambda s: _categories(s)[0].update(dtype="<M8[ns]")),
        r"categories_\[0\]: dtype must be numeric, boolean, text or object, got '<M8\[ns\]'",
    ),
    "a text dtype far wider than its values": (
        redigested(lambda s: _categories(s)[0].update(dtype="<U100000000")),
        r"categories_\[0\]: dtype <U100000000 is wider than its values",
    ),
    "text in a numeric dtype": (
        redigested(lambda s: _categories(s)[0].update(dtype="<f8")),
        r"categories_\[0\]: values must be of dtype float64",
    ),
    "numbers out of order": (
        redigested(lambda s: _codes(s)[0].update(values=[2, 1, 3])),
        r"categories_\[0\]: numbers must be sorted, without repeats, a NaN last",
    ),
    "infrequent categories": (
        redigested(lambda s: _columns(s)[2][1]["params"].update(min_frequency=2)),
        r"transformers\[2\]: min_frequency must be null",
    ),
    "a categories setting of others": (
        redigested(lambda s: _columns(s)[2][1]["params"].update(categories=[[1, 2, 4]])),
        r"transformers\[2\]: its categories setting differs from its categories_",
    ),
    "no categories": (
        redigested(lambda s: _categories(s)[0].update(values=[])),
        r"categories_\[0\]: values must be a non-empty list",
    ),
    "a step type no file holds": (
        redigested(lambda s: _columns(s)[2][1].update(type="FunctionTransformer")),
        r"transformers\[2\]: 1 validation error for StepSpec",
    ),
    "an unfitted step with columns": (
        redigested(lambda s: _columns(s)[2][1].pop("fitted")),
        r"transformers\[2\]: not fitted, where its ColumnTransformer is",
    ),
    "an input a million columns wide": (
        redigested(
            lambda s: (
                s["steps"][0]["fitted"].update(n_features_in_=10**6)
                or s["steps"][0]["fitted"].pop("feature_names_in_")
            )
        ),
        r"n_features_in_ must be an int from 1 to 65536, got 1000000",
    ),
    "values beside a ColumnTransformer's own": (
        redigested(lambda s: s["steps"][0].update(dtypes={"x": "<f8"})),
        r"ColumnTransformer\): a ColumnTransformer holds its fitted values in its steps",
    ),
    "an earlier format version": (
        lambda m: m.update(format_version=4),
        "ColumnTransformer or inner Pipeline in a file of format version 4: they came in "
        "version 5",
    ),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_an_edited_file_is_refused_by_name(saved, case, tmp_path):
    data, _, _ = saved
    edit, match = EDITS[case]
    path = tmp_path / "edited.lkm"
    path.write_bytes(rewritten_model(data, edit))
    with pytest.raises(ModelFileError, match=match):
        layerkit.load(path)


def test_the_file_holds_categories_as_json_data(saved):
    data, pipe, _ = saved
    manifest = json.loads(zipfile.ZipFile(__import__("io").BytesIO(data)).read("manifest.json"))
    categories = _categories(manifest["pipeline"])
    assert categories == [{"dtype": "|O", "values": ["C", "Q", "S"]}]
    codes = _columns(manifest["pipeline"])[2][1]["fitted"]["categories_"]
    assert codes == [{"dtype": "<i8", "values": [1, 2, 3]}]
    assert pipe[0].named_transformers_["ord"].categories_[0].dtype == np.int64


def test_a_checkpoint_saves_the_whole_pipeline_each_epoch(tmp_path):
    pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9 has no callbacks")
    from layerkit.callbacks import Checkpoint

    frame, y = passengers()
    pipe = mixed_types_pipeline()
    pipe.set_params(mlpclassifier__max_iter=4)
    pipe.set_callbacks(Checkpoint(str(tmp_path / "m-{epoch}.lkm"), every=2))
    quiet(pipe.fit, frame, y)
    again = layerkit.load(tmp_path / "m-4.lkm")
    assert np.array_equal(again.predict_proba(frame), pipe.predict_proba(frame))


def _cli(capsys, *args):
    from layerkit.cli import main

    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_layerkit_predict_reads_categories_and_gaps_for_such_a_model(
    saved, suffix, tmp_path, capsys
):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    data, pipe, frame = saved
    (tmp_path / "m.lkm").write_bytes(data)
    table = unseen(frame)[["pclass", "embarked", "fare", "age"]]  # (columns by name)
    # cells as pandas reads them: not stripped, and "none" a category (unknown here),
    # not a missing value (in a CSV file only pandas' own spellings are: "NA", "", ...;
    # in a Parquet file, a null)
    table.loc[3, "embarked"] = "  Q "
    table.loc[4, "embarked"] = "none"
    table.loc[5, "embarked"] = "NA"
    rows = tmp_path / f"rows{suffix}"
    if suffix == ".csv":
        table.to_csv(rows, index=False)
        expected = pd.read_csv(rows)
    else:
        table.to_parquet(rows, index=False)
        expected = pd.read_parquet(rows)
    status, out, err = _cli(
        capsys, "predict", tmp_path / "m.lkm", rows, "-o", tmp_path / "p.csv", "--proba"
    )
    assert status == 0, err
    assert "wrote 240 predictions" in out
    written = pd.read_csv(tmp_path / "p.csv")
    assert expected.loc[3:4, "embarked"].tolist() == ["  Q ", "none"]
    want = quiet(pipe.predict_proba, expected)
    np.testing.assert_allclose(written[["proba_0", "proba_1"]].to_numpy(), want, rtol=1e-12)
    assert written["prediction"].tolist() == pipe.classes_[want.argmax(axis=1)].tolist()


def test_layerkit_predict_names_the_column_a_step_refuses(tmp_path, capsys):
    frame, y = passengers()
    strict = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["embarked"]), (StandardScaler(), ["age"])),
        _mlp(),
    )
    quiet(strict.fit, frame.fillna({"embarked": "S", "age": 40.0}), y)
    layerkit.save(strict, tmp_path / "m.lkm")
    frame.fillna({"age": 40.0}).assign(embarked="Z").to_csv(tmp_path / "rows.csv", index=False)
    status, _, err = _cli(
        capsys, "predict", tmp_path / "m.lkm", tmp_path / "rows.csv", "-o", tmp_path / "p.csv"
    )
    assert status != 0
    assert (
        "the model cannot predict from this data: its step 'onehotencoder' (columns "
        "embarked), in column embarked: Found unknown categories ['Z'] in column 0" in err
    )
    assert not (tmp_path / "p.csv").exists()
    frame.fillna({"embarked": "S"}).assign(age="young").to_csv(tmp_path / "rows.csv")
    status, _, err = _cli(
        capsys, "predict", tmp_path / "m.lkm", tmp_path / "rows.csv", "-o", tmp_path / "p.csv"
    )
    assert status != 0
    assert (
        "its step 'standardscaler' (columns age), in column age, row 1 (line 2): could not "
        "convert string to float: 'young'"
    ) in err
    assert err.count("\n") == 1  # (scikit-learn's lines as one)


def test_layerkit_inspect_shows_the_steps_on_one_line(saved, tmp_path, capsys):
    data, _, _ = saved
    (tmp_path / "m.lkm").write_bytes(data)
    status, out, err = _cli(capsys, "inspect", tmp_path / "m.lkm")
    assert status == 0, err
    line = next(x for x in out.splitlines() if "steps before the network" in x)
    assert "OneHotEncoder(handle_unknown='ignore'))]), ['embarked'])" in line
    assert (
        "input: 4 features: age, fare, embarked, pclass (the steps give the network 6 "
        "features, float64)" in out
    )


def test_layerkit_predict_gives_a_model_without_names_its_categories_by_position(tmp_path, capsys):
    # fitted on a NumPy array of objects: codes that look like numbers (pandas would
    # read 7, 12 and 100; the model's categories are text, and get them as written)
    codes = np.array(["007", "012", "100", "007", "100"] * 12, dtype=object)
    X = np.column_stack([np.arange(60.0) % 7, codes]).astype(object)
    y = np.arange(60) % 2
    pipe = quiet(
        make_pipeline(
            ColumnTransformer([("c", OneHotEncoder(), [1])], remainder="passthrough"), _mlp()
        ).fit,
        X,
        y,
    )
    assert pipe[0].named_transformers_["c"].categories_[0].tolist() == ["007", "012", "100"]
    layerkit.save(pipe, tmp_path / "m.lkm")
    rows = tmp_path / "rows.csv"
    rows.write_text("x,code\n" + "".join(f"{a:g},{c or ''}\n" for a, c in X.tolist()))
    status, _, err = _cli(
        capsys, "predict", tmp_path / "m.lkm", rows, "-o", tmp_path / "p.csv", "--proba"
    )
    assert status == 0, err
    written = pd.read_csv(tmp_path / "p.csv")
    want = pipe.predict_proba(X)
    np.testing.assert_allclose(written[["proba_0", "proba_1"]].to_numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("encoder", [OneHotEncoder, OrdinalEncoder])
@pytest.mark.parametrize("inside", [True, False])
def test_an_imputer_before_a_strict_encoder_loads(encoder, inside, tmp_path):
    # (the load's check row had been zeros, which the imputer passed to the encoder:
    # an unknown category for handle_unknown="error", the scikit-learn default)
    frame = pd.DataFrame(
        {"c": ["a", "b", None, "c"] * 25, "k": [1, 2, 3, None] * 25, "gone": [None] * 100}
    )
    steps = make_pipeline(SimpleImputer(strategy="most_frequent"), encoder())
    first = ColumnTransformer([("cat", steps, ["c", "k", "gone"])]) if inside else steps
    pipe = quiet(make_pipeline(first, _mlp()).fit, frame, np.arange(100) % 2)
    again, _ = round_trip(pipe, tmp_path)
    assert np.array_equal(again.predict_proba(frame), pipe.predict_proba(frame))


def test_layerkit_predict_reads_number_codes_beside_text_in_one_encoder(tmp_path, capsys):
    # one imputer and encoder for text and integer-coded columns: the codes' categories
    # are numbers (in an array of objects), and the CSV's cells must reach them as numbers
    frame, y = passengers()
    columns = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "fare"]),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                ["embarked", "pclass"],
            ),
        ]
    )
    pipe = quiet(make_pipeline(columns, _mlp()).fit, frame, y)
    layerkit.save(pipe, tmp_path / "m.lkm")
    frame.to_csv(tmp_path / "rows.csv", index=False)
    status, _, err = _cli(
        capsys,
        "predict",
        tmp_path / "m.lkm",
        tmp_path / "rows.csv",
        "-o",
        tmp_path / "p.csv",
        "--proba",
    )
    assert status == 0, err
    written = pd.read_csv(tmp_path / "p.csv")[["proba_0", "proba_1"]].to_numpy()
    want = pipe.predict_proba(pd.read_csv(tmp_path / "rows.csv"))
    np.testing.assert_allclose(written, want, rtol=1e-12)
    as_text = pipe.predict_proba(frame.assign(pclass=frame["pclass"].astype(str)))
    assert np.abs(written - as_text).max() > 1e-3  # (what the codes as text had given)


MORE = {
    "booleans": (lambda: OneHotEncoder(), lambda: np.array([[True], [False]] * 20)),
    "text (not objects)": (lambda: OneHotEncoder(), lambda: np.array([["a"], ["b"]] * 20)),
    "categories given as an array": (
        lambda: OrdinalEncoder(categories=[np.array(["low", "mid", "high"])]),
        lambda: np.array([["low"], ["mid"], ["high"], ["low"]] * 10, dtype=object),
    ),
    "drop given as an array": (
        lambda: OneHotEncoder(drop=np.array(["b"])),
        lambda: np.array([["a"], ["b"]] * 20, dtype=object),
    ),
    "int64's extremes": (
        lambda: OneHotEncoder(),
        lambda: np.array([[np.iinfo(np.int64).max], [np.iinfo(np.int64).min]] * 20),
    ),
    "columns as an Index and as NumPy ints": (
        lambda: ColumnTransformer(
            [
                ("t", OneHotEncoder(), pd.Index(["c"], dtype=object)),
                ("n", StandardScaler(), [np.int64(1)]),
            ]
        ),
        # (objects: scikit-learn 1.6 cannot read pandas 3's own text dtype)
        lambda: pd.DataFrame({"c": np.array(["x", "y"] * 20, dtype=object), "v": np.arange(40.0)}),
    ),
    "a scaler before an encoder": (
        lambda: make_pipeline(MinMaxScaler(), OrdinalEncoder()),
        lambda: np.array([[1.0], [2.0], [5.0], [7.0]] * 10),
    ),
}


@pytest.mark.parametrize("case", list(MORE))
def test_more_encoders_predict_the_same(case, tmp_path):
    path = _predicts_the_same_after_a_round_trip(*MORE[case], tmp_path)
    assert read_manifest(path)["format_version"] == 5


def _predicts_the_same_after_a_round_trip(make, data, tmp_path):
    """``make()`` before a network, fitted on ``data()``, saved and loaded: the same
    probabilities, bit for bit. Returns the file."""
    X = data()
    pipe = quiet(make_pipeline(make(), _mlp()).fit, X, np.arange(len(X)) % 2)
    again, path = round_trip(pipe, tmp_path)
    assert np.array_equal(again.predict_proba(X), pipe.predict_proba(X))
    return path


def test_an_imputer_of_categories_alone_is_written_as_version_5(tmp_path):
    # (version 3 and 4 readers refuse its object dtype by another message than upgrade)
    X = np.array([["a"], [None], ["b"], ["a"]] * 10, dtype=object)
    pipe = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(), _mlp())
    quiet(pipe.fit, X, np.arange(40) % 2)
    path = tmp_path / "m.lkm"
    layerkit.save(pipe, path)
    assert read_manifest(path)["format_version"] == 5
    imputer = quiet(SimpleImputer(strategy="most_frequent").fit, X)
    from layerkit.io._columns import holds_later_steps
    from layerkit.io._pipeline import step_spec

    assert holds_later_steps(step_spec("i", "SimpleImputer", imputer))
    assert not holds_later_steps(
        step_spec("i", "SimpleImputer", quiet(SimpleImputer().fit, np.ones((3, 1))))
    )


STRICT = {  # (found by a second review: each saved, and its file did not load)
    "an encoder of numbers held as objects": (
        lambda: OneHotEncoder(),
        lambda: pd.DataFrame({"rooms": pd.Series([1, 2, 3] * 20, dtype=object)}),
    ),
    "text imputed beside codes, then a strict encoder": (
        lambda: make_pipeline(
            ColumnTransformer(
                [
                    ("imp", SimpleImputer(strategy="most_frequent"), ["c"]),
                    ("keep", "passthrough", ["d"]),
                ]
            ),
            OneHotEncoder(),
        ),
        lambda: pd.DataFrame(
            {"c": np.array(["a", "b", None] * 20, dtype=object), "d": [1, 2, 3, 4] * 15}
        ),
    ),
    "a scaler whose inverse is not exact, then a strict encoder": (
        lambda: make_pipeline(StandardScaler(), OrdinalEncoder()),
        lambda: np.random.default_rng(60).choice(
            np.random.default_rng(60).normal(size=4) * 1000.0, (60, 1)
        ),
    ),
    "a Normalizer, then a strict encoder": (
        lambda: make_pipeline(
            __import__("sklearn.preprocessing", fromlist=["Normalizer"]).Normalizer(),
            OneHotEncoder(),
        ),
        lambda: np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0]] * 20),
    ),
}


@pytest.mark.parametrize("case", list(STRICT))
def test_a_strict_encoder_after_other_steps_loads(case, tmp_path):
    _predicts_the_same_after_a_round_trip(*STRICT[case], tmp_path)


def _nested(spec, depth):
    """The first ColumnTransformer step wrapped in ``depth`` one-step Pipelines."""
    entry = _columns(spec)[0]
    inner = entry[1]
    for i in range(depth):
        inner = {
            "name": f"p{i}",
            "type": "Pipeline",
            "params": {"steps": [[f"s{i}", inner]], "verbose": False},
        }
    entry[1] = inner


def test_crafted_nesting_widths_and_workers_are_refused(saved, tmp_path):
    data, _, _ = saved
    path = tmp_path / "edited.lkm"
    # (the ColumnTransformer, 2 Pipelines, then its own Pipeline: 4 deep, the most)
    path.write_bytes(rewritten_model(data, redigested(lambda s: _nested(s, 2))))
    layerkit.load(path)
    path.write_bytes(rewritten_model(data, redigested(lambda s: _nested(s, 3))))
    with pytest.raises(ModelFileError, match="ColumnTransformers nested more than 4 deep"):
        layerkit.load(path)
    jobs = redigested(lambda s: s["steps"][0]["params"].update(n_jobs=100000))
    path.write_bytes(rewritten_model(data, jobs))
    with pytest.raises(ModelFileError, match="n_jobs must be null or from -64 to 64"):
        layerkit.load(path)


@pytest.mark.parametrize(
    ("inside", "wide", "gives"), [(False, 3000, 4504501), (True, 1500, 1127251)]
)
def test_a_crafted_polynomial_step_is_counted_first(inside, wide, gives, tmp_path):
    # (alone in a ColumnTransformer, and inside a Pipeline there: refused by its count
    # of features, before its powers, gigabytes at these widths, are made)
    from sklearn.preprocessing import PolynomialFeatures

    X = np.random.default_rng(0).normal(size=(40, 3))
    step = make_pipeline(PolynomialFeatures(2)) if inside else PolynomialFeatures()
    pipe = make_pipeline(ColumnTransformer([("p", step, [0, 1])]), _mlp())
    quiet(pipe.fit, X, np.arange(40) % 2)
    path = tmp_path / "m.lkm"
    layerkit.save(pipe, path)

    def widen(spec):
        spec["steps"][0]["fitted"]["n_features_in_"] = wide
        entry = _columns(spec)[0]
        poly = entry[1]["params"]["steps"][0][1] if inside else entry[1]
        poly["fitted"]["n_features_in_"] = wide
        entry[2] = list(range(wide))

    path.write_bytes(rewritten_model(path.read_bytes(), redigested(widen)))
    with pytest.raises(ModelFileError, match=rf"transformers\[0\]: gives {gives} features, more"):
        layerkit.load(path)


def test_layerkit_predict_types_the_other_columns_as_pandas_does(tmp_path, capsys):
    # integers beyond 2**53 stay exact; a nested Pipeline first; "NONE" makes a column
    # of numbers text for pandas (an unknown category here, as in Python)
    frame = pd.DataFrame(
        {
            "id": np.array([2**53, 2**53 + 1, 2**53 + 2] * 20, dtype=np.int64),
            "c": np.array(["a", "b", "a"] * 20, dtype=object),
        }
    )
    first = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    pipe = quiet(make_pipeline(first, _mlp()).fit, frame, np.arange(60) % 2)
    layerkit.save(pipe, tmp_path / "m.lkm")
    rows = frame.astype(object)
    rows.loc[0, "id"] = "NONE"
    for table, name in ((frame, "whole.csv"), (rows, "text.csv")):
        table.to_csv(tmp_path / name, index=False)
        status, _, err = _cli(
            capsys,
            "predict",
            tmp_path / "m.lkm",
            tmp_path / name,
            "-o",
            tmp_path / "p.csv",
            "--proba",
        )
        assert status == 0, err
        written = pd.read_csv(tmp_path / "p.csv")[["proba_0", "proba_1"]].to_numpy()
        want = quiet(pipe.predict_proba, pd.read_csv(tmp_path / name))
        np.testing.assert_allclose(written, want, rtol=1e-12)


def _two_models(tmp_path):
    """A: numbers scaled, text one-hot; B: numbers as ordinal codes (from a third
    review's harness)."""
    frame = pd.DataFrame(
        {"x": np.array([1, 2, 3] * 20), "c": np.array(["a", "b", "a"] * 20, dtype=object)}
    )
    y = np.arange(60) % 2
    scaled = make_pipeline(SimpleImputer(), StandardScaler())
    codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    paths = []
    for name, numbers in (("a", scaled), ("b", codes)):
        columns = ColumnTransformer(
            [("n", numbers, ["x"]), ("c", OneHotEncoder(handle_unknown="ignore"), ["c"])]
        )
        pipe = quiet(make_pipeline(columns, _mlp()).fit, frame, y)
        layerkit.save(pipe, tmp_path / f"{name}.lkm")
        paths.append((tmp_path / f"{name}.lkm", pipe))
    return paths


CELLS = {  # (each column x as a CSV file writes it; pandas decides its type)
    "other digits": ["\u0661", "2"],
    "a no-break space": ["1\u00a0", "2"],
    "booleans in any case": ["tRUE", "False"],
    "booleans with a gap": ["True", ""],
    "infinities": ["Infinity", "-iNf"],
    "NONE": ["NONE", "2"],
}


@pytest.mark.parametrize("case", list(CELLS))
def test_layerkit_predict_agrees_with_pandas_cell_by_cell(case, tmp_path, capsys):
    rows = tmp_path / "rows.csv"
    rows.write_text("x,c\n" + "".join(f"{v},a\n" for v in CELLS[case]), encoding="utf-8")
    for path, pipe in _two_models(tmp_path):
        _agrees_with_pandas(capsys, path, pipe, rows, pd.read_csv(rows), tmp_path)


def _agrees_with_pandas(capsys, path, pipe, rows, table, tmp_path):
    """`layerkit predict` gives what the model gives on pandas' ``table`` of ``rows``,
    or fails cleanly where that fails in Python."""
    try:
        want = quiet(pipe.predict_proba, table)
    except (ValueError, TypeError):
        want = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (scikit-learn's, on inf)
        status, _, err = _cli(capsys, "predict", path, rows, "-o", tmp_path / "p.csv", "--proba")
    if want is None:  # (pandas' table fails in Python: the command fails too)
        assert status == 1 and "Traceback" not in err
        return
    assert status == 0, err
    got = pd.read_csv(tmp_path / "p.csv")[["proba_0", "proba_1"]].to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_layerkit_predict_reads_parquet_as_stored(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    for column in (
        pa.array(["1", "2"]),  # (text of digits stays text)
        pa.array([2**64 - 1, 2], pa.uint64()),  # (beyond int64: exact, no overflow)
        pa.array([True, False]),
    ):
        rows = tmp_path / "rows.parquet"
        pq.write_table(pa.table({"x": column, "c": pa.array(["a", "b"])}), rows)
        for path, pipe in _two_models(tmp_path):
            _agrees_with_pandas(capsys, path, pipe, rows, pd.read_parquet(rows), tmp_path)


def test_an_inner_pipeline_may_narrow_and_must_chain(tmp_path):
    from sklearn.preprocessing import PolynomialFeatures

    X = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 3)), columns=["a", "b", "c"])
    narrow = ColumnTransformer([("s", "passthrough", [1, 2])])
    inner = make_pipeline(PolynomialFeatures(3), narrow)  # (20 wide inside, 2 out)
    pipe = quiet(
        make_pipeline(ColumnTransformer([("p", inner, ["a", "b", "c"])]), _mlp()).fit,
        X,
        np.arange(40) % 2,
    )
    again, path = round_trip(pipe, tmp_path)
    assert np.array_equal(again.predict_proba(X), pipe.predict_proba(X))

    def mismatch(spec):  # (the ColumnTransformer after the powers takes 21, not 20)
        _columns(spec)[0][1]["params"]["steps"][1][1]["fitted"]["n_features_in_"] = 21

    path.write_bytes(rewritten_model(path.read_bytes(), redigested(mismatch)))
    with pytest.raises(ModelFileError, match=r"steps\[1\]: takes 21 features, and the steps"):
        layerkit.load(path)


def test_what_a_file_cannot_load_is_refused_at_save(tmp_path):
    jobs = make_pipeline(make_column_transformer((StandardScaler(), ["age"]), n_jobs=100), _mlp())
    with pytest.raises(TypeError, match=r"n_jobs=100: a model file holds None or -64 to 64"):
        layerkit.save(jobs, tmp_path / "m.lkm")
    deep = StandardScaler()
    for _ in range(5):
        deep = make_pipeline(deep)
    with pytest.raises(TypeError, match="nested at most 4 deep"):
        layerkit.save(make_pipeline(deep, _mlp()), tmp_path / "m.lkm")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("steps", "columns"),
    [
        ([("p", "passthrough"), ("o", OneHotEncoder())], ["embarked"]),
        ([("p", "passthrough")], ["age"]),
        ([("p", None), ("q", "passthrough")], ["age"]),
    ],
)
def test_passthrough_steps_in_an_inner_pipeline_load(steps, columns, tmp_path):
    """They saved and did not load: a passthrough first step has no width to check, and a
    Pipeline of passthroughs only is fitted without one."""
    from sklearn.pipeline import Pipeline

    frame, y = passengers()
    frame = frame.fillna({"age": 40.0, "embarked": "S"})
    inner = Pipeline(steps)
    ct = ColumnTransformer([("n", StandardScaler(), ["fare"]), ("c", inner, columns)])
    pipe = quiet(make_pipeline(ct, _mlp()).fit, frame, y)
    again, _ = round_trip(pipe, tmp_path)
    assert np.array_equal(again.predict_proba(frame), pipe.predict_proba(frame))
    assert list(again[0].get_feature_names_out()) == list(pipe[0].get_feature_names_out())
    assert type(again[0].named_transformers_["c"]).__name__ == "Pipeline"
