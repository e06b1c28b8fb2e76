"""TrainingPlan: per batch size, forward, loss and backward bound to fixed buffers."""

from __future__ import annotations

from collections.abc import Callable
from math import isfinite
from typing import Any

import numpy as np

from .._contract import trusted
from ..layers import BUILT_IN, BatchNorm, Dense, Dropout, Exp, Identity, Sigmoid, Softmax
from ..losses.base import Loss
from ..network import Sequential
from ..optim import SGD, Optimizer
from ..optim._blas import axpy_updater, blas_available
from ._losses import loss_stage
from ._stages import DenseStage, Stage, elementwise_stage
from ._user import OwnArithmeticStage, UserStage

Array = Any
# the built-in layers the plans run with arithmetic of their own (not the output
# activations of classification and counts; BatchNorm, which has parameters of its own,
# runs in the training plan through its own forward and backward: OWN_ARITHMETIC)
HIDDEN = BUILT_IN - {Softmax, Exp, BatchNorm}
OWN_ARITHMETIC = frozenset({BatchNorm})
LINKS = (Softmax, Sigmoid, Identity, Exp)
#: Plain SGD on networks with fewer parameters steps with one axpy over the flat buffers
#: after the backward pass instead of inside the products (measured: fusing was 18%
#: slower for 20-64-64-1, 10% faster for 784-256-128-10).
_FUSE_MIN_PARAMETERS = 50_000
#: Batches whose widest array has more elements keep plain, contiguous rows (measured:
#: for 128 x 784 a strided gather took 64 µs against 41 µs, a ReLU 19 µs against 9).
_AUGMENT_MAX_ELEMENTS = 16_384


def plan_supports(net: Sequential, loss: Loss, X: Any) -> bool:
    """Whether ``TrainingPlan`` can train ``net`` with ``loss`` on ``X``: dense input, a
    canonical output pair, hidden layers built in or a user's without parameters."""
    if not isinstance(X, np.ndarray) or not net.is_canonical(loss):
        return False
    *hidden, last = net.layers
    return type(last) in LINKS and all(
        type(layer) in HIDDEN
        or type(layer) in OWN_ARITHMETIC
        or (not trusted(layer) and not layer.params)
        for layer in hidden
    )


class TrainingPlan:
    """Per batch size, a forward pass, loss, and backward pass bound to fixed buffers.

    ``batch(m)`` returns the ``_Batch`` for batches of ``m`` rows: fill its ``x`` and
    ``y`` arrays with the batch's rows, then ``run(sample_weight)`` gives
    the loss (with the L2 term) and leaves every gradient in the network's flat
    ``grads``; for plain SGD it also takes the step itself (``sgd`` is then set, and
    the caller must not step again). Run it under
    ``np.errstate(all="ignore")``: an overflow inside is either answered (the softmax's
    cheap shift falls back to the row max) or shows as a non-finite loss.
    """

    def __init__(
        self,
        net: Sequential,
        loss: Loss,
        *,
        l2: float,
        training: bool,
        normalized_targets: bool,
        optimizer: Optimizer | None = None,
    ) -> None:
        net.flatten()
        self.net, self.loss, self.l2, self.training = net, loss, l2, training
        self.normalized_targets = normalized_targets
        flat, gflat = net._flat_buffers()  # type: ignore[misc]
        self.flat, self.gflat = flat, gflat
        # plain SGD is taken by the plan itself (the caller must not step): in a large
        # network folded into the gradient products, [W; b] <- [W; b] - η [x 1]ᵀ δ in one
        # BLAS call per layer (eq. 2-5; grads are then not written); in a small one as one
        # BLAS axpy over the flat buffers after the backward pass
        self.sgd: SGD | None = None
        if (
            type(optimizer) is SGD
            and not optimizer.momentum
            and optimizer.clip_norm is None  # (the optimizer's step clips)
            and blas_available()
        ):
            self.sgd = optimizer
        # (fused, only Dense layers' parameters are stepped: not with a BatchNorm's)
        self.fused = (
            self.sgd is not None
            and flat.size >= _FUSE_MIN_PARAMETERS
            and not any(type(layer) in OWN_ARITHMETIC for layer in net.layers)
        )
        self.flat_step = axpy_updater(gflat, flat) if self.sgd is not None else None
        # weight decay in that axpy: η (g + λ w) from this buffer (as SGD._step_flat)
        self.decayed: Array = np.empty_like(flat) if self.flat_step and not self.fused else None
        self.decayed_step: Any = (
            axpy_updater(self.decayed, flat) if self.decayed is not None else None
        )
        # this batch's η, decay of W (L2 + weight decay), decay of b, and L2 factor c
        self.rates = [0.0, 0.0, 0.0, 0.0]
        self._batches: dict[int, _Batch] = {}

    def batch(self, m: int) -> _Batch:
        found = self._batches.get(m)
        if found is None:
            found = self._batches[m] = _Batch(self, m)
        return found


