"""Central finite differences (the seed's eq. 3-1) and the comparison report."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

Array = Any


class GradientCheckError(AssertionError):
    """A check of a layer, loss, optimizer or network failed.

    The message names every failed check and why; ``report`` holds all results.
    """

    def __init__(self, message: str, report: GradientReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class GradientEntry:
    """The worst disagreement found in one gradient array."""

    name: str
    checked: int
    worst_error: float
    index: tuple[int, ...] = ()
    analytic: float = 0.0
    numeric: float = 0.0
    #: the array's size; when more than ``checked``, every entry was also checked
    #: together with the others, along a random direction (``swept``), unless that
    #: check could not be settled (more kinks than it singles out)
    size: int = 0
    swept: bool = False


@dataclass
class GradientReport:
    """The results of a checker: each named check, and the gradient comparisons.

    ``checks`` maps each check's name to ``None`` (passed) or the reason it failed.
    ``errors`` maps each gradient array checked (``check_layer``: ``"input"`` for ∂C/∂x
    and the parameter names; ``check_network``: the network's parameter names;
    ``check_loss``: ``"a"`` for ∂C/∂a and ``"logits"`` for the output error) to its
    worst relative error ``|analytic - numeric| / max(|a|, |n|)``
    (0 for entries where both values are within ``atol`` of zero: equal up to rounding).
    """

    subject: str
    entries: list[GradientEntry] = field(default_factory=list)
    checks: dict[str, str | None] = field(default_factory=dict)
    #: what the checks could not see at this point (shown after the results)
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> dict[str, float]:
        return {e.name: e.worst_error for e in self.entries}

    @property
    def worst_error(self) -> float:
        return max((e.worst_error for e in self.entries), default=0.0)

    @property
    def failed(self) -> dict[str, str]:
        return {k: v for k, v in self.checks.items() if v is not None}

    def __str__(self) -> str:
        status = "FAILED" if self.failed else "passed"
        lines = [f"checks of {self.subject}: {status}"]
        for name, reason in self.checks.items():
            lines.append(
                f"  {'FAIL' if reason else 'ok':>4}  {name}" + (f": {reason}" if reason else "")
            )
        for e in self.entries:
            counted = f"{e.checked:,} entries"
            if e.size > e.checked:
                counted = f"{e.checked:,} of {e.size:,} entries one by one" + (
                    f", all {e.size:,} along a random direction"
                    if e.swept
                    else " (the rest: not settled along a random direction, see the notes)"
                )
            lines.append(
                f"        gradient of {e.name!r}: {counted}, worst relative error "
                f"{e.worst_error:.2e}"
            )
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def run_checks(
    report: GradientReport,
    checks: list[tuple[str, Callable[[], None]]],
    only: Iterable[str] | None = None,
) -> GradientReport:
    """Run the checks (those named in ``only``, or all); record results; raise if any failed."""
    if only is not None:
        wanted = [only] if isinstance(only, str) else list(only)
        if not wanted:
            raise ValueError(
                f"checks is empty, so nothing would be checked; name some of "
                f"{[n for n, _ in checks]}, or leave checks out for all of them"
            )
        unknown = set(wanted) - {name for name, _ in checks}
        if unknown:
            raise ValueError(
                f"unknown check names {sorted(unknown)}; known: {[n for n, _ in checks]}"
            )
        checks = [(name, check) for name, check in checks if name in wanted]
    crashed: Exception | None = None  # the first crash, chained for its traceback
    for name, check in checks:
        try:
            check()
        except GradientCheckError as err:
            report.checks[name] = str(err)
            cause = err.__cause__  # (a crash a check reported in its own words)
            if isinstance(cause, Exception) and not isinstance(cause, GradientCheckError):
                crashed = crashed or cause
        except Exception as err:  # the object under test crashed: that is a failure too
            report.checks[name] = f"raised {type(err).__name__}{raised_in(err)}: {err}"
            crashed = crashed or err
        else:
            report.checks[name] = None
    if report.failed:
        lines = [f"{report.subject} failed {len(report.failed)} of {len(report.checks)} checks:"]
        lines += [f"- {name}: {reason}" for name, reason in report.failed.items()]
        raise GradientCheckError("\n".join(lines), report) from crashed
    return report


def raised_in(err: BaseException) -> str:
    """Where ``err`` was raised, in the code under test: the innermost frame outside
    numpy and layerkit's checkers (" in backward (my_layers.py, line 12)"), or ""."""
    import traceback

    ours = (str(Path(np.__file__).parent), str(Path(__file__).parent))
    frames = [
        f
        for f in traceback.extract_tb(err.__traceback__)
        if not f.filename.startswith(ours) and not f.filename.startswith("<__array")
    ]
    if not frames:
        return ""
    frame = frames[-1]
    return f" in {frame.name} ({Path(frame.filename).name}, line {frame.lineno})"


