"""The model file's manifest of the 0.2.0 release (its layerkit/io/_manifest.py, unchanged
but for this docstring): the schema tests/test_persistence.py checks files against."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

FORMAT = "layerkit.model"
FORMAT_VERSION = 2  # the newest this layerkit reads and writes
#: Version 2 added the layers' state (``state/...`` arrays); a file without any is
#: written as version 1, which earlier layerkits read too.
FIRST_FORMAT_VERSION = 1
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
    best_validation_score_: Real | None = None
    n_layers_: Annotated[int, Field(ge=2)] | None = None
    n_outputs_: Annotated[int, Field(ge=1)] | None = None
    out_activation_: Name | None = None
    no_improvement_count: Count | None = Field(default=None, alias="_no_improvement_count")
    feature_names_in_: list[str] | None = None
    classes: ClassesSpec | None = None
    label_type: Literal["binary", "multiclass", "multilabel-indicator"] | None = None


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
    arrays: list[ArraySpec]


def array_member(name: str) -> str:
    """Where an array lives in the zip."""
    return f"arrays/{name}.npy"


def dump(manifest: dict[str, Any]) -> dict[str, Any]:
    """Validate a manifest being written (catches a writer bug before the file exists)."""
    return Manifest.model_validate(manifest).model_dump(mode="json")
