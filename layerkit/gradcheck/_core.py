"""Central finite differences (the seed's eq. 3-1) and the comparison report."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Array = Any


class GradientCheckError(AssertionError):
    """An analytic gradient disagrees with finite differences (or is malformed)."""


@dataclass
class GradientEntry:
    """The worst disagreement found in one gradient array."""

    name: str
    checked: int
    worst_error: float
    index: tuple[int, ...] = ()
    analytic: float = 0.0
    numeric: float = 0.0


@dataclass
class GradientReport:
    """What a gradient check compared: the worst relative error per array.

    ``errors`` maps each checked array (``"input"`` for ∂C/∂x, parameter names
    otherwise) to its worst relative error ``|analytic - numeric| / max(|a|, |n|)``.
    """

    subject: str
    entries: list[GradientEntry] = field(default_factory=list)

    @property
    def errors(self) -> dict[str, float]:
        return {e.name: e.worst_error for e in self.entries}

    @property
    def worst_error(self) -> float:
        return max((e.worst_error for e in self.entries), default=0.0)

    def __str__(self) -> str:
        lines = [f"gradient check of {self.subject}: passed"]
        for e in self.entries:
            lines.append(
                f"  {e.name:>12}: {e.checked:5d} entries, worst relative error {e.worst_error:.2e}"
            )
        return "\n".join(lines)


@dataclass
class Tolerance:
    eps: float = 1e-6
    rtol: float = 1e-5
    atol: float = 1e-8
    max_entries: int | None = 64


def numeric_gradient(
    f: Callable[[], float], arr: Array, indices: list[tuple[int, ...]], eps: float
) -> Array:
    """∂f/∂arr[i] ≈ (f(arr + ε e_i) - f(arr - ε e_i)) / 2ε for each index i (eq. 3-1).

    ``arr`` is perturbed in place and restored exactly after each entry.
    """
    out = np.empty(len(indices))
    for k, i in enumerate(indices):
        orig = arr[i]
        arr[i] = orig + eps
        plus = f()
        arr[i] = orig - eps
        minus = f()
        arr[i] = orig
        out[k] = (plus - minus) / (2 * eps)
    return out


def sample_indices(
    shape: tuple[int, ...], limit: int | None, rng: np.random.Generator
) -> list[tuple[int, ...]]:
    """All indices of an array of ``shape``, or ``limit`` of them drawn at random."""
    size = int(np.prod(shape))
    flat = (
        np.arange(size)
        if limit is None or size <= limit
        else rng.choice(size, limit, replace=False)
    )
    return [tuple(int(j) for j in np.unravel_index(int(i), shape)) for i in np.sort(flat)]


def compare(
    report: GradientReport,
    name: str,
    analytic: Array,
    f: Callable[[], float],
    arr: Array,
    tol: Tolerance,
    rng: np.random.Generator,
) -> None:
    """Check ``analytic`` (∂f/∂arr) against central differences; record or raise."""
    analytic = np.asarray(analytic)
    if analytic.shape != arr.shape:
        raise GradientCheckError(
            f"{report.subject}: gradient of {name!r} has shape {analytic.shape}, "
            f"expected {arr.shape} (the shape of {name!r})"
        )
    indices = sample_indices(arr.shape, tol.max_entries, rng)
    numeric = numeric_gradient(f, arr, indices, tol.eps)
    got = np.array([float(analytic[i]) for i in indices])
    diff = np.abs(got - numeric)
    scale = np.maximum(np.abs(got), np.abs(numeric))
    rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1), 0.0)
    bad = diff > tol.atol + tol.rtol * scale
    worst = int(np.argmax(np.where(bad, rel, -1.0) if bad.any() else rel)) if indices else 0
    entry = GradientEntry(
        name,
        len(indices),
        float(rel[worst]) if indices else 0.0,
        indices[worst] if indices else (),
        float(got[worst]) if indices else 0.0,
        float(numeric[worst]) if indices else 0.0,
    )
    if bad.any():
        raise GradientCheckError(
            f"{report.subject}: gradient of {name!r} is wrong at index {entry.index}: "
            f"backward gives {entry.analytic:.10g}, finite differences give "
            f"{entry.numeric:.10g} (relative error {entry.worst_error:.3g}, allowed "
            f"rtol={tol.rtol:g} + atol={tol.atol:g}); {int(bad.sum())} of "
            f"{len(indices)} checked entries disagree"
        )
    report.entries.append(entry)


def as_float64(obj: Any) -> Any:
    """A deep copy of a layer or network whose parameters and gradients are float64."""
    obj = copy.deepcopy(obj)
    layers = obj.layers if hasattr(obj, "layers") else [obj]
    for layer in layers:
        for d in (layer.params, layer.grads):
            for k in list(d):
                d[k] = np.array(d[k], dtype=np.float64)
    if hasattr(obj, "dtype"):
        obj.dtype = np.dtype(np.float64)
    return obj