def expect(condition: object, message: str) -> None:
    """Fail the current check with ``message`` unless ``condition`` holds."""
    if not bool(condition):
        raise GradientCheckError(message)


@dataclass
class Tolerance:
    """A checker's step and tolerances; ``where`` names the checker in messages."""

    eps: float = 1e-6
    rtol: float = 1e-5
    atol: float = 1e-8
    max_entries: int | None = 64
    where: str = "the gradient check"

    def __post_init__(self) -> None:
        for name, low, strict in (("eps", 0.0, True), ("rtol", 0.0, False), ("atol", 0.0, False)):
            value = getattr(self, name)
            ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
            if not ok or not np.isfinite(value) or (value <= low if strict else value < low):
                rule = "a finite number > 0" if strict else "a finite number >= 0"
                raise ValueError(f"{self.where}: {name} must be {rule}, got {value!r}")
        m = self.max_entries
        if m is not None and (
            isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1
        ):
            raise ValueError(
                f"{self.where}: max_entries must be None (every entry) or an int >= 1, got {m!r}"
            )


def require_seed(random_state: Any, where: str) -> None:
    """A checker's ``random_state``: an int >= 0 (each check draws from it anew)."""
    if (
        isinstance(random_state, bool)
        or not isinstance(random_state, (int, np.integer))
        or random_state < 0
    ):
        raise ValueError(f"{where}: random_state must be an int >= 0, got {random_state!r}")


def require_mode(training: Any, where: str, *, both: bool) -> None:
    """A checker's ``training``: True or False (or None, both modes, where ``both``)."""
    if (training is None and both) or isinstance(training, (bool, np.bool_)):
        return
    allowed = "None (both modes), True or False" if both else "True or False"
    raise TypeError(f"{where}: training must be {allowed}, got {training!r}")


def float_batch(x: Any, what: str, where: str) -> Any:
    """``x`` as a float64 array, or a clear error for values that are not numbers."""
    try:
        return np.array(x, dtype=np.float64)
    except (TypeError, ValueError):
        got = np.asarray(x).dtype if not isinstance(x, (str, bytes)) else type(x).__name__
        raise TypeError(f"{where}: {what} must hold numbers, got {got}") from None


def finite_batch(x: Any, what: str, where: str) -> None:
    """Refuse a batch with no rows or with non-finite values: nothing would be checked,
    or every comparison would fail for the input's sake, not the code's."""
    if x.shape[0] < 1:
        raise ValueError(f"{where}: {what} has no rows, so nothing would be checked")
    values = x.data if hasattr(x, "tocsr") else x
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{where}: {what} holds NaN or infinite values; check at a finite point")


def numeric_gradient(
    f: Callable[[], Any], arr: Array, indices: list[tuple[int, ...]], eps: float
) -> Array:
    """∂f/∂arr[i] ≈ (f(arr + ε e_i) - f(arr - ε e_i)) / 2ε for each index i (eq. 3-1).

    ``f`` may return the terms of a sum instead of the sum: the two sides are then
    subtracted term by term before summing, so the terms ``arr[i]`` does not reach
    cancel exactly, and the cost's size does not round away a small derivative (a cost
    of size 300, rounded to about 1e-13, leaves central differences with ε = 1e-6 no
    better than 1e-7). ``arr`` is perturbed in place and restored exactly after each
    entry, also when ``f`` raises. ``arr`` must be a writable float64 array: in float32
    a step of 1e-6 is lost to rounding (a float32 entry near 1 moves by 6e-8 at best),
    and an integer array cannot take it at all.
    """
    if not isinstance(arr, np.ndarray) or arr.dtype != np.float64 or not arr.flags.writeable:
        got = (
            f"{'a read-only' if not arr.flags.writeable else 'an'} array of dtype {arr.dtype}"
            if isinstance(arr, np.ndarray)
            else type(arr).__name__
        )
        raise TypeError(
            f"numeric_gradient: arr must be a writable float64 numpy array (it is moved "
            f"in place by eps), got {got}; for a network's parameters, build it with "
            "dtype=np.float64 (check_layer and check_network do so themselves)"
        )
    return central_differences(f, arr, indices, eps)[0]


