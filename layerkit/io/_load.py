"""layerkit.load: validate the manifest, check every array, build registered classes only."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .._configurable import RegistryError
from ..exceptions import ModelFileError
from ..network import Sequential
from . import _manifest as m
from ._columns import holds_later_steps, holds_selectors
from ._pipeline import build_pipeline
from ._state import build_network, build_optimizer, restore_fitted, statistic_holds
from ._target import build_target
from ._values import build, decode, decoded, restore_generator

_HEADER_LIMIT = 4096  # bytes an .npy header may take


def load(path: str | os.PathLike[str]) -> Any:
    """Load what ``layerkit.save`` wrote, without unpickling or importing anything.

    The manifest is validated (pydantic) before any array is read; every array's
    shape and dtype are checked against the architecture before it is read, and its
    SHA-256 against the manifest; only registered layer, loss and optimizer classes
    are built. Every problem with the file raises ``ModelFileError``.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    MLPClassifier, MLPRegressor, Sequential, Pipeline or TransformedTargetRegressor

    Raises
    ------
    ModelFileError
        The file is truncated or corrupted, has a wrong or future format version, a
        manifest that does not validate, a missing or misshapen array, or names a type
        not registered in this process; or ``path`` is a directory.
    FileNotFoundError
        There is no file at ``path``.
    TypeError
        ``path`` is not a path (None, or an open file object).
    """
    path = _model_path(path, "load")
    with open(path, "rb") as handle:
        # read member by member (a large model's file is never in memory whole); a
        # stream that cannot seek, a pipe, is read first (zipfile needs to seek)
        source: Any = handle if handle.seekable() else io.BytesIO(handle.read())
        return _loaded(source, path)


def _loaded(source: Any, path: Path) -> Any:
    """``_load``, with every problem raised as a ModelFileError naming ``path``."""
    try:
        return _load(source, source.seek(0, os.SEEK_END))
    except ModelFileError as err:
        raise ModelFileError(f"{path}: {err}") from err.__cause__
    except RegistryError as err:  # a sound file naming a class this process lacks
        raise ModelFileError(f"{path}: {err}") from err
    except Exception as err:  # anything a damaged file can provoke
        raise ModelFileError(f"{path}: not a readable layerkit model file: {err}") from err


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated manifest of a model file (format version, architecture, history).

    Reads no array: for a look at a file (``layerkit inspect``) without loading it.
    Problems raise ``ModelFileError`` as in ``load``.
    """
    path = _model_path(path, "read_manifest")
    with _reading(path) as zf:
        _check_members(zf, path.stat().st_size)
        return _read_manifest(zf).model_dump(mode="json")


def verify_checksums(path: str | os.PathLike[str]) -> int:
    """Check every array member of a model file against the SHA-256 its manifest gives,
    building nothing (no class the file names is needed); return how many were checked.
    For a look at a file whose layers' classes are not registered here."""
    path = _model_path(path, "verify_checksums")
    with _reading(path) as zf:
        size = path.stat().st_size
        _check_members(zf, size)
        manifest = _read_manifest(zf)
        _check_declared_sizes(manifest, size)
        names = [spec.name for spec in manifest.arrays]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ModelFileError(f"array {twice[0]!r} is listed twice")
        for spec in manifest.arrays:
            try:
                info = zf.getinfo(m.array_member(spec.name))
            except KeyError:
                raise ModelFileError(f"array {spec.name!r} is missing from the archive") from None
            digest = hashlib.sha256()
            with zf.open(info) as member:
                for chunk in iter(lambda: member.read(1 << 20), b""):
                    digest.update(chunk)
            if digest.hexdigest() != spec.sha256:
                raise ModelFileError(
                    f"array {spec.name!r} does not match its SHA-256: the file is damaged"
                )
        return len(manifest.arrays)


@contextmanager
def _reading(path: Path) -> Iterator[zipfile.ZipFile]:
    """The file as a zip; any problem a ModelFileError naming the file, as in load."""
    try:
        with zipfile.ZipFile(path) as zf:
            yield zf
    except ModelFileError as err:
        raise ModelFileError(f"{path}: {err}") from err.__cause__
    except FileNotFoundError:
        raise
    except Exception as err:  # anything a damaged file can provoke
        raise ModelFileError(f"{path}: not a readable layerkit model file: {err}") from err


