"""The mini-batch training loop (eqs. 2-5/2-6 over an epoch), usable without scikit-learn."""

from __future__ import annotations

from collections.abc import Callable
from math import isfinite
from typing import Any

import numpy as np

from ._checks import require_count, require_instance, target_shape_problem
from ._contract import check_live, live_arrays, trusted
from .exceptions import DivergenceError
from .layers.base import Array
from .losses.base import Loss, checked_batches
from .network import Sequential
from .optim.base import Optimizer


class EpochRunner:
    """Runs epochs of mini-batch training over ``(X, y)`` without copying ``X``.

    Parameters
    ----------
    net : Sequential
        A built network.
    X : array or scipy sparse matrix of shape (n, n_in)
        The training inputs, used in place: batches are gathered into one reused buffer
        (or taken as views when not shuffling).
    y : array of shape (n, n_out) or (n,)
        The targets, in the form the loss expects (e.g. one-hot for classification).
    loss, optimizer
        The cost and the update rule.
    batch_size : int
        Examples per update; the last batch of an epoch may be smaller.
    sample_weight : array of shape (n,), optional
        Per-example weights; a batch whose weights are all zero makes no update.
    rows : array of int, optional
        Train on these rows of ``X`` only (e.g. without a validation split), without
        copying them out of ``X``.
    l2 : float
        scikit-learn's ``alpha``: adds ``½ l2 ‖W‖² / Σs`` to each batch's loss for every
        penalized parameter (Dense weights), ``Σs`` the batch's weight (its size when
        unweighted), and ``l2 W / Σs`` to the gradient.
    training : bool
        Run the layers in training mode (dropout on); False gives a deterministic
        objective, as a full-batch optimizer needs.

    Notes
    -----
    Each batch is one forward pass, loss and backward pass (eqs. 3-I to 3-IV) and one
    optimizer step (eqs. 2-5, 2-6): through ``Sequential.loss_and_grads`` and
    ``optimizer.step`` in general, or, for networks of layerkit's own layers (and a
    user's layers without parameters) on dense X, through a training plan that does the
    same arithmetic in fixed buffers (tested equal to the general path to 1e-10; plain
    SGD is then stepped inside it). ``run`` returns the epoch's loss:
    the mean of the batch losses weighted by the batches' sizes (or weights). Plain SGD
    on a large network steps each Dense layer inside the backward pass, so an exception
    raised there (a user's layer failing, Ctrl-C) can leave the batch's update partly
    applied; the estimators put their network back as it was, callers of ``run``
    should do the same (keep a copy) if they need to. That fused step never writes the
    gradients, so ``net.grads`` does not hold the last batch's after ``run`` (in general
    it does); and after ``run`` the network's ``backward`` asks for a forward pass of
    its own first, as after ``loss_and_grads``.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit import Sequential
    >>> from layerkit.layers import Dense, Identity
    >>> from layerkit.losses import SquaredError
    >>> from layerkit.optim import SGD
    >>> from layerkit.training import EpochRunner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 3)); y = X @ np.array([1.0, -2.0, 0.5])
    >>> net = Sequential([Dense(1), Identity()]).build(3, random_state=0)
    >>> runner = EpochRunner(net, X, y, SquaredError(), SGD(0.1), batch_size=16)
    >>> losses = [runner.run(rng) for _ in range(50)]
    >>> losses[-1] < 1e-6
    True
    """

    def __init__(
        self,
        net: Sequential,
        X: Any,
        y: Array,
        loss: Loss,
        optimizer: Optimizer,
        *,
        batch_size: int,
        sample_weight: Array | None = None,
        rows: Array | None = None,
        l2: float = 0.0,
        training: bool = True,
    ) -> None:
        require_instance(net, Sequential, "net")
        require_instance(loss, Loss, "loss")
        require_instance(optimizer, Optimizer, "optimizer")
        if "dtype" not in net.__dict__:
            raise ValueError("training needs a built network: call net.build(n_features) first")
        X = X if hasattr(X, "tocsr") or isinstance(X, np.ndarray) else np.asarray(X)
        if X.ndim != 2 or X.shape[1] != net.n_in_:
            raise ValueError(
                f"expected X of shape (n, {net.n_in_}) (the network was built for "
                f"{net.n_in_} input features), got an array of shape {X.shape}"
            )
        self.net, self.loss, self.optimizer = net, loss, optimizer
        self.X = X
        given = np.asarray(y.toarray() if hasattr(y, "toarray") else y)  # (sparse: dense)
        Y = given.reshape(-1, 1) if given.ndim == 1 else given
        problem = target_shape_problem(given, X.shape[0], net.n_out_, "X")
        if problem:
            raise ValueError(problem)
        self.Y = Y if Y.dtype == net.dtype else Y.astype(net.dtype)
        # how rows are gathered from each, chosen once (see row_taker)
        self._take: dict[str, Any] = {  # (sparse X: rows by indexing, in _rows)
            "X": None if hasattr(X, "tocsr") else row_taker(X),
            "Y": row_taker(self.Y),
        }
        self.rows = np.arange(X.shape[0]) if rows is None else np.array(rows, dtype=np.intp)
        self.order = self.rows.copy()
        self._contiguous = rows is None  # unshuffled batches are views of X
        self.n = len(self.order)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        if self.sample_weight is not None:  # (once: the batches then take them as checked)
            _check_weights(self.sample_weight, X.shape[0])
        require_count(batch_size, "batch_size")
        self.batch_size = max(1, min(int(batch_size), self.n))
        self.l2 = float(l2)
        self.training = training
        self.epoch = 0  # epochs run so far (a caller continuing a fit may set it)
        #: How a divergence message names the step size (an estimator: its parameter).
        self.learning_rate_name = step_size_name(optimizer)
        self._sparse = hasattr(X, "tocsr")
        self._buffers: dict[Any, Array] = {}
        self._plan = self._make_plan(X)
        self._params = net.params  # flat after a plan is made: one-pass optimizer steps
        self._step = _checked_step(optimizer, self._params)
        self._grads = net.grads
        # a user's layer must keep the arrays the optimizer updates (checked every batch)
        self._live = [
            (i, layer, live_arrays(layer))
            for i, layer in enumerate(net.layers)
            if layer.params and not trusted(layer)
        ]
        self._penalized = [
            (f"{i}.{k}", layer.params[k])
            for i, layer in enumerate(net.layers)
            for k in layer.penalized
        ]

    def run(
        self, rng: np.random.Generator | None = None, stop: Callable[[], bool] | None = None
    ) -> float:
        """One epoch; shuffled with ``rng`` when given. Return the epoch's mean loss.

        ``stop`` is asked after every batch; when it answers True the epoch ends there
        (the loss of the batches done so far is returned, and ``rows_done`` says how many
        rows they held).
        """
        self.epoch += 1
        self.rows_done = self.n  # (fewer when ``stop`` ends the epoch early)
        if rng is not None:  # each epoch's order depends on the generator's state only,
            np.copyto(self.order, self.rows)  # so training can stop and resume exactly
            rng.shuffle(self.order)
        if self._plan is not None:
            # its passes overwrite what the layers kept from a forward pass of the user's
            self.net._replace_caches("EpochRunner.run")
            if self._plan.sgd is not None:  # it steps itself: refuse what SGD.step refuses
                self.optimizer._check_pairs(self._params, self._grads)  # (read-only params)
        with np.errstate(all="ignore"):  # a non-finite loss raises DivergenceError instead
            if self._plan is not None and self.sample_weight is None:
                return self._run_planned(rng is None and self._contiguous, stop)
            return self._run_general(rng, stop)

    def _run_general(self, rng: np.random.Generator | None, stop: Any) -> float:
        with checked_batches() as mark:  # (this loop's weights: checked at its start)
            return self._batches(rng, stop, mark)

    def _batches(self, rng: np.random.Generator | None, stop: Any, mark: Any) -> float:
        total = weight = 0.0
        for start in range(0, self.n, self.batch_size):
            end = min(start + self.batch_size, self.n)
            idx: Any = self.order[start:end]
            if rng is None and self._contiguous:
                idx = slice(start, end)
            sw = None if self.sample_weight is None else self.sample_weight[idx]
            mark(sw)
            batch_weight = float(end - start) if sw is None else float(sw.sum())
            if self._plan is not None:
                value = self._planned_step(idx, end - start, sw, batch_weight)
            else:
                value = self.step(self._rows(self.X, idx, "X"), self._rows(self.Y, idx, "Y"), sw)
            if not isfinite(value):
                raise self._diverged(start // self.batch_size + 1, value, idx)
            total += value * batch_weight
            weight += batch_weight
            if stop is not None and stop():
                self.rows_done = end
                break
        return total / weight if weight else 0.0

    def step(self, x: Any, y: Array, sample_weight: Array | None) -> float:
        """Train on one batch: loss, gradients (with the L2 term), update."""
        value = self.net._loss_and_grads(x, y, self.loss, sample_weight, training=self.training)
        for i, layer, live in self._live:
            check_live(i, layer, live)
        denom = float(x.shape[0]) if sample_weight is None else float(sample_weight.sum())
        if denom == 0.0 or not isfinite(value):  # all weights zero: nothing to learn; a
            return value  # non-finite loss: no step, the caller reports the divergence
        if self.l2:
            value += self._add_l2(denom)
            if not isfinite(value):  # the L2 term overflowed: no step either
                return value
        self._step(self._params, self._grads)
        return value

    def _make_plan(self, X: Any) -> Any:
        from ._plan import TrainingPlan, plan_supports

        net, loss = self.net, self.loss
        if not plan_supports(net, loss, X) or X.dtype != net.dtype:
            return None
        rows_sum_to_one = _rows_sum_to_one(self.Y)
        return TrainingPlan(
            net,
            loss,
            l2=self.l2,
            training=self.training,
            normalized_targets=rows_sum_to_one,
            optimizer=self.optimizer,
        )

    def _run_planned(self, contiguous: bool, stop: Callable[[], bool] | None) -> float:
        """The unweighted epoch through the plan: the per-batch hot loop, kept lean."""
        n, bs, order = self.n, self.batch_size, self.order
        X, Y = self.X, self.Y
        take_x, take_y = self._take["X"], self._take["Y"]
        update = None if self._plan.sgd is not None else self._step
        params, grads = self._params, self._grads
        batch = self._plan.batch(bs)
        x, y, run = batch.x, batch.y, batch.run
        copyto = np.copyto
        total = 0.0
        for start in range(0, n, bs):
            end = start + bs
            if end > n:  # the last, smaller batch
                end = n
                batch = self._plan.batch(end - start)
                x, y, run = batch.x, batch.y, batch.run
            if contiguous:
                copyto(x, X[start:end])
                copyto(y, Y[start:end])
            else:  # mode="clip": written straight into the buffer (the default buffers)
                idx = order[start:end]
                take_x(idx, 0, x, "clip")
                take_y(idx, 0, y, "clip")
            value = run(None)
            if not isfinite(value):
                rows = slice(start, end) if contiguous else order[start:end]
                raise self._diverged(start // bs + 1, value, rows)
            total += value * (end - start)
            if update is not None:
                update(params, grads)
            if stop is not None and stop():
                self.rows_done = end
                return total / end
        return total / n if n else 0.0  # (no rows: no batch, as in the general loop)

    def _diverged(self, batch: int, value: float, rows: Any) -> DivergenceError:
        undefined = undefined_loss(
            self.net, self.loss, self._rows(self.X, rows, "X"), self._rows(self.Y, rows, "Y")
        )
        if undefined is not None:
            return DivergenceError(
                f"training diverged: the loss of epoch {self.epoch}, batch {batch} is "
                f"{value}, but {undefined}",
                epoch=self.epoch,
                batch=batch,
            )
        try:
            rate = f" (it is {self.optimizer.current_learning_rate:g})"
        except AttributeError:
            rate = ""
        return DivergenceError(
            f"training diverged: the loss of epoch {self.epoch}, batch {batch} is {value}. "
            f"{self._own_optimizer_nan()}Lower the learning rate ({self.learning_rate_name})"
            f"{rate}, or scale the inputs (for instance with "
            f"sklearn.preprocessing.StandardScaler){large_target_hint(self.loss, self.Y)}.",
            epoch=self.epoch,
            batch=batch,
        )

    def _own_optimizer_nan(self) -> str:
        """For an optimizer of the user's whose steps left NaN or infinity in the
        parameters: that its step may make them itself (a built-in's makes them only from
        steps too large)."""
        from .optim import SGD, Adam, AdamW

        if type(self.optimizer) in (SGD, Adam, AdamW):
            return ""
        with np.errstate(all="ignore"):
            names = [k for k, w in self._params.items() if not np.isfinite(w).all()]
        if not names:
            return ""
        shown = ", ".join(repr(k) for k in names[:4]) + (" ..." if len(names) > 4 else "")
        return (
            f"The parameters {shown} hold NaN or infinity after {self.optimizer!r}'s "
            "steps: if its step can make them (a division by zero, a root of a negative "
            "number), layerkit.check_optimizer shows it. Otherwise: "
        )

    def _planned_step(self, idx: Any, m: int, sw: Array | None, denom: float) -> float:
        """One batch through the plan: gather into its buffers, run, update."""
        batch = self._plan.batch(m)
        if isinstance(idx, slice):
            np.copyto(batch.x, self.X[idx])
            np.copyto(batch.y, self.Y[idx])
        else:  # mode="clip": written straight into the buffer (the default buffers)
            self._take["X"](idx, 0, batch.x, "clip")
            self._take["Y"](idx, 0, batch.y, "clip")
        value = batch.run(sw)
        if denom and self._plan.sgd is None and isfinite(value):  # (zero weights: no step)
            self._step(self._params, self._grads)
        return value

    def _add_l2(self, denom: float) -> float:
        c = self.l2 / denom
        squares = 0.0
        for name, W in self._penalized:
            flat = W.ravel()
            squares += float(np.dot(flat, flat))
            tmp = self._buffer(("l2", name), W.shape, W.dtype)
            np.multiply(W, c, out=tmp)
            self._grads[name] += tmp
        return 0.5 * c * squares

    def _rows(self, A: Any, idx: Any, key: str) -> Any:
        if isinstance(idx, slice):
            return A[idx]
        if self._sparse and key == "X":
            return A[idx]
        out = self._buffer((key, len(idx)), (len(idx), *A.shape[1:]), A.dtype)
        return self._take[key](idx, 0, out, "clip")

    def _buffer(self, key: Any, shape: tuple[int, ...], dtype: Any) -> Array:
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = np.empty(shape, dtype)
        return buf


def row_taker(A: Array) -> Callable[..., Array]:
    """``A.take`` (called as ``take(rows, 0, out, mode)``: the rows written straight into
    ``out``) for a C-ordered ``A``. For any other layout (Fortran order, as a pandas
    DataFrame converts; a column slice), numpy's ``take`` copies the whole of ``A``
    into C order first, on every call: a batch of 128 rows from 100,000 x 512 float32
    cost a 195 MiB copy, and an epoch 36 s instead of 0.3. There the rows are gathered
    by indexing instead, through a batch-sized temporary."""
    if A.flags.c_contiguous:
        return A.take

    def take(rows: Array, axis: int, out: Array, mode: str) -> Array:
        np.copyto(out, A[rows])
        return out

    return take


def _checked_step(optimizer: Any, params: dict[str, Array]) -> Callable[..., None]:
    """``optimizer.step``, checked after each call when the optimizer is a user's: one
    that puts a new array into ``params`` (``params[name] = w - η g``) instead of
    updating the one there would leave the network untrained, silently."""
    from .optim import SGD, Adam, AdamW

    if type(optimizer) in (SGD, Adam, AdamW):
        return optimizer.step
    held = dict(params)

    def step(params: dict[str, Array], grads: dict[str, Array]) -> None:
        optimizer.step(params, grads)
        for name, array in held.items():
            if params.get(name) is not array:
                params.update(held)  # the network's arrays, for whatever comes next
                raise ValueError(
                    f"{optimizer!r}.step put a new array into params[{name!r}] instead of "
                    "updating the one given in place, so the network never sees the step; "
                    f"write params[{name!r}] -= ... (or params[{name!r}][...] = ...); "
                    "layerkit.check_optimizer's in_place check reports this"
                )

    return step


def undefined_loss(net: Any, loss: Any, x: Any, y: Array) -> str | None:
    """What a NaN loss from finite network outputs for ``x`` says: the loss is not
    defined at some of them (a log of a value <= -1, say), which no learning rate
    changes, or it overflows at large ones (an unstabilized exp), which a smaller step
    or scaled inputs may avoid; None when the outputs are not finite (or when it cannot
    be told)."""
    try:
        with np.errstate(all="ignore"):
            out = net.predict(x)
            if not np.isfinite(out).all():
                return None
            try:
                costs = np.asarray(loss.per_example(out, y), dtype=np.float64)
            except NotImplementedError:  # (a loss written in value() alone)
                costs = np.array([loss.value(out, y)], dtype=np.float64)
            bad = int(np.isnan(costs).sum())
    except Exception:  # the diagnosis must not hide the divergence itself
        return None
    if not bad:
        return None
    rows = f" for {bad} of {len(costs)} rows" if len(costs) > 1 else ""
    return (
        f"the network's outputs there are finite (from {out.min():.4g} to {out.max():.4g}) "
        f"and {loss!r} gives nan on them{rows}. Either the loss is not defined at some "
        "of them (a log or a root of a negative number): make it defined there, or end "
        "the network in a layer whose outputs stay where it is (an Exp or a Softplus for "
        "positive ones); or it overflows at large ones (an exp of a large output, "
        "inf/inf): compute it stably (subtract the row maximum before an exp), lower "
        "the learning rate, or scale the inputs"
    )


#: Targets beyond this size (in absolute value) get the hint to scale them too: a
#: network's first outputs are near 0, and the squared error of a target of 10,000
#: gives gradients that overflow a default learning rate
LARGE_TARGET = 100.0
HOW_TO_SCALE_THE_TARGET = (
    " (for instance with sklearn.compose.TransformedTargetRegressor(..., "
    "transformer=StandardScaler()))"
)


def large_target_hint(loss: Any, Y: Any) -> str:
    """For a regression whose targets are large: the hint to scale them as well."""
    from .losses import BinaryCrossEntropy, CategoricalCrossEntropy, PoissonLoss

    # (labels, and counts: a Poisson target cannot be shifted by a scaler)
    labels_or_counts = (BinaryCrossEntropy, CategoricalCrossEntropy, PoissonLoss)
    if isinstance(loss, labels_or_counts) or hasattr(Y, "tocsr"):
        return ""
    with np.errstate(all="ignore"):
        largest = float(np.max(np.abs(Y))) if np.size(Y) else 0.0
    if not largest > LARGE_TARGET:
        return ""
    return f", and the target, as large as {largest:.3g} here{HOW_TO_SCALE_THE_TARGET}"


def step_size_name(optimizer: Any) -> str:
    """How a message names an optimizer object's step size."""
    what = "learning_rate" if hasattr(optimizer, "learning_rate") else "step size"
    return f"the {what} of {type(optimizer).__name__}"


def _rows_sum_to_one(Y: Any) -> bool:
    """Whether every row of ``Y`` sums to 1 up to the rounding of its sum (k ulps): only
    then is the softmax cross-entropy's δ = (a - y)/m the gradient of its loss; rows off
    by more take the general δ = (a Σy - y)/m (an allclose-style 1e-5 made weights off by
    a relative 1e-6 for rows summing to 1 + 5e-6)."""
    if not len(Y):
        return True
    tolerance = 4 * Y.shape[1] * np.finfo(Y.dtype).eps
    return bool(np.abs(Y.sum(axis=1) - 1.0).max() <= tolerance)


def _check_weights(weights: Array, n: int) -> None:
    """The training loop's sample weights: one finite, non-negative number per row."""
    if weights.shape != (n,):
        raise ValueError(
            f"expected sample_weight of shape ({n},) (one weight per row of X), got shape "
            f"{weights.shape}"
        )
    if weights.dtype.kind not in "biuf" or not (
        np.isfinite(weights).all() and (weights >= 0).all()
    ):
        raise ValueError("sample_weight must hold finite, non-negative numbers")
