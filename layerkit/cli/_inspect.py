"""``layerkit inspect MODEL``: what a model file holds, verified, without running it."""

from __future__ import annotations

import inspect as _inspect
import math
from pathlib import Path
from typing import Any

import numpy as np

from .._configurable import Configurable, registry_name_of
from .._summary import layer_table
from ..exceptions import ModelFileError
from ..io import read_manifest
from ..io._load import verify_checksums
from ..io._state import fitted_problem
from ..io._values import decode
from ..network import Sequential
from ._errors import CLIError
from ._loading import import_model_plugins, load_model
from ._predict import regressor_of


def describe(path: Path, plugins: list[str]) -> dict[str, Any]:
    """The file's format, architecture, parameter counts, loss, optimizer and history.

    The whole file is loaded first (every array checked against its SHA-256), so a
    damaged file is reported rather than described. A file whose layers are of classes
    not registered here (a plugin not given) is described from its manifest, its
    arrays checked against their SHA-256 but nothing built.
    """
    import_model_plugins(path, plugins)  # (a plugin that fails to import: an error)
    try:
        model = load_model(path, plugins, fitted=False, command="inspect")
        unbuilt = None
    except CLIError:
        missing = _unregistered(path)  # (a plugin not given: else a damaged file)
        if not missing:
            raise
        model, unbuilt = None, missing
    try:
        manifest = read_manifest(path)
        if model is None:
            verify_checksums(path)
            _check_unbuilt(manifest)
    except ModelFileError as err:
        raise CLIError(str(err)) from None
    if model is None:
        try:
            return _described(path, manifest, _unbuilt_parts(manifest), unbuilt)
        except Exception as err:  # (a file only a load would have refused; no traceback)
            raise CLIError(f"{path}: cannot describe it from its manifest: {err}") from None
    return _described(path, manifest, _built_parts(model, manifest["hyperparameters"]), None)


def _unregistered(path: Path) -> list[str]:
    """The classes ``path``'s manifest names (layers, loss, optimizer, objects in its
    settings) that are not registered in this process, as "kind Type"; [] for a file
    that cannot be read."""
    from .._configurable import registered

    try:
        manifest = read_manifest(path)
    except (ModelFileError, OSError):
        return []
    named: set[tuple[str, str]] = set()
    network = manifest["network"] or {}
    named.update(("layer", spec["type"]) for spec in network.get("layers", []))
    for kind in ("loss", "optimizer"):
        if manifest.get(kind):
            named.add((kind, manifest[kind]["type"]))

    def objects(value: Any) -> None:
        if isinstance(value, dict):
            obj = value.get("$object")
            if isinstance(obj, dict) and isinstance(obj.get("type"), str):
                named.add((str(obj.get("kind")), obj["type"]))
            for item in value.values():
                objects(item)
        elif isinstance(value, list):
            for item in value:
                objects(item)

    objects(manifest)
    return sorted(f"{kind} {name}" for kind, name in named if name not in registered(kind))


def _check_unbuilt(manifest: dict[str, Any]) -> None:
    """What load checks before building, for a file described without it: the fitted
    records each of their type, the pipeline's and the target's digests."""
    import pydantic

    from ..io import _manifest as m

    try:
        m.FittedSpec.model_validate(manifest["fitted"] or {})
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        raise ModelFileError(
            f"the fitted metadata do not validate: fitted.{'.'.join(map(str, first['loc']))}: "
            f"{first['msg']}"
        ) from None
    network = manifest["network"] or {}
    layers = network.get("layers", [])
    outputs = next(  # (the last Dense layer's units: the network's outputs)
        (spec["config"].get("units") for spec in reversed(layers) if spec["type"] == "Dense"),
        None,
    )
    problem = fitted_problem(
        manifest["fitted"] or {},
        network.get("n_in"),
        outputs if isinstance(outputs, int) else None,
    )
    if problem:
        raise ModelFileError(f"the fitted metadata disagree with the network: {problem}")
    checked = m.Manifest.model_validate(manifest)
    for entry, digest in (("pipeline", m.pipeline_digest), ("target", m.target_digest)):
        spec = getattr(checked, entry)
        if spec is not None and digest(spec) != spec.sha256:
            raise ModelFileError(
                f"the {entry} entry does not match its SHA-256: the file is damaged"
            )