def _model_path(path: Any, function: str) -> Path:
    """``path`` as a Path; a TypeError for what is not a path, a ModelFileError for a
    directory (a missing file is left to ``open``: FileNotFoundError)."""
    if not isinstance(path, (str, os.PathLike)):
        hint = ""
        if hasattr(path, "read"):
            hint = (
                ": the file is read by its path, not from a file object; pass the "
                "name it was opened with"
            )
        raise TypeError(
            f"layerkit.{function} expected the path of a model file (a str or "
            f"pathlib.Path), got {type(path).__name__}{hint}"
        )
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(
            f"{path}: is a directory, not a model file; give the path of the file "
            "layerkit.save wrote in it"
        )
    return path


def _load(source: Any, size: int) -> Any:
    """The model in ``source`` (a seekable binary stream of ``size`` bytes)."""
    try:
        zf = zipfile.ZipFile(source)
    except zipfile.BadZipFile as err:
        source.seek(0)
        pickled = source.read(1) == b"\x80"  # (pickle protocol 2 and later, joblib's too)
        hint = (
            "; it looks like a pickle (pickle.dump, joblib.dump), not a layerkit model "
            "file: load it with pickle.load or joblib.load, in code you trust"
            if pickled
            else ""
        )
        raise ModelFileError(f"not a zip archive, or truncated ({err}){hint}") from err
    _check_members(zf, size)
    manifest = _read_manifest(zf)
    _warn_of_names_since_taken(manifest)
    _check_declared_sizes(manifest, size)
    obj, targets = _build(manifest)
    _read_arrays(zf, manifest, targets)
    state = {k[len("state/") :]: v for k, v in targets.items() if k.startswith("state/")}
    if state:  # read into arrays of their own: put into the layers now
        net = obj if isinstance(obj, Sequential) else obj.network_
        net._set_state(state)
    if isinstance(obj, Sequential) and (manifest.pipeline or manifest.target) is not None:
        raise ModelFileError(
            "a Sequential is not saved inside a Pipeline or a TransformedTargetRegressor"
        )
    if manifest.pipeline is not None:  # (the steps before the network)
        obj = build_pipeline(manifest.pipeline, obj)
    if manifest.target is not None:  # (the target's scaler around them)
        obj = build_target(manifest.target, obj)
    return obj


#: Built-in layers added after the first release, with the version that added them: in
#: a file written before, the name can only have meant a layer of the user's own.
#: (the 0.2.0 release took four activations; BatchNorm, AdamW and Composite came after it)
_BUILT_IN_SINCE = {
    **{name: (0, 2, 0) for name in ("ELU", "GELU", "SiLU", "Softplus")},
    **{name: (0, 3, 0) for name in ("BatchNorm", "AdamW", "Composite")},
}


def _warn_of_names_since_taken(manifest: m.Manifest) -> None:
    written = tuple(int(part) for part in re.findall(r"\d+", manifest.layerkit_version)[:3])
    specs: list[m.TypedObject] = [*(manifest.network.layers if manifest.network else [])]
    specs += [manifest.optimizer] if manifest.optimizer else []
    names = sorted(
        {
            spec.type
            for spec in specs
            if spec.type in _BUILT_IN_SINCE and written < _BUILT_IN_SINCE[spec.type]
        }
    )
    if names:
        versions = sorted({_BUILT_IN_SINCE[name] for name in names})
        made = "; ".join(
            f"layerkit {'.'.join(map(str, v))} made "
            + ", ".join(n for n in names if _BUILT_IN_SINCE[n] == v)
            for v in versions
        )
        warnings.warn(
            f"the model file was written by layerkit {manifest.layerkit_version}, before "
            f"{made} built-in names, so the file may mean classes of your own by them; it "
            f"is loaded with layerkit's built-in {', '.join(names)}, whose arithmetic may "
            "differ from yours: compare the predictions with the original model's before "
            "relying on them",
            UserWarning,
            stacklevel=5,  # (_warn_of_names_since_taken, _load, _loaded, load, the caller)
        )


