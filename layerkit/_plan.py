"""A fused, allocation-free training step for networks made of layerkit's own layers.

``Sequential.loss_and_grads`` is the general path: it validates its inputs, lets each
layer allocate or look up its outputs, and works for any layer. In a training loop
most of that is the same every batch, and for small layers it costs more than the
matrix products themselves. A ``TrainingPlan`` does it once: for each batch size it
preallocates every activation and delta, binds each built-in layer's forward and
backward arithmetic to them as closures (activations in place on the Dense output
they follow), and computes the canonical output pair's loss and fused delta from the
logits with as few numpy calls as it can. The arithmetic is the layers' own: the plan
is tested to give the general path's gradients.

Networks with any other layer (a user's, or sparse input) use the general path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .layers import Dense, Dropout, Exp, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .layers.activations import sigmoid
from .losses import BinaryCrossEntropy, CategoricalCrossEntropy, SquaredError
from .losses.base import Loss
from .network import Sequential
from .optim import SGD, Optimizer
from .optim._blas import axpy, blas_available, sgd_dense_update

Array = Any
_HIDDEN = (Dense, ReLU, LeakyReLU, Tanh, Sigmoid, Identity, Dropout)
_LINKS = (Softmax, Sigmoid, Identity, Exp)
#: Networks with fewer parameters update them with a separate optimizer pass (measured:
#: fusing was 18% slower for 20-64-64-1, 10% faster for 784-256-128-10).
_FUSE_MIN_PARAMETERS = 50_000


def plan_supports(net: Sequential, loss: Loss, X: Any) -> bool:
    """Whether ``TrainingPlan`` can train ``net`` with ``loss`` on ``X``."""
    if not isinstance(X, np.ndarray) or not net.is_canonical(loss):
        return False
    *hidden, last = net.layers
    return type(last) in _LINKS and all(type(layer) in _HIDDEN for layer in hidden)


class TrainingPlan:
    """Per batch size, a forward pass, loss, and backward pass bound to fixed buffers.

    ``batch(m)`` returns the ``_Batch`` for batches of ``m`` rows: fill its ``x`` and
    ``y`` arrays, then ``run(sample_weight)`` computes the loss (with the L2 term) and
    leaves every gradient in the network's (flat) ``grads``.
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
        flat, gflat, n_pen = net._flat_buffers()  # type: ignore[misc]
        # plain SGD is folded into the gradient products: W <- W - η xᵀδ in one BLAS
        # call (eq. 2-5), with no separate update pass; grads are then not written
        # (for small layers the ctypes calls cost more than the pass they save)
        big = flat.size >= _FUSE_MIN_PARAMETERS
        self.sgd: SGD | None = None
        if type(optimizer) is SGD and not optimizer.momentum and big and blas_available():
            self.sgd = optimizer
        self.rates = [0.0, 0.0, 0.0]  # this batch's η, and decay factors of W and b
        self.w_pen, self.g_pen = flat[:n_pen], gflat[:n_pen]
        self.tmp_pen = np.empty_like(self.w_pen)
        self._batches: dict[int, _Batch] = {}

    def targets(self, Y: Array) -> Array:
        """The target rows the batches are gathered from (binary cross-entropy works
        with ``1 - 2y``; every other loss with ``y`` itself)."""
        if type(self.loss) is BinaryCrossEntropy:
            return 1.0 - 2.0 * Y
        return Y

    def batch(self, m: int) -> _Batch:
        found = self._batches.get(m)
        if found is None:
            found = self._batches[m] = _Batch(self, m)
        return found


