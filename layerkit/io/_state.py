"""What a model file holds of each kind of object, and how it is put back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pydantic

from .._configurable import Configurable
from .._contract import state_as_built
from ..network import Sequential
from ..optim.base import Optimizer
from ._manifest import FittedSpec
from ._values import (
    decoded,
    decoding_layers,
    encode,
    encode_layers,
    generator_state,
    restore_generator,
    typed,
)

#: Fitted attributes of the estimators kept in the manifest (when present).
FITTED = (
    "n_features_in_",
    "n_iter_",
    "t_",
    "loss_",
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "validation_loss_curve_",
    "best_validation_score_",
    "best_epoch_",
    "n_layers_",
    "n_outputs_",
    "out_activation_",
    "_no_improvement_count",
)
#: The seed a loaded network is built with before its saved arrays are put back (what
#: build draws and the file does not hold comes from it).
LOAD_SEED = 0
LABEL_TYPES = ("binary", "multiclass", "multilabel-indicator")


def network_spec(net: Sequential) -> dict[str, Any]:
    if "dtype" not in net.__dict__:
        raise ValueError("save needs a built network: call build(n_in) first")
    layers = []
    for layer, spec in zip(net.layers, encode_layers(net.layers, "network"), strict=True):
        rngs: dict[str, Any] = {}
        first_path: dict[int, str] = {}
        for path, generator in generators_of(layer):
            held = first_path.setdefault(id(generator), path)
            rngs[path] = generator_state(generator) if held == path else {"same_as": held}
        layers.append({"type": spec["type"], "config": spec["config"], "rng": rngs or None})
    return {"n_in": net.n_in_, "dtype": net.dtype.name, "layers": layers}


def generators_of(layer: Any) -> Any:
    """``(path, generator)`` for each random generator ``layer`` holds (see below)."""
    return _generators(layer, "", set())


def _generators(obj: Any, prefix: str, seen: set[int]) -> Any:
    """``(path, generator)`` for each random generator a layer holds, in its attributes
    and, at any depth, in the layers, networks, lists and dicts inside them (a block's
    Dropout: its masks resume exactly after loading too); paths such as ``_rng`` or
    ``inner.1._rng``."""
    from ..layers.base import Layer

    seen.add(id(obj))
    if isinstance(obj, Sequential):
        items: Any = [("layers", obj.layers)]
    elif isinstance(obj, Layer):
        items = vars(obj).items()
    elif isinstance(obj, list):
        items = enumerate(obj)
    elif isinstance(obj, tuple):  # (a generator in a tuple cannot be put back: not kept)
        items = [(i, v) for i, v in enumerate(obj) if not isinstance(v, np.random.Generator)]
    elif isinstance(obj, dict):
        items = [(k, v) for k, v in obj.items() if isinstance(k, str) and "." not in k]
    else:
        return
    for key, value in items:
        path = f"{prefix}{key}"
        if isinstance(value, np.random.Generator):
            yield path, value
        elif isinstance(value, (Layer, Sequential, list, tuple, dict)) and id(value) not in seen:
            yield from _generators(value, f"{path}.", seen)


def put_generator(layer: Any, path: str, generator: np.random.Generator) -> None:
    """Set the generator at ``path`` (as ``_generators`` names it) inside ``layer``."""
    *steps, last = path.split(".")
    holder = layer
    try:
        for step in steps:
            holder = _child(holder, step)
        found = _child(holder, last)
    except (KeyError, IndexError, ValueError, TypeError):
        found = None
    if not isinstance(found, np.random.Generator):
        raise ValueError(f"{layer!r} has no random generator {path!r}")
    if isinstance(holder, list):
        holder[int(last)] = generator
    elif isinstance(holder, dict):
        holder[last] = generator
    else:
        holder.__dict__[last] = generator


def _child(holder: Any, step: str) -> Any:
    if isinstance(holder, (list, tuple)):
        return holder[int(step)]
    if isinstance(holder, dict):
        return holder[step]
    if isinstance(holder, Sequential) and step == "layers":
        return holder.layers
    return vars(holder)[step]


def network_arrays(net: Sequential) -> dict[str, Any]:
    """The parameters (``network/<layer>.<name>``) and the layers' state, the arrays
    their ``build`` made besides params and grads (``state/<layer>.<attribute>``)."""
    from ..layers import BatchNorm

    arrays = {f"network/{k}": v for k, v in net.params.items()}
    for key, value in net.state.items():
        i, name = key.split(".", 1)
        layer = net.layers[int(i)]
        arrays[f"state/{key}"] = state_as_built(int(i), layer, name, value)
        if type(layer) is BatchNorm and not statistic_holds(name, value):  # (as load checks)
            raise ValueError(
                f"cannot save: the BatchNorm at position {i} has a {name} holding NaN, "
                "negative or infinite values (a running mean must be finite, a running "
                "variance a number >= 0), which no model file can hold"
            )
    return arrays


def build_network(spec: Any) -> Sequential:
    from .._configurable import lookup

    layers: list[Any] = []
    with decoding_layers(layers):  # (a layer holding an earlier one gets that one)
        for layer_spec in spec.layers:
            cls = lookup("layer", layer_spec.type)
            layers.append(cls.from_config(layer_spec.config))  # (which decodes the values)
    net = Sequential(layers).build(spec.n_in, random_state=LOAD_SEED, dtype=spec.dtype)
    for layer, layer_spec in zip(net.layers, spec.layers, strict=True):
        restored: dict[str, np.random.Generator] = {}
        for path, state in (layer_spec.rng or {}).items():
            same = state.get("same_as") if isinstance(state, dict) else None
            generator = restored.get(same) if same is not None else restore_generator(state)
            if generator is None:
                raise ValueError(f"{layer!r}: random generator {path!r} names no other")
            put_generator(layer, path, generator)
            restored[path] = generator
    return net


def statistic_holds(attribute: str, values: Any) -> bool:
    """Whether a BatchNorm's running statistic is one training can leave: a finite
    mean, a variance >= 0 (a float32 one may overflow to inf). Loaded otherwise, they
    predicted NaN probabilities: class 0 for every row."""
    if attribute == "running_var":
        return not (np.isnan(values).any() or values.min() < 0)
    return bool(np.isfinite(values).all())


def optimizer_spec(opt: Optimizer, param_names: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The optimizer's config and scalar state, and its per-parameter state arrays."""
    scalars, arrays = optimizer_state(opt, param_names)
    spec = typed(opt)
    return {"type": spec["type"], "config": spec["config"], "state": scalars}, arrays