#: the rounding of a cost's terms, in units of 2⁻⁵² times their magnitude: a couple of
#: roundings per term, on both sides of the difference (measured: a term of 1e6 moved
#: by its input rounds to about 2 units)
_ROUNDING_ULPS = 4.0


def central_differences(
    f: Callable[[], Any], arr: Array, indices: list[tuple[int, ...]], eps: float
) -> tuple[Array, Array, Array]:
    """``numeric_gradient``'s estimates, and for each the error that rounding alone can
    put in it: ``4 · 2⁻⁵² · Σ (|plus| + |minus|) / 2ε`` over the terms the entry moves
    (all of a scalar cost; of an array of terms, those that differ); third, the same
    over all the terms (what a change too small to register could hide). A check allows
    that much besides its ``atol``: a large cost's differences are no more accurate,
    and a small derivative among small terms keeps a small allowance. (The allowance
    comes from the terms as ``f`` returns them: a cost that cancels large terms inside
    one returned value, such as ``(a - y)²`` written as ``a² - 2ay + y²``, rounds more
    than its size shows, and can still fail a right gradient.)"""
    out, floor, floor_all = (np.empty(len(indices)) for _ in range(3))
    unit = _ROUNDING_ULPS * float(np.finfo(np.float64).eps)
    for k, i in enumerate(indices):
        orig = arr[i]
        h = eps
        try:
            arr[i] = orig + h
            plus = np.asarray(f(), dtype=np.float64)
            arr[i] = orig - h
            minus = np.asarray(f(), dtype=np.float64)
        finally:
            arr[i] = orig
        out[k] = float(np.sum(plus - minus)) / (2 * h)
        moved = plus != minus if plus.ndim else True
        for sizes, terms in ((floor, (plus[moved], minus[moved])), (floor_all, (plus, minus))):
            size = float(np.sum(np.abs(terms[0])) + np.sum(np.abs(terms[1])))
            sizes[k] = unit * size / (2 * h) if np.isfinite(size) else 0.0
    return out, floor, floor_all


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
    source: str = "backward",
    rows: int | None = None,
) -> None:
    """Check ``analytic`` (∂f/∂arr) against central differences; record or raise.
    ``source``: what computed ``analytic``, as the messages name it; ``rows``: the
    batch's rows, when a parameter's gradient sums over them.

    ``f`` returns the cost, or the terms it sums (an array: the differences are then
    taken term by term, see ``numeric_gradient``)."""
    if analytic is None:
        raise GradientCheckError(
            f"{report.subject}: gradient of {name!r} is None, expected an array of shape "
            f"{arr.shape} (the shape of {name!r})"
        )
    analytic = np.asarray(analytic)
    if analytic.shape != arr.shape:
        raise GradientCheckError(
            f"{report.subject}: gradient of {name!r} has shape {analytic.shape}, "
            f"expected {arr.shape} (the shape of {name!r})"
        )
    indices = sample_indices(arr.shape, tol.max_entries, rng)
    drawn = set(indices)
    swept = False
    if len(indices) < arr.size:  # the entries not drawn are checked together
        with np.errstate(over="ignore", invalid="ignore"):
            suspects, swept = _suspects(f, arr, analytic, tol)
        indices = sorted(drawn.union(suspects))
    with np.errstate(over="ignore", invalid="ignore"):  # (a non-finite result fails)
        numeric, rounding, _ = central_differences(f, arr, indices, tol.eps)
        atol = np.maximum(tol.atol, rounding)  # (per entry: what rounding alone can do)
        got = np.array([float(analytic[i]) for i in indices])
        diff = np.abs(got - numeric)
        scale = np.maximum(np.abs(got), np.abs(numeric))
        finite = np.isfinite(got) & np.isfinite(numeric)
        bad = ~finite | (diff > atol + tol.rtol * scale)
        # relative errors; where both values are zero up to atol (rounding) and agree, 0
        rel = np.where(bad | (scale > atol), diff / np.where(scale > 0, scale, 1), 0.0)
    rel[~finite] = np.inf
    kinks: list[tuple[int, float]] = []  # (entry, +1 right side or -1 left side)
    # rule out the finite differences' own error; a difference that is not finite for a
    # finite backward value too (a singularity within the step: a log near 0)
    for k in np.flatnonzero(bad & np.isfinite(got)):
        if not np.isfinite(numeric[k]):
            numeric[k], rounding[k], atol[k] = 0.0, 0.0, tol.atol
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            refined = _refine(
                f, arr, indices[k], got[k], tol, float(atol[k]), float(numeric[k]), rounding[k]
            )
            if refined is None and finite[k]:  # at a kink, either one-sided derivative
                side = _one_side_at_a_kink(f, arr, indices[k], got[k], tol, float(atol[k]))
                if side is not None:
                    refined = side[0]
                    kinks.append((int(k), side[1]))
        if refined is not None:
            numeric[k], diff[k], bad[k] = refined, abs(got[k] - refined), False
            finite[k] = True
            scale[k] = max(abs(got[k]), abs(refined))
            with np.errstate(invalid="ignore"):
                rel[k] = diff[k] / scale[k] if scale[k] > atol[k] else 0.0
        elif not finite[k]:
            numeric[k] = np.nan  # (as found: reported below as not finite)
    # an entry the direction singled out where no step settles the derivative (the cost
    # not finite at eps, a log of x within eps of 0, and no two smaller steps agreeing)
    # is left unchecked, as when it is not drawn; two smaller steps that agree, with
    # each other but not with backward, are a wrong gradient
    unsettled = []
    for j in np.flatnonzero(bad & np.isfinite(got)):
        if indices[j] in drawn:
            continue
        settled = _settled_estimate(f, arr, indices[j], tol, float(atol[j]))
        if settled is None:
            unsettled.append(int(j))
            continue
        numeric[j], finite[j] = settled, True
        diff[j] = abs(got[j] - settled)
        scale[j] = max(abs(got[j]), abs(settled))
        bad[j] = diff[j] > atol[j] + tol.rtol * scale[j]
        rel[j] = diff[j] / scale[j] if scale[j] > 0 else 0.0
    for u in unsettled:
        bad[u], finite[u], rel[u], numeric[u] = False, True, 0.0, got[u]
    if unsettled:
        report.notes.append(
            f"{len(unsettled)} entries of {name!r} that the random direction singled out "
            f"(first {indices[unsettled[0]]}) lie within the step eps={tol.eps:g} of a "
            "point where the cost is not finite or barely defined (a log near 0): they "
            "were not checked; pass a smaller eps to check them"
        )
    if len(kinks) > 1 and not _kinks_hold_together(f, arr, indices, got, kinks, tol, atol):
        # each a one-sided derivative, but not together (at a tie in a max, δ sent to
        # both inputs, or to neither)
        raise GradientCheckError(
            f"{report.subject}: gradient of {name!r} is wrong at a kink: at "
            f"{len(kinks)} checked entries {source}'s values each equal a derivative from "
            "one side, but not together: moving those entries together changes the cost "
            "otherwise than they say (at a tie between inputs, as in a max, δ goes to one "
            "of them, not to both or to neither); e.g. at index "
            f"{indices[kinks[0][0]]}, {source} gives {got[kinks[0][0]]:.10g}"
        )
    worst = int(np.argmax(np.where(bad, rel, -1.0) if bad.any() else rel)) if indices else 0
    entry = GradientEntry(
        name,
        len(indices),
        float(rel[worst]) if indices else 0.0,
        indices[worst] if indices else (),
        float(got[worst]) if indices else 0.0,
        float(numeric[worst]) if indices else 0.0,
        int(arr.size),
        swept,
    )
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        cost_overflows = not np.isfinite(numeric[first])
        # (a value smaller than the step: the step reaches a singularity, a log of 0)
        near_zero = _step_hint(arr, indices[first], name, tol.eps) if cost_overflows else ""
        raise GradientCheckError(
            f"{report.subject}: gradient of {name!r} at index {indices[first]}: {source} gives "
            f"{got[first]:.10g}, finite differences give {numeric[first]:.10g}: not finite "
            f"({int((~finite).sum())} of {len(indices)} checked entries)"
            + (
                near_zero
                or "; the cost itself is not finite near this point (the forward pass or "
                "the loss overflows): check at a smaller x"
                if cost_overflows
                else ""
            )
        )
    if bad.any():
        allowed = float(atol[worst])
        raised = (
            f", raised from {tol.atol:g} for the rounding of the terms this entry moves"
            if allowed > tol.atol
            else ""
        )
        raise GradientCheckError(
            f"{report.subject}: gradient of {name!r} is wrong at index {entry.index}: "
            f"{source} gives {entry.analytic:.10g}, finite differences give "
            f"{entry.numeric:.10g} (relative error {entry.worst_error:.3g}, allowed "
            f"rtol={tol.rtol:g} + atol={allowed:g}{raised}); {int(bad.sum())} of "
            f"{len(indices)} checked entries disagree"
            + _factor_hint(got[bad], numeric[bad], rows)
            + _step_hint(arr, entry.index, name, tol.eps)
        )
    report.entries.append(entry)
    unseen = int(np.sum(finite & ~bad & (scale <= atol) & (scale > 0)))
    idle = len(indices) > 1 and bool(np.all(finite & ~bad & (scale <= atol)))
    if idle:  # (every entry 0, or within atol of it: the cost may not depend on it at all)
        report.notes.append(
            f"all {len(indices)} checked entries of {name!r} are within atol={tol.atol:g} of 0 "
            "in both values, so they were taken as equal, not compared: the cost may not "
            "depend on it here (a bias right before a BatchNorm, whose mean subtraction "
            "cancels it, has a gradient of 0 everywhere); otherwise check at a point "
            "where the gradients are larger, or pass a smaller atol"
        )
    elif unseen:
        report.notes.append(
            f"{unseen} of {len(indices)} checked entries of {name!r} are within "
            f"atol={tol.atol:g} of 0 in both values, so they were taken as equal, not "
            "compared: check at a point where the gradients are larger (before training, "
            "say), or pass a smaller atol"
        )
    if len(indices) < arr.size and not swept:
        report.notes.append(
            f"the entries of {name!r} not checked one by one were checked together, along "
            "a random direction, where the cost's derivative disagreed with backward's in "
            f"more places than the check singles out ({_SUSPECTS}; kinks, as at ReLU(0), "
            "do this): they are not proven; pass max_entries=None to check every entry"
        )
    if kinks:
        report.notes.append(
            f"{len(kinks)} of {len(indices)} checked entries of {name!r} sit at a kink of the "
            "cost (its derivatives from the left and from the right differ there, as at "
            "ReLU(0)); backward's value equals one of the two, a valid derivative there, "
            "so central differences, which average them, were not used for those"
        )