class _Batch:
    def __init__(self, plan: TrainingPlan, m: int) -> None:
        net, dtype = plan.net, plan.net.dtype
        self.plan, self.m = plan, m
        self.x = np.empty((m, net.n_in_), dtype)
        self.y = np.empty((m, net.n_out_), dtype)
        ones = np.ones(m, dtype)
        self.forward: list[Callable[[], None]] = []
        backward: list[Any] = []  # (stage, needs the delta for its input)
        a, owned_by_dense = self.x, False
        for layer in net.layers[:-1]:
            if isinstance(layer, Dropout) and (not plan.training or layer.rate == 0):
                continue
            stage = _stage(layer, a, in_place=owned_by_dense, ones=ones)
            self.forward.append(stage.fwd)
            backward.append(stage)
            a, owned_by_dense = stage.out, isinstance(layer, Dense)
        self.z = a
        self.delta = np.empty_like(a)
        # wire the deltas backwards; nothing before the first Dense needs one
        first = next((i for i, s in enumerate(backward) if isinstance(s, _DenseStage)), None)
        self.backward: list[Callable[[], None]] = []
        delta = self.delta
        for i in range(len(backward) - 1, -1, -1):
            if first is None or i < first:
                break
            delta = backward[i].bind(delta, need_input_delta=i > first, plan=plan)
            self.backward.append(backward[i].bwd)
        self.loss_step = _loss_stage(plan, self.z, self.delta, self.y, m)
        self.run = self._compile()

    def _compile(self) -> Callable[[Array | None], float]:
        """``run(sample_weight) -> loss``: forward, loss, backward and the L2 term, with
        everything it touches bound as locals (this is the per-batch hot path)."""
        forward, backward, loss_step = tuple(self.forward), tuple(self.backward), self.loss_step
        plan, m = self.plan, self.m
        l2, w_pen, g_pen, tmp = plan.l2, plan.w_pen, plan.g_pen, plan.tmp_pen
        dot, add_reduce = np.dot, np.add.reduce
        sgd, rates = plan.sgd, plan.rates

        def run(sample_weight: Array | None) -> float:
            for fwd in forward:
                fwd()
            value = loss_step(sample_weight)
            denom = m if sample_weight is None else float(add_reduce(sample_weight))
            c = l2 / denom if denom else 0.0  # ½ α ‖W‖² / Σs on the loss
            if c:
                value += 0.5 * c * float(dot(w_pen, w_pen))
            if sgd is not None:
                if not denom:
                    return value  # all weights zero: no step
                lr = sgd.current_learning_rate
                rates[0], rates[1], rates[2] = (
                    lr,
                    lr * (c + sgd.weight_decay),
                    lr * sgd.weight_decay,
                )
            for bwd in backward:
                bwd()
            if c and sgd is None:  # α W / Σs on the gradient
                axpy(w_pen, g_pen, c, tmp)
            return value

        return run


# ------------------------------------------------------------------ layer stages
class _Stage:
    out: Array
    fwd: Callable[[], None]
    bwd: Callable[[], None]

    def bind(self, delta: Array, need_input_delta: bool, plan: TrainingPlan) -> Array:
        """Set the delta of this stage's output; return the delta of its input."""
        raise NotImplementedError


class _DenseStage(_Stage):
    def __init__(self, layer: Dense, x: Array, ones: Array) -> None:
        W, b = layer.params["W"], layer.params["b"]
        self.layer, self.x, self.ones = layer, x, ones
        z = self.out = np.empty((x.shape[0], W.shape[1]), W.dtype)
        mm, add = np.matmul, np.add

        def fwd() -> None:
            mm(x, W, out=z)
            add(z, b, out=z)

        self.fwd = fwd

    def bind(self, delta: Array, need_input_delta: bool, plan: TrainingPlan) -> Array:
        x, ones, mm = self.x, self.ones, np.matmul
        W, b = self.layer.params["W"], self.layer.params["b"]
        gW, gb = self.layer.grads["W"], self.layer.grads["b"]
        dx = np.empty_like(x) if need_input_delta else None
        rates = plan.rates

        if plan.sgd is not None:

            def fused() -> None:
                if dx is not None:
                    mm(delta, W.T, out=dx)  # eq. 3-II's factor, from W before its step
                sgd_dense_update(W, b, x, delta, ones, rates[0], rates[1], rates[2])

            self.bwd = fused
            return dx

        def bwd() -> None:
            mm(x.T, delta, out=gW)  # eq. 3-IV
            mm(ones, delta, out=gb)  # eq. 3-III: the column sums, as one product
            if dx is not None:
                mm(delta, W.T, out=dx)  # the first factor of eq. 3-II

        self.bwd = bwd
        return dx


class _ElementwiseStage(_Stage):
    """An activation (or dropout): forward src -> out, backward in place on the delta."""

    def __init__(
        self,
        src: Array,
        out: Array,
        fwd: Callable[[], None],
        make_bwd: Callable[[Array], Callable[[], None]],
    ) -> None:
        self.out, self.fwd, self._make_bwd = out, fwd, make_bwd

    def bind(self, delta: Array, need_input_delta: bool, plan: TrainingPlan) -> Array:
        self.bwd = self._make_bwd(delta)
        return delta