#: Built-in layers whose output is as wide as their input.
_SAME_WIDTH = frozenset(
    {"ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Identity", "Dropout", "Softmax", "Exp"}
    | {"ELU", "GELU", "SiLU", "Softplus"}
)


def _check_members(zf: zipfile.ZipFile, size: int) -> None:
    """Each member once, stored (not compressed), as layerkit writes them: a second
    manifest.json would show one thing to an unzip tool and another to the loader."""
    counts = Counter(info.filename for info in zf.infolist())
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        raise ModelFileError(f"the archive holds {', '.join(repeated)} more than once")
    for info in zf.infolist():
        if info.compress_type != zipfile.ZIP_STORED:
            raise ModelFileError(
                f"{info.filename} is compressed; a model file stores its members "
                "uncompressed (a file re-zipped by hand: zip it again with `zip -0`, or "
                "Python's zipfile with ZIP_STORED)"
            )
        if info.file_size > size:
            raise ModelFileError(f"{info.filename} declares more bytes than the file holds")


def _check_declared_sizes(manifest: m.Manifest, size: int) -> None:
    """Before anything is built: the arrays the manifest declares fit in the file, and
    each Dense layer's configuration, and each BatchNorm's width, agrees with its
    declared arrays (a manifest asking for a huge layer would otherwise be allocated
    before any array is compared: a 3 KB file declaring 50 million inputs before a
    BatchNorm took 6.7 GB)."""
    specs = {spec.name: spec for spec in manifest.arrays}
    total = sum(
        int(np.prod(spec.shape, dtype=object)) * np.dtype(spec.dtype).itemsize
        for spec in manifest.arrays
    )
    if total > size:
        raise ModelFileError(
            f"the manifest declares {total:,} bytes of arrays in a {size:,}-byte file"
        )
    network = manifest.network
    if network is None:
        return
    layers = [(layer.type, layer.config) for layer in network.layers]
    _check_layer_sizes(layers, "network/", network.n_in, specs)


def _check_layer_sizes(
    layers: list[tuple[str, Any]], prefix: str, width: int | None, specs: dict[str, Any]
) -> int | None:
    """``_check_declared_sizes`` for one list of layers, whose arrays are named
    ``prefix + "<i>.<name>"`` ("network/", then "network/<i>." inside a block), and the
    inner lists of the built-in blocks (``Composite``) in it, whose Dense layers would
    be built at any size the file asks for. Returns the list's output width when known
    (None after a layer of the user's: its code decides)."""
    for i, (kind, config) in enumerate(layers):
        where = f"{prefix}{i}."
        if kind in _SAME_WIDTH:
            continue
        if kind == "Composite":
            inner = _inner_specs(config)
            if inner is None:
                return None  # (building it reports the bad configuration)
            width = _check_layer_sizes(inner, where, width, specs)
            continue
        if kind == "BatchNorm":  # (keeps the width; one gamma and beta per feature)
            for name in ("gamma", "beta"):
                spec = specs.get(f"{where}{name}")
                if spec is None:
                    raise ModelFileError(f"arrays missing from the file: {where}{name}")
                if width is not None and list(spec.shape) != [width]:
                    raise ModelFileError(
                        f"layer {where[8:-1]} is a BatchNorm on {width} inputs but its {name} "
                        f"is declared as {list(spec.shape)}"
                    )
            if width is None and len(specs[f"{where}gamma"].shape) == 1:
                width = specs[f"{where}gamma"].shape[0]
            continue
        if kind != "Dense":
            width = None  # a user's layer: its code decides its width
            continue
        units = decode(config.get("units"))
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            return None  # (building it reports the bad configuration)
        weights = specs.get(f"{where}W")
        if weights is None:
            raise ModelFileError(f"arrays missing from the file: {where}W")
        if list(weights.shape)[1:] != [units] or (
            width is not None and list(weights.shape) != [width, units]
        ):
            raise ModelFileError(
                f"layer {where[8:-1]} is Dense(units={units!r}) on {width or 'its'} inputs "
                f"but its weights are declared as {list(weights.shape)}"
            )
        width = units
    return width


