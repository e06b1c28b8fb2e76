"""What MLPClassifier and MLPRegressor share: building the network and fitting it."""

from __future__ import annotations

import copy
import inspect
import math
import re
import warnings
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import (
    _assert_all_finite,
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from .._configurable import _plain, check_arguments
from .._contract import trusted
from .._fit_inputs import all_finite, fits_dtype
from .._plan._inference import link_in_place
from .._random import as_generator
from ..exceptions import DivergenceError
from ..layers import (
    ELU,
    GELU,
    Dense,
    Dropout,
    Exp,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from ..losses.base import Loss
from ..network import Sequential
from ..optim import SGD, Adam, Optimizer
from ..training import step_size_name
from . import _validation as v
from ._callbacks import (
    CALLBACK_STATE,
    SOLVER_STACKLEVEL,
    CallbackSupportMixin,
    FitReport,
    with_callbacks,
)
from ._lbfgs import fit_lbfgs, release_caches
from ._stochastic import fit_stochastic, step_schedule
from ._validation_data import given_validation, refuse_validation_beyond

_ACTIVATIONS: dict[str, type[Layer]] = {
    "identity": Identity,
    "logistic": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    # beyond scikit-learn's four, layerkit's built-in activations by name
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "gelu": GELU,
    "silu": SiLU,
    "softplus": Softplus,
}


def _described(hidden: list[Layer], layers: Any) -> str:
    """Hidden layers in the terms the user chose: ``hidden_layer_sizes`` and
    ``activation`` when the network was made from them, else the layers themselves."""
    names = {kind: name for name, kind in _ACTIVATIONS.items()}
    pairs = list(zip(hidden[::2], hidden[1::2], strict=False))
    if layers is not None or len(hidden) % 2 or not pairs:
        return repr(hidden)
    if not all(type(d) is Dense and type(a) in names for d, a in pairs):
        return repr(hidden)
    kinds = {type(a) for _, a in pairs}
    if len(kinds) != 1:
        return repr(hidden)
    sizes = tuple(int(d.units) for d, _ in pairs)
    return f"hidden_layer_sizes={sizes}, activation={names[kinds.pop()]!r}"


#: Layers whose output is non-finite wherever their input is (as far as it matters).
_PROPAGATES_NON_FINITE = (Dense, ReLU, LeakyReLU, Identity, Dropout)

_COMMON_RULES: dict[str, v.Rule] = {
    "hidden_layer_sizes": v.hidden_layer_sizes,
    "activation": v.options(*_ACTIVATIONS),
    "solver": v.options(
        "lbfgs", "sgd", "adam", also=(Optimizer,), also_text="a layerkit Optimizer"
    ),
    "alpha": v.interval(0, None, closed="left"),
    "batch_size": v.any_of(v.options("auto"), v.interval(1, None, integer=True)),
    "learning_rate": v.options("constant", "invscaling", "adaptive", "cosine"),
    "learning_rate_init": v.interval(0, None, closed="neither"),
    "power_t": v.interval(0, None, closed="left"),
    "max_iter": v.interval(1, None, integer=True),
    "shuffle": v.boolean,
    "random_state": v.random_state,
    "tol": v.interval(0, None, closed="left"),
    "verbose": v.any_of(v.boolean, v.interval(0, None, integer=True)),
    "warm_start": v.boolean,
    "momentum": v.interval(0, 1),
    "nesterovs_momentum": v.boolean,
    "early_stopping": v.boolean,
    "validation_fraction": v.interval(0, 1, closed="left"),
    "scoring": v.scoring,
    "beta_1": v.interval(0, 1, closed="left"),
    "beta_2": v.interval(0, 1, closed="left"),
    "epsilon": v.interval(0, None, closed="neither"),
    "n_iter_no_change": v.any_of(
        v.interval(1, None, integer=True), v.constant(math.inf, "inf"), text="an int >= 1 or inf"
    ),
    "max_fun": v.interval(1, None, integer=True),
}


def recovered_best_epoch(curve: Any, scores: Any) -> int | None:
    """The epoch early stopping kept, for a model from before ``best_epoch_``: the best
    of its scores, counted over ``loss_curve_`` (exact for one fit, and for warm starts
    scored on the same rows); None without scores."""
    if not scores or not curve:
        return None
    finite = [s if s == s else -np.inf for s in scores]  # (NaN never counts)
    return len(curve) - len(scores) + int(np.argmax(finite)) + 1


def _copied(values: list[float] | None) -> list[float] | None:
    return None if values is None else list(values)


#: Parameters added since 0.2.0, with their defaults (an older pickle has none of them).
ADDED_PARAMETERS: dict[str, Any] = {"scoring": None}


def _restore_in_place(net: Sequential, backup: Sequential) -> None:
    """Put ``backup``'s state into ``net`` without replacing its parameter arrays."""
    for layer, saved in zip(net.layers, backup.layers, strict=True):
        live = layer.params
        for name, value in saved.params.items():
            np.copyto(live[name], value)
        state = {k: v for k, v in saved.__dict__.items() if k not in ("params", "grads")}
        layer.__dict__.update(state)


class _LiveList(list):
    """``coefs_``/``intercepts_``: assigning an item copies it into the network."""

    def __init__(self, arrays: list[Any], layers: list[Dense], name: str) -> None:
        super().__init__(arrays)
        self._layers, self._name = layers, name

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            raise TypeError(f"assign {self._name} arrays one at a time")
        _assign([self._layers[index]], self._name, [value])
        super().__setitem__(index, self._layers[index].params[self._name])


def _assign(layers: list[Dense], name: str, values: list[Any]) -> None:
    """Copy ``values`` into the layers' live arrays (shapes must match)."""
    if len(values) != len(layers):
        raise ValueError(f"expected {len(layers)} arrays for {name!r}, got {len(values)}")
    for layer, value in zip(layers, values, strict=True):
        target = layer.params[name]
        value = np.asarray(value)
        if value.shape != target.shape:
            raise ValueError(
                f"{layer!r}: expected {name} of shape {target.shape}, got {value.shape}"
            )
        np.copyto(target, value, casting="same_kind")


def _check_layers(value: Any) -> bool:
    return value is None or (
        isinstance(value, (list, tuple)) and all(isinstance(x, Layer) for x in value)
    )


_check_layers.text = "None or a list of layerkit Layer objects"  # type: ignore[attr-defined]


_LAYER_KEY = re.compile(r"layers__(?P<index>0|[1-9][0-9]*)(?:__(?P<argument>\w+))?", re.ASCII)


def _to_unit_scale(weights: Any) -> tuple[Any, int]:
    """``weights`` times the power of two, ``2**shift``, that brings the largest into
    [1, 2), and ``shift``: exact (``ldexp``, subnormal weights too), so a weighted mean
    is unchanged. ``weights`` is not modified (None, or nothing positive: as is)."""
    if weights is None or not weights.size:
        return weights, 0
    top = float(np.max(weights))
    if not 0.0 < top < np.inf:
        return weights, 0
    shift = 1 - int(np.frexp(top)[1])  # (frexp: top = f 2^e with f in [0.5, 1))
    if shift == 0:
        return weights, 0
    return np.ldexp(weights, shift).astype(weights.dtype, copy=False), shift


def _nested_params(prefix: str, layers: Any) -> dict[str, Any]:
    """``<prefix>__<i>`` for each layer and its arguments (``_layer_params``)."""
    found: dict[str, Any] = {}
    for i, layer in enumerate(layers):
        found[f"{prefix}__{i}"] = layer
        if isinstance(layer, Layer):
            found.update(_layer_params(f"{prefix}__{i}", layer))
    return found


def _layer_params(prefix: str, layer: Layer) -> dict[str, Any]:
    """``<prefix>__<argument>`` for each argument of ``layer``, and so on into arguments
    that are layers or lists of them (the layers inside a block:
    ``layers__0__inner__1__units``)."""
    found: dict[str, Any] = {}
    for key, value in layer.get_params().items():
        name = f"{prefix}__{key}"
        found[name] = value
        if isinstance(value, Layer):
            found.update(_layer_params(name, value))
        elif isinstance(value, (list, tuple)) and any(isinstance(v, Layer) for v in value):
            found.update(_nested_params(name, value))
    return found


def _set_inside(owner: str, key: str, layer: Layer, path: list[str], value: Any) -> Layer:
    """A copy of ``layer`` with the argument ``path`` leads to set to ``value``: its own
    argument (one name), or one inside an argument that is a layer or a list of them."""
    name, rest = path[0], path[1:]
    if not rest:
        return copy.deepcopy(layer).set_params(**{name: value})
    known = layer.get_params()
    if name not in known:
        return copy.deepcopy(layer).set_params(**{name: value})  # (its error names it)
    held = known[name]
    if isinstance(held, Layer):
        return copy.deepcopy(layer).set_params(
            **{name: _set_inside(owner, key, held, rest, value)}
        )
    if isinstance(held, (list, tuple)) and rest[0].isdigit():
        j = int(rest[0])
        if j >= len(held) or not (len(rest) == 1 or isinstance(held[j], Layer)):
            raise ValueError(
                f"{owner}: cannot set {key!r}: {type(layer).__name__}'s {name} has "
                f"{len(held)} entries, and entry {j} is "
                f"{'missing' if j >= len(held) else repr(held[j])}"
            )
        items = list(held)
        items[j] = value if len(rest) == 1 else _set_inside(owner, key, held[j], rest[1:], value)
        return copy.deepcopy(layer).set_params(**{name: type(held)(items)})
    if isinstance(held, (list, tuple)):
        raise ValueError(
            f"{owner}: cannot set {key!r}: after {name!r} comes the index of an entry of "
            f"{type(layer).__name__}'s {name} (0 to {len(held) - 1}), got {rest[0]!r}"
        )
    raise ValueError(
        f"{owner}: cannot set {key!r}: {type(layer).__name__}'s {name} is {held!r}, which "
        "holds no layers"
    )


def _with_layer_params(owner: str, layers: Any, params: dict[str, Any]) -> Any:
    """A copy of ``layers`` with ``layers__<i>`` replaced and ``layers__<i>__<arg>`` set
    (on copies of the layers: the caller's objects stay as they are), arguments of the
    layers inside a layer's arguments too (``layers__<i>__<arg>__<j>__<arg>``)."""
    if not isinstance(layers, (list, tuple)):
        raise ValueError(
            f"{owner}: cannot set {next(iter(params))!r}: layers is {layers!r}, not a list "
            "of layers (the hidden layers then come from hidden_layer_sizes and "
            "activation); set layers to a list first"
        )
    new = list(layers)
    changes: dict[int, dict[str, Any]] = {}
    inside: list[tuple[str, int, list[str], Any]] = []
    for key, value in sorted(params.items(), key=lambda kv: kv[0].count("__")):
        found = _LAYER_KEY.fullmatch(key)
        if found is None:
            raise ValueError(
                f"{owner}: invalid parameter {key!r}: expected layers__<index> or "
                "layers__<index>__<argument>, the index a number from 0"
            )
        i, argument = int(found["index"]), found["argument"]
        if i >= len(new):
            have = f"indices 0 to {len(new) - 1}" if new else "it is empty"
            raise ValueError(
                f"{owner}: {key!r} names layer {i}, but layers has {len(new)} entries ({have})"
            )
        if argument is None:
            new[i] = value
            continue
        if not isinstance(new[i], Layer):
            raise ValueError(f"{owner}: cannot set {key!r}: layers[{i}] is {new[i]!r}")
        if "__" in argument:  # inside an argument: after the layer's own, one at a time
            inside.append((key, i, argument.split("__"), value))
        else:
            changes.setdefault(i, {})[argument] = value
    for i, arguments in changes.items():
        new[i] = copy.deepcopy(new[i]).set_params(**arguments)
    for key, i, path, value in inside:
        new[i] = _set_inside(owner, key, new[i], path, value)
    return type(layers)(new)


def _same_shape(a: Layer, b: Layer) -> bool:
    """Same class and width: a fitted layer can go on training as the one asked for."""
    return type(a) is type(b) and getattr(a, "units", None) == getattr(b, "units", None)


def _same_arguments(a: Layer, b: Layer) -> bool:
    """Equal constructor arguments (arrays compared by value)."""
    pa, pb = a.get_params(), b.get_params()
    if pa.keys() != pb.keys():
        return False
    for key, value in pa.items():
        other = pb[key]
        if isinstance(value, np.ndarray) or isinstance(other, np.ndarray):
            same = np.array_equal(value, other)
        else:
            try:
                same = bool(value == other)
            except Exception:  # no plain truth value
                same = False
            # objects compared by identity (an exception, say): equal if shown the same
            same = same or repr(value) == repr(other)
        if not same:
            return False
    return True


#: The estimator parameters an Optimizer object given as ``solver`` replaces.
_OPTIMIZER_ARGUMENTS = (
    "learning_rate_init",
    "momentum",
    "nesterovs_momentum",
    "beta_1",
    "beta_2",
    "epsilon",
)


class BaseMLP(CallbackSupportMixin, BaseEstimator):
    """Shared machinery of the layerkit MLP estimators (use the subclasses)."""

    #: Rules of the parameters a subclass adds (``loss``, ``class_weight``).
    _extra_rules: ClassVar[dict[str, v.Rule]] = {}
    _y_numeric: ClassVar[bool] = True

    layers: Any
    hidden_layer_sizes: Any
    activation: str

    # fitted state
    network_: Sequential
    n_iter_: int
    t_: int
    loss_: float
    loss_curve_: list[float]
    best_loss_: float | None
    validation_scores_: list[float] | None
    validation_loss_curve_: list[float] | None
    best_validation_score_: float | None
    best_epoch_: int | None
    out_activation_: str
    _optimizer: Optimizer | None
    _loss: Loss

    def _validated_xy(self, X: Any, y: Any, *, reset: bool) -> tuple[Any, Any]:
        """``X`` and ``y`` through scikit-learn's ``validate_data`` as ``fit`` takes them
        (training data, or validation data with ``reset=False``): sparse X as CSR,
        sparse targets of a regressor as their values."""
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
            y_numeric=self._y_numeric,
        )
        if hasattr(X, "tocsr"):
            X = X.tocsr()  # batches are rows: CSR gathers them cheaply
        if self._y_numeric and hasattr(y, "toarray"):
            y = np.asarray(y.toarray(), dtype=np.float64)  # sparse targets: their values
        return X, y

    # ----------------------------------------------------------------- subclass hooks
    def _check_raw_targets(self, y: Any, name: str = "y") -> None:
        """Checks of ``y`` (or ``y_val``: ``name``) as the user gave it, before
        scikit-learn converts it."""

    def _validate_targets(
        self, y: Any, *, first_pass: bool, incremental: bool, classes: Any = None
    ) -> Any:
        raise NotImplementedError

    def _training_targets(self, y: Any) -> Any:
        """Validated targets ``y`` as the network trains on them (a 2-d float array)."""
        raise NotImplementedError

    def _output(self, n_outputs: int) -> tuple[Layer, Loss, str]:
        """The output activation layer, the loss, and scikit-learn's name for the former."""
        raise NotImplementedError

    def _extra_sample_weight(self, y: Any, incremental: bool) -> Any:
        return None

    def _check_validation_targets(self, y_val: Any) -> None:
        """Refuse validation targets the fitted targets do not allow (a classifier: a
        label not in y)."""

    def _validation_class_weight(self, y: Any, y_val: Any) -> Any:
        """The class weights of the validation rows, as ``y``'s rows get them, or None."""
        return None

    def _score_outputs(self, out: Any, y: Any, sample_weight: Any) -> float:
        """The estimator's score (accuracy, R²) of the network's outputs on validated y."""
        raise NotImplementedError

    # ----------------------------------------------------------------- parameters
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's parameters; with ``deep``, also those of the objects it holds:
        ``solver__learning_rate``, ``loss__delta``, and for a ``layers`` list
        ``layers__<i>`` (the i-th layer) and ``layers__<i>__<argument>``, and on into
        arguments that are layers or lists of them (``layers__<i>__inner__<j>__units``)."""
        params = super().get_params(deep=deep)
        layers = params.get("layers")
        if deep and isinstance(layers, (list, tuple)):
            params.update(_nested_params("layers", layers))
        return params

    def set_params(self, **params: Any) -> BaseMLP:
        """Set parameters, nested ones included (``solver__learning_rate=0.01``,
        ``layers__0__units=64``, ``layers__1=Tanh()``). A layer is never changed in
        place: ``layers`` becomes a new list holding a changed copy of it."""
        owner = type(self).__name__
        in_layers = {k: params.pop(k) for k in list(params) if k.startswith("layers__")}
        for key in params:
            prefix = key.split("__", 1)[0]
            holder = params.get(prefix, self.__dict__.get(prefix))
            if "__" in key and prefix in self.__dict__ and not hasattr(holder, "set_params"):
                raise ValueError(
                    f"{owner}: cannot set {key!r}: {prefix} is {holder!r}, which has no "
                    f"parameters of its own; give {prefix} a layerkit object to set its "
                    "arguments one by one"
                )
        if in_layers:  # (checked in full before anything is set)
            layers = params.get("layers", self.__dict__.get("layers"))
            params["layers"] = _with_layer_params(owner, layers, in_layers)
        super().set_params(**params)
        return self

    # ----------------------------------------------------------------- validation
    def _validate_held_objects(self) -> None:
        """Check the arguments of the layer, loss and optimizer objects held, as their
        constructors did: one changed after it was made (``opt.learning_rate = -1``)
        would otherwise train a broken model that cannot be saved or cloned."""
        held = [(f"layers[{i}]", layer) for i, layer in enumerate(self.layers or ())]
        held += [("loss", self.loss), ("solver", self.solver)]
        check_arguments(
            held,
            f"{type(self).__name__}: {{where}} has an invalid argument (checked at fit, as its "
            "constructor checks it): {problem}",
            v.InvalidParameterError,
        )

    def _validate_params(self) -> None:
        rules = dict(_COMMON_RULES)
        rules["layers"] = _check_layers
        rules.update(self._extra_rules)
        v.check_params(type(self).__name__, self.get_params(deep=False), rules)
        self._validate_held_objects()
        if self.layers is not None:
            last = self.layers[-1] if len(self.layers) else None
            if isinstance(last, (Softmax, Exp)):
                warnings.warn(
                    f"{type(self).__name__}: layers ends in {last!r}, but the estimator "
                    "appends its own output layer (a Dense layer with one unit per output "
                    "and the task's activation) after your layers, so this becomes a hidden "
                    "layer; leave the output layer out of layers",
                    UserWarning,
                    stacklevel=SOLVER_STACKLEVEL - 1,  # _validate_params is called by _fit
                )
            sizes = self.hidden_layer_sizes
            ignored = []
            if ([sizes] if np.ndim(sizes) == 0 else list(sizes)) != [100]:
                ignored.append(f"hidden_layer_sizes={sizes!r}")
            if self.activation != "relu":
                ignored.append(f"activation={self.activation!r}")
            self._warn_ignored(
                ignored, "layers replaces hidden_layer_sizes and activation", "layers=None"
            )
        if isinstance(self.solver, Optimizer):
            defaults = inspect.signature(type(self).__init__).parameters
            ignored = [
                f"{name}={_plain(getattr(self, name))!r}"
                for name in _OPTIMIZER_ARGUMENTS
                if getattr(self, name) != defaults[name].default
            ]
            self._warn_ignored(
                ignored,
                f"the {type(self.solver).__name__} object given as solver has its own settings",
                "solver='sgd' or 'adam' (or set the object's own arguments: "
                f"{self.solver!r}, e.g. solver__learning_rate)",
            )

    def _warn_ignored(self, ignored: list[str], reason: str, remedy: str) -> None:
        """Warn that parameters set away from their defaults are ignored (as scikit-learn
        warns of C ignored under penalty=None)."""
        if ignored:
            warnings.warn(
                f"{type(self).__name__}: {reason}, so {' and '.join(ignored)} "
                f"{'are' if len(ignored) > 1 else 'is'} ignored; leave them at their "
                f"defaults, or set {remedy}",
                UserWarning,
                stacklevel=SOLVER_STACKLEVEL,  # called by _validate_params, called by _fit
            )

    def _is_stochastic(self) -> bool:
        return not (isinstance(self.solver, str) and self.solver == "lbfgs")

    def _has_partial_fit(self) -> bool:
        """``partial_fit`` exists for the stochastic solvers only (as in scikit-learn's
        MLPClassifier); the AttributeError hasattr needs carries why, as its cause."""
        if not self._is_stochastic():
            raise AttributeError(
                f"{type(self).__name__}.partial_fit trains one epoch of mini-batches, with "
                "solver='sgd', 'adam' or an Optimizer object; solver='lbfgs' minimizes the "
                "full-batch loss: call fit (with warm_start=True it continues from the "
                "fitted weights)"
            )
        return True

    # ----------------------------------------------------------------- building
    def _gain(self) -> float:
        # scikit-learn draws U(±sqrt(6/(fan_in+fan_out))), or ±sqrt(2/...) for logistic
        logistic = self.layers is None and self.activation == "logistic"
        return math.sqrt(1.0 / 3.0) if logistic else 1.0

    def _hidden_layers(self) -> list[Layer]:
        if self.layers is not None:
            # one copy of the list (objects the layers share stay shared, a skip
            # connection's, say), in which one layer object at two positions becomes two
            # layers, as sklearn.base.clone makes it (fit refused what a
            # cross-validation accepted)
            layers = copy.deepcopy(list(self.layers))
            seen: set[int] = set()
            for i, layer in enumerate(layers):
                if id(layer) in seen:
                    layers[i] = copy.deepcopy(layer)
                seen.add(id(layer))
            return layers
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if np.ndim(sizes) == 0 else list(sizes)
        activation = _ACTIVATIONS[self.activation]
        hidden: list[Layer] = []
        for width in sizes:
            hidden += [Dense(int(width), gain=self._gain(), bias_init="uniform"), activation()]
        return hidden

    def _build_network(self, n_features: int, n_outputs: int, dtype: Any, rng: Any) -> Sequential:
        out_activation, loss, name = self._output(n_outputs)
        layers = [
            *self._hidden_layers(),
            Dense(n_outputs, gain=self._gain(), bias_init="uniform"),
            out_activation,
        ]
        try:
            net = Sequential(layers)
        except ValueError as error:  # (named as the user wrote it: layers, by position)
            text = str(error).removeprefix("Sequential: ")
            raise ValueError(f"{type(self).__name__}: layers: {text}") from None
        net.build(n_features, random_state=rng, dtype=dtype)
        first_seen: dict[int, int] = {}
        for i, layer in enumerate(self.layers or []):
            j = first_seen.setdefault(id(layer), i)
            if j == i or not net.layers[i].params:  # (a ReLU twice is two ReLUs)
                continue
            warnings.warn(
                f"{type(self).__name__}: the same {self.layers[i]!r} object is at positions "
                f"{j} and {i} of layers; it trains as two layers with weights of their own "
                "(layers do not share weights): write it twice to say so, or write a layer "
                "that applies one set of weights twice",
                UserWarning,
                stacklevel=SOLVER_STACKLEVEL,  # (called by _fit_unchecked, as a solver is)
            )
            break
        self._warn_of_built_layers()
        self._loss, self.out_activation_ = loss, name
        return net

    def _warn_of_built_layers(self) -> None:
        """A layer given built (from a fitted network: ``clf.network_.layers[0]``) has
        its weights drawn afresh by this fit, as every hyperparameter object is copied:
        a user expecting transfer learning is told, once."""
        for i, layer in enumerate(self.layers or []):
            if "_n_in" not in layer.__dict__:  # (never built: reading params could add one)
                continue
            params = getattr(layer, "params", None)
            if isinstance(params, dict) and any(np.size(p) for p in params.values()):
                warnings.warn(
                    f"{type(self).__name__}: layers[{i}] ({layer!r}) holds weights already "
                    "(a layer of a built or fitted network); fit builds the network "
                    "afresh from the layers' arguments, so random_state draws new "
                    "weights and these are not used. To train on from fitted weights, fit "
                    "the fitted estimator again with warm_start=True (or partial_fit)",
                    UserWarning,
                    stacklevel=SOLVER_STACKLEVEL + 1,  # (the user's call of fit)
                )
                return

    def _make_optimizer(self) -> Optimizer:
        if isinstance(self.solver, Optimizer):
            return copy.deepcopy(self.solver)
        if self.solver == "sgd":
            return SGD(
                learning_rate=self.learning_rate_init,
                momentum=self.momentum,
                nesterov=self.nesterovs_momentum and self.momentum > 0,
            )
        return Adam(
            learning_rate=self.learning_rate_init,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
        )

    def _learning_rate_name(self) -> str:
        """How a message names the step size: the estimator's parameter, or the
        optimizer object's own."""
        if not isinstance(self.solver, Optimizer):
            return "learning_rate_init"
        return step_size_name(self.solver)

    def _continued_optimizer(self) -> Optimizer:
        """A new optimizer from the current hyperparameters that keeps the old state."""
        new = self._make_optimizer()
        old = getattr(self, "_optimizer", None)
        if old is not None and type(old) is type(new):
            state = copy.deepcopy(old.state)
            missing = object()  # (an optimizer of the user's may have no learning_rate)
            schedule = step_schedule(self)
            if (
                getattr(old, "learning_rate", missing) != getattr(new, "learning_rate", missing)
                or getattr(self, "_schedule_fitted", schedule) != schedule
            ):
                _restart_velocity(new, state)
                state.pop("lr", None)  # a new learning rate or schedule restarts it
            new.state = state
        return new

    def _check_continuable(self, net: Sequential, n_outputs: int, incremental: bool) -> None:
        """A continued fit (warm_start, partial_fit) trains the fitted network with the
        current loss; refuse what it cannot honour: hidden layers of other classes or
        widths, or a loss that needs another output layer."""
        owner = type(self).__name__
        wanted, fitted = self._hidden_layers(), net.layers[:-2]
        if len(wanted) != len(fitted) or not all(
            _same_shape(a, b) for a, b in zip(wanted, fitted, strict=False)
        ):
            raise ValueError(
                f"{owner}: the hidden layers asked for ({_described(wanted, self.layers)}) "
                f"are not those of the fitted network ({_described(fitted, self.layers)}); "
                "a continued fit (warm_start=True or partial_fit) trains the fitted network, "
                f"so {_start_over(incremental)} to train the new architecture"
            )
        for asked, layer in zip(wanted, fitted, strict=True):
            if _same_arguments(asked, layer):
                continue
            if not trusted(layer):  # your layer's arguments may shape its built state
                raise ValueError(
                    f"{owner}: a continued fit cannot change the arguments of {layer!r} "
                    f"(asked for {asked!r}); {_start_over(incremental)}"
                )
            layer.set_params(**asked.get_params())  # a dropout rate, a slope: from now on
        _, loss, name = self._output(n_outputs)
        if self.out_activation_ == "sigmoid":  # (a regressor pickled before 0.3.0)
            self.out_activation_ = "logistic"
        if name != self.out_activation_:
            raise ValueError(
                f"{owner}: the loss {self.loss!r} needs the output activation {name!r}, but "
                f"the fitted network ends in {self.out_activation_!r}; "
                f"{_start_over(incremental)}"
            )
        self._loss = loss  # a changed loss (same output) takes effect

    # ----------------------------------------------------------------- fitting
    @with_callbacks
    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        *,
        incremental: bool,
        classes: Any = None,
        validation: tuple[Any, Any, Any] = (None, None, None),
    ) -> BaseMLP:
        self._validate_params()
        saved = dict(self.__dict__)
        # a continued fit trains the live network in place (arrays taken from coefs_
        # keep tracking the model), so keep a copy to roll back to
        backup = copy.deepcopy(saved["network_"]) if "network_" in saved else None
        try:
            self._fit_unchecked(
                X,
                y,
                sample_weight,
                incremental=incremental,
                classes=classes,
                validation=validation,
            )
        except BaseException:
            # all or nothing: the estimator is left exactly as it was before the call
            # (but for the callbacks' bookkeeping, which their teardown still needs)
            running = {k: self.__dict__[k] for k in CALLBACK_STATE if k in self.__dict__}
            self.__dict__.clear()
            self.__dict__.update(saved)
            self.__dict__.update(running)
            if backup is not None:
                _restore_in_place(saved["network_"], backup)
            raise
        return self

    def _fit_unchecked(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        *,
        incremental: bool,
        classes: Any,
        validation: tuple[Any, Any, Any] = (None, None, None),
    ) -> None:
        first_pass = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        self._check_raw_targets(y)
        X, y = self._validated_xy(X, y, reset=first_pass)
        Y = self._validate_targets(
            y, first_pass=first_pass, incremental=incremental, classes=classes
        )
        if y.ndim == 2 and y.shape[1] == 1 and not hasattr(y, "toarray"):
            # a column vector (warned of above) is the 1-D y from here on, as in
            # scikit-learn: the validation split stratifies it, early stopping scores on it
            y = y.ravel()
        sw, l2 = self._sample_weight(sample_weight, X, y, incremental)
        given = given_validation(self, y, *validation)
        n_tasks = 1 if incremental else self.max_iter
        report = FitReport(self, n_tasks, X, y, sample_weight)
        report.begin()
        rng = as_generator(self.random_state)
        init_rng, shuffle_rng, split_rng = rng.spawn(3)
        if first_pass:
            net = self._build_network(X.shape[1], Y.shape[1], X.dtype, init_rng)
            self._shuffle_rng = shuffle_rng
            self._reset_progress()
        else:
            net = self.network_
            if Y.shape[1] != net.n_out_:
                raise ValueError(
                    f"{type(self).__name__} was fitted with {net.n_out_} outputs, y has "
                    f"{Y.shape[1]}; {_start_over(incremental)}"
                )
            self._check_continuable(net, Y.shape[1], incremental)
            self._shuffle_rng = copy.deepcopy(self._shuffle_rng)
            self._adapt_progress()
            self.loss_curve_ = list(getattr(self, "loss_curve_", []))
            if self.validation_scores_ is not None:
                self.validation_scores_ = list(self.validation_scores_)
                # (a model from before 0.3.0 has scores and no loss curve: it starts now)
                self.validation_loss_curve_ = list(
                    self.__dict__.get("validation_loss_curve_") or []
                )
        self._refuse_targets_beyond(Y, net.dtype, first_pass)  # (before any cast)
        if given is not None:
            refuse_validation_beyond(self, given[0], net.dtype)
        if X.dtype != net.dtype:  # (float64 X continuing a model fitted on float32 X)
            with np.errstate(over="ignore"):  # (values beyond its range: refused below)
                cast = X.astype(net.dtype)
            if not all_finite(cast.data if hasattr(cast, "tocsr") else cast):
                self._refuse_non_finite(X, cast, "the training diverge")
            X, Y = cast, Y.astype(net.dtype)
        if hasattr(X, "tocsr") and not isinstance(net.layers[0], Dense):
            raise TypeError(
                f"{type(self).__name__}: sparse X needs a Dense first layer, got "
                f"{net.layers[0]!r}; pass a dense array or start `layers` with Dense"
            )
        if self._is_stochastic():
            optimizer = self._make_optimizer() if first_pass else self._continued_optimizer()
            fit_stochastic(
                self,
                net,
                optimizer,
                X,
                Y,
                y,
                sw,
                incremental=incremental,
                continued=not first_pass,
                split_rng=split_rng,
                report=report,
                l2=l2,
                validation=given,
            )
            self._optimizer = optimizer
            self._schedule_fitted = step_schedule(self)  # (what the state's rate followed)
        else:
            self.__dict__.pop("_cosine_cycle", None)  # (another schedule trained)
            fit_lbfgs(self, net, X, Y, sw, report=report, l2=l2)
        release_caches(net)
        if not all(np.isfinite(p).all() for p in net.params.values()):
            raise DivergenceError(
                f"{type(self).__name__}: training produced non-finite weights. Lower the "
                f"learning rate ({self._learning_rate_name()}), or scale the inputs (for "
                "instance with sklearn.preprocessing.StandardScaler)."
            )
        self._set_network(net)
        report.end()

    def _fitted_attributes(
        self,
        net: Sequential,
        params: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
        optimizer: Optimizer | None = None,
    ) -> dict[str, Any]:
        """What a copy of this estimator needs to predict with a copy of ``net``, and to
        be saved and trained on from there as the estimator itself would be.

        ``params`` (if not empty) replace the copy's parameters, by name, and ``state``
        its layers' state (keys as in ``Sequential.state``). The copy gets its own
        ``optimizer`` state, shuffling generator and histories (a shallow copy of the
        estimator would share them, and see them move on with the fit).
        """
        snapshot = copy.deepcopy(net)
        for name, value in (params or {}).items():
            np.copyto(snapshot.params[name], value)
        snapshot._set_state(state or {})
        n_dense = sum(isinstance(layer, Dense) for layer in net.layers)
        attributes = {
            "network_": snapshot,
            "n_layers_": n_dense + 1,
            "n_outputs_": net.n_out_,
            "loss_curve_": list(self.loss_curve_),
            "validation_scores_": None
            if self.validation_scores_ is None
            else list(self.validation_scores_),
            "validation_loss_curve_": _copied(self.__dict__.get("validation_loss_curve_")),
        }
        if optimizer is not None:
            attributes["_optimizer"] = copy.deepcopy(optimizer)
            attributes["_schedule_fitted"] = step_schedule(self)  # (what its rate follows)
        if "_shuffle_rng" in self.__dict__:
            attributes["_shuffle_rng"] = copy.deepcopy(self._shuffle_rng)
        # the copy is a model, not the running fit: without the callbacks and their fit's
        # context (a checkpoint callback pickling it pickled itself, with every earlier
        # checkpoint: twice the size each epoch)
        attributes["_skl_callbacks"] = []
        attributes.update({name: None for name in CALLBACK_STATE if name in self.__dict__})
        return attributes

    def _reset_progress(self) -> None:
        self.__dict__.pop("_cosine_cycle", None)  # (a fit from scratch: no cycle to finish)
        self.best_epoch_ = None
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self._optimizer = None
        if self.early_stopping and self._is_stochastic():
            self.validation_scores_ = []
            self.validation_loss_curve_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_: float | None = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.validation_loss_curve_ = None
            self.best_validation_score_ = None

    def _adapt_progress(self) -> None:
        """A continued fit may switch early stopping on or off: set up what it tracks,
        and leave what it no longer tracks as a fit that never tracked it would
        (``validation_scores_`` then holds the scores of the last epochs only)."""
        early = self.early_stopping and self._is_stochastic()
        if early and self.validation_scores_ is None:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
            self.validation_loss_curve_ = []
            self.best_epoch_ = None  # (the last epoch trained: set as the fit starts)
            self.best_loss_ = None
            self._no_improvement_count = 0
        elif not early and self.validation_scores_ is not None:
            self.validation_scores_ = self.best_validation_score_ = None
            self.validation_loss_curve_ = None
            self.best_epoch_ = None
            self.best_loss_ = np.inf
            self._no_improvement_count = 0

    def _sample_weight(
        self, sample_weight: Any, X: Any, y: Any, incremental: bool
    ) -> tuple[Any, float]:
        """The weights as training takes them, and the L2 factor ``alpha`` to train with.

        Weights are scaled by a power of two that brings the largest into [1, 2), and
        ``alpha`` by the same (exactly, so nothing else changes): the weighted mean of
        the loss is the same, and so is alpha's L2 term, divided by the weights' sum,
        but weights as large as 1e306 no longer overflow the loss (a divergence blamed
        on the learning rate) nor 1e308 their sum."""
        # each factor is scaled in float64, then cast to X's dtype (a float32 1e39 would
        # be infinite), then their product is scaled: the shifts add up for alpha
        sw, shift = None, 0
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X, dtype=np.float64)
            if not (sw >= 0).all():
                raise ValueError(
                    f"{type(self).__name__}: sample_weight must be non-negative (a weighted "
                    f"mean needs it), got a minimum of {float(np.min(sw))!r}"
                )
            sw, shift = _to_unit_scale(sw)
            sw = sw.astype(X.dtype, copy=False)
        extra = self._extra_sample_weight(y, incremental)
        if extra is not None:
            extra, more = _to_unit_scale(np.asarray(extra, dtype=np.float64))
            extra = extra.astype(X.dtype, copy=False)
            sw, last = _to_unit_scale(extra if sw is None else sw * extra)
            shift += more + last
        given = [
            name
            for name, value in (("sample_weight", sample_weight), ("class_weight", extra))
            if value is not None
        ]
        try:
            l2 = math.ldexp(float(self.alpha), shift)  # (once: exact unless it overflows)
        except OverflowError:
            raise ValueError(
                f"{type(self).__name__}: alpha={self.alpha!r}'s L2 term is divided by the "
                f"sum of the weights, and {' and '.join(given)} make that sum so small "
                f"(about 2**{-shift}) that it overflows; only the weights' ratios matter "
                "to the loss: rescale them, e.g. to a mean of 1, or lower alpha"
            ) from None
        if sw is not None and not sw.sum() > 0:
            raise ValueError(
                f"{type(self).__name__}: sample weights must have a positive sum, got "
                f"{float(sw.sum())} (weights from {' times '.join(given)}); at least one "
                "example must count"
            )
        return sw, l2

    def _set_network(self, net: Sequential) -> None:
        """Commit the trained network."""
        self.network_ = net
        self.n_layers_ = len(self._dense_layers()) + 1
        self.n_outputs_ = net.n_out_

    def _dense_layers(self) -> list[Dense]:
        if "network_" not in self.__dict__:
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet")
        return [layer for layer in self.network_.layers if isinstance(layer, Dense)]

    @property
    def coefs_(self) -> list[Any]:
        """The live weight arrays ``W`` of the Dense layers, shape ``(fan_in, fan_out)``."""
        dense = self._dense_layers()
        return _LiveList([layer.params["W"] for layer in dense], dense, "W")

    @coefs_.setter
    def coefs_(self, values: list[Any]) -> None:
        _assign(self._dense_layers(), "W", values)

    @property
    def intercepts_(self) -> list[Any]:
        """The live bias arrays ``b`` of the Dense layers, shape ``(fan_out,)``."""
        dense = self._dense_layers()
        return _LiveList([layer.params["b"] for layer in dense], dense, "b")

    @intercepts_.setter
    def intercepts_(self, values: list[Any]) -> None:
        _assign(self._dense_layers(), "b", values)

    # ----------------------------------------------------------------- predicting
    def _network_output(self, X: Any, *, logits: bool = False, check_input: bool = True) -> Any:
        """The network's output on X (the last layer's input when ``logits``).

        When every hidden layer carries NaN and infinity through to the logits (Dense,
        ReLU, LeakyReLU, Identity, Dropout), the scan of X for them is replaced by a
        scan of the far smaller logits: a non-finite input shows up there, and then X
        is scanned for the usual error. That saves a whole pass over X. Otherwise X is
        scanned as the network takes it, cast to its dtype: float64 values beyond
        float32's range become infinite in a float32 network, and are refused too.
        """
        check_is_fitted(self)
        net = self.network_
        if not check_input:
            return net._predict_checked(X, logits=logits)
        deferred = all(type(layer) in _PROPAGATES_NON_FINITE for layer in net.layers[:-1])
        X = validate_data(
            self, X, accept_sparse=["csr", "csc"], reset=False, ensure_all_finite=False
        )
        # (X keeps its dtype: the network casts it a chunk at a time, as a whole cast
        # would; only a refusal below makes the whole cast, to name what it finds)
        if not deferred:
            if not all_finite(X) or not fits_dtype(X, net.dtype):
                self._refuse_non_finite(X, _cast(X, net.dtype))
            return net._predict_checked(X, logits=logits)
        if not fits_dtype(X, net.dtype):  # (before the network's own, shorter message)
            self._refuse_non_finite(X, _cast(X, net.dtype))
        with np.errstate(invalid="ignore", over="ignore"):  # (a NaN in X is reported below)
            z = net._predict_checked(X, logits=True)
        if not np.isfinite(z).all():
            self._refuse_non_finite(X, _cast(X, net.dtype))
        if logits:
            return z
        if not link_in_place(net.layers[-1], z):  # (a layer of the user's: its forward)
            net._replace_caches("predict")
            return net.layers[-1].forward(z)
        return z

    def _refuse_targets_beyond(self, Y: Any, dtype: Any, first_pass: bool) -> None:
        """A ValueError if the targets hold values the network's dtype cannot (float64
        targets beyond float32's range, with float32 X): training on them as infinities
        was reported as a divergence, with advice to lower the learning rate."""
        dtype = np.dtype(dtype)
        if Y.dtype == dtype or np.dtype(Y.dtype).itemsize <= dtype.itemsize:
            return
        largest = float(np.abs(Y).max()) if Y.size else 0.0
        if largest <= float(np.finfo(dtype).max):
            return
        raise ValueError(
            f"{type(self).__name__}: y holds values beyond the range of {dtype.name} "
            f"(largest magnitude {largest:.3g}; {dtype.name} reaches "
            f"{float(np.finfo(dtype).max):.3g}), but the network computes in {dtype.name}, "
            f"the dtype of {'X' if first_pass else 'the X it was fitted on'}, where they "
            "would be infinite. Rescale y, or fit on float64 X (X.astype(np.float64)) for "
            "a network that computes in float64."
        )

    def _refuse_non_finite(self, X: Any, cast: Any, outcome: str = "the predictions NaN") -> None:
        """scikit-learn's error if ``X`` holds NaN or infinity; a ValueError if it holds
        values that ``cast``, X in the network's dtype, cannot (float64 values beyond
        float32's range, in a network fitted on float32 X). Returns if neither."""
        values = X.data if hasattr(X, "tocsr") else X
        _assert_all_finite(values, input_name="X", estimator_name=type(self).__name__)
        cast_values = cast.data if hasattr(cast, "tocsr") else cast
        if cast_values is values or all_finite(cast_values):
            return
        dtype = np.dtype(self.network_.dtype)
        beyond = np.abs(values) > np.finfo(dtype).max
        raise ValueError(
            f"{type(self).__name__}: X holds {int(beyond.sum())} value(s) beyond the range "
            f"of {dtype.name} (largest magnitude {float(np.abs(values).max()):.3g}; "
            f"{dtype.name} reaches {float(np.finfo(dtype).max):.3g}), but the network "
            f"computes in {dtype.name}, the dtype of the X it was fitted on, where they "
            f"would be infinite and {outcome}. Rescale X as it was at fit (for "
            "instance with sklearn.preprocessing.StandardScaler), or fit on float64 X "
            "(X.astype(np.float64)) for a network that computes in float64."
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        """An estimator pickled before a parameter was added gets its default (0.2.0's
        had no ``scoring``: its repr, get_params and fit failed)."""
        for name, default in ADDED_PARAMETERS.items():
            state.setdefault(name, default)
        if "validation_scores_" in state:  # (a fitted one: it recorded no validation loss)
            state.setdefault("validation_loss_curve_", None)
            if "best_epoch_" not in state:
                state["best_epoch_"] = recovered_best_epoch(
                    state.get("loss_curve_"), state["validation_scores_"]
                )
        super().__setstate__(state)

    def _get_params_html(self, deep: bool = True, **kwargs: Any) -> Any:
        """The parameter table of the notebook display: the estimator's own parameters.
        (Deep ones, ``solver__beta_1`` and ``layers__0__units``, are the arguments of the
        objects shown in the ``solver`` and ``layers`` rows, and are not this class's
        arguments, so scikit-learn would mark every one of them as set by the user.)"""
        return super()._get_params_html(deep=False, **kwargs)  # (doc_link from 1.8 on)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # sparse X goes through a first Dense layer only (the output Dense without layers)
        layers = self.layers
        first = layers[0] if isinstance(layers, (list, tuple)) and layers else None
        tags.input_tags.sparse = first is None or isinstance(first, Dense)
        return tags

    def __sklearn_clone__(self) -> Any:
        """``sklearn.base.clone``, with ``layers`` copied as one list, as ``fit`` copies
        it: objects two layers share (a skip connection's, say) stay shared in the clone.
        (clone copies a list's elements one by one, so a layer adding another's saved
        input got a copy of it that the network never runs, in every clone that
        ``cross_val_score`` or a grid search trains.)"""
        new = super().__sklearn_clone__()
        if isinstance(self.layers, (list, tuple)):
            new.layers = type(self.layers)(copy.deepcopy(list(self.layers)))
        return new


def _start_over(incremental: bool) -> str:
    """How to train from scratch instead of continuing: partial_fit never starts over."""
    if incremental:
        return (
            "partial_fit continues the fitted network: call fit (with warm_start=False) "
            "to start over"
        )
    return "fit again with warm_start=False"


def _restart_velocity(new: Optimizer, state: dict[str, Any]) -> None:
    """SGD's momentum velocity ``v = μ v - η g`` holds the step sizes it was built at
    (several, after an 'adaptive' schedule's divisions): a restarted step size starts it
    from 0, as a new optimizer would (kept, a rate lowered from 0.1 to 1e-12 went on
    moving the weights at 0.1 for ~1/(1 - μ) steps; rescaled by the ratio of the rates,
    it grew 4e5-fold after 'adaptive')."""
    velocity = state.get("velocity")
    if isinstance(new, SGD) and isinstance(velocity, dict):
        for values in velocity.values():
            values[...] = 0.0


def _cast(X: Any, dtype: Any) -> Any:
    """``X`` in ``dtype`` (values beyond its range: infinite, without a warning)."""
    if X.dtype == dtype:
        return X
    with np.errstate(over="ignore"):
        return X.astype(dtype)
