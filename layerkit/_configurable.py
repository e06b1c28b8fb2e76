"""What layers, losses and optimizers share: a name in a registry and a validated config.

Every subclass of ``Layer``, ``Loss`` and ``Optimizer`` (built-in or user-written) is
registered under its class name when it is defined, so a saved model can name it and be
rebuilt without importing anything. Its constructor arguments, stored as attributes of
the same name (the scikit-learn convention), are its config: validated by a pydantic
model derived from the ``__init__`` signature at construction, returned as JSON-able
data by ``get_config`` and turned back into an object by ``from_config``.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import sys
import typing
import warnings
from typing import Any, ClassVar

import numpy as np
import pydantic

_REGISTRY: dict[str, dict[str, type]] = {}


class RegistryError(ValueError):
    """A registry name clash or an unknown name."""


class Configurable:
    """Base of objects described by their constructor arguments.

    Subclasses are registered under ``name`` (default: the class name; pass
    ``class MyLayer(Layer, name="my_layer")`` to choose, or ``register=False`` to opt
    out). Constructor arguments are validated at construction against their type
    annotations (``Annotated[int, Field(ge=1)]`` for a rule), in strict mode: a wrong
    type or a broken rule raises ``ValueError`` naming the field, the rule and the value.
    """

    #: The registry this family of classes lives in ("layer", "loss", "optimizer").
    _kind: ClassVar[str] = "object"
    #: The name this class is registered under.
    registry_name: ClassVar[str] = ""
    #: Arguments added since a release, left out of a config while at their default, so
    #: that a model file not using them stays readable by the releases before them.
    _new_arguments: ClassVar[tuple[str, ...]] = ()
    _config_model_cache: ClassVar[type[pydantic.BaseModel] | None] = None
    #: The methods of the family that layerkit calls (a near miss of one is warned of).
    _hooks: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, name: str | None = None, register: bool = True, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        for method, hook in near_misses(cls):
            owner = next(k for k in cls.__mro__ if hook in k.__dict__).__name__
            warnings.warn(
                f"{cls.__name__} defines {method}(), which layerkit never calls: did you "
                f"mean {hook}()? layerkit calls {hook}(), which {cls.__name__} inherits "
                f"from {owner}",
                UserWarning,
                stacklevel=_outside_layerkit(),
            )
        if "__init__" in cls.__dict__:
            cls.__init__ = _validating(cls.__dict__["__init__"])  # type: ignore[method-assign]
        elif (
            cls.__init__ is not object.__init__
            and not getattr(cls.__init__, "_layerkit_validating", False)
            and getattr(cls.__init__, "__module__", None) not in ("typing", "typing_extensions")
        ):  # (typing's: a Protocol's placeholder __init__(self, *args, **kwargs))
            # an __init__ from a class outside the family, first in the MRO (a mixin's
            # `def __init__(self, *args, **kwargs)`): checked as one written here
            cls.__init__ = _validating(cls.__init__)  # type: ignore[method-assign]
        cls._config_model_cache = None
        if register and not cls.__name__.startswith("_"):
            register_class(cls, name)

    # ------------------------------------------------------------------ config
    @classmethod
    def config_model(cls) -> type[pydantic.BaseModel]:
        """The pydantic model of the constructor arguments (built once per class)."""
        cached = cls.__dict__.get("_config_model_cache")
        if cached is None:
            cached = _build_model(cls)
            cls._config_model_cache = cached
        return cached

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as JSON data (``from_config`` inverts it).

        Values that JSON has no form for are tagged, as in a model file: a tuple as
        ``{"$tuple": [...]}``, a dict as ``{"$dict": [[key, value], ...]}``, a non-finite
        float as ``{"$float": "inf"}``, and a registered layerkit object (a layer holding
        other layers) as ``{"$object": {"kind", "type", "config"}}``.
        """
        from .io._values import SharedObjectError, encode

        args = {k: _plain(v) for k, v in self._init_arguments().items()}
        self._validate_arguments(args)
        signature = _signature(type(self))
        config = {}
        for key, value in args.items():
            if key in self._new_arguments and _same(value, signature[key].default):
                continue
            try:
                config[key] = encode(value, f"{self!r}: argument {key!r}")
            except SharedObjectError:  # (a model file's reason: kept as it is)
                raise
            except UnnamedClassError as err:  # (an object inside: its own reason, kept)
                raise UnnamedClassError(f"{self!r}: argument {key!r}: {err}") from None
            except (TypeError, ValueError) as err:
                raise TypeError(
                    f"{self!r}: argument {key!r} = {value!r} is not JSON-able data (nor "
                    "a tuple, a dict or a registered layerkit object), so the object "
                    "cannot be described by a config (or saved)"
                ) from err
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """Rebuild an object from ``get_config()`` data."""
        from .io._values import decode

        if not isinstance(config, dict):
            raise TypeError(
                f"{cls.__name__}.from_config expected a dict, got {type(config).__name__}"
            )
        return cls(**{key: decode(value) for key, value in config.items()})

    @classmethod
    def tuples_where_annotated(cls, arguments: dict[str, Any]) -> dict[str, Any]:
        """``arguments`` with lists turned into tuples for the arguments annotated as
        tuples (a TOML or JSON file has arrays, never tuples)."""
        fields = cls.config_model().model_fields
        return {
            key: tuple(value)
            if isinstance(value, list) and key in fields and _is_tuple(fields[key].annotation)
            else value
            for key, value in arguments.items()
        }

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments (scikit-learn's convention; ``deep`` changes nothing).

        With it, an estimator's ``set_params(solver__learning_rate=0.01)`` and a grid
        over ``"loss__delta"`` reach inside layerkit objects, and ``sklearn.base.clone``
        rebuilds them from their arguments.
        """
        return self._init_arguments()

    def set_params(self, **params: Any) -> Any:
        """Set constructor arguments (validated as at construction); return self.

        ``inner__learning_rate`` sets the argument of an argument that is itself a
        layerkit object (a wrapper optimizer's inner one), in place, as scikit-learn
        sets a Pipeline step's: so a grid over ``solver__inner__learning_rate``
        reaches it. Every value is checked before any is set: all or nothing."""
        flat, nested = self._checked_params(params)
        self.__dict__.update(flat)
        for name, values in nested.items():
            self.__dict__[name].set_params(**values)
        return self

    def _checked_params(self, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``params`` split into this object's own arguments and, by argument, those of
        the objects it holds; a ValueError, before anything is set, if any is unknown or
        invalid (checked as the constructors check them, without copying anything)."""
        known = set(_signature(type(self)))
        flat = {k: v for k, v in params.items() if "__" not in k}
        for key in flat:
            if key not in known:
                raise ValueError(
                    f"{type(self).__name__} has no parameter {key!r}; its parameters are "
                    f"{sorted(known)}"
                )
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            if "__" not in key:
                continue
            name, sub = key.split("__", 1)
            holder = flat.get(name, self.__dict__.get(name))
            if name not in known or not isinstance(holder, Configurable):
                raise ValueError(
                    f"{type(self).__name__} has no parameter {key!r}: "
                    + (
                        f"its argument {name!r} is {holder!r}, which has no parameters of its own"
                        if name in known
                        else f"its parameters are {sorted(known)}"
                    )
                )
            nested.setdefault(name, {})[sub] = value
        self._validate_arguments({**self._init_arguments(), **flat})
        for name, values in nested.items():  # (deeper levels: by the holders, in turn)
            try:
                flat.get(name, self.__dict__[name])._checked_params(values)
            except ValueError as err:  # (named by the whole key the caller gave)
                keys = ", ".join(f"{name}__{k}" for k in values)
                raise ValueError(f"{type(self).__name__}: setting {keys}: {err}") from None
        return flat, nested

    def _validate_arguments(self, args: dict[str, Any] | None = None) -> None:
        """Validate the arguments (by default the attributes) as the constructor does."""
        args = self._init_arguments() if args is None else args
        model = self.config_model()
        try:
            model.model_validate({k: _plain(v) for k, v in args.items()})
        except pydantic.ValidationError as err:
            raise ValueError(_describe(type(self).__name__, err)) from None

    def _init_arguments(self) -> dict[str, Any]:
        """The constructor arguments, read back from the attributes of the same name."""
        args: dict[str, Any] = {}
        for name, p in _signature(type(self)).items():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if name in self.__dict__:
                args[name] = self.__dict__[name]
        return args

    def __repr__(self) -> str:
        sig = _signature(type(self))
        shown = []
        for name, value in self._init_arguments().items():
            default = sig[name].default
            if default is inspect.Parameter.empty or not _same(value, default):
                shown.append(f"{name}={_plain(value)!r}")  # 0.4, not np.float64(0.4)
        return f"{type(self).__name__}({', '.join(shown)})"


def check_arguments(objects: Any, message: str, error: type[ValueError] = ValueError) -> None:
    """Validate each ``(where, object)``'s arguments as its constructor did (one may have
    been set on it since); the first problem raises ``error(message.format(where=...,
    problem=...))``. Objects that are not Configurable are skipped."""
    for where, obj in objects:
        if not isinstance(obj, Configurable):
            continue
        try:
            obj._validate_arguments()
        except ValueError as err:
            raise error(message.format(where=where, problem=err)) from None


# ---------------------------------------------------------------------- registry
def register_class(cls: type, name: str | None = None) -> type:
    """Register ``cls`` under ``name`` (default: its class name) in its family's registry.

    Re-registering the same class (same module and qualified name, e.g. a notebook cell
    run twice) replaces the entry; a different class under a taken name is refused.
    """
    if _cloudpickle_shell():
        # cloudpickle's empty shell of a class it sends by value (a script's class in an
        # estimator back from a joblib worker): it takes the class's state, registry
        # name included, next, and where this process has the class it is dropped for
        # it. Registered at its first use by name (registry_name_of), not here.
        cls._sent_by_value = True  # type: ignore[attr-defined]
        return cls
    kind = getattr(cls, "_kind", "object")
    key = name or cls.__dict__.get("registry_name") or cls.__name__
    if not isinstance(key, str) or not key.isidentifier():
        raise RegistryError(f"registry names must be Python identifiers, got {key!r}")
    table = _REGISTRY.setdefault(kind, {})
    old = table.get(key)
    if old is not None and old is not cls and _where(old) != _where(cls):
        raise RegistryError(
            f"the {kind} name {key!r} is already registered for {_where(old)}; cannot "
            f"register {_where(cls)} under the same name. Give it another name: "
            f"class {cls.__name__}(..., name='another_name')"
        )
    table[key] = cls
    cls.registry_name = key  # type: ignore[attr-defined]
    return cls


def _cloudpickle_shell() -> bool:
    """Whether the class being made is cloudpickle's empty shell of a class it sends by
    value (``_make_skeleton_class``), not a class statement run again."""
    frame: Any = sys._getframe(1)
    for _ in range(12):
        if frame is None:
            return False
        if frame.f_code.co_name == "_make_skeleton_class" and "cloudpickle" in str(
            frame.f_globals.get("__name__", "")
        ):
            return True
        frame = frame.f_back
    return False


def lookup(kind: str, name: str) -> Any:
    """The registered class ``name`` of family ``kind``; never imports anything."""
    table = _REGISTRY.get(kind, {})
    if not isinstance(name, str) or name not in table:
        raise RegistryError(
            f"the {kind} type {name!r} is not registered in this process: import the "
            f"module that defines it (or register it with layerkit.register) first"
        )
    return table[name]


class UnnamedClassError(TypeError):
    """An object's class cannot be named in a config or a model file (not registered,
    or defined again since the object was made)."""


def registry_name_of(obj: Any) -> str:
    """The name ``obj``'s class is registered under; TypeError if it is not registered."""
    cls = type(obj)
    name = cls.__dict__.get("registry_name")
    now = _REGISTRY.get(getattr(cls, "_kind", ""), {}).get(name) if name else None
    if name and now is None and cls.__dict__.get("_sent_by_value"):
        now = register_class(cls, name)  # (a registered class cloudpickle brought here)
    if now is not None and now is not cls and _where(now) == _where(cls):
        # (a notebook cell run again, edited or not, or one class a function made twice:
        # a file naming the class would load the newer one, which may compute otherwise)
        raise UnnamedClassError(
            f"{cls.__name__} was defined again after {obj!r} was made (a notebook cell "
            f"run again?), and a model file names a class: it would load as the newer "
            f"{_where(cls)}. Re-create the object from the current class (refit the "
            f"model), or, to keep this one's definition, register it again: "
            f"layerkit.register(type(obj)) (the newer one is then no longer used by name)"
        )
    if not name or now is not cls:
        raise UnnamedClassError(
            f"{cls.__name__} is not registered, so it cannot be named in a config or a "
            f"model file: define it without register=False, or call "
            f"layerkit.register({cls.__name__})"
        )
    return str(name)


def registered(kind: str) -> dict[str, type]:
    """A copy of the registry of family ``kind``: ``{name: class}``."""
    return dict(_REGISTRY.get(kind, {}))


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _outside_layerkit() -> int:
    """The ``stacklevel`` of the first caller outside layerkit (a class statement)."""
    frame: Any = sys._getframe(1)
    level = 1
    while frame is not None and (
        frame.f_globals.get("__name__", "").startswith("layerkit.")
        or frame.f_code.co_name == "__init_subclass__"  # (a user's base class's too)
    ):
        frame, level = frame.f_back, level + 1
    return level


def near_misses(cls: type) -> list[tuple[str, str]]:
    """The methods ``cls`` defines whose names are a slip of a hook that ``cls`` takes
    from its family's base (``Layer``, ``Loss``, ``Optimizer``), not from a class that
    implements it: ``[(method, hook)]``. A slip is one letter left out, added or swapped
    with its neighbour, or another case (``bulid``, ``backwards``, ``foward``, ``Step``),
    not one letter replaced by another (``built``, ``stop`` are words of their own)."""
    found = []
    for hook in getattr(cls, "_hooks", ()):
        owner = next((k for k in cls.__mro__ if hook in k.__dict__), None)
        if owner is None or "_hooks" not in owner.__dict__:
            continue  # (defined here or by an implementation: nothing shadows a default)
        for method, value in cls.__dict__.items():
            if callable(value) and not method.startswith("_") and _slip_of(method, hook):
                found.append((method, hook))
    return found


def _slip_of(name: str, hook: str) -> bool:
    if name == hook:
        return False
    if name.lower() == hook.lower():
        return True
    if len(name) == len(hook):  # one adjacent pair swapped
        diff = [i for i, (a, b) in enumerate(zip(name, hook, strict=True)) if a != b]
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and (name[diff[0]], name[diff[1]]) == (hook[diff[1]], hook[diff[0]])
        )
    short, long = sorted((name, hook), key=len)
    if len(long) - len(short) != 1:
        return False
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


# ---------------------------------------------------------------------- validation
def _validating(init: Any) -> Any:
    # (what this closure reads must pickle: cloudpickle sends a class defined in a script
    # or notebook by value to joblib's workers, this closure and its globals with it)
    @functools.wraps(init)
    def validating_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        # check and validate once, in the outermost constructor of the call
        if type(self).__init__ is validating_init:
            _check_stored(self)
            self._validate_arguments()
            _check_rebuilds(self, args, kwargs)

    validating_init._layerkit_validating = True  # type: ignore[attr-defined]
    return validating_init


def _check_stored(obj: Any) -> None:
    """Every constructor argument must be kept as the attribute of the same name: it is
    read back from there by ``get_params`` (so by ``clone`` and grid searches), by the
    repr and by ``get_config`` (so by ``save``). One kept under another name would be
    silently reset to its default by all of them."""
    cls = type(obj)
    for name, p in _signature(cls).items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            stars = "*" if p.kind == p.VAR_POSITIONAL else "**"
            raise TypeError(
                f"{cls.__name__}.__init__ takes {stars}{name}: layerkit, like scikit-learn, "
                "reads constructor arguments back by name (to clone, search over, show and "
                f"save the object), so what {stars}{name} receives would be lost there; "
                "name each argument in the signature (def __init__(self, scale=1.0): "
                "self.scale = scale)"
            )
        if name in obj.__dict__:
            continue
        if isinstance(getattr(cls, name, None), property):
            raise TypeError(
                f"{cls.__name__}: the constructor argument {name!r} is a property; keep "
                f"it as a plain attribute, self.{name} = {name} (layerkit reads arguments "
                "back from the instance's attributes)"
            )
        raise TypeError(
            f"{cls.__name__}.__init__ does not keep its argument {name!r} as self.{name}: "
            "layerkit, like scikit-learn, reads constructor arguments back from the "
            "attributes of the same name (to clone, search over, show and save the "
            f"object), so add `self.{name} = {name}` to __init__"
        )


#: True while _check_rebuilds builds its copy (whose own check would repeat this one)
_REBUILDING: contextvars.ContextVar[bool] = contextvars.ContextVar("rebuilding", default=False)


def _check_rebuilds(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """An argument the constructor keeps changed (``self.beta = 2 * beta``) must come
    back unchanged when the object is built again from what it kept, as ``clone``,
    ``get_config`` and ``load`` do (scikit-learn's clone refuses it otherwise): a
    doubling would double again at every copy, and a loaded model would differ from the
    saved one, silently. Checked only when a kept value differs from the given one (or
    its default): then the constructor runs a second time, on a copy."""
    if _REBUILDING.get():  # (this is the copy)
        return
    cls = type(obj)
    signature = _signature(cls)
    if any(p.kind == p.POSITIONAL_ONLY for p in signature.values()):
        return
    given = dict(zip(signature, args, strict=False)) | kwargs  # (args: no more than names)
    for name, p in signature.items():
        if name not in given and p.default is not inspect.Parameter.empty:
            given[name] = p.default  # (Scale() keeping 2 * beta: refused here, not at load)
    changed = [n for n, v in given.items() if n in obj.__dict__ and not _equal(obj.__dict__[n], v)]
    if not changed:
        return
    kept = {n: obj.__dict__[n] for n in signature if n in obj.__dict__}
    advice = (
        f"so every copy (clone, a grid search, save and load) would differ from this "
        f"{cls.__name__}. Keep each argument as given (self.name = name) and derive what "
        "you need from it in build or forward"
    )
    token = _REBUILDING.set(True)
    try:
        again = cls(**kept)
    except Exception as error:
        shown = ", ".join(f"{n}={kept[n]!r}" for n in changed)
        raise TypeError(
            f"{cls.__name__}.__init__ changes its arguments ({shown} kept), and built again "
            f"from what it keeps it raises {type(error).__name__}: {error}; {advice}"
        ) from error
    finally:
        _REBUILDING.reset(token)
    for name in changed:
        if not _equal(again.__dict__.get(name), kept[name]):
            raise TypeError(
                f"{cls.__name__}.__init__ changes its argument {name!r}: given "
                f"{given[name]!r} it keeps {kept[name]!r}, and built again from that it "
                f"keeps {again.__dict__.get(name)!r}, {advice}"
            )


def _build_model(cls: type) -> type[pydantic.BaseModel]:
    init = vars(cls).get("__init__") or next(
        (vars(k)["__init__"] for k in cls.__mro__ if "__init__" in vars(k)), object.__init__
    )
    init = getattr(init, "__wrapped__", init)
    try:
        hints = typing.get_type_hints(init, include_extras=True)
    except Exception:  # unresolvable annotations: validate the types we can read
        hints = {}
    fields: dict[str, Any] = {}
    for name, p in _signature(cls).items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annotation = hints.get(name, Any)
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[name] = (annotation, default)
    config = pydantic.ConfigDict(strict=True, arbitrary_types_allowed=True, extra="forbid")
    return pydantic.create_model(f"{cls.__name__}Config", __config__=config, **fields)


def _describe(owner: str, err: pydantic.ValidationError) -> str:
    problems = []
    for e in err.errors():
        field = ".".join(str(x) for x in e["loc"]) or "(arguments)"
        message = e["msg"]
        for prefix in ("Input should be", "Value should be"):
            if message.startswith(prefix):
                message = "must be" + message[len(prefix) :]
        problems.append(f"{field} {message}, got {e['input']!r}")
    return f"{owner}: " + "; ".join(problems)


def _plain(value: Any) -> Any:
    """numpy scalars become Python scalars; containers are converted recursively."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _is_tuple(annotation: Any) -> bool:
    """Whether an annotation is a tuple type (or an optional one)."""
    origin = typing.get_origin(annotation)
    if annotation is tuple or origin is tuple:
        return True
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(options) == 1 and _is_tuple(options[0])
    return False


def _signature(cls: type) -> dict[str, inspect.Parameter]:
    params = dict(inspect.signature(vars(cls).get("__init__") or cls).parameters)
    params.pop("self", None)
    return params


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return type(a) is type(b)  # (NaN: equal to nothing, yet the same setting)
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # arrays and other objects without a plain truth value
        return False


def _equal(a: Any, b: Any) -> bool:
    """``_same``, and arrays of one dtype and shape holding the same values (NaN too)."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a is not b:
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    return _same(a, b)
