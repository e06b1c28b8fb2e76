"""The experiment file of ``layerkit train``: TOML or JSON, validated by pydantic.

Every problem is reported with its field path (``training.max_iter``,
``layers.1.units``), all at once: first the file's structure, then each layer, loss
and optimizer against the constructor rules of its registered class.
"""

from __future__ import annotations

import difflib
import inspect
import json
import math
import re
import sys
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from .._configurable import RegistryError, lookup, registered
from ._errors import CLIError
from ._loading import import_plugins

Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]


class _Section(BaseModel):
    # strict: "100" is not an int, "yes" not a bool (TOML and JSON have real types);
    # TOML's inf and nan (and JSON's Infinity, NaN) are no setting's value
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class DataSection(_Section):
    """Where the examples are: one table, one target column."""

    path: str = Field(description="CSV or Parquet file, relative to the experiment file")
    target: str = Field(description="the column to predict")
    features: list[str] | None = Field(
        default=None, description="input columns (default: all others)"
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="columns left out of the features (an ID, a name), where features "
        "are not listed",
    )
    categorical: Literal["auto"] | list[str] = Field(
        default="auto",
        description='the feature columns whose values are categories, one-hot encoded: "auto" '
        "takes the columns holding text (a missing value is a category of its own); a list "
        "takes exactly those (integer codes too); [] takes none",
    )
    impute: Literal["mean", "median"] | None = Field(
        default=None,
        description="fill a numeric feature's missing values with its mean or median over "
        "the training rows (the model is then a Pipeline whose SimpleImputer does it); "
        "default: missing numbers are refused",
    )
    standardize: bool = Field(
        default=True,
        description="scale each feature to mean 0, variance 1 for training; the scaling is "
        "folded into the first Dense layer, so the saved model takes the raw columns (with "
        "categorical columns, the model is a Pipeline whose StandardScaler does it)",
    )
    standardize_target: bool = Field(
        default=True,
        description="regression with the squared error: scale the target to mean 0, "
        "variance 1 for training; the scaling is folded into the output layer, so the "
        "saved model predicts in the target's units",
    )

    @pydantic.model_validator(mode="after")
    def _features_or_exclude(self) -> DataSection:
        twice = sorted({name for name in self.exclude if self.exclude.count(name) > 1})
        if twice:
            raise ValueError(f"exclude lists {twice} more than once")
        if self.features is not None and self.exclude:
            raise ValueError(
                "give features (the columns to use) or exclude (those to leave out), not both"
            )
        return self

    @pydantic.field_validator("categorical", mode="before")
    @classmethod
    def _auto_or_names(cls, value: Any) -> Any:
        """One message for any other value (rather than pydantic's two-part one)."""
        if value == "auto" or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return value
        hint = ""
        if isinstance(value, str):
            hint = (
                ' (did you mean "auto"?)'
                if value.lower() == "auto"
                else f' (did you mean ["{value}"]?)'
            )

        raise ValueError(
            f'expected "auto", a list of column names (["port", "deck"]), or [] for none; '
            f"got {value!r}{hint}"
        )


class ObjectSpec(BaseModel):
    """A registered layer, loss or optimizer: ``type`` plus its constructor arguments."""

    model_config = ConfigDict(extra="allow")
    type: str


class TrainingSection(_Section):
    max_iter: Annotated[int, Field(ge=1)] = 200
    batch_size: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"
    alpha: Annotated[float, Field(ge=0.0)] = 1e-4
    tol: Annotated[float, Field(ge=0.0)] = 1e-4
    shuffle: bool = True
    learning_rate: Literal["constant", "invscaling", "adaptive", "cosine"] = Field(
        default="constant", description="the step size's schedule, as the estimators'"
    )
    power_t: Annotated[float, Field(ge=0.0)] = 0.5
    class_weight: Literal["balanced"] | dict[str, Annotated[float, Field(ge=0.0)]] | None = Field(
        default=None, description="classification: 'balanced', or a weight per label"
    )
    # (scikit-learn's seeds: train_test_split and the estimator take 0 to 2**32 - 1)
    random_state: Annotated[int, Field(ge=0, le=2**32 - 1)] | None = 0

    @pydantic.field_validator("class_weight", mode="before")
    @classmethod
    def _class_weight(cls, value: Any) -> Any:
        """One message for a wrong class_weight (rather than pydantic's two-part union
        message): what it takes, and 'balanced' for a near miss."""
        if value is None or value == "balanced":
            return value
        if isinstance(value, dict):
            bad = {label: w for label, w in value.items() if not _weight(w)}
            if not bad:
                return value
            raise ValueError(f"expected a weight per label, each a number >= 0; got {bad}")
        near = isinstance(value, str) and _close_name(value, ["balanced"])
        hint = ' Did you mean "balanced"?' if near else ""
        raise ValueError(
            'expected "balanced" or a table of a weight per label, such as {setosa = 2.0}; '
            f"got {value!r}.{hint}"
        )


