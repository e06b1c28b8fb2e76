"""check_loss: a loss's ∇_a C (and its fused δ) against finite differences."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..losses.base import Loss
from ._core import GradientCheckError, GradientReport, Tolerance, compare


def check_loss(
    loss: Loss,
    a: Any,
    y: Any,
    sample_weight: Any = None,
    *,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    max_entries: int | None = 64,
    random_state: int = 0,
) -> GradientReport:
    """Prove ``loss.grad`` right against central differences of ``loss.value`` (eq. 3-1).

    For a loss with a canonical ``link``, also checks ``delta_from_logits`` against the
    finite-difference gradient of ``value_from_logits`` at logits ``z`` with
    ``link(z) = a`` drawn at random, and that both paths give the same value.

    Returns
    -------
    GradientReport
        Worst relative error for ``"a"`` (and ``"logits"`` for canonical losses).

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
    tol = Tolerance(eps, rtol, atol, max_entries)
    rng = np.random.default_rng(random_state)
    a = np.array(a, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    report = GradientReport(repr(loss))
    compare(
        report,
        "a",
        loss.grad(a.copy(), y, sw),
        lambda: loss.value(a, y, sw),
        a,
        tol,
        rng,
    )
    if loss.link is None:
        return report
    z = rng.normal(size=a.shape)
    delta = loss.delta_from_logits(z.copy(), y, sw)
    compare(report, "logits", delta, lambda: loss.value_from_logits(z, y, sw), z, tol, rng)
    fused = loss.value_from_logits(z, y, sw)
    general = loss.value(loss.link_output(z, np.empty_like(z)), y, sw)
    if not np.isclose(fused, general, rtol=1e-9, atol=1e-12):
        raise GradientCheckError(
            f"{report.subject}: value_from_logits gives {fused!r} but value of the "
            f"link's output gives {general!r}"
        )
    return report