#: at most this many entries are singled out by ``_suspects``, with at most this many
#: directional differences (two evaluations of the cost each)
_SUSPECTS, _SWEEPS = 16, 400


def _suspects(
    f: Callable[[], Any], arr: Array, analytic: Array, tol: Tolerance
) -> tuple[list[Any], bool]:
    """Entries of ``arr`` where ``analytic`` may be wrong, found without a difference per
    entry: the derivative along a random unit direction ``r`` (every entry moved at
    once) is compared with ``Σ r ⊙ analytic``; where they disagree, the direction is
    cut in halves, and each half that disagrees in halves again, down to single entries
    (a wrong gradient in one entry of 200,000 is found in about 36 differences). The
    entries found are then checked one by one like the sampled ones, with the same
    allowance for kinks and rounding (one found within the step of a singularity is
    left unchecked, with a note), so this only adds entries to check. Second: whether
    every disagreement was traced to single entries (not when more than ``_SUSPECTS``
    are, or a part disagrees and neither of its halves does)."""
    flat = np.asarray(analytic, dtype=np.float64).ravel()
    r = np.random.default_rng([arr.size, 3]).normal(size=arr.size)
    r /= np.linalg.norm(r)
    original = arr.copy()
    step = np.zeros(arr.shape)

    def disagrees(part: Array) -> bool:
        step.flat[part] = r[part] * tol.eps
        try:  # (the steps as taken, rounded to arr's floats, weigh the gradient)
            np.add(original, step, out=arr, casting="unsafe")
            taken = (arr - original).ravel()[part].astype(np.float64)
            plus = np.asarray(f(), dtype=np.float64)
            np.subtract(original, step, out=arr, casting="unsafe")
            taken += (original - arr).ravel()[part]
            minus = np.asarray(f(), dtype=np.float64)
        finally:
            arr[...] = original
            step.flat[part] = 0.0
        numeric = float(np.sum(plus - minus)) / (2 * tol.eps)
        expected = float(np.dot(taken, flat[part])) / (2 * tol.eps)
        moved = plus != minus if plus.ndim else True
        rounding = (
            _ROUNDING_ULPS
            * float(np.finfo(np.float64).eps)
            * float(np.sum(np.abs(plus[moved])) + np.sum(np.abs(minus[moved])))
            / (2 * tol.eps)
        )
        allowed = tol.atol * float(np.abs(r[part]).sum()) + rounding
        allowed += tol.rtol * max(abs(numeric), abs(expected))
        return not (np.isfinite(numeric) and np.isfinite(expected)) or (
            abs(numeric - expected) > allowed
        )

    found: list[int] = []
    pending: list[tuple[Array, int | None]] = [(np.arange(arr.size), None)]  # (part, parent)
    traced: set[int] = set()  # parts with a disagreeing half
    split: list[int] = []  # parts that disagreed and were halved
    sweeps = 0
    while pending and len(found) < _SUSPECTS and sweeps < _SWEEPS:
        part, parent = pending.pop()
        sweeps += 1
        if not disagrees(part):
            continue
        if parent is not None:
            traced.add(parent)
        if len(part) == 1:
            found.append(int(part[0]))
            continue
        half = len(part) // 2
        split.append(sweeps)
        pending += [(part[half:], sweeps), (part[:half], sweeps)]  # (the first half next)
    settled = not pending and all(s in traced for s in split)
    return [tuple(int(j) for j in np.unravel_index(i, arr.shape)) for i in found], settled