def _described(path: Path, manifest: dict[str, Any], parts: Any, unbuilt: Any) -> dict[str, Any]:
    network = manifest["network"]
    fitted = manifest["fitted"] or {}
    steps, target, n_in, names_in, reprs, changed, changed_repr = parts
    shapes = {a["name"]: a["shape"] for a in manifest["arrays"]}
    layers = []
    for i, spec in enumerate(network["layers"] if network else []):
        arrays = {
            name.split(".", 1)[1]: shape
            for name, shape in shapes.items()
            if name.startswith(f"network/{i}.")
        }
        state = {
            name.split(".", 1)[1]: shape
            for name, shape in shapes.items()
            if name.startswith(f"state/{i}.")
        }
        layers.append(
            {
                "index": i,
                "type": spec["type"],
                "layer": reprs[i] if reprs is not None else _spec_text(spec),
                "config": spec["config"],
                "arrays": arrays,
                "parameters": int(sum(np.prod(s) for s in arrays.values())),
                "state": state,
            }
        )
    info: dict[str, Any] = {
        "file": str(path),
        "bytes": path.stat().st_size,
        "format": manifest["format"],
        "format_version": manifest["format_version"],
        "layerkit_version": manifest["layerkit_version"],
        "arrays_verified": len(manifest["arrays"]),
        "not_loaded": unbuilt
        and (
            f"not registered in this process: {', '.join(unbuilt)}; give --plugin MODULE "
            "to load it"
        ),
        "kind": manifest["kind"],
        "n_features": network["n_in"] if network else None,
        "network_features": network["n_in"] if network else None,
        "feature_names": fitted.get("feature_names_in_"),
        "steps_before": steps,
        "target_transformer": target,
        "dtype": network["dtype"] if network else None,
        "layers": layers,
        "parameters": sum(layer["parameters"] for layer in layers),
        "loss": manifest["loss"] and manifest["loss"]["type"],
        "optimizer": _optimizer(manifest["optimizer"]),
        "classes": (fitted.get("classes") or {}).get("values"),
        "history": _history(fitted),
    }
    if steps is not None:  # (the Pipeline's input columns, not the network's)
        info["n_features"] = n_in if info["n_features"] is not None else None
        info["feature_names"] = None if names_in is None else [str(n) for n in names_in]
    info["hyperparameters"] = changed
    info["hyperparameters_repr"] = changed_repr
    return info


Parts = tuple[Any, Any, Any, Any, Any, dict[str, Any], dict[str, str]]


def _built_parts(model: Any, saved: dict[str, Any]) -> Parts:
    """From the loaded model: the steps before the network, the target transformer,
    the input width and names (of a Pipeline), the layers' reprs and the changed
    hyperparameters (as JSON data and as reprs)."""
    target = steps = n_in = names_in = None
    if regressor_of(model) is not model:  # (a TransformedTargetRegressor: target scaling)
        fitted = model.__dict__.get("transformer_", model.transformer)
        identity = fitted is None or getattr(fitted, "func", 0) is None  # (transformer=None)
        target = "None" if identity else repr(fitted)
        model = regressor_of(model)
    if hasattr(model, "steps"):  # (a Pipeline: scalers, imputers, encoders before the network)
        steps = [  # (a ColumnTransformer's repr spans lines: one line here)
            {"name": name, "step": " ".join(_step_repr(step).split())}
            for name, step in model.steps[:-1]
        ]
        from ._predict import input_width

        names_in = _pipeline_names(model)
        n_in = input_width(model) if "n_features_in_" in model[-1].__dict__ else None
        model = model[-1]
    net = model if isinstance(model, Sequential) else model.__dict__.get("network_")
    reprs = [repr(layer) for layer in net.layers] if net is not None else []
    changed = _changed_hyperparameters(model, saved)
    return (
        steps,
        target,
        n_in,
        names_in,
        reprs,
        {name: _as_json(value) for name, value in changed.items()},
        {name: repr(value) for name, value in changed.items()},
    )


def _step_repr(step: Any) -> str:
    """A step's repr, with each make_column_selector in it (whose own repr is its
    address) as its settings: ``make_column_selector(dtype_include='number')``."""
    text = repr(step)
    from sklearn.compose import make_column_selector

    def selectors(obj: Any) -> Any:
        for _, inner, columns in getattr(obj, "transformers", []):
            if isinstance(columns, make_column_selector):
                yield columns
            yield from selectors(inner)
        for _, inner in getattr(obj, "steps", []):
            yield from selectors(inner)

    for selector in selectors(step):
        settings = {
            k: getattr(selector, k)
            for k in ("pattern", "dtype_include", "dtype_exclude")
            if getattr(selector, k) is not None
        }
        shown = ", ".join(f"{k}={_dtype_text(v)}" for k, v in settings.items())
        text = text.replace(object.__repr__(selector), f"make_column_selector({shown})")
    return text