def _stage(layer: Any, src: Array, *, in_place: bool, ones: Array) -> _Stage:
    if isinstance(layer, Dense):
        return _DenseStage(layer, src, ones)
    out = src if in_place else np.empty_like(src)
    kind = type(layer)
    if kind is Identity:
        if out is not src:
            out = src  # nothing to compute or store
        return _ElementwiseStage(src, out, lambda: None, lambda d: lambda: None)
    if kind is ReLU:
        mask = np.empty_like(src)  # 1.0 where z > 0: a float mask multiplies fastest

        def relu() -> None:
            np.greater(src, 0, out=mask)
            np.multiply(src, mask, out=out)  # (a NaN stays NaN: NaN * 0 is NaN)

        def relu_bwd(d: Array) -> Callable[[], None]:
            def bwd() -> None:
                np.multiply(d, mask, out=d)

            return bwd

        return _ElementwiseStage(src, out, relu, relu_bwd)
    if kind is LeakyReLU:
        negative, slope = np.empty(src.shape, bool), float(layer.negative_slope)

        def leaky() -> None:
            np.less_equal(src, 0, out=negative)
            if out is not src:
                np.copyto(out, src)
            np.multiply(out, slope, out=out, where=negative)

        def leaky_bwd(d: Array) -> Callable[[], None]:
            def bwd() -> None:
                np.multiply(d, slope, out=d, where=negative)

            return bwd

        return _ElementwiseStage(src, out, leaky, leaky_bwd)
    if kind is Tanh or kind is Sigmoid:
        tmp, mask = np.empty_like(src), np.empty(src.shape, bool)
        if kind is Tanh:

            def act() -> None:
                np.tanh(src, out=out)
        else:

            def act() -> None:
                np.greater_equal(src, 0, out=mask)
                sigmoid(src, out, tmp, mask, mask_ready=True)

        def act_bwd(d: Array) -> Callable[[], None]:
            def bwd() -> None:  # σ' = 1 - a² (tanh) or a (1 - a) (sigmoid)
                if kind is Tanh:
                    np.multiply(out, out, out=tmp)
                    np.subtract(1, tmp, out=tmp)
                else:
                    np.subtract(1, out, out=tmp)
                    np.multiply(tmp, out, out=tmp)
                np.multiply(d, tmp, out=d)

            return bwd

        return _ElementwiseStage(src, out, act, act_bwd)
    if kind is Dropout:
        out = np.empty_like(src)
        scale = np.empty_like(src)
        keep, rng = 1.0 - float(layer.rate), layer._rng

        def drop() -> None:
            rng.random(out=scale, dtype=scale.dtype)
            np.less(scale, keep, out=scale, casting="unsafe")
            np.multiply(scale, 1.0 / keep, out=scale)
            np.multiply(src, scale, out=out)

        def drop_bwd(d: Array) -> Callable[[], None]:
            def bwd() -> None:
                np.multiply(d, scale, out=d)

            return bwd

        return _ElementwiseStage(src, out, drop, drop_bwd)
    raise TypeError(f"no training plan for {layer!r}")  # pragma: no cover (plan_supports)