def _inner_specs(config: Any) -> list[tuple[str, Any]] | None:
    """A Composite's inner layers as ``(type, config)``, read from its config as
    stored (nothing built), or None if they are not a list of layer specs."""
    inner = config.get("inner") if isinstance(config, dict) else None
    if isinstance(inner, dict) and set(inner) == {"$tuple"}:
        inner = inner["$tuple"]
    if not isinstance(inner, list):
        return None
    found = []
    for item in inner:
        spec = item.get("$object") if isinstance(item, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
            return None
        found.append((str(spec.get("type")), spec["config"]))
    return found


def _read_manifest(zf: zipfile.ZipFile) -> m.Manifest:
    try:
        info = zf.getinfo(m.MANIFEST)
    except KeyError:
        raise ModelFileError(f"no {m.MANIFEST} in the archive") from None
    if info.file_size > m.MAX_MANIFEST_BYTES:
        raise ModelFileError(f"{m.MANIFEST} is {info.file_size} bytes, more than allowed")
    try:
        raw = json.loads(zf.read(info).decode("utf-8"), parse_constant=_no_constants)
    except (ValueError, zipfile.BadZipFile, EOFError) as err:
        raise ModelFileError(f"{m.MANIFEST} is damaged: {err}") from err
    if not isinstance(raw, dict) or raw.get("format") != m.FORMAT:
        raise ModelFileError(f"not a layerkit model file (format must be {m.FORMAT!r})")
    version = raw.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"format_version must be an integer, got {version!r}")
    if version > m.FORMAT_VERSION:
        raise ModelFileError(
            f"written in format version {version} by layerkit "
            f"{raw.get('layerkit_version')!r}; this layerkit reads version "
            f"{m.FORMAT_VERSION}: upgrade layerkit to load it"
        )
    if version < m.FIRST_FORMAT_VERSION:
        raise ModelFileError(f"unknown format version {version}")
    try:
        manifest = m.Manifest.model_validate(raw)
    except Exception as err:
        raise ModelFileError(f"the manifest does not validate: {err}") from err
    for entry, since in (
        ("pipeline", m.PIPELINE_FORMAT_VERSION),
        ("target", m.TARGET_FORMAT_VERSION),
    ):
        if getattr(manifest, entry) is not None and version < since:
            raise ModelFileError(
                f"a {entry!r} entry in a file of format version {version}: it came in "
                f"version {since}"
            )
    if version < m.COLUMNS_FORMAT_VERSION and holds_later_steps(
        [raw.get("pipeline"), raw.get("target")]
    ):
        raise ModelFileError(
            f"an encoder, ColumnTransformer or inner Pipeline in a file of format version "
            f"{version}: they came in version {m.COLUMNS_FORMAT_VERSION}"
        )
    if version < m.SELECTOR_FORMAT_VERSION and holds_selectors(
        [raw.get("pipeline"), raw.get("target")]
    ):
        raise ModelFileError(
            f"a make_column_selector in a file of format version {version}: it came in "
            f"version {m.SELECTOR_FORMAT_VERSION}"
        )
    return manifest


