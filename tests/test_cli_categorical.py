"""``layerkit train`` on tables with categorical columns: one-hot encoded in a Pipeline
that is what scikit-learn fits on the same table, saved whole, and run on the raw file
by ``layerkit predict`` as by Python on ``pd.read_csv``."""

import builtins
import json
import warnings

import numpy as np
import pytest
from helpers import write_csv
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import layerkit
from layerkit.cli import main

pd = pytest.importorskip("pandas")

WEATHER = ["dry", " rain", "snow", "", "none", "NA"]  # (" rain": a space pandas keeps)


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def trips(n=300, seed=0):
    """Rows of distance, hour, weather, late: late when far, or in snow."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        distance = round(float(rng.exponential(10.0)), 2)
        weather = WEATHER[rng.integers(len(WEATHER))]
        rows.append(
            [distance, int(rng.integers(24)), weather, int(distance > 12 or weather == "snow")]
        )
    return rows


def predict_rows(capsys, tmp_path, rows, *options):
    """``layerkit predict`` of the model trained in ``tmp_path`` on trips ``rows``."""
    write_csv(tmp_path / "new.csv", ["distance", "hour", "weather", "late"], rows)
    model = tmp_path / "layerkit-output" / "model.lkm"
    return run(capsys, "predict", model, tmp_path / "new.csv", "-o", tmp_path / "p.csv", *options)


def experiment(tmp_path, data="trips.csv", **settings):
    sections = {"data": {"path": data, "target": "late"}, "training": {"max_iter": 40}}
    for key, value in settings.items():
        section, name = key.split("__")
        sections.setdefault(section, {})[name] = value
    path = tmp_path / "e.json"
    path.write_text(json.dumps({"task": "classification", **sections}))
    return path


@pytest.fixture
def trained(tmp_path, capsys):
    write_csv(tmp_path / "trips.csv", ["distance", "hour", "weather", "late"], trips())
    status, out, err = run(capsys, "train", experiment(tmp_path))
    assert status == 0, err
    return tmp_path, out


def test_text_columns_are_one_hot_encoded_as_scikit_learn_does_on_the_table(trained):
    tmp_path, out = trained
    assert "x 3 features of trips.csv (1 of them categorical, one-hot encoded;" in out
    assert "numeric inputs standardized" in out
    model = layerkit.load(tmp_path / "layerkit-output" / "model.lkm")
    table = pd.read_csv(tmp_path / "trips.csv")
    X, y = table[["distance", "hour", "weather"]], table["late"].to_numpy()
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    columns = ColumnTransformer(
        [
            ("numbers", StandardScaler(), [0, 1]),
            ("categories", OneHotEncoder(handle_unknown="ignore", sparse_output=False), [2]),
        ]
    )
    expected = Pipeline([("columns", columns), ("network", clone(model[-1]))])
    with warnings.catch_warnings():  # (40 epochs: not converged, as in the command)
        warnings.simplefilter("ignore", ConvergenceWarning)
        expected.fit(X_train, y_train)  # scikit-learn's own fit, on pandas' table
    assert (model.predict_proba(X) == expected.predict_proba(X)).all()
    fitted, ours = expected[0], model[0]
    assert list(ours.feature_names_in_) == list(fitted.feature_names_in_)
    for (_, a, _), (_, b, _) in zip(ours.transformers_, fitted.transformers_, strict=True):
        assert list(a.feature_names_in_) == list(b.feature_names_in_)
    (categories,) = ours.named_transformers_["categories"].categories_
    assert categories.tolist()[:-1] == [" rain", "dry", "none", "snow"]  # as written
    assert np.isnan(categories[-1])  # "" and "NA": pandas' missing value, one category


def test_predict_gives_what_python_gives_on_the_read_table(trained, capsys):
    tmp_path, _ = trained
    model_path = tmp_path / "layerkit-output" / "model.lkm"
    new = [*trips(50, seed=1), [30.0, 3, "fog", 0], [1.0, 3, "NaN", 0]]  # fog: unseen
    write_csv(tmp_path / "new.csv", ["late", "weather", "hour", "distance"],  # other order
              [[r[3], r[2], r[1], r[0]] for r in new])  # fmt: skip
    status, _, err = run(capsys, "predict", model_path, tmp_path / "new.csv", "-o",
                         tmp_path / "p.csv", "--proba")  # fmt: skip
    assert status == 0, err
    written = pd.read_csv(tmp_path / "p.csv")
    model = layerkit.load(model_path)
    table = pd.read_csv(tmp_path / "new.csv")
    assert (model.predict_proba(table)[:, 1] == written["proba_1"]).all()
    unseen = model[0].transform(table.iloc[[-2]])
    assert unseen[0, 2:].tolist() == [0.0] * (unseen.shape[1] - 2)  # fog: no category
    assert model[0].transform(table.iloc[[-1]])[0, -1] == 1.0  # NaN: the missing category


def test_predict_takes_the_array_where_pandas_is_missing(trained, capsys, monkeypatch):
    tmp_path, _ = trained
    model_path = tmp_path / "layerkit-output" / "model.lkm"
    argv = ["predict", model_path, tmp_path / "trips.csv", "--proba", "-o"]
    assert run(capsys, *argv, tmp_path / "a.csv")[0] == 0
    real_import = builtins.__import__

    def without_pandas(name, *args, **kwargs):
        if name.split(".")[0] == "pandas":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_pandas)
    status, _, err = run(capsys, *argv, tmp_path / "b.csv")
    assert status == 0, err
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_the_run_records_the_categories_and_inspect_shows_the_steps(trained, capsys):
    tmp_path, _ = trained
    metrics = json.loads((tmp_path / "layerkit-output" / "metrics.json").read_text())
    assert metrics["categorical"] == ["weather"]
    assert metrics["network_inputs"] == 2 + 5  # two numbers, five categories
    status, out, _ = run(capsys, "inspect", tmp_path / "layerkit-output" / "model.lkm")
    assert status == 0 and "MLPClassifier in a Pipeline" in out
    assert "input: 3 features: distance, hour, weather (the steps give the network 7" in out


def test_listed_integer_codes_are_categories_as_pandas_types_them(tmp_path, capsys):
    write_csv(tmp_path / "trips.csv", ["distance", "hour", "weather", "late"], trips())
    path = experiment(tmp_path, data__categorical=["hour", "weather"])
    status, out, err = run(capsys, "train", path)
    assert status == 0, err
    assert "(2 of them categorical" in out
    model = layerkit.load(tmp_path / "layerkit-output" / "model.lkm")
    hours, _ = model[0].named_transformers_["categories"].categories_
    assert hours.dtype == np.int64 and hours.tolist() == list(range(24))  # (as pandas)
    status, _, err = run(capsys, "predict", tmp_path / "layerkit-output" / "model.lkm",
                         tmp_path / "trips.csv", "-o", tmp_path / "p.csv", "--proba")  # fmt: skip
    assert status == 0, err
    table = pd.read_csv(tmp_path / "trips.csv")
    written = pd.read_csv(tmp_path / "p.csv")
    assert (model.predict_proba(table)[:, 1] == written["proba_1"]).all()


def test_a_list_takes_exactly_those_columns(tmp_path, capsys):
    write_csv(tmp_path / "trips.csv", ["distance", "hour", "weather", "late"], trips())
    status, _, err = run(capsys, "train", experiment(tmp_path, data__categorical=["hour"]))
    assert status == 1 and "feature column 'weather' must hold numbers, but row" in err, err
    assert (
        "; or, to one-hot encode its values as categories, list it under data.categorical" in err
    )
    status, _, err = run(capsys, "train", experiment(tmp_path, data__categorical=[]))
    assert status == 1 and "encode categories as numbers, and fill or drop" in err, err


@pytest.mark.parametrize(
    ("listed", "message"),
    [
        (["wether"], "data.categorical names ['wether'], not among the features; did you mean 'weather'?"),
        (["late"], "data.categorical names the target 'late', which cannot also be a feature"),
        (["weather", "weather"], "data.categorical lists ['weather'] more than once"),
    ],
)  # fmt: skip
def test_a_wrong_list_is_refused_by_name(listed, message, tmp_path, capsys):
    write_csv(tmp_path / "trips.csv", ["distance", "hour", "weather", "late"], trips())
    status, out, err = run(capsys, "train", experiment(tmp_path, data__categorical=listed))
    assert status == 1 and message in err, err
    assert "training" not in out


def column_of(kind, n=60):
    """A feature column that "auto" does not take, and why."""
    if kind == "marker":  # numbers with a "?" for a missing value
        return [str(i % 7) if i != 4 else "?" for i in range(n)], (
            "feature column 'c' must hold numbers, but row 5 (line 6) holds '?' (and numbers "
            "in 59 of its 60 rows with a value); write a missing value as an empty cell (or NA)"
        )
    if kind == "dates":
        return [f"2024-01-{1 + i % 28:02d}" for i in range(n)], "turn dates into numbers"
    if kind == "thousands":
        return [f"{1 + i % 3},{i % 10}00" for i in range(n)], "without thousands separators"
    if kind == "underscores":
        return [f"{i % 5}_000" for i in range(n)], "write numbers without underscores"
    if kind == "dates after a gap and a text cell":
        dates = [f"2024-02-{1 + i % 28:02d}" for i in range(n)]
        return ["", "unknown", *dates[2:]], "row 3 (line 4) holds '2024-02-03'; turn dates"
    if kind == "tickets":  # mostly digits, nearly all distinct: identifiers first
        return [str(1000 + i) if i % 5 else f"PC {i}" for i in range(n)], (
            "feature column 'c' holds 60 distinct values in its 60 rows with a value"
        )
    assert kind == "names"
    return [f"name {i}" for i in range(n)], (
        "feature column 'c' holds 60 distinct values in its 60 rows with a value, as names "
        "or identifiers do"
    )


KINDS = ["marker", "dates", "thousands", "underscores", "names",
         "dates after a gap and a text cell", "tickets"]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_auto_refuses_numbers_gone_wrong_and_identifiers_unless_listed(kind, tmp_path, capsys):
    values, message = column_of(kind)
    rows = [[v, i % 2, float(i)] for i, v in enumerate(values)]
    write_csv(tmp_path / "d.csv", ["c", "late", "x"], rows)
    status, _, err = run(capsys, "train", experiment(tmp_path, data="d.csv"))
    assert status == 1 and message in err, err
    assert "list it under data.categorical" in err
    path = experiment(tmp_path, data="d.csv", data__categorical=["c"])
    status, _, err = run(capsys, "train", path)
    assert status == 0, err


def test_without_standardize_numbers_pass_through(tmp_path, capsys):
    write_csv(tmp_path / "trips.csv", ["distance", "hour", "weather", "late"], trips())
    status, out, err = run(capsys, "train", experiment(tmp_path, data__standardize=False))
    assert status == 0, err
    assert "standardized" not in out
    model = layerkit.load(tmp_path / "layerkit-output" / "model.lkm")
    table = pd.read_csv(tmp_path / "trips.csv")
    encoded = model[0].transform(table)
    assert (encoded[:, :2] == table[["distance", "hour"]].to_numpy()).all()


def test_only_categories_and_a_first_layer_that_is_not_dense(tmp_path, capsys):
    """No scaling is folded into the first layer, so it may be any layer."""
    rows = [
        [w, h, int(w == "snow")]
        for w, h in zip(["dry", "snow", "rain"] * 20, ["a", "b"] * 30, strict=True)
    ]
    write_csv(tmp_path / "d.csv", ["weather", "shift", "late"], rows)
    path = experiment(tmp_path, data="d.csv", training__max_iter=200)
    data = json.loads(path.read_text())
    data["layers"] = [{"type": "Identity"}, {"type": "Dense", "units": 8}, {"type": "Tanh"}]
    path.write_text(json.dumps(data))
    status, out, err = run(capsys, "train", path)
    assert status == 0, err
    assert "(2 of them categorical" in out and "standardized" not in out
    metrics = json.loads((tmp_path / "layerkit-output" / "metrics.json").read_text())
    assert metrics["network_inputs"] == 5 and metrics["train"]["accuracy"] == 1.0


def test_a_regression_predicts_in_the_targets_units(tmp_path, capsys):
    rng = np.random.default_rng(0)
    shift = {"a": 0.0, "b": 40.0, "c": -25.0}
    rows = []
    for _ in range(400):
        x, group = float(rng.normal()), "abc"[rng.integers(3)]
        rows.append([x, group, 100.0 + 10.0 * x + shift[group] + float(rng.normal())])
    write_csv(tmp_path / "d.csv", ["x", "group", "y"], rows)
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"task": "regression", "data": {"path": "d.csv", "target": "y"},
                                "training": {"max_iter": 300}}))  # fmt: skip
    status, out, err = run(capsys, "train", path)
    assert status == 0, err
    assert "numeric inputs and target standardized" in out
    metrics = json.loads((tmp_path / "layerkit-output" / "metrics.json").read_text())
    assert metrics["test"]["r2"] > 0.98, metrics["test"]
    model = layerkit.load(tmp_path / "layerkit-output" / "model.lkm")
    table = pd.read_csv(tmp_path / "d.csv")
    assert abs(np.mean(model.predict(table) - table["y"])) < 1.0  # in the target's units


def test_parquet_text_columns(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    table = pd.DataFrame(trips(), columns=["distance", "hour", "weather", "late"])
    table["weather"] = table["weather"].replace({"": None})
    table.to_parquet(tmp_path / "trips.parquet", index=False)
    status, _, err = run(capsys, "train", experiment(tmp_path, data="trips.parquet"))
    assert status == 0, err
    model_path = tmp_path / "layerkit-output" / "model.lkm"
    argv = ["predict", model_path, tmp_path / "trips.parquet", "-o", tmp_path / "p.csv"]
    status, _, err = run(capsys, *argv, "--proba")
    assert status == 0, err
    model = layerkit.load(model_path)
    read = pd.read_parquet(tmp_path / "trips.parquet")
    written = pd.read_csv(tmp_path / "p.csv")
    assert (model.predict_proba(read)[:, 1] == written["proba_1"]).all()


def with_gaps(rows, every=7):
    """The trips with a missing distance in every ``every``-th row."""
    return [["" if i % every == 3 else r[0], *r[1:]] for i, r in enumerate(rows)]


@pytest.mark.parametrize("strategy", ["median", "mean"])
def test_impute_fills_missing_numbers_as_scikit_learns_imputer(strategy, tmp_path, capsys):
    write_csv(tmp_path / "trips.csv", ["distance", "hour", "weather", "late"], with_gaps(trips()))
    status, out, err = run(capsys, "train", experiment(tmp_path, data__impute=strategy))
    assert status == 0, err
    assert "missing values filled in 1 numeric column(s);" in out
    model = layerkit.load(tmp_path / "layerkit-output" / "model.lkm")
    table = pd.read_csv(tmp_path / "trips.csv")
    X, y = table[["distance", "hour", "weather"]], table["late"].to_numpy()
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    numbers = make_pipeline(SimpleImputer(strategy=strategy), StandardScaler())
    encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    columns = ColumnTransformer([("numbers", numbers, [0, 1]), ("categories", encoder, [2])])
    expected = Pipeline([("columns", columns), ("network", clone(model[-1]))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        expected.fit(X_train, y_train)
    assert (model.predict_proba(X) == expected.predict_proba(X)).all()
    metrics = json.loads((tmp_path / "layerkit-output" / "metrics.json").read_text())
    fill = getattr(np, f"nan{strategy}")(X_train["distance"])
    assert metrics["imputed"] == {"distance": pytest.approx(fill, rel=1e-12)}
    status, _, err = run(capsys, "predict", tmp_path / "layerkit-output" / "model.lkm",
                         tmp_path / "trips.csv", "-o", tmp_path / "p.csv", "--proba")  # fmt: skip
    assert status == 0, err
    written = pd.read_csv(tmp_path / "p.csv")
    assert (model.predict_proba(X)[:, 1] == written["proba_1"]).all()


@pytest.mark.parametrize("standardize", [True, False])
def test_impute_on_numbers_only(standardize, tmp_path, capsys):
    rows = [[d, h, late] for d, h, _, late in with_gaps(trips())]
    write_csv(tmp_path / "d.csv", ["distance", "hour", "late"], rows)
    path = experiment(tmp_path, data="d.csv", data__impute="median",
                      data__standardize=standardize)  # fmt: skip
    status, out, err = run(capsys, "train", path)
    assert status == 0, err
    assert ("inputs standardized" in out) == standardize and "categorical" not in out
    metrics = json.loads((tmp_path / "layerkit-output" / "metrics.json").read_text())
    assert set(metrics["imputed"]) == {"distance"} and metrics["categorical"] == []
    model = layerkit.load(tmp_path / "layerkit-output" / "model.lkm")
    table = pd.read_csv(tmp_path / "d.csv")
    encoded = model[0].transform(table[["distance", "hour"]])
    gaps = table["distance"].isna().to_numpy()
    assert np.unique(encoded[gaps, 0]).size == 1 and not np.isnan(encoded).any()
    status, _, err = run(capsys, "predict", tmp_path / "layerkit-output" / "model.lkm",
                         tmp_path / "d.csv", "-o", tmp_path / "p.csv")  # fmt: skip
    assert status == 0, err
    assert (pd.read_csv(tmp_path / "p.csv")["prediction"] == model.predict(table)).all()


def test_missing_numbers_are_refused_with_the_setting_that_fills_them(tmp_path, capsys):
    write_csv(tmp_path / "trips.csv", ["distance", "hour", "weather", "late"], with_gaps(trips()))
    status, _, err = run(capsys, "train", experiment(tmp_path))
    assert status == 1, err
    assert (
        "feature column 'distance' has 43 missing value(s) (first in row 4, line 5); fill or "
        'drop them first; or set data.impute = "median" (or "mean") to fill them'
    ) in err
    rows = [["inf" if i == 5 else r[0], *r[1:]] for i, r in enumerate(with_gaps(trips()))]
    write_csv(tmp_path / "trips.csv", ["distance", "hour", "weather", "late"], rows)
    status, _, err = run(capsys, "train", experiment(tmp_path, data__impute="median"))
    assert status == 1 and "'distance' has 1 infinite value(s) (first in row 6" in err, err
    assert "data.impute" not in err


def test_auto_takes_sizes_where_numbers_are_not_nearly_all(tmp_path, capsys):
    sizes = ["S", "M", "L", "40", "42"] * 12  # (numbers in 24 of 60 rows: categories)
    write_csv(tmp_path / "d.csv", ["size", "late"], [[v, i % 2] for i, v in enumerate(sizes)])
    status, out, err = run(capsys, "train", experiment(tmp_path, data="d.csv"))
    assert status == 0, err
    assert "(1 of them categorical" in out
    metrics = json.loads((tmp_path / "layerkit-output" / "metrics.json").read_text())
    assert metrics["network_inputs"] == 5 and metrics["standardized"] is False  # (none)


@pytest.mark.parametrize(
    ("values", "dtype", "categories"),
    [
        (["9007199254740992", "9007199254740993", "18446744073709551615"], np.uint64,
         [2**53, 2**53 + 1, 2**64 - 1]),
        (["True", "False", ""], object, [False, True, "nan"]),
    ],
)  # fmt: skip
def test_listed_codes_keep_the_dtype_pandas_reads_them_in(values, dtype, categories, tmp_path,
                                                          capsys):  # fmt: skip
    rows = [[values[i % 3], i % 2, float(i)] for i in range(60)]
    write_csv(tmp_path / "d.csv", ["code", "late", "x"], rows)
    status, _, err = run(capsys, "train", experiment(tmp_path, data="d.csv",
                                                    data__categorical=["code"]))  # fmt: skip
    assert status == 0, err
    model = layerkit.load(tmp_path / "layerkit-output" / "model.lkm")
    (found,) = model[0].named_transformers_["categories"].categories_
    assert found.dtype == dtype
    assert [str(v) if v != v else v for v in found.tolist()] == categories
    table = pd.read_csv(tmp_path / "d.csv")
    assert table["code"].dtype == dtype  # (as pandas reads the column)
    status, _, err = run(capsys, "predict", tmp_path / "layerkit-output" / "model.lkm",
                         tmp_path / "d.csv", "-o", tmp_path / "p.csv", "--proba")  # fmt: skip
    assert status == 0, err
    written = pd.read_csv(tmp_path / "p.csv")
    assert (model.predict_proba(table)[:, 1] == written["proba_1"]).all()


def test_a_categorical_setting_of_another_kind_is_one_message(tmp_path, capsys):
    write_csv(tmp_path / "trips.csv", ["distance", "hour", "weather", "late"], trips())
    status, _, err = run(capsys, "train", experiment(tmp_path, data__categorical="weather"))
    assert status == 1
    assert (
        '  - data.categorical: expected "auto", a list of column names (["port", "deck"]), '
        """or [] for none; got 'weather' (did you mean ["weather"]?)\n"""
    ) in err


def test_predict_names_a_missing_number_the_model_does_not_fill(trained, capsys):
    tmp_path, _ = trained
    rows = trips(20, seed=2)
    rows[6][0] = ""
    status, _, err = predict_rows(capsys, tmp_path, rows)
    assert status == 1
    assert (
        "the model cannot predict from this data: feature column 'distance' has 1 missing "
        "value(s) (first in row 7, line 8), which the model's steps do not fill: fill or drop them"
    ) in err


def test_text_labels_are_read_as_pandas_reads_them(tmp_path, capsys):
    """Not stripped (" <=50K", as the adult data has them), and "none" a class."""
    rows = [[i % 3, "a" if i % 2 else "b", [" <=50K", " >50K", "none"][i % 3]] for i in range(90)]
    write_csv(tmp_path / "d.csv", ["x", "c", "income"], rows)
    path = tmp_path / "e.json"
    path.write_text(json.dumps({"task": "classification", "data": {"path": "d.csv", "target":
        "income"}, "training": {"max_iter": 50, "class_weight": {" >50K": 2.0}}}))  # fmt: skip
    status, _, err = run(capsys, "train", path)
    assert status == 0, err
    model = layerkit.load(tmp_path / "layerkit-output" / "model.lkm")
    assert model.classes_.tolist() == [" <=50K", " >50K", "none"]
    assert model[-1].class_weight == {" >50K": 2.0}
    argv = ["predict", tmp_path / "layerkit-output" / "model.lkm", tmp_path / "d.csv"]
    status, _, err = run(capsys, *argv, "--keep", "income", "-o", tmp_path / "p.csv")
    assert status == 0, err
    written = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert (written["prediction"] == written["income"]).mean() > 0.9


def test_predict_warns_of_categories_not_seen_in_training(trained, capsys):
    tmp_path, _ = trained
    rows = trips(40, seed=3)
    for row in rows[:5]:
        row[2] = "Dry"  # (not "dry")
    status, _, err = predict_rows(capsys, tmp_path, rows)
    assert status == 0
    assert (
        "layerkit predict: warning: categories the model did not see in training, each "
        "encoded as all 0s, in column(s) 'weather': 5 row(s), such as 'Dry'\n"
    ) in err
    status, _, err = run(capsys, "predict", tmp_path / "layerkit-output" / "model.lkm",
                         tmp_path / "trips.csv", "-o", tmp_path / "p.csv")  # fmt: skip
    assert status == 0 and "warning" not in err


def test_predict_does_without_the_columns_the_model_drops(tmp_path, capsys):
    """As Python does: a ColumnTransformer that drops the other columns needs only its own."""
    table = pd.DataFrame(trips(), columns=["distance", "hour", "weather", "late"])
    table["name"] = [f"n{i}" for i in range(len(table))]
    columns = ColumnTransformer(
        [("numbers", StandardScaler(), ["distance"]),
         ("categories", OneHotEncoder(handle_unknown="ignore"), ["weather"])]
    )  # fmt: skip
    pipe = make_pipeline(columns, layerkit.MLPClassifier((8,), max_iter=30, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(table.drop(columns="late"), table["late"])
    layerkit.save(pipe, tmp_path / "m.lkm")
    used = table[["weather", "distance"]]
    used.to_csv(tmp_path / "used.csv", index=False)
    status, _, err = run(capsys, "predict", tmp_path / "m.lkm", tmp_path / "used.csv", "--proba",
                         "-o", tmp_path / "p.csv")  # fmt: skip
    assert status == 0, err
    written = pd.read_csv(tmp_path / "p.csv")
    read = pd.read_csv(tmp_path / "used.csv")
    assert (written["proba_1"] == pipe.predict_proba(read)[:, 1]).all()
    table[["distance", "hour"]].to_csv(tmp_path / "lacking.csv", index=False)
    status, _, err = run(capsys, "predict", tmp_path / "m.lkm", tmp_path / "lacking.csv",
                         "-o", tmp_path / "p.csv")  # fmt: skip
    assert status == 1 and "the model needs column(s) ['weather'], which the data lacks" in err


def test_exclude_leaves_columns_out(tmp_path, capsys):
    rows = [[f"id{i}", *row] for i, row in enumerate(trips())]
    write_csv(tmp_path / "trips.csv", ["ticket", "distance", "hour", "weather", "late"], rows)
    status, _, err = run(capsys, "train", experiment(tmp_path))
    assert status == 1 and "feature column 'ticket' holds 300 distinct values" in err, err
    assert "leave it out (data.exclude)" in err
    status, out, err = run(capsys, "train", experiment(tmp_path, data__exclude=["ticket"]))
    assert status == 0, err
    assert "x 3 features" in out
    metrics = json.loads((tmp_path / "layerkit-output" / "metrics.json").read_text())
    assert metrics["features"] == ["distance", "hour", "weather"]
    status, _, err = run(capsys, "train", experiment(tmp_path, data__exclude=["tiket"]))
    assert (
        status == 1 and "data.exclude names no column(s) ['tiket']; did you mean 'ticket'?" in err
    )
    path = experiment(tmp_path, data__exclude=["ticket"], data__features=["hour"])
    status, _, err = run(capsys, "train", path)
    assert status == 1 and "give features (the columns to use) or exclude (those to leave" in err


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (["none", "3.5"], "row 1 (line 2) holds 'none', which pandas reads as text"),
        ([" NA", "3.5"], "row 1 (line 2) holds ' NA', which pandas reads as text"),
        (["", ""], "feature column 'x' has no value in any row; leave it out (data.exclude)"),
    ],
)
def test_impute_refuses_what_pandas_would_not_read_as_numbers(cells, message, tmp_path, capsys):
    """The Pipeline must read the file as pandas does: a gap spelled "none" trains in
    the table reader, but pandas reads the column as text, which the imputer refuses."""
    rows = [[cells[i % 2] if i < 2 or cells[0] == "" else str(i), i % 2] for i in range(40)]
    write_csv(tmp_path / "d.csv", ["x", "late", "z"], [[*r, float(i)] for i, r in enumerate(rows)])
    path = experiment(tmp_path, data="d.csv", data__impute="median")
    status, _, err = run(capsys, "train", path)
    assert status == 1 and message in err, err


def test_impute_refuses_parquet_numbers_stored_as_text(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    table = pd.DataFrame({"x": [str(i) for i in range(40)], "late": [i % 2 for i in range(40)]})
    table.loc[3, "x"] = None
    table.to_parquet(tmp_path / "d.parquet", index=False)
    path = experiment(tmp_path, data="d.parquet", data__impute="median")
    status, _, err = run(capsys, "train", path)
    assert status == 1
    assert "feature column 'x' is stored as text in the Parquet file ('0' in row 1)" in err


@pytest.mark.parametrize(
    ("labels", "classes"),
    [(["0", "1", "none"], ["0", "1", "none"]), (["True", "False", "none"], ["False", "True", "none"])],
)  # fmt: skip
def test_a_label_column_pandas_reads_as_text_is_text(labels, classes, tmp_path, capsys):
    rows = [[float(i), labels[i % 3]] for i in range(60)]
    write_csv(tmp_path / "d.csv", ["x", "late"], rows)
    status, _, err = run(capsys, "train", experiment(tmp_path, data="d.csv"))
    assert status == 0, err
    model = layerkit.load(tmp_path / "layerkit-output" / "model.lkm")
    assert model.classes_.tolist() == classes


def test_auto_refuses_a_column_of_many_numbers_beside_some_words(tmp_path, capsys):
    ages = [str(18 + i % 60) for i in range(170)] + ["?", "unknown", "-"] * 5
    write_csv(tmp_path / "d.csv", ["age", "late"], [[a, i % 2] for i, a in enumerate(ages)])
    status, _, err = run(capsys, "train", experiment(tmp_path, data="d.csv"))
    assert status == 1 and "feature column 'age' must hold numbers, but row 171" in err, err


def test_a_missing_number_is_named_not_the_categories_beside_it(tmp_path, capsys):
    write_csv(tmp_path / "trips.csv", ["distance", "hour", "weather", "late"], trips())
    status, _, err = run(
        capsys, "train", experiment(tmp_path, data__categorical=["hour", "weather"])
    )
    assert status == 0, err
    rows = trips(20, seed=4)
    rows[2][0], rows[3][1], rows[4][2] = "", "", ""  # (gaps in a number, a code, a category)
    status, _, err = predict_rows(capsys, tmp_path, rows)
    assert status == 1
    assert (
        "data: feature column 'distance' has 1 missing value(s) (first in row 3, line 4), which"
        in err
    )
    assert "'hour'" not in err and "'weather'" not in err


def titanic_like(n=120):
    rng = np.random.default_rng(5)
    rows = []
    for i in range(n):
        sex = ["male", "female"][i % 2]
        fare = "?" if i == 7 else f"{rng.exponential(30):.2f}"  # (a marker among amounts)
        cabin = "" if i % 3 else f"C{i}"
        rows.append([f"Name {i}", sex, fare, cabin, ["S", "C", "Q"][i % 3], int(sex == "female")])
    return ["Name", "Sex", "Fare", "Cabin", "Embarked", "Survived"], rows


def titanic_experiment(tmp_path, **settings):
    header, rows = titanic_like()
    write_csv(tmp_path / "t.csv", header, rows)
    data = {"path": "t.csv", "target": "Survived", **settings}
    (tmp_path / "t.json").write_text(json.dumps({"task": "classification", "data": data}))
    return tmp_path / "t.json"


def test_a_marker_among_many_amounts_is_named_not_taken_for_identifiers(tmp_path, capsys):
    status, _, err = run(capsys, "train", titanic_experiment(tmp_path, exclude=["Name", "Cabin"]))
    assert status == 1
    assert "feature column 'Fare' must hold numbers, but row 8 (line 9) holds '?'" in err, err


def test_a_list_names_each_column_once_with_its_first_text(tmp_path, capsys):
    """Each refused column once (not also as a Pipeline's numbers), its first text
    named rather than its first gap; with impute too (it crashed on the text column)."""
    for impute in ({}, {"impute": "median"}):
        path = titanic_experiment(tmp_path, categorical=["Sex", "Embarked"], **impute)
        status, out, err = run(capsys, "train", path)
        assert status == 1 and "Traceback" not in err + out
        assert "3 columns cannot be used as they are:" in err, err
        assert err.count("'Cabin'") == 1 and err.count("'Name'") == 1
        assert "feature column 'Cabin' must hold numbers, but row 1 (line 2) holds 'C0'" in err
        assert "list it under data.categorical, or leave it out (data.exclude)" in err


def test_predict_names_the_cell_a_numeric_step_cannot_read(tmp_path, capsys):
    header, rows = titanic_like()
    rows = [[*r[:2], "5.0" if i == 7 else r[2], *r[3:]] for i, r in enumerate(rows)]
    write_csv(tmp_path / "t.csv", header, rows)
    data = {"path": "t.csv", "target": "Survived", "exclude": ["Name", "Cabin"],
            "impute": "median"}  # fmt: skip
    (tmp_path / "t.json").write_text(json.dumps({"task": "classification", "data": data,
                                                 "training": {"max_iter": 20}}))  # fmt: skip
    status, _, err = run(capsys, "train", tmp_path / "t.json")
    assert status == 0, err
    rows[3][2] = "?"
    write_csv(tmp_path / "new.csv", header, rows)
    status, _, err = run(capsys, "predict", tmp_path / "layerkit-output" / "model.lkm",
                         tmp_path / "new.csv", "-o", tmp_path / "p.csv")  # fmt: skip
    assert status == 1
    assert "its step 'numbers' (columns Fare), in column Fare, row 4 (line 5): " in err, err
    rows[3][2] = "it's"  # (scikit-learn quotes it with double quotes)
    write_csv(tmp_path / "new.csv", header, rows)
    status, _, err = run(capsys, "predict", tmp_path / "layerkit-output" / "model.lkm",
                         tmp_path / "new.csv", "-o", tmp_path / "p.csv")  # fmt: skip
    assert status == 1 and "in column Fare, row 4 (line 5): " in err, err
    rows[3][2], rows[5][4] = "5.0", ""
    write_csv(tmp_path / "new.csv", header, rows)
    status, _, err = run(capsys, "predict", tmp_path / "layerkit-output" / "model.lkm",
                         tmp_path / "new.csv", "-o", tmp_path / "p.csv")  # fmt: skip
    assert status == 0
    assert "in column(s) 'Embarked': 1 row(s), such as a missing value\n" in err


@pytest.mark.parametrize("impute", [{}, {"data__impute": "median"}])
def test_a_cell_pandas_reads_as_text_has_one_message_with_or_without_impute(impute, tmp_path,
                                                                           capsys):  # fmt: skip
    """Beside a category, a gap spelled "none" was first a missing value (set impute),
    then, with impute, text: one message now, the same either way."""
    rows = trips(60)
    rows[7][1] = "none"
    write_csv(tmp_path / "trips.csv", ["distance", "hour", "weather", "late"], rows)
    status, _, err = run(capsys, "train", experiment(tmp_path, **impute))
    assert status == 1
    assert "feature column 'hour' must hold numbers, but row 8 (line 9) holds 'none', which" in err
    assert "data.impute" not in err and "missing value" not in err.split("pandas reads")[0]


def test_an_empty_column_is_to_be_left_out(tmp_path, capsys):
    rows = [[r[0], "", r[3]] for r in trips(60)]
    write_csv(tmp_path / "d.csv", ["distance", "empty", "late"], rows)
    status, _, err = run(capsys, "train", experiment(tmp_path, data="d.csv"))
    assert status == 1
    assert "feature column 'empty' has no value in any row; leave it out (data.exclude)" in err
    assert "data.impute" not in err


def test_parquet_bytes_are_refused_as_categories(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    table = pd.DataFrame({"code": [b"A", b"B"] * 30, "x": np.arange(60.0), "late": [0, 1] * 30})
    table.to_parquet(tmp_path / "d.parquet", index=False)
    status, out, err = run(capsys, "train", experiment(tmp_path, data="d.parquet"))
    assert status == 1 and "Traceback" not in out + err
    assert (
        "feature column 'code' is stored as bytes in the Parquet file (b'A'): store it as" in err
    )
