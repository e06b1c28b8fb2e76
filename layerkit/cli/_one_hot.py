"""``layerkit train`` on a table with categorical columns or missing numbers: the
Pipeline that one-hot encodes or fills them before the network, and the column names it
keeps, so that the saved model (format version 5) picks its columns by name, in
``layerkit predict`` and in Python on ``pd.read_csv`` of the file."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def encoding_pipeline(
    network: Any,
    features: list[str],
    categorical: Collection[str],
    standardize: bool,
    impute: str | None,
) -> Pipeline:
    """``ColumnTransformer`` then the network: the numeric features' missing values
    filled with their mean or median (``impute``), then scaled to mean 0 and variance 1
    (``standardize``); the categorical ones one-hot encoded (a column per category seen
    in training, 1 where a row has it; a category not seen in training, all 0; a missing
    value is a category of its own), dense."""
    numbers = [j for j, name in enumerate(features) if name not in categorical]
    codes = [j for j, name in enumerate(features) if name in categorical]
    steps: list[Any] = [SimpleImputer(strategy=impute)] if impute else []
    steps += [StandardScaler()] if standardize else []
    parts: list[tuple[str, Any, list[int]]] = []
    if numbers:
        numeric = make_pipeline(*steps) if len(steps) > 1 else (steps or ["passthrough"])[0]
        parts.append(("numbers", numeric, numbers))
    if codes:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        parts.append(("categories", encoder, codes))
    return Pipeline([("columns", ColumnTransformer(parts)), ("network", network)])


def as_fitted_on_the_table(
    pipeline: Pipeline, features: list[str], dtypes: dict[str, np.dtype]
) -> None:
    """Make the fitted steps what scikit-learn fits on pandas' DataFrame of the file
    (they were fitted on an object array: pandas is not a dependency): the column names
    on the ColumnTransformer and its steps, so that they take a DataFrame by names, in
    any column order; and each column's categories in the dtype pandas reads the column
    in (``dtypes``, by name: integer codes as int64, not as objects, so that an int64
    column of a DataFrame is compared with them as numbers)."""
    columns = pipeline.steps[0][1]
    columns.feature_names_in_ = np.asarray(features, dtype=object)
    for _, step, at in columns.transformers_:
        if isinstance(step, str):
            continue
        first = step.steps[0][1] if isinstance(step, Pipeline) else step  # (what sees them)
        first.feature_names_in_ = np.asarray([features[j] for j in at], dtype=object)
        if isinstance(step, OneHotEncoder):
            step.categories_ = [
                values if dtypes[features[j]].kind == "O" else values.astype(dtypes[features[j]])
                for j, values in zip(at, step.categories_, strict=True)
            ]


def encoded_width(pipeline: Pipeline) -> int:
    """How many inputs the network gets: the numeric features and a column per category."""
    return int(pipeline.steps[-1][1].n_features_in_)


def filled_with(pipeline: Pipeline, features: list[str], filled: list[str]) -> dict[str, float]:
    """The value each column named in ``filled`` has its missing values filled with."""
    columns = pipeline.steps[0][1]
    for name, step, at in columns.transformers_:
        imputer = step.steps[0][1] if isinstance(step, Pipeline) else step
        if name == "numbers" and isinstance(imputer, SimpleImputer):
            statistics = imputer.statistics_
            return {features[j]: float(v) for j, v in zip(at, statistics, strict=True)
                    if features[j] in filled}  # fmt: skip
    return {}