def _settled_estimate(
    f: Callable[[], Any], arr: Array, index: tuple[int, ...], tol: Tolerance, atol: float
) -> float | None:
    """The central difference at the first of two consecutive smaller steps (eps/10 to
    eps/1e5) that are finite and agree with each other, or None."""
    last = None
    for shrink in (10.0, 100.0, 1e3, 1e4, 1e5):
        with np.errstate(all="ignore"):
            estimate = float(central_differences(f, arr, [index], tol.eps / shrink)[0][0])
        if not np.isfinite(estimate):
            last = None
            continue
        if last is not None and abs(estimate - last) <= atol + tol.rtol * max(
            abs(estimate), abs(last)
        ):
            return last
        last = estimate
    return None


def _factor_hint(got: Any, numeric: Any, rows: int | None) -> str:
    """When every disagreeing entry is off by one constant factor: that factor, its sign,
    and, for 1/m or m with m the batch's rows, the likely cause (a mean over the rows
    where the cost sums them, or the reverse)."""
    if got.size < 2 or not (np.isfinite(got).all() and np.all(numeric != 0)):
        return ""
    ratios = got / numeric
    factor = float(np.median(ratios))
    if factor == 0 or not np.allclose(ratios, factor, rtol=1e-3, atol=0):
        return ""
    text = (
        f"; every disagreeing entry is off by one factor: {factor:.6g} times the finite "
        "differences"
    )
    if factor < 0:
        return text + " (the opposite sign)"
    if rows and rows >= 2:
        for m, cause in (
            (1 / factor, f"1/{rows}: a mean over the batch's {rows} rows where the cost sums"),
            (factor, f"{rows}: a sum over the batch's {rows} rows where the cost takes a mean"),
        ):
            if abs(m - rows) < 1e-3 * rows:
                return text + f" ({cause} them)"
    return text