def optimizer_state(opt: Optimizer, param_names: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The optimizer's scalar state (encoded) and its per-parameter state arrays
    (keyed by parameter name, as loading matches them; anything else is refused here
    rather than written into a file that would not load)."""
    scalars, arrays = {}, {}
    for key, value in opt.state.items():
        if isinstance(value, dict):
            for name, arr in value.items():
                if name not in param_names:
                    raise ValueError(
                        f"{opt!r}: state[{key!r}] is keyed by {name!r}, which names no "
                        f"parameter (they are {sorted(param_names)}); key per-parameter "
                        "state by the names step() receives in params, or it cannot be "
                        "saved and loaded (check_optimizer's state_keys check)"
                    )
                arrays[f"optimizer/{key}/{name}"] = arr
        elif isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) for v in value):
            raise TypeError(
                f"{opt!r}: state[{key!r}] is a {type(value).__name__} of {len(value)} "
                "arrays, which cannot be saved and loaded: keep per-parameter state in a "
                f"dict keyed by the names step() receives in params (state[{key!r}] = "
                "{name: array}), and other state as plain numbers (check_optimizer's "
                "state_keys check)"
            )
        else:
            scalars[key] = encode(value, f"{opt!r}.state[{key!r}]")
    problem = reserved_state_problem(opt.state)
    if problem is not None:  # (as loading refuses it: not written into a file that would not load)
        raise TypeError(
            f"{opt!r}: {problem}: layerkit reads these two entries (the step count and the "
            "scheduled step size); keep state of your own under other names"
        )
    return scalars, arrays


def build_optimizer(spec: Any) -> Optimizer:
    """The optimizer with its scalar state (its arrays are read separately)."""
    from ._values import build

    opt = build("optimizer", spec.type, spec.config)
    state = {k: decoded(v, f"optimizer.state.{k}") for k, v in spec.state.items()}
    problem = reserved_state_problem(state)
    if problem is not None:
        raise ValueError(f"optimizer.{problem}")
    opt.state = state
    return opt


def reserved_state_problem(state: Any) -> str | None:
    """What is wrong with the state entries whose meaning layerkit fixes, or None:
    ``t``, the step count (an int >= 0), and ``lr``, the scheduled step size (a
    positive number), which the estimators' schedules read and set."""
    t, lr = state.get("t", 0), state.get("lr", 1.0)
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
        return f"state['t'] must be a step count (an int >= 0), got {t!r}"
    number = isinstance(lr, (int, float, np.integer, np.floating)) and not isinstance(lr, bool)
    if not (number and 0 < lr < float("inf")):
        return f"state['lr'] must be a positive number, got {lr!r}"
    return None


def fitted_spec(est: Any) -> dict[str, Any]:
    fitted = {k: encode(getattr(est, k), k) for k in FITTED if k in est.__dict__}
    for key in ("validation_loss_curve_", "best_epoch_"):  # (left out when None: older
        if key in fitted and fitted[key] is None:  # readers read a file without them)
            del fitted[key]
    names = est.__dict__.get("feature_names_in_")
    if names is not None:
        fitted["feature_names_in_"] = [str(n) for n in names]
    cycle = est.__dict__.get("_cosine_cycle")
    if cycle is not None:  # (an unfinished cosine cycle: a resumed fit completes it)
        fitted["_cosine_cycle"] = [int(cycle[0]), int(cycle[1])]
    scoring = est.__dict__.get("_validation_scoring")
    if scoring is not None:  # (left out at the default: files older readers can read)
        from ..estimators._scoring import scoring_label

        fitted["_validation_scoring"] = scoring_label(scoring)
    binarizer = est.__dict__.get("_label_binarizer")
    if binarizer is not None:
        classes = np.asarray(est.classes_)
        values = classes.tolist()
        for v in values:
            if not isinstance(v, (bool, int, float, str)):
                raise TypeError(f"classes_ holds {v!r}: only numbers and strings can be saved")
        fitted["classes"] = {"dtype": classes.dtype.str, "values": values}
        fitted["label_type"] = str(binarizer.y_type_)
    return fitted


def fitted_problem(fitted: dict[str, Any], n_in: int | None, n_out: int | None) -> str | None:
    """What is wrong with a file's fitted records against its network's widths, or None
    (what load checks, for a look at a file without building it)."""
    names = fitted.get("feature_names_in_")
    if names is not None and n_in is not None and len(names) != n_in:
        return f"{len(names)} feature names for a network of {n_in} inputs"
    spec = fitted.get("classes")
    if not spec:
        return None
    values = spec.get("values", [])
    if len(set(map(repr, values))) != len(values):
        return f"the classes repeat a value: {values}"
    label_type = fitted.get("label_type")
    if label_type not in LABEL_TYPES:
        return f"unknown label type {label_type!r}"
    if label_type == "binary" and len(values) != 2:
        return f"{len(values)} classes for a binary classifier, which has 2"
    expected = 1 if label_type == "binary" else len(values)
    if n_out is not None and n_out != expected:
        return (
            f"{len(values)} classes ({label_type}) need {expected} outputs, the network has "
            f"{n_out}"
        )
    return None


def restore_fitted(est: Any, fitted: dict[str, Any], n_in: int) -> None:
    """Set the fitted attributes, each checked for its type and its agreement with the
    network first (a file's ``fitted`` section is data like any other)."""
    from sklearn.preprocessing import LabelBinarizer

    try:
        FittedSpec.model_validate(fitted)
    except pydantic.ValidationError as err:
        where = "; ".join(
            f"fitted.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()[:5]
        )
        raise ValueError(f"the fitted metadata do not validate: {where}") from None
    problem = fitted_problem(fitted, n_in, None)  # (the outputs: checked once built)
    if problem:
        raise ValueError(problem)
    for key in FITTED:
        if key in fitted:
            setattr(est, key, decoded(fitted[key], f"fitted.{key}"))
    if "validation_scores_" in fitted:  # (a file from before 0.3.0 records neither)
        if "validation_loss_curve_" not in fitted:
            est.validation_loss_curve_ = None
        if "best_epoch_" not in fitted:
            from ..estimators._base import recovered_best_epoch

            est.best_epoch_ = recovered_best_epoch(est.loss_curve_, est.validation_scores_)
    if "_validation_scoring" in fitted:
        est._validation_scoring = fitted["_validation_scoring"]
    if "_cosine_cycle" in fitted:
        done, epochs = fitted["_cosine_cycle"]
        if not 0 < done < epochs:
            raise ValueError(
                f"fitted._cosine_cycle: [epochs done, epochs] of an unfinished cycle, "
                f"0 < done < epochs; got {[done, epochs]}"
            )
        est._cosine_cycle = (done, epochs)
    if getattr(est, "out_activation_", None) == "sigmoid":  # (a regressor's, before 0.3.0)
        est.out_activation_ = "logistic"
    if "feature_names_in_" in fitted:
        est.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
    if "classes" in fitted:
        spec = fitted["classes"]
        dtype = np.dtype(spec["dtype"])
        if dtype.kind not in "biufUO":
            raise ValueError(f"classes of dtype {dtype} cannot be loaded")
        classes = np.asarray(spec["values"], dtype=dtype)
        if classes.ndim != 1:
            raise ValueError("classes must be a list")
        label_type = fitted.get("label_type")
        if label_type not in LABEL_TYPES:
            raise ValueError(f"unknown label type {label_type!r}")
        binarizer = LabelBinarizer()
        binarizer.classes_ = classes
        binarizer.y_type_ = label_type
        binarizer.sparse_input_ = False
        est._label_binarizer = binarizer
        est.classes_ = classes


def hyperparameters(est: Any) -> dict[str, Any]:
    """The estimator's parameters as JSON data; one added since 0.2.0 is left out at its
    default, so that releases before it read the file (it comes back as that default)."""
    from ..estimators._base import ADDED_PARAMETERS

    values = {}
    for k, v in est.get_params(deep=False).items():
        where = f"{type(est).__name__}.{k}"
        if k in ADDED_PARAMETERS and v is ADDED_PARAMETERS[k]:
            continue
        if k == "layers" and isinstance(v, (list, tuple)):  # (references between them kept)
            specs = [{"$object": spec} for spec in encode_layers(list(v), where, repeats=True)]
            values[k] = specs if isinstance(v, list) else {"$tuple": specs}
        elif k == "scoring" and callable(v):
            raise TypeError(
                f"{where} = {v!r} cannot be saved: a model file holds a scorer by its "
                "name ('f1_macro'), not a callable. scoring matters only while training: "
                "set_params(scoring=None) before saving, or give the scorer's name"
            )
        else:
            values[k] = encode(v, where)
    return values


def is_configurable(obj: Any) -> bool:
    return isinstance(obj, Configurable)