class ValidationSection(_Section):
    test_fraction: Fraction = Field(default=0.2, description="rows held out for the test metrics")
    early_stopping: bool = False
    validation_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    n_iter_no_change: Annotated[int, Field(ge=1)] = 10
    scoring: str | None = Field(
        default=None,
        description="what early stopping scores: 'loss' or a scikit-learn scorer's name",
    )

    @pydantic.field_validator("scoring", mode="before")
    @classmethod
    def _scoring(cls, value: Any) -> Any:
        """A scorer's name as the estimators take it, a near miss suggested."""
        from ..estimators._validation import _suggestion, scoring

        if value is None or (isinstance(value, str) and scoring(value)):
            return value
        names = list(scoring.allowed)  # type: ignore[attr-defined]
        near = isinstance(value, str) and _suggestion(value, names)  # (as the estimators)
        hint = f" Did you mean {near!r}?" if near else ""
        raise ValueError(
            '"loss" or the name of a scikit-learn scorer (sklearn.metrics.get_scorer_names(): '
            f'"accuracy", "f1_macro", "neg_mean_absolute_error", ...); got {value!r}.{hint}'
        )


def _file_name(name: str) -> str:
    if not name or "/" in name or "\\" in name:
        raise ValueError(f"must be a file name inside output.dir, got {name!r}")
    return name


def _image_name(name: str) -> str:
    if Path(_file_name(name)).suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ValueError(f"must end in .png, .svg or .pdf, got {name!r}")
    return name


class OutputSection(_Section):
    dir: str = Field(default="layerkit-output", description="relative to the experiment file")
    model: Annotated[str, pydantic.AfterValidator(_file_name)] = "model.lkm"
    metrics: Annotated[str, pydantic.AfterValidator(_file_name)] = "metrics.json"
    plot: Annotated[str, pydantic.AfterValidator(_image_name)] | None = "loss_curve.png"

    @pydantic.model_validator(mode="after")
    def _distinct(self) -> OutputSection:
        names = [n for n in (self.model, self.metrics, self.plot) if n is not None]
        if len(set(names)) != len(names):
            raise ValueError(f"model, metrics and plot must be different files, got {names}")
        return self


class Experiment(_Section):
    """A whole ``layerkit train`` experiment."""

    task: Literal["classification", "regression"]
    data: DataSection
    plugins: list[str] = Field(
        default_factory=list, description="modules to import first (your own layers)"
    )
    layers: list[ObjectSpec] | None = Field(
        default=None, description="hidden layers (default: Dense(100), ReLU())"
    )
    loss: ObjectSpec | Literal["log_loss", "squared_error", "poisson"] | None = None
    optimizer: ObjectSpec | Literal["adam", "sgd", "lbfgs"] = "adam"
    training: TrainingSection = TrainingSection()
    validation: ValidationSection = ValidationSection()
    output: OutputSection = OutputSection()

    @pydantic.field_validator("layers")
    @classmethod
    def _some_layers(cls, value: Any) -> Any:
        if value == []:
            raise ValueError(
                "expected at least one layer; leave layers out for the default hidden "
                "layers (Dense(100), ReLU())"
            )
        return value

    @pydantic.field_validator("loss", "optimizer", mode="before")
    @classmethod
    def _known_name(cls, value: Any, info: pydantic.ValidationInfo) -> Any:
        """A name that is not one of the field's names: what they are, and the likely
        one (rather than pydantic's two-part union message)."""
        kind = str(info.field_name)
        names = _NAMES[kind]
        if not isinstance(value, str) or value in names:
            return value
        classes = {n.lower(): n for n in registered(kind)}
        if value.lower() not in names and value.lower() in classes:  # a class: its table
            did_you_mean = f' Did you mean {kind} = {{type = "{classes[value.lower()]}"}}?'
        else:
            guess = _close_name(value, list(names))
            did_you_mean = f" Did you mean {guess!r}?" if guess else ""
        shown = ", ".join(repr(n) for n in names[:-1]) + f" or {names[-1]!r}"
        raise ValueError(
            f"expected {shown}, or a table with the type of a registered {kind} and its "
            f"arguments ({_TABLE_EXAMPLE[kind]}); got {value!r}.{did_you_mean}"
        )