def _step_hint(arr: Array, index: tuple[int, ...], name: str, eps: float) -> str:
    """Why the step may be to blame at ``arr[index]``: floats there are too far apart
    for it, or the value is smaller than it (a singularity at 0 lies within the step)."""
    value = float(arr[index])
    spacing = float(np.spacing(abs(value))) if value else 0.0
    if eps < 16 * spacing:
        return (
            f"; but {name}{list(index)} = {value:.3g}, where floats are {spacing:.2g} apart, "
            f"so the step eps={eps:g} barely moves it: pass an eps of about 1e-6 times its "
            "size"
        )
    if 0 < abs(value) < eps:
        return (
            f"; but {name}{list(index)} = {value:.3g} is smaller than the step eps={eps:g}: "
            "if the cost is singular at 0 (a log, a division), pass a smaller eps"
        )
    return ""


def _one_side_at_a_kink(
    f: Callable[[], Any],
    arr: Array,
    index: tuple[int, ...],
    analytic: float,
    tol: Tolerance,
    atol: float,
) -> tuple[float, float] | None:
    """At a kink (the one-sided differences disagree), the one-sided derivative that
    equals ``analytic`` and holds at a ten times smaller step too (not the curvature
    of a smooth cost, whose one-sided estimates move with the step), with its side (+1
    from the right, -1 from the left); else None."""

    def close(a: float, b: float) -> bool:  # (a one-sided difference rounds twice as much)
        return abs(a - b) <= 2.0 * atol + tol.rtol * max(abs(a), abs(b))

    right, left = _one_sided(f, arr, index, tol.eps)
    if close(right, left):
        return None  # no kink: the disagreement is real
    smaller = _one_sided(f, arr, index, tol.eps / 10.0)
    for side, again, sign in zip((right, left), smaller, (1.0, -1.0), strict=True):
        if close(side, again) and close(side, analytic):
            return side, sign
    return None


