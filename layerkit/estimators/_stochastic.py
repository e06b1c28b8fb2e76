"""The sgd/adam solvers: epochs of mini-batches with scikit-learn's stopping rules."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn.base import is_regressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from ..exceptions import TrainingInterrupted
from ..network import Sequential
from ..optim import Optimizer
from ..training import EpochRunner
from ._callbacks import SOLVER_STACKLEVEL, FitReport
from ._interrupt import stop_on_interrupt
from ._scoring import scored_by, validation_score


def fit_stochastic(
    est: Any,
    net: Sequential,
    optimizer: Optimizer,
    X: Any,
    Y: Any,
    y: Any,
    sw: Any,
    *,
    incremental: bool,
    continued: bool = False,
    split_rng: np.random.Generator,
    report: FitReport,
    l2: float,
    validation: tuple[Any, Any, Any] | None = None,
) -> None:
    """Train ``net`` in place for up to ``est.max_iter`` epochs (one when incremental).

    ``validation``: early stopping's ``(X_val, y_val, weights)``, given to ``fit``; all
    of X then trains (without it, ``validation_fraction`` of X is held out).

    Mirrors scikit-learn's MLP: ``loss_curve_``, ``t_``, ``n_iter_``, early stopping
    on a (stratified) validation split with the best weights restored, the
    ``n_iter_no_change``/``tol`` rule, the ``invscaling`` and ``adaptive`` schedules,
    verbose lines and ConvergenceWarning. A NaN validation score never counts as an
    improvement. Each epoch is a callback subtask; a callback may stop the training.
    """
    early_stopping = bool(est.early_stopping)
    if early_stopping and incremental:
        raise ValueError("partial_fit does not support early_stopping=True")
    rows = None
    X_val = y_val = sw_val = None
    if early_stopping and validation is not None:
        X_val, y_val, sw_val = validation
    elif early_stopping:
        rows, val = _validation_split(est, y, split_rng)
        X_val, y_val = X[val], y[val]
        sw_val = None if sw is None else sw[val]
        if sw is not None:
            _check_split_weights(est, sw[rows], sw_val)
    score = validation_score(est, net, X_val, y_val, sw_val) if early_stopping else None
    if early_stopping:
        scored_by(est)
    n_train = X.shape[0] if rows is None else len(rows)
    batch_size = _batch_size(est.batch_size, n_train)
    runner = EpochRunner(
        net,
        X,
        Y,
        est._loss,
        optimizer,
        batch_size=batch_size,
        sample_weight=sw,
        rows=rows,
        l2=l2,
    )
    runner.learning_rate_name = est._learning_rate_name()
    schedule = step_schedule(est)
    if schedule != "constant" and getattr(optimizer, "learning_rate", None) is None:
        raise ValueError(
            f"learning_rate={est.learning_rate!r} schedules the optimizer's step size, but "
            f"{optimizer!r} has no learning_rate attribute"
        )
    base_lr: Any = getattr(optimizer, "learning_rate", None)  # (None: refused above)
    if schedule == "cosine" and incremental:
        raise ValueError(
            f"{type(est).__name__}: learning_rate='cosine' anneals the step size over "
            "a fit's max_iter epochs, and partial_fit trains one epoch of no fixed "
            "number; use fit, or another learning_rate"
        )
    # early stopping restores the best weights this fit has seen, and the layers' state
    # of that epoch (running statistics, say). Each fit runs its own race on the split
    # of the data it is given, and the best score and the weights it belongs to go
    # together: a warm-started fit's starting weights are scored on this fit's split
    # first, so it never ends worse than it started (a score carried over from the fit
    # before, against these weights, made it restore them after one epoch, training
    # nothing); a first fit starts from -inf, as scikit-learn's
    best = {k: p.copy() for k, p in net.params.items()} if early_stopping else {}
    best_state = _state_copy(net) if early_stopping else {}
    # the fit before ended converged (not a copy taken before the end, a callback's,
    # which carries its count on and resumes exactly): this one tests its convergence
    # afresh, from its first epoch (scikit-learn carries the best loss and the count
    # over, so a fit after a converged one, on the next month's data say, stops after
    # one epoch), and under 'adaptive' from learning_rate_init: at the rate the
    # converged fit divided down to (1e-6 or less) the new fit learned nothing
    converged_before = (
        continued and not incremental and est._no_improvement_count > est.n_iter_no_change
    )
    if converged_before and schedule == "adaptive" and base_lr is not None:
        optimizer.current_learning_rate = base_lr
    cycle = None
    if schedule == "cosine":  # (an unfinished cycle is recorded only while it can go on)
        cycle = _cycle_start(est, resume=continued)
        optimizer.current_learning_rate = cosine_rate(base_lr, *cycle)
    else:  # (a cycle of an earlier fit is over once another schedule trains)
        est.__dict__.pop("_cosine_cycle", None)
    if early_stopping:
        start = score()[0] if continued and score is not None else -np.inf
        est.best_validation_score_ = start if start == start else -np.inf  # (NaN: -inf)
        est._no_improvement_count = 0
        # the epoch of the weights this fit starts from: those an earlier early-stopped
        # fit kept, else the last trained (0: the initial weights)
        kept = est.__dict__.get("best_epoch_") if continued else None
        est.best_epoch_ = kept if kept is not None else len(est.loss_curve_)
    elif converged_before:
        est.best_loss_ = np.inf
        est._no_improvement_count = 0
    est.n_iter_ = 0
    tol_on_loss = est.tol * _outputs_averaged(est, net)
    # numpy's overflow warnings would only precede the DivergenceError the loop raises
    with net.workspace(), stop_on_interrupt() as interrupted, np.errstate(all="ignore"):
        for _ in range(est.max_iter):
            report.epoch()
            loss = runner.run(est._shuffle_rng if est.shuffle else None, stop=interrupted)
            if interrupted():
                est.t_ += runner.rows_done  # the samples the weights have seen
                break
            est.n_iter_ += 1
            est.loss_ = loss
            est.t_ += n_train
            est.loss_curve_.append(loss)
            if est.verbose:
                print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
            if score is not None:
                value, validation_loss = score()
                est.validation_loss_curve_.append(validation_loss)
                _track_validation(est, value, net, best, best_state)
            else:
                _track_loss(est, loss, tol_on_loss)
            if schedule == "invscaling":
                optimizer.current_learning_rate = base_lr / (est.t_ + 1) ** est.power_t
            elif cycle is not None:
                _cycle_step(est, cycle, optimizer, base_lr)
            converged = False
            # (under 'cosine' the training loss does not stop a fit: its rule is for a
            # step size held, and the cycle's low-rate end is the point of the schedule)
            patient = cycle is not None and not early_stopping
            if est._no_improvement_count > est.n_iter_no_change and not patient:
                what = "Validation score" if early_stopping else "Training loss"
                msg = (
                    f"{what} did not improve more than tol={est.tol:f} for "
                    f"{est.n_iter_no_change} consecutive epochs."
                )
                converged = _stop(optimizer, schedule, msg, est.verbose)
                if not converged:  # ('adaptive' divided the learning rate: go on)
                    est._no_improvement_count = 0
                elif not early_stopping:
                    _warn_if_grown(est)
                elif cycle is not None:  # (a converged fit's cycle is over)
                    est._cosine_cycle = None
            # the model as a stop here leaves it (with early stopping: the best weights),
            # after the epoch's schedule step, so that a copy saved now resumes exactly
            fitted = lambda: est._fitted_attributes(net, best, best_state, optimizer)  # noqa: E731
            if report.epoch_done(fitted) or converged:
                break  # a callback stops the training, or it converged
            if incremental:
                break
            if est.n_iter_ == est.max_iter and schedule != "cosine":  # (its planned end)
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached and "
                    "the optimization hasn't converged yet.",
                    ConvergenceWarning,
                    stacklevel=SOLVER_STACKLEVEL,
                )
    if interrupted():
        kept = "of the last completed batch"
        if early_stopping:
            kept = (
                "of the best epoch (early stopping), as a finished fit would"
                if est.n_iter_
                else "it started this fit with (early stopping: no epoch was scored)"
            )
        warnings.warn(
            f"Training interrupted by user: the model keeps the weights {kept}.",
            TrainingInterrupted,
            stacklevel=SOLVER_STACKLEVEL,
        )
    if early_stopping:
        for name, p in net.params.items():
            np.copyto(p, best[name])
        net._set_state(best_state)


def _validation_split(est: Any, y: Any, rng: np.random.Generator) -> tuple[Any, Any]:
    """Training and validation rows for early stopping.

    Stratified by class for single-output classification when it can be (every class
    with two samples or more, room for one of each on both sides); otherwise a plain
    random split, as scikit-learn makes for every multiclass target (it stratifies
    binary ones only). With ``shuffle=False`` the training rows keep the split's random
    order, as in scikit-learn (sorted, a class-sorted file would train class by class).
    """
    n = y.shape[0]
    n_val = int(np.ceil(est.validation_fraction * n))
    if n_val < 2 or n - n_val < 2:
        raise ValueError(
            f"The validation set is too small: validation_fraction={est.validation_fraction} "
            f"of {n} samples gives {n_val} validation sample(s), and early stopping needs at "
            "least 2 on each side. Increase 'validation_fraction' or the size of your dataset."
        )
    stratify = None
    if getattr(est, "_label_binarizer", None) is not None and y.ndim == 1:
        labels, counts = np.unique(y, return_counts=True)
        if counts.min() >= 2 and min(n_val, n - n_val) >= len(counts):
            stratify = y
        elif counts.min() < 2:  # (a class's only sample may be held out: say so)
            rare = labels[np.argmin(counts)]
            rare = rare.item() if isinstance(rare, np.generic) else rare
            warnings.warn(
                f"{type(est).__name__}: early stopping's validation split is not stratified "
                f"by class: class {rare!r} has a single sample, which may be held out and "
                "never trained on. Give each class more samples, or fit without "
                "early_stopping.",
                UserWarning,
                stacklevel=SOLVER_STACKLEVEL + 1,
            )
    train, val = train_test_split(
        np.arange(n),
        test_size=est.validation_fraction,
        random_state=int(rng.integers(2**31 - 1)),
        stratify=stratify,
    )
    return (np.sort(train) if est.shuffle else train), np.sort(val)


def _check_split_weights(est: Any, sw_train: Any, sw_val: Any) -> None:
    """Refuse, before any epoch, a side of early stopping's split whose sample weights
    sum to 0: nothing to train on, or no score to stop by."""
    for side, weights in (("training", sw_train), ("validation", sw_val)):
        if not weights.sum() > 0:
            raise ValueError(
                f"{type(est).__name__}: early stopping's {side} split ({len(weights)} of "
                f"{len(sw_train) + len(sw_val)} samples, validation_fraction="
                f"{est.validation_fraction}) has sample weights summing to 0, so it "
                + ("has nothing to train on" if side == "training" else "cannot be scored")
                + "; give weight to more samples, change validation_fraction or "
                "random_state, or fit without early_stopping"
            )


def _batch_size(batch_size: Any, n: int) -> int:
    if batch_size == "auto":
        return min(200, n)
    if batch_size > n:
        warnings.warn(
            "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
            UserWarning,
            stacklevel=SOLVER_STACKLEVEL + 1,
        )
    return int(np.clip(batch_size, 1, n))


def step_schedule(est: Any) -> str:
    """scikit-learn applies ``learning_rate`` to sgd only; layerkit also to Optimizers,
    and 'cosine' (not scikit-learn's) to adam too."""
    if isinstance(est.solver, str) and est.solver == "adam" and est.learning_rate != "cosine":
        return "constant"
    return str(est.learning_rate)


def cosine_rate(base: float, epochs_done: int, epochs: int) -> float:
    """The step size after ``epochs_done`` of a cycle's ``epochs`` under 'cosine':
    ``η_0 (1 + cos(π k / K)) / 2``, from η_0 down to 0 at the last epoch's end."""
    return base * 0.5 * (1.0 + math.cos(math.pi * epochs_done / epochs))


def _cycle_start(est: Any, resume: bool) -> list[int]:
    """``[epochs done, epochs]`` of the cosine cycle a fit starts with: the unfinished one
    of the fit it continues (a copy saved mid-fit, a fit stopped by a callback or by
    Ctrl-C: it goes on from the last epoch completed), else a new one over ``max_iter``
    epochs."""
    saved = est.__dict__.get("_cosine_cycle") if resume else None
    if saved is not None and 0 < saved[0] < saved[1]:
        return [int(saved[0]), int(saved[1])]
    return [0, int(est.max_iter)]


def _cycle_step(est: Any, cycle: list[int], optimizer: Optimizer, base: float) -> None:
    """After an epoch: the next epoch's rate. A finished cycle keeps its last epoch's
    rate (0 would train nothing, and a model file holds positive rates) and is no
    longer recorded; epochs left in the fit (a resumed cycle ended before max_iter)
    start a new cycle over them."""
    cycle[0] += 1
    if cycle[0] == cycle[1] and est.n_iter_ < est.max_iter:
        cycle[:] = [0, est.max_iter - est.n_iter_]
    if cycle[0] < cycle[1]:
        optimizer.current_learning_rate = cosine_rate(base, *cycle)
    est._cosine_cycle = tuple(cycle) if cycle[0] < cycle[1] else None


def _outputs_averaged(est: Any, net: Sequential) -> int:
    """By how much ``tol`` grows on the training loss: the number of outputs for a
    regressor's squared error, which scikit-learn averages over the outputs (it sums
    every other loss), so that one ``tol`` stops at scikit-learn's epoch; else 1."""
    from ..losses import SquaredError

    loss = est._loss
    squared = isinstance(loss, SquaredError) and (
        type(loss).per_example is SquaredError.per_example  # (a subclass of its cost too)
    )
    return net.n_out_ if is_regressor(est) and squared else 1


def _track_loss(est: Any, loss: float, tol: float) -> None:
    """scikit-learn's rule: no improvement unless loss <= best - tol (NaN never
    improves); ``tol`` is ``est.tol`` on the loss as scikit-learn reports it."""
    if not loss <= est.best_loss_ - tol:
        est._no_improvement_count += 1
    else:
        est._no_improvement_count = 0
    if loss < est.best_loss_:
        est.best_loss_ = loss


def _track_validation(
    est: Any, score: float, net: Sequential, best: dict[str, Any], best_state: dict[str, Any]
) -> None:
    est.validation_scores_.append(score)
    if est.verbose:
        print(f"Validation score: {score:f}")
    if not score >= est.best_validation_score_ + est.tol:  # NaN never improves
        est._no_improvement_count += 1
    else:
        est._no_improvement_count = 0
    if score > est.best_validation_score_:
        est.best_validation_score_ = score
        est.best_epoch_ = len(est.loss_curve_)  # (this epoch's, counted over all fits)
        for name, p in net.params.items():
            np.copyto(best[name], p)
        best_state.update(_state_copy(net))


def _state_copy(net: Sequential) -> dict[str, Any]:
    return {k: v.copy() for k, v in net.state.items()}


def _warn_if_grown(est: Any) -> None:
    """A fit stopped by the training-loss rule with its loss at its highest, over ten
    times its lowest, did not converge: it diverged (a loss growing by orders of
    magnitude stops on this rule long before it overflows to the DivergenceError)."""
    curve = est.loss_curve_[-est.n_iter_ :]
    low = min(curve)
    if curve[-1] >= max(curve) and curve[-1] > 10 * low:
        warnings.warn(
            f"Training loss grew from {low:.4g} (epoch {curve.index(low) + 1} of this fit) "
            f"to {curve[-1]:.4g} (epoch {len(curve)}), where the n_iter_no_change rule "
            "stopped it: the training diverged, and the model keeps its last epoch's "
            "weights. Lower the learning rate, or scale the inputs (and a regression's "
            "target).",
            ConvergenceWarning,
            stacklevel=SOLVER_STACKLEVEL + 1,
        )


def _stop(optimizer: Optimizer, schedule: str, msg: str, verbose: Any) -> bool:
    if schedule != "adaptive":
        if verbose:
            print(msg + " Stopping.")
        return True
    if optimizer.current_learning_rate <= 1e-6:
        if verbose:
            print(msg + " Learning rate too small. Stopping.")
        return True
    optimizer.current_learning_rate /= 5.0
    if verbose:
        print(msg + f" Setting learning rate to {optimizer.current_learning_rate:f}")
    return False