def _build(manifest: m.Manifest) -> tuple[Any, dict[str, Any]]:
    """The object to return, and the arrays the file must fill, by name."""
    from ..estimators import MLPClassifier, MLPRegressor

    kinds: dict[str, type] = {
        "Sequential": Sequential,
        "MLPClassifier": MLPClassifier,
        "MLPRegressor": MLPRegressor,
    }
    if manifest.kind not in kinds:
        raise ModelFileError(f"unknown model kind {manifest.kind!r}")
    net = build_network(manifest.network) if manifest.network is not None else None
    targets: dict[str, Any] = {}
    if net is not None:
        targets.update({f"network/{k}": v for k, v in net.params.items()})
        targets.update(_state_targets(manifest, net))
    if manifest.kind == "Sequential":
        if net is None:
            raise ModelFileError("a Sequential file must describe its network")
        return net, targets
    est = kinds[manifest.kind](
        **{
            k: decoded(v, f"hyperparameters.{k}", layers=k == "layers")
            for k, v in manifest.hyperparameters.items()
        }
    )
    with warnings.catch_warnings():  # (advice on settings was given at fit: a trial saw
        warnings.simplefilter("ignore", UserWarning)  # it again at every load and predict)
        est._validate_params()
    if net is None:
        return est, targets
    if manifest.fitted is None or manifest.loss is None:
        raise ModelFileError("a fitted estimator needs its fitted metadata and loss")
    restore_fitted(est, manifest.fitted, net.n_in_)
    est._loss = build("loss", manifest.loss.type, manifest.loss.config)
    est._optimizer = None
    if manifest.optimizer is not None:
        est._optimizer = build_optimizer(manifest.optimizer)
        # the schedule its step size followed: the one saved (a later set_params of
        # another schedule then restarts the step size, as in the session that saved it)
        from ..estimators._stochastic import step_schedule

        est._schedule_fitted = step_schedule(est)
        params = net.params
        for spec in manifest.arrays:
            if spec.name.startswith("optimizer/"):
                _, slot, pname = spec.name.split("/", 2)
                if pname not in params or isinstance(est._optimizer.state.get(slot), float):
                    raise ModelFileError(f"optimizer state {spec.name!r} matches no parameter")
                slots = est._optimizer.state.setdefault(slot, {})
                slots[pname] = np.zeros_like(params[pname])
                targets[spec.name] = slots[pname]
    if manifest.shuffle_rng is not None:
        est._shuffle_rng = restore_generator(manifest.shuffle_rng)
    est._set_network(net)
    _check_consistent(est)
    return est, targets


def _state_targets(manifest: m.Manifest, net: Sequential) -> dict[str, Any]:
    """Fresh arrays, shaped as the layers built them, to read their state into (put into
    the layers after reading: a state array may be read-only); a state the file lacks
    keeps its built value, with a warning."""
    declared = {spec.name for spec in manifest.arrays if spec.name.startswith("state/")}
    targets, missing = {}, []
    for key, built in net.state.items():
        if f"state/{key}" in declared:
            targets[f"state/{key}"] = np.empty(built.shape, built.dtype)
        else:
            missing.append(key)
    if missing:
        warnings.warn(
            f"the model file holds no value for the layer state {', '.join(missing)} "
            "(it was written before the layer named it in state_attributes, or damaged): "
            "the layer keeps what its build gives, so predictions may differ from the "
            "saved model's; save the model again to keep its state",
            UserWarning,
            stacklevel=6,  # (_state_targets, _build, _load, _loaded, load, the caller)
        )
    return targets


def _check_consistent(est: Any) -> None:
    net = est.network_
    if getattr(est, "n_features_in_", net.n_in_) != net.n_in_:
        raise ModelFileError(
            f"n_features_in_={est.n_features_in_} but the network takes {net.n_in_} inputs"
        )
    binarizer = getattr(est, "_label_binarizer", None)
    if binarizer is not None:
        n_classes = len(binarizer.classes_)
        expected = 1 if binarizer.y_type_ == "binary" else n_classes
        if net.n_out_ != expected:
            raise ModelFileError(
                f"{n_classes} classes ({binarizer.y_type_}) need {expected} outputs, the "
                f"network has {net.n_out_}"
            )


