"""The model file's manifest: a pydantic model, validated before any array is read."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

FORMAT = "layerkit.model"
FORMAT_VERSION = 6  # the newest this layerkit reads and writes
#: Version 2 added the layers' state (``state/...`` arrays), version 3 a Pipeline's
#: steps before the network (``pipeline``) and the fitted records of LATER_FITTED,
#: version 4 a TransformedTargetRegressor's target transformer (``target``), version 5
#: the steps of categorical columns (``_columns.LATER_STEPS``: encoders, and
#: ColumnTransformers and Pipelines holding steps), version 6 a ColumnTransformer's
#: columns chosen by a make_column_selector; a file is written in the oldest
#: version that holds it (1 without any), which earlier layerkits read too (a newer one
#: they refuse, saying to upgrade).
FIRST_FORMAT_VERSION = 1
STATE_FORMAT_VERSION = 2
PIPELINE_FORMAT_VERSION = 3
#: Fitted records added after version 2 (0.2.0 refuses a file holding any, unknown)
LATER_FITTED = ("validation_loss_curve_", "best_epoch_", "_validation_scoring", "_cosine_cycle")
#: Hyperparameters, and values of them, added after version 2 (0.2.0 refuses them)
LATER_HYPERPARAMETERS = ("scoring",)
LATER_VALUES = {"learning_rate": "cosine"}


def needs_version_3(manifest: dict[str, Any]) -> bool:
    """Whether a manifest holds anything 0.2.0 (which reads up to version 2) does not
    know: a Pipeline, a fitted record or a hyperparameter added since (there it must
    read as "upgrade layerkit", not as an unknown field or argument)."""
    fitted = manifest.get("fitted") or {}
    hyper = manifest.get("hyperparameters") or {}
    return (
        manifest.get("pipeline") is not None
        or any(key in fitted for key in LATER_FITTED)
        or any(key in hyper for key in LATER_HYPERPARAMETERS)
        or any(hyper.get(key) == value for key, value in LATER_VALUES.items())
    )


TARGET_FORMAT_VERSION = 4
COLUMNS_FORMAT_VERSION = 5
SELECTOR_FORMAT_VERSION = 6
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 16 * 2**20

Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TypedObject(_Strict):
    """A registered layer, loss or optimizer: its registry name and constructor config."""

    type: Name
    config: dict[str, JsonValue]


class LayerSpec(TypedObject):
    rng: dict[str, JsonValue] | None = None  # states of the layer's random generators


class NetworkSpec(_Strict):
    n_in: Annotated[int, Field(ge=1)]
    dtype: Literal["float32", "float64"]
    layers: list[LayerSpec]


class OptimizerSpec(TypedObject):
    state: dict[str, JsonValue]  # the scalar state; arrays are listed in `arrays`


class ArraySpec(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]+$", max_length=300)]
    shape: list[Annotated[int, Field(ge=0)]]
    dtype: Literal["<f4", "<f8"]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


#: A float as JSON data: a number, or a non-finite one tagged as ``{"$float": "inf"}``.
Real = float | int | dict[Literal["$float"], Literal["inf", "-inf", "nan"]]
Count = Annotated[int, Field(ge=0)]


class ClassesSpec(_Strict):
    dtype: Annotated[str, Field(max_length=20)]
    values: list[bool | int | float | str]


class FittedSpec(_Strict):
    """The fitted estimator's metadata (``fitted`` in the manifest), each of its type."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)
    n_features_in_: Annotated[int, Field(ge=1)] | None = None
    n_iter_: Count | None = None
    t_: Count | None = None
    loss_: Real | None = None
    loss_curve_: list[Real] | None = None
    best_loss_: Real | None = None
    validation_scores_: list[Real] | None = None
    validation_loss_curve_: list[Real] | None = None
    best_validation_score_: Real | None = None
    best_epoch_: Count | None = None
    n_layers_: Annotated[int, Field(ge=2)] | None = None
    n_outputs_: Annotated[int, Field(ge=1)] | None = None
    out_activation_: Name | None = None
    no_improvement_count: Count | None = Field(default=None, alias="_no_improvement_count")
    validation_scoring: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, alias="_validation_scoring"
    )
    cosine_cycle: Annotated[list[Count], Field(min_length=2, max_length=2)] | None = Field(
        default=None, alias="_cosine_cycle"
    )
    feature_names_in_: list[str] | None = None
    classes: ClassesSpec | None = None
    label_type: Literal["binary", "multiclass", "multilabel-indicator"] | None = None