def _kinks_hold_together(
    f: Callable[[], Any],
    arr: Array,
    indices: list[tuple[int, ...]],
    got: Array,
    kinks: list[tuple[int, float]],
    tol: Tolerance,
    atol: Array,
) -> bool:
    """Whether the one-sided values taken at several kinks hold jointly: along
    ``d = Σ s_k e_k`` (each entry moved to the side its value came from), the cost's
    derivative is ``Σ s_k g_k``, for all of them together and for every pair (at most
    200 pairs): separate kinks (ReLU units) add up, coupled ones (a tie in a max) only
    for a right choice of sides, and a pair shows an error that others could cancel."""
    at_x = np.asarray(f(), dtype=np.float64)  # (the cost at x: one evaluation for both steps)
    base = {h: at_x for h in (tol.eps, tol.eps / 10.0)}
    groups: list[list[tuple[int, float]]] = [kinks]
    pairs = [(i, j) for i in range(len(kinks)) for j in range(i + 1, len(kinks))]
    if len(pairs) > 200:
        chosen = np.random.default_rng(0).choice(len(pairs), 200, replace=False)
        pairs = [pairs[c] for c in np.sort(chosen)]
    groups += [[kinks[i], kinks[j]] for i, j in pairs]
    return all(_joint_derivative_holds(f, arr, indices, got, g, tol, atol, base) for g in groups)


def _joint_derivative_holds(
    f: Callable[[], Any],
    arr: Array,
    indices: list[tuple[int, ...]],
    got: Array,
    group: list[tuple[int, float]],
    tol: Tolerance,
    atol: Array,
    base: dict[float, Array],
) -> bool:
    """The derivative along the group's sides equals ``Σ s_k g_k``: at the step, at a
    ten times smaller one, or extrapolated from the two (a curved cost moves the
    one-sided estimate in proportion to the step; a wrong value does not go away)."""
    expected = sum(sign * float(got[k]) for k, sign in group)
    scale = sum(abs(float(got[k])) for k, _ in group)
    rounding = sum(2.0 * float(atol[k]) for k, _ in group)
    originals = [arr[indices[k]] for k, _ in group]
    estimates = []
    for h, terms in base.items():
        for k, sign in group:
            arr[indices[k]] += sign * h
        moved = np.asarray(f(), dtype=np.float64)
        for (k, _), original in zip(group, originals, strict=True):
            arr[indices[k]] = original
        estimate = float(np.sum(moved - terms)) / h
        if abs(estimate - expected) <= rounding * (tol.eps / h) + tol.rtol * scale:
            return True
        estimates.append(estimate)
    coarse, fine = estimates
    extrapolated = fine + (fine - coarse) / 9.0  # (the error linear in the step removed)
    return abs(extrapolated - expected) <= 12.0 * rounding + tol.rtol * scale


def _one_sided(
    f: Callable[[], Any], arr: Array, index: tuple[int, ...], h: float
) -> tuple[float, float]:
    """``((f(x + h) - f(x)) / h, (f(x) - f(x - h)) / h)``, term by term as
    ``central_differences`` takes them; ``arr`` restored exactly."""
    orig = arr[index]
    base = np.asarray(f(), dtype=np.float64)
    arr[index] = orig + h
    plus = np.asarray(f(), dtype=np.float64)
    arr[index] = orig - h
    minus = np.asarray(f(), dtype=np.float64)
    arr[index] = orig
    return float(np.sum(plus - base)) / h, float(np.sum(base - minus)) / h