def _read_arrays(zf: zipfile.ZipFile, manifest: m.Manifest, targets: dict[str, Any]) -> None:
    seen = set()
    for spec in manifest.arrays:
        if spec.name in seen:
            raise ModelFileError(f"array {spec.name!r} is listed twice")
        target = targets.get(spec.name)
        if target is None:
            raise ModelFileError(f"array {spec.name!r} is not part of the architecture")
        seen.add(spec.name)
        if tuple(spec.shape) != target.shape or np.dtype(spec.dtype) != target.dtype:
            raise ModelFileError(
                f"array {spec.name!r} is declared {spec.dtype}{tuple(spec.shape)}, the "
                f"architecture needs {target.dtype.str}{target.shape}"
            )
        member = m.array_member(spec.name)
        try:
            info = zf.getinfo(member)
        except KeyError:
            raise ModelFileError(f"array {spec.name!r} is missing from the archive") from None
        if info.file_size > target.nbytes + _HEADER_LIMIT:
            raise ModelFileError(f"array {spec.name!r} takes {info.file_size} bytes, too many")
        values = _read_npy_into(zf, info, target, spec)
        # weights: training never leaves them non-finite (it diverges first); optimizer
        # moments (Adam's v of an overflowing g²) and users' state may be
        if spec.name.startswith("network/") and not np.isfinite(values).all():
            raise ModelFileError(f"array {spec.name!r} holds NaN or infinite values")
        attribute = _batchnorm_statistic(manifest, spec.name)
        if attribute and not statistic_holds(attribute, values):
            raise ModelFileError(
                f"array {spec.name!r} holds NaN, negative or infinite values: a BatchNorm's "
                "running mean must be finite, and its running variance a number >= 0"
            )
        if values is not target:
            np.copyto(target, values)
    missing = sorted(set(targets) - seen)
    if missing:
        raise ModelFileError(f"arrays missing from the file: {', '.join(missing)}")


def _batchnorm_statistic(manifest: m.Manifest, name: str) -> str | None:
    """The attribute if array ``name`` is a built-in BatchNorm's running statistic."""
    if manifest.network is None or not name.startswith("state/"):
        return None
    index, _, attribute = name[len("state/") :].partition(".")
    layers = manifest.network.layers
    if (
        index.isdigit()
        and int(index) < len(layers)
        and layers[int(index)].type == "BatchNorm"
        and attribute in ("running_mean", "running_var")
    ):
        return attribute
    return None


_CHUNK = 1 << 20  # bytes read at a time from an array's member


def _read_npy_into(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Any, spec: Any) -> Any:
    """The array stored in member ``info``, read straight into ``target`` when it is
    contiguous (a fresh array of the model being built; else into a new array, which is
    returned), a chunk at a time: a large model's arrays never sit in memory twice. The
    SHA-256 covers the whole member, and a mismatch is reported before any other problem
    of it, as a corrupted file."""
    name, digest = spec.name, hashlib.sha256()
    problem: BaseException | None = None
    values = target if target.flags.c_contiguous else np.empty(target.shape, target.dtype)
    body = 0
    with zf.open(info) as opened:
        member: Any = opened  # (a ZipExtFile: it has readinto)

        def read(n: int) -> bytes:
            chunk = member.read(n)
            digest.update(chunk)
            return chunk

        try:
            head = read(10)  # magic, version, and the header's length
            head += read(int.from_bytes(head[8:10], "little") if len(head) == 10 else 0)
            _check_npy_header(io.BytesIO(head), target, name)
            view = values.reshape(-1).view(np.uint8).data  # (the array's own bytes)
            while body < len(view):
                got = member.readinto(view[body : body + _CHUNK])
                if not got:
                    break
                digest.update(view[body : body + got])
                body += got
        except Exception as err:  # (numpy's words for a bad header: ValueError, but also
            problem = err  # the tokenizer's and SyntaxError; reported after the digest)
        while chunk := read(_CHUNK):  # the rest, for the digest (and the count)
            body += len(chunk)
    if digest.hexdigest() != spec.sha256:
        raise ModelFileError(f"array {name!r} does not match its SHA-256: corrupted")
    if problem is not None:
        raise problem
    if body != target.nbytes:
        raise ModelFileError(f"array {name!r} holds {body} bytes, expected {target.nbytes}")
    return values


def _check_npy_header(stream: Any, target: Any, name: str) -> None:
    version = np.lib.format.read_magic(stream)
    if version != (1, 0):
        raise ModelFileError(f"array {name!r} has .npy version {version}, expected (1, 0)")
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    if fortran or shape != target.shape or dtype != target.dtype:
        raise ModelFileError(f"array {name!r} has a header that disagrees with the manifest")


def _no_constants(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON")
