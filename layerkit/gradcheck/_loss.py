"""check_loss: a loss's whole contract; ∇_a C (and the fused δ) against eq. 3-1."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._checks import require_instance
from ..losses.base import _COST_METHODS, Loss, _deepest, _owner
from ._common import check_config_round_trip, check_copies, unchanged
from ._core import (
    GradientReport,
    Tolerance,
    compare,
    expect,
    finite_batch,
    require_seed,
    run_checks,
)


def check_loss(
    loss: Loss,
    a: Any = None,
    y: Any = None,
    sample_weight: Any = None,
    *,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    max_entries: int | None = 64,
    random_state: int = 0,
    checks: Iterable[str] | None = None,
) -> GradientReport:
    """Check a loss against the loss contract; prove ``grad`` with eq. 3-1.

    The checks, each named in the report:

    - ``value``: a finite Python float; ``per_example`` (and ``per_example_from_logits``)
      give one cost per example, shape ``(m,)``; ``grad`` has the shape and dtype of
      ``a`` (float32 stays float32).
    - ``weights``: no weights equals unit weights; integer weights equal repeated rows;
      a batch whose weights are all zero has value 0 and a zero gradient (the message
      says which of the two is wrong).
    - ``input_not_mutated``: ``value`` and ``grad`` leave ``a`` and ``y`` as given.
    - ``gradient``: ``grad`` equals central differences of ``value`` (float64); for a
      canonical ``link`` and a logits form, ``delta_from_logits`` equals those of
      ``value_from_logits``
      and both paths give the same value.
    - ``copies``, ``config``: deepcopy/pickle give the same value; the config round-trips.

    Parameters
    ----------
    loss : Loss
    a, y : arrays of shape (m, k), optional
        Outputs and targets to check at; by default ``a`` are random probabilities
        (4 x 3) and ``y`` one-hot rows, which suit most losses.
    sample_weight : array of shape (m,), optional
        Weights to check with; by default none.
    eps : float
        The step ε of the central differences of eq. 3-1 (taken in float64).
    rtol, atol : float
        An entry passes when ``|analytic - numeric| <= atol + rtol * max(|analytic|,
        |numeric|)``.
    max_entries : int or None
        At most this many randomly chosen entries of each array are checked one by one
        (None: all); the others, together along a random direction.
    random_state : int
        Seeds the default ``a`` and ``y`` and the checked entries.
    checks : iterable of str, optional
        Run only these checks (by name); all by default.

    Returns
    -------
    GradientReport

    Raises
    ------
    GradientCheckError
        Naming every failed check and why.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit.gradcheck import check_loss
    >>> from layerkit.losses import SquaredError
    >>> rng = np.random.default_rng(0)
    >>> report = check_loss(SquaredError(), rng.normal(size=(4, 2)), rng.normal(size=(4, 2)))
    >>> sorted(report.errors)
    ['a', 'logits']
    """
    require_instance(loss, Loss, "the loss given to check_loss")
    tol = Tolerance(eps, rtol, atol, max_entries, where="check_loss")
    require_seed(random_state, "check_loss")
    rng = np.random.default_rng(random_state)
    if a is None:
        z = rng.normal(size=(4, 3))
        a = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    a = np.array(a, dtype=np.float64)
    if y is None:
        y = np.eye(a.shape[1])[rng.integers(0, a.shape[1], a.shape[0])]
    y = np.asarray(y, dtype=np.float64)
    finite_batch(a, "a", "check_loss")
    finite_batch(y, "y", "check_loss")
    _refuse_a_outside_the_domain(loss, a, y)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    report = GradientReport(repr(loss))

    def check_value() -> None:
        # (a logits form written, fused or not: value_from_logits is public)
        methods = ["per_example"] + (["per_example_from_logits"] if loss.link else [])
        for method in methods:  # (any real a will do as logits)
            if _owner(type(loss), method) is Loss:
                continue  # not written: value (or value_from_logits) is computed otherwise
            with np.errstate(over="ignore"):  # (as value computes it)
                shape = np.shape(getattr(loss, method)(*loss._check(a.copy(), y)))
            expect(
                shape == (a.shape[0],),
                f"{method} returned costs of shape {shape}, expected (m,) = ({a.shape[0]},): "
                "one cost per example, summed over the outputs (e.g. .sum(axis=1)); other "
                "shapes break sample weights and misstate the loss",
            )
        v = loss.value(a.copy(), y, sw)
        expect(isinstance(v, float) and np.isfinite(v), f"value must be a finite float, got {v!r}")
        for dtype in (np.float64, np.float32):
            g = np.asarray(loss.grad(a.astype(dtype), y.astype(dtype), sw))
            expect(g.shape == a.shape, f"grad has shape {g.shape}, expected {a.shape}")
            expect(g.dtype == dtype, f"grad turns {np.dtype(dtype)} outputs into {g.dtype}")

    def check_weights() -> None:
        m = a.shape[0]
        plain, unit = loss.value(a, y), loss.value(a, y, np.ones(m))
        expect(np.isclose(plain, unit, rtol=1e-12), f"unit weights give {unit}, none give {plain}")
        counts = np.arange(m) % 3
        counts[0] = 2  # (so that Σ counts is not m: s/m and s/Σs differ)
        repeated = np.repeat(np.arange(m), counts)
        weighted, duplicated = (
            loss.value(a, y, counts.astype(float)),
            loss.value(a[repeated], y[repeated]),
        )
        expect(
            np.isclose(weighted, duplicated, rtol=1e-10),
            f"integer weights give {weighted}, the repeated rows give {duplicated}",
        )
        zero_v = loss.value(a, y, np.zeros(m))
        zero_g = np.asarray(loss.grad(a, y, np.zeros(m)))
        wrong = []
        if zero_v != 0.0:
            wrong.append(f"value {zero_v!r} (must be 0)")
        if np.any(zero_g):
            nonzero = np.flatnonzero(zero_g)
            i = np.unravel_index(int(np.argmax(np.abs(zero_g))), zero_g.shape)
            index = tuple(int(j) for j in i)
            wrong.append(
                f"a gradient with {nonzero.size} of {zero_g.size} entries nonzero (must be "
                f"all 0; the largest is grad{list(index)} = {float(zero_g[index]):.6g}): "
                "grad must scale row x by s_x / Σ s as Loss.grad does, not ignore the weights"
            )
        expect(not wrong, "all-zero weights give " + " and ".join(wrong))
        # the gradient too: row x weighted by its count is its copies' rows summed
        g_weighted = np.asarray(loss.grad(a, y, counts.astype(float)), dtype=np.float64)
        summed = np.zeros(a.shape)
        np.add.at(summed, repeated, np.asarray(loss.grad(a[repeated], y[repeated])))
        off = np.abs(g_weighted - summed)
        tolerance = 1e-12 + 1e-9 * np.abs(summed)
        if np.any(off > tolerance):
            i = np.unravel_index(int(np.argmax(off - tolerance)), off.shape)
            index = tuple(int(j) for j in i)
            ratio = float(g_weighted[index]) / float(summed[index]) if summed[index] else 0.0
            rows, total = a.shape[0], float(counts.sum())
            hint = ""
            if rows > 1 and (np.isclose(ratio, total / rows) or np.isclose(ratio, rows / total)):
                hint = (
                    f"; they differ by the factor {ratio:.6g}, the ratio of the rows' "
                    f"number ({rows} against {total:g} repeated): look for a division "
                    "by the number of rows, where the weighted mean divides by Σ s, or "
                    "for a second one (Loss.grad already divides by Σ s)"
                )
            expect(
                False,
                f"integer weights give grad{list(index)} = {float(g_weighted[index]):.6g}, "
                f"the repeated rows {float(summed[index]):.6g} (summed over the row's "
                f"copies): grad must scale row x by s_x / Σ s, as Loss.grad does{hint}",
            )

    def check_input_not_mutated() -> None:
        a0, y0 = a.copy(), y.copy()
        loss.value(a0, y0, sw)
        loss.grad(a0, y0, sw)
        expect(unchanged(a0, a) and unchanged(y0, y), "value or grad modified a or y")

    def check_gradient() -> None:
        grad = loss.grad(a.copy(), y, sw)
        compare(report, "a", grad, lambda: loss.value(a, y, sw), a, tol, rng, "grad")
        cls = type(loss)
        logits_owner = _owner(cls, "per_example_from_logits")
        if loss.link is None or Loss in (logits_owner, _owner(cls, "link_output")):
            return  # no logits form written
        fused = loss.has_fused_form()
        cost_owner = _deepest(cls, _COST_METHODS)
        if not fused and not issubclass(logits_owner, cost_owner):
            return  # a logits form inherited beneath the cost written: never used
        z = rng.normal(size=a.shape)
        if fused:
            delta = loss.delta_from_logits(z.copy(), y, sw)
            compare(
                report,
                "logits",
                delta,
                lambda: loss.value_from_logits(z, y, sw),
                z,
                tol,
                rng,
                "delta_from_logits",
            )
        # (a logits form written with the cost: one cost in two forms, or the loss
        # reported and the one trained disagree)
        from_logits = loss.value_from_logits(z, y, sw)
        general = loss.value(loss.link_output(z, np.empty_like(z)), y, sw)
        expect(
            np.isclose(from_logits, general, rtol=1e-9, atol=1e-12),
            f"value_from_logits gives {from_logits!r} but value of the link's output gives "
            f"{general!r}: {logits_owner.__name__}'s per_example_from_logits and "
            f"{cost_owner.__name__}'s cost on the outputs must be the same cost",
        )

    def same_value(p: Loss, q: Loss) -> str | None:
        return None if p.value(a, y, sw) == q.value(a, y, sw) else "value differs"

    named = [
        ("value", check_value),
        ("weights", check_weights),
        ("input_not_mutated", check_input_not_mutated),
        ("gradient", check_gradient),
        ("copies", lambda: check_copies(copy.deepcopy(loss), same_value)),
        ("config", lambda: check_config_round_trip(loss)),
    ]
    return run_checks(report, named, checks)


def _refuse_a_outside_the_domain(loss: Loss, a: Any, y: Any) -> None:
    """A ValueError if ``a`` lies outside what the loss's link outputs (a cross-entropy's
    a beyond (0, 1), where it is clipped flat) or the cost is not finite there: every
    comparison would fail for the input's sake, and blame the loss (a built-in one's
    gradient "wrong")."""
    from ..layers import Exp, Sigmoid, Softmax

    link = loss.link
    outside = None
    if link in (Sigmoid, Softmax) and not ((a > 0) & (a < 1)).all():
        outside = "probabilities, in (0, 1), what its link outputs"
    elif link is Exp and not (a > 0).all():
        outside = "positive rates, what its link outputs"
    if outside is not None:
        raise ValueError(
            f"check_loss: {loss!r} is computed on {outside}, and the a given holds values "
            f"from {a.min():.3g} to {a.max():.3g}; finite differences outside say nothing "
            "(the cost is clipped there): give a inside"
        )
    if _owner(type(loss), "per_example") is Loss or a.shape != np.shape(y):
        return  # (no per_example to ask, or shapes the checks themselves report)
    try:
        with np.errstate(all="ignore"):
            costs = np.asarray(loss.per_example(*loss._check(a.copy(), y)), dtype=np.float64)
    except Exception:  # (a crash is the checks' to report, as a failure)
        return
    if costs.shape != (a.shape[0],):
        return  # (the shape check reports it)
    bad = np.flatnonzero(~np.isfinite(costs))
    if bad.size:
        raise ValueError(
            f"check_loss: {loss!r} is not finite at the a given (rows {bad[:5].tolist()}): "
            "is a outside the loss's domain (a cross-entropy needs probabilities, in (0, 1))? "
            "Finite differences there say nothing; give a where the loss is defined (if a "
            "is, per_example is wrong there)"
        )