def _dtype_text(value: Any) -> str:
    """A selector's setting as written in code: ``np.number``, not its class's repr."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_dtype_text(v) for v in value) + "]"
    if isinstance(value, type):
        return value.__name__ if value.__module__ == "builtins" else f"np.{value.__name__}"
    return repr(value)


def _unbuilt_parts(manifest: dict[str, Any]) -> Parts:
    """As ``_built_parts``, from the manifest alone (the layers' classes are not
    registered here): types and settings as the file gives them."""
    import json

    target = steps = n_in = names_in = None
    if manifest.get("target") is not None:
        transformer = manifest["target"]["transformer"]
        target = "None" if transformer is None else transformer["type"]
    pipeline = manifest.get("pipeline")
    if pipeline is not None:
        steps = [{"name": s["name"], "step": s["type"]} for s in pipeline["steps"]]
        first = next((s for s in pipeline["steps"] if s["type"] != "passthrough"), None)
        fitted = (first or {}).get("fitted") or {}
        n_in = fitted.get("n_features_in_")
        names = fitted.get("feature_names_in_")
        names_in = [decode(n) for n in names] if isinstance(names, list) else None
        if n_in is None and manifest["network"] is not None:
            n_in = manifest["network"]["n_in"]
    defaults = _default_hyperparameters(manifest["kind"])
    changed = {
        name: value
        for name, value in manifest["hyperparameters"].items()
        if json.dumps(value, sort_keys=True) != json.dumps(defaults.get(name), sort_keys=True)
    }
    shown = {name: _clipped(_json_text(value)) for name, value in changed.items()}
    as_json = {name: _plain_json(value) for name, value in changed.items()}
    return steps, target, n_in, names_in, None, as_json, shown


def _default_hyperparameters(kind: str) -> dict[str, Any]:
    """The hyperparameters of ``kind`` at its defaults, as a model file writes them."""
    from .. import MLPClassifier, MLPRegressor
    from ..io import _manifest as m
    from ..io._state import hyperparameters

    cls = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}.get(kind)
    if cls is None:
        return {}
    written = m.Manifest.model_validate(
        {
            "format": m.FORMAT,
            "format_version": m.FIRST_FORMAT_VERSION,
            "layerkit_version": "0",
            "kind": kind,
            "hyperparameters": hyperparameters(cls()),
            "network": None,
            "arrays": [],
        }
    )
    return dict(written.model_dump(mode="json")["hyperparameters"])


def _printable(line: str) -> str:
    """``line`` with control and format characters escaped: a file's names and values
    must not write terminal escape sequences (or line breaks) to the screen."""
    import unicodedata

    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in ("Cc", "Cf")
        else ch
        for ch in line
    )


def _spec_text(spec: dict[str, Any]) -> str:
    """A layer as the file names it: its type and its settings."""
    settings = ", ".join(
        f"{k}={_clipped(_json_text(v))}" for k, v in (spec.get("config") or {}).items()
    )
    return f"{spec['type']}({settings})"


def _json_text(value: Any) -> str:
    """A value of the file's JSON as the loaded model's repr would show it: an encoded
    object (a layer, a loss) as ``Dense(units=6)``, a tuple as ``(4,)``, true as True."""
    plain = _plain_json(value)
    if isinstance(value, dict) and isinstance(value.get("$object"), dict):
        return _spec_text(plain)
    if isinstance(value, dict) and "$tuple" in value and isinstance(plain, list):
        inner = ", ".join(_json_text(v) for v in value["$tuple"])
        return f"({inner}{',' if len(plain) == 1 else ''})"
    if isinstance(value, list):
        return "[" + ", ".join(_json_text(v) for v in value) + "]"
    if isinstance(plain, dict):
        return "{" + ", ".join(f"{k!r}: {_json_text(v)}" for k, v in value.items()) + "}"
    return repr(plain)


def _plain_json(value: Any) -> Any:
    """The file's tagged JSON as inspect's JSON gives a loaded model's values: objects
    as ``{"type", "config"}``, tuples as lists, non-finite floats by name."""
    if isinstance(value, dict):
        if isinstance(value.get("$object"), dict):
            obj = value["$object"]
            config = obj.get("config") if isinstance(obj.get("config"), dict) else {}
            return {"type": obj.get("type"), "config": _plain_json(config)}
        if set(value) == {"$tuple"} and isinstance(value["$tuple"], list):
            return [_plain_json(v) for v in value["$tuple"]]
        if set(value) == {"$float"}:
            return str(value["$float"])
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    return value


def _clipped(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _pipeline_names(pipe: Any) -> Any:
    """The input column names of a Pipeline: its first step's (a passthrough first has
    none, and the Pipeline's own attribute then fails), else the network's."""
    from ._predict import steps_before

    first = (steps_before(pipe) or [pipe[-1]])[0]
    return getattr(first, "feature_names_in_", None)


def _optimizer(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    if spec is None:
        return None
    steps = spec["state"].get("t")
    if isinstance(steps, bool) or not isinstance(steps, int):
        steps = None  # (a count only: a crafted file's text is not shown as one)
    return {"type": spec["type"], "config": spec["config"], "steps": steps}


def _history(fitted: dict[str, Any]) -> dict[str, Any] | None:
    """The training history, its values decoded (a score of -inf is stored tagged, as
    JSON has no infinity: left tagged, it crashed the text output)."""
    if "loss_curve_" not in fitted:
        return None
    return {
        "epochs": decode(fitted.get("n_iter_")),
        "examples_seen": decode(fitted.get("t_")),
        "loss_curve": decode(fitted["loss_curve_"]),
        "validation_scores": decode(fitted.get("validation_scores_")),
        "validation_loss_curve": decode(fitted.get("validation_loss_curve_")),
        "best_validation_score": decode(fitted.get("best_validation_score_")),
        "best_epoch": fitted.get("best_epoch_"),
        "validation_scoring": fitted.get("_validation_scoring"),
    }


def as_json(info: dict[str, Any]) -> dict[str, Any]:
    """``describe``'s result as standard JSON data: a non-finite number anywhere (the
    history, a setting a file wrote as 1e400) as its name ("-inf", "nan"), as the
    hyperparameters give theirs."""
    finite = _finite(info)
    assert isinstance(finite, dict)
    return finite


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return str(float(value))
    return value.item() if isinstance(value, np.generic) else value


def render_or_refuse(info: dict[str, Any], path: Path) -> str:
    """``render``, a file it cannot show (a crafted record a load would have refused,
    described without one) a CLIError naming the file."""
    try:
        return render(info)
    except (TypeError, ValueError, KeyError) as err:
        raise CLIError(f"{path}: cannot describe it: {err}") from None


def _changed_hyperparameters(model: Any, saved: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters that differ from the class's defaults."""
    defaults = {
        name: p.default
        for name, p in _inspect.signature(type(model).__init__).parameters.items()
        if p.default is not _inspect.Parameter.empty
    }
    changed = {}
    for name, value in saved.items():
        current = getattr(model, name, decode(value))
        default = defaults.get(name, object())
        if not (type(current) is type(default) and _equal(current, default)):
            changed[name] = current
    return changed


