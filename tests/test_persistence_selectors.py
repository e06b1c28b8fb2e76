"""A ColumnTransformer's columns chosen by make_column_selector in the safe model file
(format version 6): the selector kept as data (its pattern and dtypes by name), with the
columns the fitted one chose, so the file predicts the same and refits as the original."""

import re
import warnings

import numpy as np
import pytest
from helpers import redigested, rewritten_model
from sklearn.base import clone
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import layerkit
from layerkit import MLPClassifier, ModelFileError
from layerkit.io import read_manifest

pd = pytest.importorskip("pandas")


def table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 12, n),
            "n_bags": rng.integers(0, 4, n),
            "port": rng.choice(["C", "Q", "S"], n),
            "deck": pd.Categorical(rng.choice(["A", "B"], n)),
            "flag": rng.random(n) > 0.5,
        }
    )
    return frame, ((frame["age"] > 40) ^ (frame["port"] == "C")).to_numpy(int)


def fitted(*parts, **ct):
    frame, y = table()
    pipe = make_pipeline(
        make_column_transformer(*parts, **ct), MLPClassifier((8,), max_iter=30, random_state=0)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipe.fit(frame, y), frame, y


SELECTORS = {
    "numbers and objects": lambda: [
        (StandardScaler(), make_column_selector(dtype_include=np.number)),
        (OneHotEncoder(), make_column_selector(dtype_include=object)),
    ],
    "names as strings, a pattern, a list and an exclusion": lambda: [
        (StandardScaler(), make_column_selector("^age|^n_", dtype_include=["number"])),
        (OneHotEncoder(), make_column_selector(dtype_include=["category", "object"])),
    ],
    "an exclusion and a remainder": lambda: [
        (OneHotEncoder(), make_column_selector(dtype_exclude=[np.number, bool])),
    ],
}


@pytest.mark.parametrize("case", list(SELECTORS))
def test_a_selector_predicts_the_same_and_refits_as_the_original(case, tmp_path):
    remainder = "passthrough" if case == "an exclusion and a remainder" else "drop"
    pipe, frame, y = fitted(*SELECTORS[case](), remainder=remainder)
    layerkit.save(pipe, tmp_path / "m.lkm")
    again = layerkit.load(tmp_path / "m.lkm")
    assert read_manifest(tmp_path / "m.lkm")["format_version"] == 6
    assert np.array_equal(again.predict_proba(frame), pipe.predict_proba(frame))
    assert [c for _, _, c in again[0].transformers_] == [c for _, _, c in pipe[0].transformers_]
    for (_, _, ours), (_, _, theirs) in zip(
        again[0].transformers, pipe[0].transformers, strict=True
    ):
        assert isinstance(ours, make_column_selector)
        with warnings.catch_warnings():  # (pandas 3: 'object' taking its text, deprecated)
            warnings.simplefilter("ignore")
            assert ours(frame) == theirs(frame)  # the same choice on a table
        assert ours.pattern == theirs.pattern
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refit, fit = clone(again).fit(frame, y), clone(pipe).fit(frame, y)
    assert np.array_equal(refit.predict_proba(frame), fit.predict_proba(frame))


@pytest.mark.parametrize(
    ("selector", "match"),
    [
        (make_column_selector(dtype_include="float64"), "dtype_include='float64': a model file"),
        (make_column_selector(dtype_exclude=[np.float32]), "dtype_exclude=<class 'numpy.float32'>"),
        (make_column_selector(re.compile("^a")), "pattern re.compile\\('\\^a'\\): a model file"),
        (make_column_selector(r"^\p{L}+$"),  # (RE2's, which pandas uses for pyarrow text)
         "a model file holds a regular expression Python's re module compiles"),
    ],
)  # fmt: skip
def test_a_selector_a_file_cannot_hold_is_refused_at_save(selector, match, tmp_path):
    pipe, _, _ = fitted((StandardScaler(), ["age"]), (OneHotEncoder(), ["port"]))
    pipe[0].transformers[0] = ("standardscaler", StandardScaler(), selector)  # (as if fitted so)
    with pytest.raises(TypeError, match=match):
        layerkit.save(pipe, tmp_path / "m.lkm")
    assert not list(tmp_path.iterdir())


def _selector_of(spec):
    return spec["steps"][0]["params"]["transformers"][0][2]


EDITS = {
    "an earlier format version": (
        lambda m: m.update(format_version=5),
        "a make_column_selector in a file of format version 5: it came in version 6",
    ),
    "a pattern that is no expression": (
        redigested(lambda s: _selector_of(s)["$selector"].update(pattern="(")),
        r"columns: pattern must be a regular expression Python's re module compiles",
    ),
    "a repetition beyond any count": (
        redigested(
            lambda s: _selector_of(s)["$selector"].update(pattern="a{99999999999999999999}")
        ),
        r"transformers\[0\]\.columns: pattern must be a regular expression",
    ),
    "a pattern too long": (
        redigested(lambda s: _selector_of(s)["$selector"].update(pattern="a" * 1001)),
        "pattern must be null or a string of at most 1000 characters",
    ),
    "a dtype no file holds": (
        redigested(lambda s: _selector_of(s)["$selector"].update(dtype_include="os.system")),
        r"dtype_include must be null, or one or a list of 'number', .*got 'os.system'",
    ),
    "a setting no selector has": (
        redigested(lambda s: _selector_of(s)["$selector"].update(extra=1)),
        "a selector holds pattern, dtype_include and dtype_exclude, got",
    ),
    "no columns chosen": (
        redigested(lambda s: _selector_of(s).update(chose=None)),
        "a fitted selector must hold the columns it chose",
    ),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_an_edited_selector_is_refused_by_name(case, tmp_path):
    pipe, _, _ = fitted(*SELECTORS["numbers and objects"]())
    layerkit.save(pipe, tmp_path / "m.lkm")
    edit, match = EDITS[case]
    path = tmp_path / "edited.lkm"
    path.write_bytes(rewritten_model((tmp_path / "m.lkm").read_bytes(), edit))
    with pytest.raises(ModelFileError, match=match):
        layerkit.load(path)


def test_layerkit_predict_and_inspect_run_such_a_model(tmp_path, capsys):
    from layerkit.cli import main

    pipe, frame, _ = fitted(*SELECTORS["numbers and objects"]())
    layerkit.save(pipe, tmp_path / "m.lkm")
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert main(["predict", str(tmp_path / "m.lkm"), str(tmp_path / "d.csv"), "--proba",
                 "-o", str(tmp_path / "p.csv")]) == 0  # fmt: skip
    written = pd.read_csv(tmp_path / "p.csv")
    read = pd.read_csv(tmp_path / "d.csv")
    assert np.array_equal(written["proba_1"], pipe.predict_proba(read)[:, 1])
    assert main(["inspect", str(tmp_path / "m.lkm")]) == 0
    shown = capsys.readouterr().out
    assert "make_column_selector(dtype_include=np.number)), ('onehotencoder'" in shown
    assert "make_column_selector(dtype_include=object)" in shown


def test_booleans_with_gaps_through_an_imputer_and_an_encoder(tmp_path):
    """pandas reads a CSV column of True, False and gaps as objects: Python's booleans
    (NumPy's too), which an imputer's statistics and an encoder's categories hold."""
    frame, y = table()
    frame["flag"] = frame["flag"].astype(object)
    frame.loc[::7, "flag"] = np.nan
    frame["np_flag"] = np.array([np.True_, np.False_] * 100, dtype=object)
    flags = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    pipe = make_pipeline(
        make_column_transformer(
            (flags, ["flag"]), (OneHotEncoder(), ["np_flag"]), (StandardScaler(), ["age"])
        ),
        MLPClassifier((8,), max_iter=30, random_state=0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(frame, y)
    layerkit.save(pipe, tmp_path / "m.lkm")
    again = layerkit.load(tmp_path / "m.lkm")
    assert np.array_equal(again.predict_proba(frame), pipe.predict_proba(frame))
    imputer = again[0].named_transformers_["pipeline"][0]
    assert (
        imputer.statistics_.tolist()
        == pipe[0].named_transformers_["pipeline"][0].statistics_.tolist()
    )