class _Batch:
    def __init__(self, plan: TrainingPlan, m: int) -> None:
        net, dtype = plan.net, plan.net.dtype
        self.plan, self.m = plan, m
        widths = [net.n_in_] + [int(layer.__dict__.get("_n_out", 1)) for layer in net.layers]
        # Small arrays: multiply [x 1] by [W; b], saving the bias's own numpy calls. Large
        # ones: keep rows contiguous (a strided gather or ReLU costs more than those calls)
        augment = m * max(widths) <= _AUGMENT_MAX_ELEMENTS
        # the gathered rows (with a column of ones when augmenting): the first layer's input
        x_aug = np.ones((m, net.n_in_ + 1), dtype) if augment else np.empty((m, net.n_in_), dtype)
        self.x = x_aug[:, :-1] if augment else x_aug
        self.y = np.empty((m, net.n_out_), dtype)
        hidden = [
            layer
            for layer in net.layers[:-1]
            if not (type(layer) is Dropout and (not plan.training or layer.rate == 0))
        ]
        stages: list[Stage] = []
        a, a_aug, fresh = self.x, x_aug, False  # fresh: a Dense output, free to overwrite
        positions = {id(layer): i for i, layer in enumerate(net.layers)}
        for i, layer in enumerate(hidden):
            dense_follows = any(isinstance(later, Dense) for later in hidden[i + 1 :])
            stage: Stage
            own = type(layer) in OWN_ARITHMETIC
            if own or not trusted(layer):  # (a user's: a subclass of a built-in one too)
                kind = OwnArithmeticStage if own else UserStage
                stage = kind(
                    layer,
                    positions[id(layer)],
                    a,
                    plan,
                    augment_output=augment and dense_follows,
                )
                fresh = True
            elif isinstance(layer, Dense):
                stage = DenseStage(
                    layer,
                    a_aug if augment else a,
                    plan,
                    augmented=augment,
                    augment_output=augment and dense_follows,
                )
                fresh = True
            else:
                stage = elementwise_stage(
                    layer, a, in_place=fresh, augment_output=augment and dense_follows
                )
                fresh = False
            stages.append(stage)
            a, a_aug = stage.out, stage.out_aug
        self.z = a
        self.delta = np.empty(a.shape, dtype)
        self.forward = [s.fwd for s in stages]
        # wire the deltas backwards down to the first Dense layer (nothing before it needs
        # a delta) or the first user's layer (whose backward is checked, as in general)
        self.backward: list[Callable[[], None]] = []
        first = next((i for i, s in enumerate(stages) if s.has_params or s.is_user), None)
        delta = self.delta
        for i in range(len(stages) - 1, -1, -1):
            if first is None or i < first:
                break
            delta = stages[i].bind(delta, need_input_delta=i > first)
            self.backward.append(stages[i].bwd)
        self.weights = [s.W_flat for s in stages if isinstance(s, DenseStage)]
        self.loss_step = loss_stage(plan, self.z, self.delta, self.y, m)
        self.run = self._compile()

    def _compile(self) -> Callable[[Array | None], float]:
        """``run(sample_weight) -> loss``: forward, loss, backward (and the L2 term),
        with everything it touches bound as locals (this is the per-batch hot path)."""
        forward, backward, loss_step = tuple(self.forward), tuple(self.backward), self.loss_step
        plan, m, weights = self.plan, self.m, tuple(self.weights)
        l2, sgd, rates = plan.l2, plan.sgd, plan.rates
        flat_step = None if plan.fused else plan.flat_step
        flat, gflat, decayed, decayed_step = plan.flat, plan.gflat, plan.decayed, plan.decayed_step
        dot, add_reduce = np.dot, np.add.reduce

        def run(sample_weight: Array | None) -> float:
            for fwd in forward:
                fwd()
            value = loss_step(sample_weight)
            if not isfinite(value):
                return value  # diverged: no backward pass, no step (the caller reports it)
            denom = m if sample_weight is None else float(add_reduce(sample_weight))
            c = l2 / denom if denom else 0.0
            rates[3] = c
            if c:  # ½ α ‖W‖² / Σs on the loss (its gradient α W / Σs: in the stages)
                squares = 0.0
                for w in weights:
                    squares += float(dot(w, w))
                value += 0.5 * c * squares
                if not isfinite(value):
                    return value  # the L2 term overflowed: no step either
            wd = 0.0
            if sgd is not None:
                if not denom:
                    return value  # all weights zero: no step
                lr, wd = sgd.current_learning_rate, sgd.weight_decay
                rates[0], rates[1], rates[2] = lr, lr * (c + wd), lr * wd
            for bwd in backward:
                bwd()
            if flat_step is not None:  # eqs. 2-5 and 2-6 for every parameter at once
                if wd:  # weight decay, on all of them: w - η (g + λ w)
                    np.multiply(flat, wd, out=decayed)
                    np.add(decayed, gflat, out=decayed)
                    decayed_step(-rates[0])
                else:
                    flat_step(-rates[0])
            return value

        return run