#: The names the loss and optimizer fields take as plain strings.
_NAMES = {
    "loss": ("log_loss", "squared_error", "poisson"),
    "optimizer": ("adam", "sgd", "lbfgs"),
}
_TABLE_EXAMPLE = {
    "loss": '{type = "SquaredError"}',
    "optimizer": '{type = "Adam", learning_rate = 0.001}',
}


class Loaded(BaseModel):
    """An experiment with its objects built and its paths resolved."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    experiment: Experiment
    base: Path
    layers: list[Any] | None
    loss: Any
    optimizer: Any


def load_experiment(path: Path) -> Loaded:
    """Read, validate and build; ``CLIError`` lists every problem found."""
    raw = _read(path)
    if not isinstance(raw, dict):
        raise CLIError(
            f"{path}: the experiment must be a table of fields (task, data, ...), got a "
            f"{type(raw).__name__}"
        )
    base = path.resolve().parent
    try:
        experiment = Experiment.model_validate(raw)
    except pydantic.ValidationError as err:
        # the structure is wrong; still check the objects whose specs can be read, so
        # that every problem is listed at once
        problems = _problems(err, model=Experiment) + _ignored_settings_of_sections(raw)
        plugins = raw.get("plugins", [])
        if isinstance(plugins, list) and all(isinstance(p, str) for p in plugins):
            try:
                import_plugins(plugins, [str(base)], lambda i, name: f"plugins.{i}")
            except CLIError as plugin_error:
                problems.append(str(plugin_error))
            else:
                _build_objects(raw.get("layers"), raw.get("loss"), raw.get("optimizer"), problems)
        raise CLIError(_report(path, problems)) from None
    # a plugin may sit next to the experiment file
    import_plugins(experiment.plugins, [str(base)], lambda i, name: f"{path}: plugins.{i}")
    problems = _ignored_settings(experiment)
    layers, loss, optimizer = _build_objects(
        experiment.layers, experiment.loss, experiment.optimizer, problems
    )
    if problems:
        raise CLIError(_report(path, problems))
    return Loaded(experiment=experiment, base=base, layers=layers, loss=loss, optimizer=optimizer)


def _ignored_settings_of_sections(raw: dict[str, Any]) -> list[str]:
    """``_ignored_settings`` for a file that failed validation elsewhere: from the fields
    it reads (the schedule, the scoring, early stopping, the optimizer), each valid by
    itself, so that one run lists these problems with the others."""
    training = _fields(TrainingSection, raw.get("training"), ("learning_rate",))
    validation = _fields(ValidationSection, raw.get("validation"), ("early_stopping", "scoring"))
    optimizer = raw.get("optimizer", "adam")
    if not isinstance(optimizer, str):
        optimizer = "a table"  # (an optimizer object takes every schedule)
    given = {"optimizer"} & set(raw)
    experiment = Experiment.model_construct(
        given, training=training, validation=validation, optimizer=optimizer
    )
    return _ignored_settings(experiment)


def _fields(section: Any, raw: Any, names: tuple[str, ...]) -> Any:
    """``section`` of the ``names`` fields of ``raw`` that are valid by themselves (the
    others at their defaults, and not among those set)."""
    valid = {}
    for name in names:
        if isinstance(raw, dict) and name in raw:
            try:
                section.model_validate({name: raw[name]})
            except pydantic.ValidationError:  # (already among the problems)
                continue
            valid[name] = raw[name]
    return section.model_validate(valid)


def _ignored_settings(experiment: Experiment) -> list[str]:
    """A schedule the named optimizer would ignore (adam adapts its own steps, lbfgs
    takes none), as scikit-learn ignores it, silently, and a scoring without early
    stopping: problems instead."""
    problems = []
    schedule = experiment.training.learning_rate
    if (
        "learning_rate" in experiment.training.model_fields_set
        and schedule != "constant"
        and experiment.optimizer in ("adam", "lbfgs")
        and not (schedule == "cosine" and experiment.optimizer == "adam")
    ):
        default = "" if "optimizer" in experiment.model_fields_set else " (the default)"
        takes, choose = '"sgd"', "sgd"
        if schedule == "cosine":
            takes, choose = '"sgd" or "adam"', "sgd or adam"
        problems.append(
            f"training.learning_rate: {schedule!r} is a schedule for optimizer = {takes} "
            f"(or an optimizer table); optimizer = {experiment.optimizer!r}{default} "
            f"ignores it: remove it, or choose {choose}"
        )
    validation = experiment.validation
    if validation.scoring is not None and not validation.early_stopping:
        problems.append(
            f"validation.scoring: {validation.scoring!r} is what early stopping scores by, "
            "and early_stopping is false, which ignores it: set early_stopping = true, or "
            "remove it"
        )
    elif validation.early_stopping and experiment.optimizer == "lbfgs":
        problems.append(
            'validation.early_stopping: optimizer = "lbfgs" trains on the whole batch and '
            "never stops early, so it ignores early_stopping"
            + (" and scoring: remove them" if validation.scoring else ": remove it")
            + ', or choose "adam" or "sgd"'
        )
    return problems


def _build_objects(layers: Any, loss: Any, optimizer: Any, problems: list[str]) -> tuple:
    """The layers, loss and optimizer built from their specs (ObjectSpec, or raw tables
    with a ``type``); anything else is passed through as given. Problems are added."""

    def built(kind: str, spec: Any, where: str) -> Any:
        if isinstance(spec, dict) and isinstance(spec.get("type"), str):
            spec = ObjectSpec.model_validate(spec)
        return _build(kind, spec, where, problems) if isinstance(spec, ObjectSpec) else spec

    if isinstance(layers, list):
        layers = [built("layer", spec, f"layers.{i}") for i, spec in enumerate(layers)]
    return layers, built("loss", loss, "loss"), built("optimizer", optimizer, "optimizer")


def _read(path: Path) -> Any:
    if not path.is_file():
        raise CLIError(f"no experiment file at {path}")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise CLIError(f"{path}: not a UTF-8 text file ({err.reason})") from None
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise CLIError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from None
    if suffix == ".toml":
        toml = _toml_module(path)
        try:
            return toml.loads(text)
        except toml.TOMLDecodeError as err:
            raise CLIError(f"{path}: invalid TOML: {err}") from None
    raise CLIError(f"{path}: expected a .toml or .json experiment file, got {suffix!r}")


def _toml_module(path: Path) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:
        import tomli  # the same parser, for Python 3.10

        return tomli
    except ImportError:
        raise CLIError(
            f"{path}: reading TOML needs Python >= 3.11 or the tomli package "
            "(`pip install tomli`); or write the experiment as JSON"
        ) from None


def _build(kind: str, spec: ObjectSpec, where: str, problems: list[str]) -> Any:
    """Build a registered object, adding each problem with its path to ``problems``."""
    try:
        cls = lookup(kind, spec.type)
    except RegistryError:
        names = sorted(registered(kind))
        guess = _close_name(spec.type, names)
        did_you_mean = f". Did you mean {guess!r}?" if guess else ""
        problems.append(
            f"{where}.type: unknown {kind} {spec.type!r}; known: {', '.join(names)}{did_you_mean}"
        )
        return None
    arguments = cls.tuples_where_annotated(dict(spec.model_extra or {}))
    inner_failed = False
    needs_inner = kind == "layer" and _takes_inner_layers(cls)
    if needs_inner and ("inner" in arguments or not _inner_by_default(cls)):
        given = arguments.get("inner")  # a block's inner layers: tables, built here too
        inner = _inner_layers(given, f"{where}.inner", problems)
        if inner is None:
            inner_failed = True
            arguments.pop("inner", None)  # (the block's other arguments are still checked)
        else:
            arguments["inner"] = tuple(inner) if isinstance(given, tuple) else inner
    if cls.__module__.startswith("layerkit."):  # (a plugin's class judges its own values)
        bad = [key for key, value in arguments.items() if _non_finite(value)]
        for key in bad:
            problems.append(f"{where}.{key}: expected a finite number, got {arguments[key]!r}")
        if bad:
            return None
    try:
        cls.config_model().model_validate(arguments)
    except pydantic.ValidationError as err:
        said = _problems(err, where, cls.config_model())
        # (inner, already found wrong, was left out: not "missing" too)
        problems += [p for p in said if not (inner_failed and p.startswith(f"{where}.inner"))]
        return None
    if inner_failed:
        return None
    try:
        return cls(**arguments)
    except (TypeError, ValueError) as err:
        problems.append(f"{where}: {err}")
        return None


def _takes_inner_layers(cls: type) -> bool:
    """A block (``Composite``, or a subclass of it) whose constructor takes ``inner``
    (a subclass may build its inner layers itself, from arguments of its own)."""
    from ..layers import Composite

    if not issubclass(cls, Composite):
        return False
    try:
        return "inner" in inspect.signature(cls).parameters
    except (TypeError, ValueError):  # (no signature to read)
        return False


def _inner_by_default(cls: type) -> bool:
    """Whether the block's ``inner`` has a default of layers (a list or tuple of some),
    so that it may be left out."""
    default = inspect.signature(cls).parameters["inner"].default
    return isinstance(default, (list, tuple)) and bool(default)


def _inner_layers(inner: Any, where: str, problems: list[str]) -> list[Any] | None:
    """A block's ``inner``, a non-empty list of layer tables, built (None, with the
    problems added, when any is wrong)."""
    if inner is None:
        problems.append(
            f"{where}: missing: a block runs the layers it is given, as a non-empty list of "
            'layer tables (inner = [{type = "Dense", units = 8}, {type = "ReLU"}])'
        )
        return None
    if not isinstance(inner, (list, tuple)) or not inner:
        problems.append(
            f"{where}: expected a non-empty list of layer tables (inner = [{{type = "
            f'"Dense", units = 8}}, {{type = "ReLU"}}]), got {inner!r}'
        )
        return None
    layers: list[Any] = []
    for i, item in enumerate(inner):
        if not (isinstance(item, dict) and isinstance(item.get("type"), str)):
            problems.append(f"{where}.{i}: expected a layer table with a type, got {item!r}")
            layers.append(None)
            continue
        layers.append(_build("layer", ObjectSpec.model_validate(item), f"{where}.{i}", problems))
    return None if any(layer is None for layer in layers) else layers


def _weight(value: Any) -> bool:
    """A class weight: a finite number >= 0 (not a boolean)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _non_finite(value: Any) -> bool:
    """Whether ``value`` is (or holds) an infinite or NaN float: TOML's inf and nan."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return any(_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    return False


def _close_name(name: str, names: list[str]) -> str | None:
    """The registered name that ``name`` most likely misspells: the same letters in
    another case, else the closest match (difflib), ignoring case; or None."""
    by_lower = {n.lower(): n for n in names}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


#: A message that says what it got (the file's own validators' do): no "(got ...)" added.
_SAYS_GOT = re.compile(r"\bgot\b")

#: Parts of a pydantic error location that name a union member, not a field: tags that
#: start so, or these names exactly (a field may be called "interval" or "strategy").
_UNION_MEMBERS = ("constrained-", "literal[", "function-")
_UNION_NAMES = frozenset({"int", "str", "ObjectSpec"})


def _fields_at(model: Any, path: list[str]) -> list[str]:
    """The field names of the model found at ``path`` (of field names and list indices)
    below ``model``; [] where the path leads to no model."""
    for part in path:
        if part.isdigit():  # (an item of a list: the same model)
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        found = [
            t
            for t in (field.annotation, *typing.get_args(field.annotation))
            if isinstance(t, type) and issubclass(t, BaseModel)
        ]
        found += [  # (a list of models)
            a
            for t in typing.get_args(field.annotation)
            for a in typing.get_args(t)
            if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        if not found:
            return []
        model = found[0]
    return list(getattr(model, "model_fields", {}))


def _problems(err: pydantic.ValidationError, prefix: str = "", model: Any = None) -> list[str]:
    """One line per field; the alternatives of a union field joined with "or"; an
    unknown field of ``model`` (or of a model inside it) with the field it likely
    misspells."""
    by_field: dict[str, list[str]] = {}
    for error in err.errors():
        loc = [
            str(p)
            for p in error["loc"]
            if not str(p).startswith(_UNION_MEMBERS) and str(p) not in _UNION_NAMES
        ]
        field = ".".join([prefix, *loc] if prefix else loc) or "(top level)"
        if error["type"] == "missing":
            text = "required, but missing"
        elif error["type"] == "extra_forbidden":
            close = _close_name(loc[-1], _fields_at(model, loc[:-1])) if loc else None
            text = "unknown field (a typo?)" + (f"; did you mean {close!r}?" if close else "")
        else:
            message = error["msg"].removeprefix("Value error, ")
            # (the file's own validators say what they got)
            text = message if _SAYS_GOT.search(message) else f"{message} (got {error['input']!r})"
        by_field.setdefault(field, []).append(text)
    return [f"{field}: {'; or '.join(texts)}" for field, texts in by_field.items()]


def _report(path: Path, problems: list[str]) -> str:
    unique = list(dict.fromkeys(problems))
    lines = [f"{path}: {len(unique)} problem(s) in the experiment file:"]
    lines += [f"  - {p}" for p in unique]
    return "\n".join(lines)