def _refine(
    f: Callable[[], float],
    arr: Array,
    index: tuple[int, ...],
    analytic: float,
    tol: Tolerance,
    atol: float,
    coarse: float,
    coarse_rounding: float,
) -> float | None:
    """Smaller steps for an entry that disagrees (near a singularity, or a kink, the
    step ``eps`` can be too coarse). Returns an estimate that agrees with ``analytic``
    (within ``atol``, the entry's allowance at ``eps``, and its own rounding) when the
    next smaller step agrees with it too, or rounds too much to tell; else None: the
    disagreement is real. A step whose rounding exceeds what the comparison allows, or
    that hides the change the last estimate saw (at a large cost, often a difference of
    exactly 0), confirms nothing; the flat side of a kink, a derivative of exactly 0,
    moves nothing and hides nothing."""

    def close(a: float, b: float, rounding: float) -> bool:
        return abs(a - b) <= atol + rounding + tol.rtol * max(abs(a), abs(b))

    candidate, candidate_floor, seen = None, 0.0, abs(coarse)
    for shrink in (10.0, 100.0, 1e3, 1e4, 1e5):
        estimates, floors, _ = central_differences(f, arr, [index], tol.eps / shrink)
        # (the floor bounds the rounding, at 4 units a term; one is what it usually is)
        estimate, floor = float(estimates[0]), float(floors[0]) / _ROUNDING_ULPS
        if not np.isfinite(estimate) or not np.isfinite(floor):
            candidate, candidate_floor = None, 0.0  # (a singularity within the step)
            continue
        if estimate == 0.0:
            # nothing moved: exact, unless the terms the coarse step moved round more at
            # this step than the change it saw (then a change may be hidden)
            hidden = coarse_rounding / _ROUNDING_ULPS * shrink > seen
            if hidden:
                return candidate
            floor = 0.0
        allowed = atol + tol.rtol * max(abs(estimate), abs(analytic))
        if floor > allowed:  # too noisy to tell: the candidate stands
            return candidate
        if estimate:
            seen = abs(estimate)
        if candidate is not None and close(estimate, candidate, max(floor, candidate_floor)):
            return candidate if close(candidate, analytic, candidate_floor) else None
        candidate, candidate_floor = (
            (estimate, floor) if close(estimate, analytic, floor) else (None, 0.0)
        )
    return candidate


def as_float64(obj: Any) -> Any:
    """A deep copy of a layer or network whose floating-point arrays are float64.

    The float arrays the copied layers hold in their attributes, dicts and lists, and
    in the attributes of layers and other objects inside them, are converted (one copy
    per array, so arrays a layer shares between two places stay shared, and parameters
    a layer exposes through a property are converted where they live). Objects the
    deep copy shares with the original are left as they are.
    """
    original, obj = obj, copy.deepcopy(obj)
    # what the copy shares with the original (an object whose __deepcopy__ returns
    # itself, an Enum) is the caller's: it is left alone, never converted
    memo: dict[int, Any] = {}
    _float64_inside(original, memo, convert=False)
    layers = obj.layers if hasattr(obj, "layers") else [obj]
    for layer in layers:
        _float64_inside(layer, memo)
    if hasattr(obj, "dtype"):
        obj.dtype = np.dtype(np.float64)
    return obj


def _float64_inside(value: Any, memo: dict[int, Any], convert: bool = True) -> Any:
    """``value`` with its float arrays as float64 (containers and layers in place);
    with ``convert=False``, only marks everything reachable as seen (left alone)."""
    from ..layers.base import Layer
    from ..network import Sequential

    if isinstance(value, np.ndarray):
        if value.dtype.kind != "f" or value.dtype == np.float64:
            return value
        if id(value) not in memo:  # (the pair keeps the id alive)
            memo[id(value)] = (value, value.astype(np.float64) if convert else value)
        return memo[id(value)][1]
    if id(value) in memo:  # a container or layer already converted
        return value
    if isinstance(value, dict):
        memo[id(value)] = (value, value)
        for k, v in value.items():
            converted = _float64_inside(v, memo, convert)
            if convert:
                value[k] = converted
    elif isinstance(value, list):
        memo[id(value)] = (value, value)
        converted = [_float64_inside(v, memo, convert) for v in value]
        if convert:
            value[:] = converted
    elif isinstance(value, Layer) or _plain_object(value):
        memo[id(value)] = (value, value)
        _float64_inside(value.__dict__, memo, convert)
        if convert and isinstance(value, Sequential) and "dtype" in value.__dict__:
            # a network inside a layer (a block's): it casts its input to its dtype, and
            # its flat buffers are no longer what its layers hold
            value.__dict__["dtype"] = np.dtype(np.float64)
            value.__dict__.pop("_flat", None)
    return value


def _plain_object(value: Any) -> bool:
    """An instance of a user's class (something a layer may keep its arrays in)."""
    kind = type(value)
    return (
        hasattr(value, "__dict__")
        and not isinstance(value, (type, np.random.Generator))
        and kind.__module__ not in ("builtins", "numpy", "numpy.random")
        and not callable(value)
    )
