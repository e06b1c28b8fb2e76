"""layerkit.save: a zip of a JSON manifest and .npy arrays, written atomically."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..network import Sequential
from . import _manifest as m
from ._columns import holds_later_steps, holds_selectors
from ._pipeline import is_pipeline, pipeline_spec
from ._state import (
    fitted_spec,
    hyperparameters,
    network_arrays,
    network_spec,
    optimizer_spec,
)
from ._target import is_target_regressor, target_spec
from ._values import generator_state, typed

_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same model gives the same bytes


def save(obj: Any, path: str | os.PathLike[str], *, optimizer_state: bool = True) -> Path:
    """Save a fitted estimator or a built network to ``path`` without pickling.

    The file is a zip holding ``manifest.json`` (format version, layerkit version,
    class, hyperparameters, architecture, fitted metadata, optimizer and random
    generator states, and a SHA-256 per array) and one ``.npy`` file per array. It is
    written to a temporary file first and moved into place, so an existing file is
    never left half-written. ``layerkit.load`` reads it back.

    Parameters
    ----------
    obj : MLPClassifier, MLPRegressor, Sequential, Pipeline or TransformedTargetRegressor
        The model; an unfitted estimator saves its hyperparameters only. A Pipeline
        ending in a layerkit MLP is saved whole when its steps before the network are
        scikit-learn's StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler,
        SimpleImputer (numeric, without ``add_indicator``), PolynomialFeatures,
        Normalizer or ``"passthrough"``: their settings and fitted values as JSON data.
        A TransformedTargetRegressor of an MLPRegressor (or of such a Pipeline) is
        saved with its target transformer, None or one of the four scalers (its
        ``func`` and ``inverse_func`` must be None).
    path : str or path-like
        Where to write (conventionally ``*.lkm``). A model file there (or any file named
        ``*.lkm``, a truncated one too) is replaced, as a whole: a failed save leaves it
        as it was; any other file there is refused (``FileExistsError``), so a slip of
        the name cannot overwrite your data.
    optimizer_state : bool, default True
        Save the optimizer and its state (Adam's two moments: twice the weights), so a
        loaded estimator continues training exactly where it stopped. False: a file for
        prediction, about a third of the size for Adam; a model loaded from it that
        trains on (warm start, ``partial_fit``) starts a fresh optimizer, so its steps
        differ from an unbroken run's.

    Returns
    -------
    Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> import layerkit
    >>> from layerkit.layers import Dense, ReLU
    >>> net = layerkit.Sequential([Dense(3), ReLU()]).build(2, random_state=0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "net.lkm"
    >>> _ = layerkit.save(net, path)
    >>> again = layerkit.load(path)
    >>> bool(np.array_equal(again.forward(np.ones((1, 2))), net.forward(np.ones((1, 2)))))
    True
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"layerkit.save expected a file path (a str or pathlib.Path), got "
            f"{type(path).__name__}: the file is written to a temporary name and moved into "
            "place, which needs a path, not a file object"
        )
    if not isinstance(optimizer_state, (bool, np.bool_)):
        raise TypeError(
            f"layerkit.save: optimizer_state must be True or False, got {optimizer_state!r}"
        )
    manifest, arrays = _describe(obj, bool(optimizer_state))
    members = {}
    specs = []
    for name, array in arrays.items():
        data = _npy_bytes(array, name)
        members[m.array_member(name)] = data
        specs.append(
            {
                "name": name,
                "shape": list(array.shape),
                "dtype": array.dtype.str,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    manifest["arrays"] = specs
    # the oldest version that holds the file
    if holds_selectors([manifest.get("pipeline"), manifest.get("target")]):
        manifest["format_version"] = m.SELECTOR_FORMAT_VERSION
    elif holds_later_steps([manifest.get("pipeline"), manifest.get("target")]):
        manifest["format_version"] = m.COLUMNS_FORMAT_VERSION
    elif manifest.get("target") is not None:
        manifest["format_version"] = m.TARGET_FORMAT_VERSION
    elif m.needs_version_3(manifest):
        manifest["format_version"] = m.PIPELINE_FORMAT_VERSION
    else:
        state = any(name.startswith("state/") for name in arrays)
        manifest["format_version"] = m.STATE_FORMAT_VERSION if state else m.FIRST_FORMAT_VERSION
    import json

    text = json.dumps(m.dump(manifest), indent=1, sort_keys=True, allow_nan=False)
    path = Path(path)
    if not path.parent.is_dir():
        problem = "is not a folder" if path.parent.exists() else "does not exist"
        raise FileNotFoundError(f"cannot save to {str(path)!r}: {str(path.parent)!r} {problem}")
    if path.is_dir():
        raise IsADirectoryError(f"cannot save to {str(path)!r}: it is a folder; give a file name")
    if path.exists() and not _is_model_file(path):
        raise FileExistsError(
            f"cannot save to {str(path)!r}: it exists and is not a layerkit model file (a "
            "model file is replaced; any other file is left alone): give another name, or "
            "remove it first"
        )
    fd, tmp = tempfile.mkstemp(prefix=".layerkit-", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr(zipfile.ZipInfo(m.MANIFEST, _EPOCH), text.encode("utf-8"))
            for member, data in members.items():
                zf.writestr(zipfile.ZipInfo(member, _EPOCH), data)
        os.chmod(tmp, _file_mode(path))  # (mkstemp makes it readable by its owner only)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _describe(obj: Any, optimizer_state: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    from ..estimators._base import BaseMLP

    manifest: dict[str, Any] = {
        "format": m.FORMAT,
        "format_version": m.FORMAT_VERSION,
        "layerkit_version": __version__,
        "kind": type(obj).__name__,
        "hyperparameters": {},
        "network": None,
    }
    arrays: dict[str, Any] = {}
    if isinstance(obj, Sequential):
        manifest["network"] = network_spec(obj)
        arrays.update(network_arrays(obj))
        return manifest, arrays
    if is_target_regressor(obj):  # (its target scaler as JSON data, then the regressor)
        spec, inner = target_spec(obj)
        manifest, arrays = _describe(inner, optimizer_state)
        manifest["target"] = spec
        return manifest, arrays
    if is_pipeline(obj):  # (its scalers and imputers as JSON data, then the network)
        spec, final = pipeline_spec(obj)
        manifest, arrays = _describe(final, optimizer_state)
        manifest["pipeline"] = spec
        return manifest, arrays
    if not isinstance(obj, BaseMLP) or type(obj).__name__ not in ("MLPClassifier", "MLPRegressor"):
        hint = ""
        if hasattr(obj, "steps") or hasattr(obj, "best_estimator_"):
            hint = (
                "; save the estimator it found, search.best_estimator_ (a layerkit MLP, "
                "or a Pipeline of scikit-learn's scalers, imputers and encoders ending in "
                "one), or pickle or joblib.dump the whole object"
            )
        raise TypeError(
            "layerkit.save expected a layerkit MLPClassifier, MLPRegressor or Sequential, a "
            "Pipeline ending in an MLP, or a TransformedTargetRegressor of an MLPRegressor, got "
            f"{type(obj).__module__}.{type(obj).__qualname__}{hint}"
        )
    manifest["hyperparameters"] = hyperparameters(obj)
    net = obj.__dict__.get("network_")
    if net is None:
        return manifest, arrays
    manifest["network"] = network_spec(net)
    arrays.update(network_arrays(net))
    loss = typed(obj._loss)
    manifest["loss"] = {"type": loss["type"], "config": loss["config"]}
    optimizer = obj.__dict__.get("_optimizer") if optimizer_state else None
    if optimizer is not None:
        spec, state_arrays = optimizer_spec(optimizer, net.params)
        manifest["optimizer"] = spec
        arrays.update(state_arrays)
    if obj.__dict__.get("_shuffle_rng") is not None:
        manifest["shuffle_rng"] = generator_state(obj._shuffle_rng)
    manifest["fitted"] = fitted_spec(obj)
    return manifest, arrays


def _is_model_file(path: Path) -> bool:
    """Whether ``path`` is a zip holding a model file's manifest (of any version), an
    empty file (nothing to lose), or a file named ``*.lkm``, a model file's name (one a
    crash left truncated must not stop the next save)."""
    if not path.is_file():  # (a device, a pipe: never replaced by a file)
        return False
    if path.stat().st_size == 0 or path.suffix.lower() == ".lkm":
        return True
    try:
        with zipfile.ZipFile(path) as zf:
            return m.MANIFEST in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _npy_bytes(array: Any, name: str) -> bytes:
    array = np.asarray(array)
    if not array.flags.c_contiguous:  # (ascontiguousarray would make a 0-d array 1-d)
        array = np.ascontiguousarray(array)
    if array.dtype.str not in ("<f4", "<f8"):
        raise TypeError(
            f"cannot save array {name!r}: only little-endian float32/float64 arrays are "
            f"saved, got {array.dtype}"
        )
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=(1, 0), allow_pickle=False)
    return buffer.getvalue()


def _file_mode(path: Path) -> int:
    """The mode a new file gets here (0o666 less the umask), or the replaced file's."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
