"""check_network: every parameter gradient of a network against finite differences."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .._checks import require_instance, target_shape_problem
from ..losses.base import Loss
from ..network import Sequential
from ._core import (
    GradientCheckError,
    GradientReport,
    Tolerance,
    as_float64,
    compare,
    finite_batch,
    require_mode,
    require_seed,
)


def check_network(
    net: Sequential,
    x: Any,
    y: Any,
    loss: Loss,
    sample_weight: Any = None,
    *,
    training: bool = False,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    max_entries: int | None = 32,
    random_state: int = 0,
) -> GradientReport:
    """Prove a whole network's backpropagation right, parameter by parameter (eq. 3-1).

    The network is copied and upcast to float64. The gradients come from the general
    path, ``Sequential.loss_and_grads`` (the fused output error for a canonical last
    layer and loss), which any network can train through; networks of layerkit's own
    layers train through a faster training plan (``layerkit/_plan``), which layerkit's
    test suite holds equal to this path (to 1e-10), not this check. Each gradient is
    compared with central differences of the
    loss on ``(x, y)``, for at most ``max_entries`` random entries per parameter one by
    one, and for all of them along a random direction (as ``check_layer`` does). Every
    array is checked, and a failure lists every wrong one.

    Parameters
    ----------
    net : Sequential
        A built network; it is not modified.
    x : array or sparse matrix of shape (m, n_in)
    y : array of shape (m, n_out)
        Inputs and targets the loss is taken at.
    loss : Loss
    sample_weight : array of shape (m,), optional
    training : bool
        Check the training-mode pass (each evaluation gets the same dropout masks).
    eps : float
        The step ε of the central differences of eq. 3-1 (taken in float64).
    rtol, atol : float
        An entry passes when ``|analytic - numeric| <= atol + rtol * max(|analytic|,
        |numeric|)``.
    max_entries : int or None
        At most this many randomly chosen entries of each array are checked one by one
        (None: all); the others, together along a random direction.
    random_state : int
        Seeds the choice of checked entries.

    Returns
    -------
    GradientReport
        Worst relative error per parameter, keyed like ``net.params``.

    Raises
    ------
    GradientCheckError
        When gradients disagree with finite differences (its ``report`` holds every
        result), naming each wrong parameter array, its worst entry and both values, and
        where to look first: the layer of the wrong array nearest the output (an error
        in a backward pass reaches every array before it through δ).

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit import Sequential
    >>> from layerkit.gradcheck import check_network
    >>> from layerkit.layers import Dense, Softmax, Tanh
    >>> from layerkit.losses import CategoricalCrossEntropy
    >>> net = Sequential([Dense(4), Tanh(), Dense(3), Softmax()]).build(2, random_state=0)
    >>> x, y = np.random.default_rng(0).normal(size=(6, 2)), np.eye(3)[[0, 1, 2, 0, 1, 2]]
    >>> check_network(net, x, y, CategoricalCrossEntropy()).worst_error < 1e-6
    True
    """
    if not isinstance(net, Sequential) and hasattr(net, "fit") and hasattr(net, "get_params"):
        raise TypeError(
            f"check_network expected a Sequential, got the estimator {type(net).__name__}: "
            "pass its fitted network, est.network_"
        )
    require_instance(net, Sequential, "the network given to check_network")
    require_instance(loss, Loss, "the loss given to check_network")
    if "n_in_" not in net.__dict__:
        raise ValueError(
            "check_network needs a built network: call net.build(n_in) (or fit) first"
        )
    tol = Tolerance(eps, rtol, atol, max_entries, where="check_network")
    require_seed(random_state, "check_network")
    require_mode(training, "check_network", both=False)
    rng = np.random.default_rng(random_state)
    x = np.array(x, dtype=np.float64) if not hasattr(x, "tocsr") else x.astype(np.float64)
    given = np.asarray(y, dtype=np.float64)
    problem = target_shape_problem(given, x.shape[0], net.n_out_, "x")
    if problem:
        raise ValueError(f"check_network {problem}")
    y = given.reshape(-1, 1) if given.ndim == 1 else given
    finite_batch(x, "x", "check_network")
    finite_batch(y, "y", "check_network")
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if sw is not None and sw.shape != (x.shape[0],):
        raise ValueError(
            f"check_network expected sample_weight of shape ({x.shape[0]},), one weight "
            f"per row of x, got shape {sw.shape}"
        )
    base = as_float64(net)
    report = GradientReport(repr(net))
    if x.shape[0] == 1:
        report.notes.append(
            "x has one row: a layer that averages its parameter gradients over the batch "
            "instead of summing them (eqs. 3-III, 3-IV sum over rows; the loss divides by "
            "m) looks right; check with several rows too"
        )
    probe = copy.deepcopy(base)
    with np.errstate(over="ignore", invalid="ignore"):  # (a non-finite result fails)
        probe._loss_and_grads(x, y, loss, sw, training=training)  # (its inputs: checked above)

    def cost() -> float:  # a fresh copy per evaluation: the same dropout masks every time
        return copy.deepcopy(base).loss_value(x, y, loss, sw, training=training)

    params, grads = base.params, probe.grads
    wrong: dict[str, str] = {}
    for name, value in params.items():  # (every array, so the report locates the error)
        try:
            compare(report, name, grads[name], cost, value, tol, rng, rows=len(x))
        except GradientCheckError as err:
            wrong[name] = str(err).removeprefix(f"{report.subject}: ")
    if wrong:
        last = list(wrong)[-1]
        where = (
            f"; backpropagation carries an error toward the input, so look first at the "
            f"layer of {last!r}, the wrong array nearest the output, and at the layers "
            "after it (arrays before it may be wrong only through the δ they receive)"
            if len(wrong) > 1
            else ""
        )
        report.checks["gradient"] = f"{len(wrong)} of {len(params)} arrays wrong{where}"
        raise GradientCheckError(
            f"{report.subject}: {len(wrong)} of {len(params)} gradient arrays are wrong"
            f"{where}:\n" + "\n".join(f"- {reason}" for reason in wrong.values()),
            report,
        )
    return report