def _as_json(value: Any) -> Any:
    """A hyperparameter as JSON data: numbers, strings, booleans and None as themselves,
    tuples as lists, dicts as objects (keys as strings), a non-finite float as its name,
    a layerkit object as ``{"type", "config"}``; anything else as its repr."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return [_as_json(v) for v in value]
    if isinstance(value, np.ndarray) and value.ndim == 1:  # (a 1-d array argument)
        return [_as_json(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {str(k): _as_json(v) for k, v in value.items()}
    if isinstance(value, Configurable):
        config = {k: _as_json(v) for k, v in value.get_params().items()}
        return {"type": registry_name_of(value), "config": config}
    return repr(value)


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


def render(info: dict[str, Any]) -> str:
    """The description as text for the terminal."""
    lines = [
        f"{info['file']}: layerkit model file, format version {info['format_version']} "
        f"(written by layerkit {info['layerkit_version']}), {info['bytes']:,} bytes, "
        f"{info['arrays_verified']} arrays verified (SHA-256)",
        f"{info['kind']}"
        + (" in a Pipeline" if info.get("steps_before") is not None else "")
        + (" in a TransformedTargetRegressor" if info.get("target_transformer") else ""),
    ]
    if info.get("not_loaded"):
        lines.append(
            f"  (not loaded: {info['not_loaded']}; shown as the file names them, every "
            "array checked against its SHA-256)"
        )
    target = info.get("target_transformer")
    if target == "None":  # (transformer=None: the identity)
        lines.append("  target: not transformed (transformer=None)")
    elif target:
        lines.append(
            f"  target scaled for training by: {target} (the losses below are of the "
            "scaled target)"
        )
    if info.get("steps_before") is not None:
        before = ", ".join(f"{s['name']}: {s['step']}" for s in info["steps_before"])
        lines.append(f"  steps before the network: {before or 'none'}")
    names = info["feature_names"]
    shown = f": {', '.join(names[:8])}{', ...' if len(names) > 8 else ''}" if names else ""
    if info["n_features"] is None:
        lines.append("  not fitted: saved before fit, so no network yet")
    else:
        widths = info["network_features"]
        if info.get("steps_before") is not None and widths != info["n_features"]:
            shown += f" (the steps give the network {widths} features, {info['dtype']})"
            lines.append(f"  input: {info['n_features']} features{shown}")
        else:
            lines.append(f"  input: {info['n_features']} features ({info['dtype']}){shown}")
    if info["layers"]:
        lines.append("  layers:")
    lines += layer_table(
        [(la["index"], la["layer"], la["arrays"], la["state"]) for la in info["layers"]]
    )
    lines.append(f"  parameters: {info['parameters']:,} in total")
    if info["loss"]:
        lines.append(f"  loss: {info['loss']}")
    if info["optimizer"]:
        opt = info["optimizer"]
        config = ", ".join(f"{k}={v!r}" for k, v in opt["config"].items())
        steps = f", after {opt['steps']:,} steps" if opt["steps"] is not None else ""
        lines.append(f"  optimizer: {opt['type']}({config}){steps}")
    if info["classes"] is not None:
        lines.append(f"  classes: {', '.join(map(str, info['classes']))}")
    history = info["history"]
    if history:
        curve = history["loss_curve"]
        lines.append("training history:")
        seen = history["examples_seen"]  # (lbfgs does not count examples)
        seen_text = f", examples seen: {seen:,}" if seen else ""
        epochs = len(curve) if curve else history["epochs"]  # (over every fit)
        last = history["epochs"]
        last_text = f" ({last} in the last fit)" if curve and last != len(curve) else ""
        lines.append(f"  epochs: {epochs}{last_text}{seen_text}")
        if curve:
            best = int(np.argmin(curve))
            lines.append(
                f"  loss: {curve[0]:.4f} (epoch 1) -> {curve[-1]:.4f} (epoch {len(curve)}), "
                f"lowest {curve[best]:.4f} (epoch {best + 1})"
            )
        # (the validation records cover the last epochs: early stopping switched on, or
        # another scoring, in a warm start starts them anew)
        losses = history["validation_loss_curve"]
        if losses:
            finite = [v if v == v else np.inf for v in losses]  # (NaN is never lowest)
            first = len(curve) - len(losses) + 1
            lowest = int(np.argmin(finite))
            lines.append(
                f"  validation loss: {losses[0]:.4f} (epoch {first}) -> {losses[-1]:.4f} "
                f"(epoch {len(curve)}), lowest {losses[lowest]:.4f} (epoch {first + lowest})"
            )
        scores = history["validation_scores"]
        if scores:
            finite = [s if s == s else -np.inf for s in scores]  # (NaN never counts)
            best = history["best_validation_score"]
            kept = history["best_epoch"]
            if kept is None:  # (a file from before it was recorded)
                from ..estimators._base import recovered_best_epoch

                kept = recovered_best_epoch(curve, scores)
            which = f"epoch {kept}: early stopping kept its weights"
            if max(finite) < best:  # (a warm start's starting weights, scored first)
                which = (
                    f"no epoch of the last fit beat the weights it started from, of epoch "
                    f"{kept}: they were kept"
                )
            scoring = history["validation_scoring"]
            by = f" ({scoring})" if scoring else ""
            lines.append(
                f"  validation score{by}: {scores[0]:.4f} -> {scores[-1]:.4f}, best "
                f"{best:.4f} ({which})"
            )
    if info["hyperparameters"]:
        changed = ", ".join(f"{k}={v}" for k, v in info["hyperparameters_repr"].items())
        lines.append(f"hyperparameters (other than the defaults): {changed}")
    return "\n".join(_printable(line) for line in lines)
