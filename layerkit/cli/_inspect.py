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
from ..io._values import decode
from ._errors import CLIError
from ._loading import load_model
from ._predict import regressor_of


def describe(path: Path, plugins: list[str]) -> dict[str, Any]:
    """The file's format, architecture, parameter counts, loss, optimizer and history.

    The whole file is loaded first (every array checked against its SHA-256), so a
    damaged file is reported rather than described.
    """
    model = load_model(path, plugins, fitted=False, command="inspect")
    target = None
    if hasattr(model, "transformer") and hasattr(model, "regressor"):  # (target scaling)
        transformer = model.__dict__.get("transformer_", model.transformer)
        target = "none (the identity)" if model.transformer is None else repr(transformer)
        model = regressor_of(model)
    steps = None
    if hasattr(model, "steps"):  # (a Pipeline: scalers and imputers before the network)
        steps = [{"name": name, "step": repr(step)} for name, step in model.steps[:-1]]
        from ._predict import input_width

        names_in = _pipeline_names(model)
        n_in = input_width(model) if "n_features_in_" in model[-1].__dict__ else None
        model = model[-1]
    try:
        manifest = read_manifest(path)
    except ModelFileError as err:
        raise CLIError(str(err)) from None
    shapes = {a["name"]: a["shape"] for a in manifest["arrays"]}
    network = manifest["network"]
    objects = getattr(model, "network_", model).layers if network else []
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
                "layer": repr(objects[i]),
                "config": spec["config"],
                "arrays": arrays,
                "parameters": int(sum(np.prod(s) for s in arrays.values())),
                "state": state,
            }
        )
    fitted = manifest["fitted"] or {}
    info: dict[str, Any] = {
        "file": str(path),
        "bytes": path.stat().st_size,
        "format": manifest["format"],
        "format_version": manifest["format_version"],
        "layerkit_version": manifest["layerkit_version"],
        "arrays_verified": len(manifest["arrays"]),
        "kind": manifest["kind"],
        "n_features": network["n_in"] if network else None,
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
    changed = _changed_hyperparameters(model, manifest["hyperparameters"])
    info["hyperparameters"] = {name: _as_json(value) for name, value in changed.items()}
    info["hyperparameters_repr"] = {name: repr(value) for name, value in changed.items()}
    return info


def _pipeline_names(pipe: Any) -> Any:
    """The input column names of a Pipeline: its first step's (a passthrough first has
    none, and the Pipeline's own attribute then fails), else the network's."""
    from ._predict import steps_before

    first = (steps_before(pipe) or [pipe[-1]])[0]
    return getattr(first, "feature_names_in_", None)


def _optimizer(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    if spec is None:
        return None
    return {"type": spec["type"], "config": spec["config"], "steps": spec["state"].get("t")}


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
    """``describe``'s result as standard JSON data: a non-finite number of the history
    as its name ("-inf", "nan"), as the hyperparameters give theirs."""
    history = info.get("history")
    if not history:
        return info
    return {**info, "history": {k: _as_json(v) for k, v in history.items()}}


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
    if info.get("target_transformer"):
        lines.append(f"  target scaled for training by: {info['target_transformer']}")
    if info.get("steps_before") is not None:
        before = ", ".join(f"{s['name']}: {s['step']}" for s in info["steps_before"])
        lines.append(f"  steps before the network: {before or 'none'}")
    names = info["feature_names"]
    shown = f": {', '.join(names[:8])}{', ...' if len(names) > 8 else ''}" if names else ""
    if info["n_features"] is None:
        lines.append("  not fitted: saved before fit, so no network yet")
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
    return "\n".join(lines)