def _no_double_underscore(name: str) -> str:
    if "__" in name:  # (scikit-learn's nested parameters split names there)
        raise ValueError(f"a step's name holds no '__', got {name!r}")
    return name


StepName = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$"),
    AfterValidator(_no_double_underscore),
]


class StepSpec(_Strict):
    """A Pipeline step before the network: one of the classes ``_pipeline.FITTED``
    names, its settings and (fitted) its attributes, as JSON data."""

    name: StepName
    type: Literal[
        "StandardScaler",
        "MinMaxScaler",
        "MaxAbsScaler",
        "RobustScaler",
        "SimpleImputer",
        "PolynomialFeatures",
        "Normalizer",
        "passthrough",
        "OneHotEncoder",
        "OrdinalEncoder",
        "ColumnTransformer",
        "Pipeline",
    ]
    params: dict[Name, JsonValue]
    fitted: dict[Name, JsonValue] | None = None
    dtypes: dict[Name, Annotated[str, Field(max_length=20)]] = {}  # NumPy dtype objects
    scalars: dict[Name, Annotated[str, Field(max_length=20)]] = {}  # NumPy scalars' dtypes
    object_arrays: list[Name] = []  # arrays of Python objects (feature names)
    output: Literal["default", "pandas", "polars"] | None = None  # set_output(transform=)


class PipelineSpec(_Strict):
    steps: list[StepSpec]
    final: StepName
    verbose: bool
    sklearn_version: Annotated[str, Field(max_length=50)]
    #: of the rest of this entry (``pipeline_digest``): the steps' fitted values are
    #: JSON data, not arrays with digests of their own, and a damaged digit must not
    #: load as another model
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class TargetSpec(_Strict):
    """A TransformedTargetRegressor around the network (or its Pipeline): its target
    transformer (one of ``_target.TARGET_SCALERS``; None: the identity) as JSON data."""

    transformer: StepSpec | None
    check_inverse: bool
    training_dim: Literal[1, 2] | None  # (None: not fitted)
    sklearn_version: Annotated[str, Field(max_length=50)]
    #: of the rest of this entry (``target_digest``), as the pipeline's
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def _digest(kind: type[_Strict], spec: Any) -> str:
    """SHA-256 of an entry without its digest, as validated JSON data."""
    import hashlib
    import json

    if isinstance(spec, dict):
        spec = kind.model_validate({**spec, "sha256": "0" * 64})
    data = spec.model_dump(mode="json", exclude={"sha256"})
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pipeline_digest(spec: PipelineSpec | dict[str, Any]) -> str:
    """SHA-256 of the pipeline entry without its digest, as validated JSON data."""
    return _digest(PipelineSpec, spec)


def target_digest(spec: TargetSpec | dict[str, Any]) -> str:
    """SHA-256 of the target entry without its digest, as validated JSON data."""
    return _digest(TargetSpec, spec)


class Manifest(_Strict):
    format: Literal["layerkit.model"]
    format_version: int
    layerkit_version: str
    kind: Name
    hyperparameters: dict[str, JsonValue]
    network: NetworkSpec | None
    loss: TypedObject | None = None
    optimizer: OptimizerSpec | None = None
    shuffle_rng: dict[str, JsonValue] | None = None
    fitted: dict[str, JsonValue] | None = None
    pipeline: PipelineSpec | None = None
    target: TargetSpec | None = None
    arrays: list[ArraySpec]


def array_member(name: str) -> str:
    """Where an array lives in the zip."""
    return f"arrays/{name}.npy"


#: Entries added since the first release, left out of a file that does not use them:
#: earlier layerkits refuse a manifest with keys they do not know (a ``"pipeline": null``
#: in every file made 0.2.0 refuse them all)
_LATER_ENTRIES = ("pipeline", "target")


def dump(manifest: dict[str, Any]) -> dict[str, Any]:
    """Validate a manifest being written (catches a writer bug before the file exists)."""
    data = Manifest.model_validate(manifest).model_dump(mode="json")
    for key in _LATER_ENTRIES:
        if data.get(key) is None:
            data.pop(key, None)
    return data
