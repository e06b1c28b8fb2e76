"""The lbfgs solver: scipy's L-BFGS-B on the full-batch loss, driving the same layers."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from ..exceptions import DivergenceError, TrainingInterrupted
from ..layers import BatchNorm, Dropout
from ..network import Sequential, every_layer
from ..optim import Optimizer
from ..training import EpochRunner, large_target_hint, undefined_loss
from ._callbacks import SOLVER_STACKLEVEL, FitReport
from ._interrupt import stop_on_interrupt


def release_caches(net: Sequential) -> None:
    """Drop what layerkit's own layers kept of the last forward pass for a backward one
    (their ``_transient`` attributes, as pickling does): after a full-batch lbfgs fit,
    the first Dense layer held X itself and every layer an activation of every row (111
    MiB kept alive by the fitted model of a 50,000 x 512 X). A layer of yours keeps
    its own (it may hold a buffer it reuses there, and expect to find it)."""
    from .._contract import trusted

    for layer in every_layer(net):
        if trusted(layer):
            for name in type(layer)._transient:
                layer.__dict__.pop(name, None)
    net._replace_caches("fit")  # (a backward now is refused, as after a prediction)


def fit_lbfgs(
    est: Any, net: Sequential, X: Any, Y: Any, sw: Any, *, report: FitReport, l2: float
) -> None:
    """Minimize the full-batch loss (with the L2 term) over all parameters of ``net``.

    Parameters are packed into one float64 vector for scipy and copied back into the
    network's own arrays (float32 stays float32) before each evaluation. Each lbfgs
    iteration is a callback subtask; a callback may stop the minimization.
    """
    layers = list(every_layer(net.layers))
    if any(isinstance(layer, Dropout) and layer.rate > 0 for layer in layers):
        warnings.warn(
            f"{type(est).__name__}(solver='lbfgs') minimizes a deterministic full-batch "
            "loss, so its Dropout layers are inactive; use solver='adam' or 'sgd' to "
            "train with dropout.",
            UserWarning,
            stacklevel=SOLVER_STACKLEVEL,
        )
    if any(isinstance(layer, BatchNorm) for layer in layers):
        warnings.warn(
            f"{type(est).__name__}(solver='lbfgs') minimizes a deterministic full-batch "
            "loss, so its BatchNorm layers normalize with their running statistics, "
            "which it never moves (mean 0 and variance 1 in a new network: each layer is "
            "then a learned per-feature scale and shift); use solver='adam' or 'sgd' to "
            "train with batch statistics.",
            UserWarning,
            stacklevel=SOLVER_STACKLEVEL,
        )
    runner = EpochRunner(
        net,
        X,
        Y,
        est._loss,
        _NoStep(),
        batch_size=X.shape[0],
        sample_weight=sw,
        l2=l2,
        training=False,  # a deterministic objective for the line search
    )
    params, grads = runner._params, runner._grads  # (after the runner's flatten, if any)
    names = list(params)
    bounds = np.cumsum([0] + [params[k].size for k in names])
    theta0 = np.concatenate([params[k].ravel() for k in names]).astype(np.float64)
    grad_out = np.empty_like(theta0)

    def split(theta: Any) -> dict[str, Any]:
        return {
            k: theta[lo:hi].reshape(params[k].shape)
            for k, lo, hi in zip(names, bounds[:-1], bounds[1:], strict=True)
        }

    def unpack(theta: Any) -> None:
        for k, value in split(theta).items():
            params[k][...] = value

    evaluations = [0]

    def loss_and_grad(theta: Any) -> tuple[float, Any]:
        if interrupted():
            raise _Interrupted
        unpack(theta)
        value = runner.step(X, runner.Y, sw)
        evaluations[0] += 1
        if not math.isfinite(value):
            undefined = undefined_loss(runner.net, runner.loss, X, runner.Y)
            if undefined is not None:
                raise DivergenceError(
                    f"training diverged: lbfgs evaluation {evaluations[0]} (iteration "
                    f"{len(curve) + 1}) gives a loss of {value}, but {undefined}",
                    epoch=len(curve) + 1,
                )
            raise DivergenceError(
                f"training diverged: lbfgs evaluation {evaluations[0]} (iteration "
                f"{len(curve) + 1}) gives a loss of {value}. Raise alpha, or scale the inputs "
                "(for instance with sklearn.preprocessing.StandardScaler)"
                f"{large_target_hint(runner.loss, runner.Y)}.",
                epoch=len(curve) + 1,
            )
        for k, lo, hi in zip(names, bounds[:-1], bounds[1:], strict=True):
            grad_out[lo:hi] = grads[k].ravel()
        return value, grad_out

    curve: list[float] = []  # this call's iterations
    est.loss_curve_ = list(getattr(est, "loss_curve_", []))  # grows as they come
    best = [theta0.copy()]  # the parameters of the last completed iteration

    stopped = [False]

    def record(intermediate_result: Any) -> None:
        curve.append(float(intermediate_result.fun))
        est.loss_curve_.append(curve[-1])
        est.n_iter_ = len(curve)
        best[0] = np.array(intermediate_result.x, copy=True)
        if est.verbose:
            print(f"Iteration {len(curve)}, loss = {curve[-1]:.8f}")
        report.epoch()
        theta = best[0]
        if report.epoch_done(lambda: est._fitted_attributes(net, split(theta))):
            stopped[0] = True
            raise StopIteration  # scipy ends the minimization at this iteration

    result = None  # (stays None when Ctrl-C ends the minimization)
    with net.workspace(), stop_on_interrupt() as interrupted, np.errstate(all="ignore"):
        try:
            result = scipy.optimize.minimize(
                loss_and_grad,
                theta0,
                method="L-BFGS-B",
                jac=True,
                callback=record,
                options={"maxfun": est.max_fun, "maxiter": est.max_iter, "gtol": est.tol},
            )
        except _Interrupted:
            result = None
    if result is None:  # Ctrl-C: keep the last completed iteration
        unpack(best[0])
        est.n_iter_ = len(curve)
        est.loss_ = curve[-1] if curve else float("nan")
        est.best_loss_ = min(est.loss_curve_, default=est.loss_)
        warnings.warn(
            "Training interrupted by user: the model keeps the parameters of the last "
            f"completed lbfgs iteration ({len(curve)}).",
            TrainingInterrupted,
            stacklevel=SOLVER_STACKLEVEL,
        )
        return
    unpack(result.x)
    est.n_iter_ = min(int(result.nit), est.max_iter)
    est.loss_ = float(result.fun)
    est.best_loss_ = min(est.loss_curve_, default=est.loss_)
    if result.status != 0 and not stopped[0]:
        message = result.message.decode() if isinstance(result.message, bytes) else result.message
        warnings.warn(
            f"lbfgs failed to converge after {est.n_iter_} iteration(s) "
            f"(status={result.status}): {message}. Increase the number of iterations "
            f"(max_iter={est.max_iter}) or function evaluations (max_fun={est.max_fun}), "
            "or scale the data.",
            ConvergenceWarning,
            stacklevel=SOLVER_STACKLEVEL,
        )


class _Interrupted(Exception):
    """Ctrl-C, seen between two loss evaluations."""


class _NoStep(Optimizer):
    """The optimizer of a loss-and-gradient evaluation: scipy takes the steps."""

    learning_rate = 0.0

    def step(self, params: Any, grads: Any) -> None:
        pass