# ------------------------------------------------------------------ loss stages
def _loss_stage(plan: TrainingPlan, z: Array, d: Array, y: Array, m: int) -> Any:
    """``run(sample_weight) -> value`` writing the fused δ = (link(z) - y)/m into ``d``."""
    loss, inv_m = plan.loss, 1.0 / m
    kind = type(loss)

    def general(sw: Array | None) -> float:
        value = loss.value_from_logits(z, y, sw)
        loss.delta_from_logits(z, y, sw, out=d)
        return value

    ones = np.ones(m, z.dtype)
    add_reduce = np.add.reduce
    if kind is CategoricalCrossEntropy and plan.normalized_targets:
        zmax, total = np.empty((m, 1), z.dtype), np.empty((m, 1), z.dtype)
        ones_k = np.ones((z.shape[1], 1), z.dtype)

        def cce(sw: Array | None) -> float:
            if sw is not None:
                return general(sw)
            np.max(z, axis=1, keepdims=True, out=zmax)
            np.subtract(z, zmax, out=d)
            np.exp(d, out=d)  # exp(z - max z): never overflows
            np.matmul(d, ones_k, out=total)  # row sums, as one product
            np.divide(d, total, out=d)  # softmax
            np.log(total, out=total)  # log-sum-exp = max z + log Σ exp(z - max z)
            lse_sum = float(np.dot(ones, total[:, 0])) + float(np.dot(ones, zmax[:, 0]))
            value = (lse_sum - float(np.vdot(y, z))) * inv_m  # Σ_x (lse - z_y) / m
            np.subtract(d, y, out=d)
            np.multiply(d, inv_m, out=d)
            return value

        return cce
    if kind is BinaryCrossEntropy:
        # y holds s = 1 - 2y here (TrainingPlan.targets): with it, per element,
        #   softplus(z) - y z = |z|/2 + log1p(exp(-|z|)) + s z / 2   (exact for any z)
        #   σ(z) - y = (tanh(z/2) + s) / 2                           (δ, to float precision)
        e, t, y_plain = np.empty_like(z), np.empty_like(z), np.empty_like(y)
        half_m = 0.5 * inv_m

        def bce(sw: Array | None) -> float:
            if sw is not None:  # the general path wants y itself back
                np.subtract(1.0, y, out=y_plain)
                np.multiply(y_plain, 0.5, out=y_plain)
                value = loss.value_from_logits(z, y_plain, sw)
                loss.delta_from_logits(z, y_plain, sw, out=d)
                return value
            np.abs(z, out=e)
            abs_sum = float(add_reduce(e, None))
            np.negative(e, out=e)
            np.exp(e, out=e)
            np.log1p(e, out=t)
            value = (
                0.5 * abs_sum + float(add_reduce(t, None)) + 0.5 * float(np.vdot(y, z))
            ) * inv_m
            np.multiply(z, 0.5, out=d)
            np.tanh(d, out=d)
            np.add(d, y, out=d)
            np.multiply(d, half_m, out=d)
            return value

        return bce
    if kind is SquaredError:

        def squared(sw: Array | None) -> float:
            if sw is not None:
                return general(sw)
            np.subtract(z, y, out=d)
            value = 0.5 * float(np.vdot(d, d)) * inv_m
            np.multiply(d, inv_m, out=d)
            return value

        return squared
    return general


# ------------------------------------------------------------------ inference
def predict_planned(net: Sequential, X: Any, *, logits: bool, chunk: int) -> Array | None:
    """Inference through fixed buffers, for networks of built-in layers; None otherwise.

    Every buffer belongs to this call (so calls from several threads never share one),
    is allocated once and reused for each chunk of rows; activations work in place; the
    last Dense layer writes straight into the result.
    """
    *hidden, last = net.layers
    if (
        not isinstance(X, np.ndarray)
        or X.dtype != net.dtype
        or not all(type(layer) in _HIDDEN for layer in hidden)
        or (not logits and type(last) not in _LINKS)
    ):
        return None
    layers = [layer for layer in hidden if not isinstance(layer, (Dropout, Identity))]
    if not layers or not isinstance(layers[-1], Dense):
        return None  # the result would not come out of a Dense layer: use the general path
    n = X.shape[0]
    out = np.empty((n, layers[-1].params["W"].shape[1]), net.dtype)
    rows = min(chunk, n)
    buffers = {
        id(layer): np.empty((rows, layer.params["W"].shape[1]), net.dtype)
        for layer in layers[:-1]
        if isinstance(layer, Dense)
    }
    width = max((b.shape[1] for b in buffers.values()), default=1)
    scratch = (np.empty((rows, width), net.dtype), np.empty((rows, width), bool))
    for start in range(0, n, rows):
        a = X[start : start + rows]
        m = a.shape[0]
        for layer in layers:
            if isinstance(layer, Dense):
                W, b = layer.params["W"], layer.params["b"]
                z = out[start : start + m] if layer is layers[-1] else buffers[id(layer)][:m]
                np.matmul(a, W, out=z)
                z += b
                a = z
            else:
                k = a.shape[1]
                _activate_in_place(layer, a, scratch[0][:m, :k], scratch[1][:m, :k])
    if not logits:
        out = last.forward(out)
    return out


def _activate_in_place(layer: Any, a: Array, mask: Array, positive: Array) -> None:
    kind = type(layer)
    if kind is ReLU:
        np.greater(a, 0, out=mask)
        a *= mask
    elif kind is LeakyReLU:
        np.less_equal(a, 0, out=mask)
        mask *= float(layer.negative_slope) - 1.0
        mask += 1.0  # 1 where a > 0, the slope elsewhere
        a *= mask
    elif kind is Tanh:
        np.tanh(a, out=a)
    else:  # Sigmoid
        np.greater_equal(a, 0, out=positive)
        sigmoid(a, a, mask, positive, mask_ready=True)
