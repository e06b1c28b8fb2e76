"""The layers' forward and backward arithmetic, bound to a plan's buffers as closures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..layers import Dense, Dropout, Identity, LeakyReLU, ReLU, Tanh
from ..layers.activations import sigmoid
from ..layers.smooth import SMOOTH
from ..optim._blas import axpy, sgd_updater

Array = Any
#: The largest relative error allowed in a decay d taken as the gemm's factor 1 - d
#: (rounded to the dtype, that factor is off by up to epsneg / 2 of 1).
DECAY_FACTOR_ERROR = 1e-3


class Stage:
    """One layer in a plan: ``fwd()`` fills ``out`` (a view of ``out_aug``, which has a
    column of ones after it when a Dense layer reads it); ``bind`` sets up ``bwd()``."""

    out: Array
    out_aug: Array
    fwd: Callable[[], None]
    bwd: Callable[[], None]
    has_params = False  # Dense: the backward pass must reach it
    is_user = False  # a user's layer: its backward runs (and is checked) wherever it is

    def bind(self, delta: Array, need_input_delta: bool) -> Array:
        """Set the delta of this stage's output; return the delta of its input."""
        raise NotImplementedError


def _output(m: int, width: int, dtype: Any, augment: bool) -> tuple[Array, Array]:
    """A fresh output buffer, with a trailing column of ones when ``augment``."""
    if not augment:
        out = np.empty((m, width), dtype)
        return out, out
    out_aug = np.ones((m, width + 1), dtype)
    return out_aug[:, :-1], out_aug


def _block(flat: Array, W: Array, rows: int) -> Array:
    """The ``(rows, units)`` view of ``flat`` that starts where ``W`` starts."""
    start = (
        W.__array_interface__["data"][0] - flat.__array_interface__["data"][0]
    ) // flat.itemsize
    return flat[start : start + rows * W.shape[1]].reshape(rows, W.shape[1])


class DenseStage(Stage):
    """``z = x W + b``. Augmented (``x`` given with a column of ones after it), the bias
    rides inside the product, ``z = [x 1] [W; b]`` (``W`` and ``b`` are adjacent in the
    flat buffer), and backward is ``[∂C/∂W; ∂C/∂b] = [x 1]ᵀ δ`` in one product; plain,
    ``b`` is added and ``∂C/∂b = 1ᵀ δ`` (eqs. 3-III, 3-IV)."""

    has_params = True

    def __init__(
        self, layer: Dense, x: Array, plan: Any, *, augmented: bool, augment_output: bool
    ) -> None:
        W = layer.params["W"]
        n_in, units = W.shape
        self.Wb = _block(plan.flat, W, n_in + 1)
        self.gWb = _block(plan.gflat, layer.grads["W"], n_in + 1)
        self.W_flat = self.Wb[:-1].reshape(-1)  # the penalized part, contiguous
        self.x, self.plan, self.augmented = x, plan, augmented
        self.out, self.out_aug = _output(x.shape[0], units, W.dtype, augment_output)
        z, mm, add = self.out, np.matmul, np.add
        if augmented:
            Wb = self.Wb

            def fwd() -> None:
                mm(x, Wb, out=z)
        else:
            W, b = self.Wb[:-1], self.Wb[-1]

            def fwd() -> None:
                mm(x, W, out=z)
                add(z, b, out=z)

        self.fwd = fwd

    def bind(self, delta: Array, need_input_delta: bool) -> Array:
        x, Wb, gWb, plan, mm = self.x, self.Wb, self.gWb, self.plan, np.matmul
        W, gW, gb = Wb[:-1], gWb[:-1], gWb[-1]
        m = x.shape[0]
        dx = np.empty((m, W.shape[0]), W.dtype) if need_input_delta else None
        rates, augmented = plan.rates, self.augmented
        ones = np.ones(m, W.dtype)
        x_data = x[:, :-1] if augmented else x
        # δ Wᵀ; for a layer of one unit an outer product, which numpy's broadcasting
        # multiply does in 3.1 µs against matmul's 8.1 (32 x 1 by 1 x 64, float32)
        Wt, input_delta = W.T, np.multiply if W.shape[1] == 1 else mm

        gW_flat, W_flat = gW.reshape(-1), self.W_flat
        Wb_flat, gWb_flat = Wb.reshape(-1), gWb.reshape(-1)

        def gradients(tmp: Array) -> None:
            if augmented:
                mm(x.T, delta, out=gWb)  # eqs. 3-III and 3-IV in one product
            else:
                mm(x.T, delta, out=gW)  # eq. 3-IV
                mm(ones, delta, out=gb)  # eq. 3-III: the column sums, as one product
            if rates[3]:
                axpy(W_flat, gW_flat, rates[3], tmp)  # the L2 term's gradient

        if plan.fused:
            block = sgd_updater(Wb, x, delta) if augmented else None  # [W; b] at once
            split = sgd_updater(W, x_data, delta, b=Wb[-1], ones=ones)
            # A decay d rides in the product as its factor 1 - d, rounded to the dtype:
            # exactly 1 for d below epsneg / 2 (2⁻²⁵ in float32), off by up to 100% just
            # above. Below this d, the step takes the gradient and adds the decay to it,
            # W <- W - η (xᵀδ + (c + λ) W), b <- b - η (1ᵀδ + λ b), through ``grads``.
            tiny = float(np.finfo(W.dtype).epsneg) / 2 / DECAY_FACTOR_ERROR
            scratch: list[Array] = []  # (axpy's, made at its first use: none without decay)

            def fused() -> None:
                if dx is not None:
                    input_delta(delta, Wt, out=dx)  # eq. 3-II's factor, W before its step
                decay_W, decay_b = rates[1], rates[2]
                if not (decay_W or decay_b):
                    if block is not None:
                        block(rates[0], 0.0, 0.0)  # eqs. 2-5 and 2-6 in one product
                    else:
                        split(rates[0], 0.0, 0.0)
                elif (not decay_W or decay_W >= tiny) and (not decay_b or decay_b >= tiny):
                    split(rates[0], decay_W, decay_b)
                else:
                    if not scratch:
                        scratch.append(np.empty_like(Wb_flat))
                    tmp, lr = scratch[0], rates[0]
                    gradients(tmp[: W_flat.size])  # (c W in it)
                    if decay_b:  # weight decay λ = decay_b / η, on W and b
                        axpy(Wb_flat, gWb_flat, decay_b / lr, tmp)
                    axpy(gWb_flat, Wb_flat, -lr, tmp)

            self.bwd = fused
            return dx

        tmp = np.empty_like(W_flat)

        def bwd() -> None:
            gradients(tmp)
            if dx is not None:
                input_delta(delta, Wt, out=dx)  # the first factor of eq. 3-II

        self.bwd = bwd
        return dx


class _Elementwise(Stage):
    """An activation (or dropout): forward src -> out, backward in place on the delta."""

    def __init__(
        self,
        out: Array,
        out_aug: Array,
        fwd: Callable[[], None],
        make_bwd: Callable[[Array], Callable[[], None]],
    ) -> None:
        self.out, self.out_aug, self.fwd, self._make_bwd = out, out_aug, fwd, make_bwd

    def bind(self, delta: Array, need_input_delta: bool) -> Array:
        self.bwd = self._make_bwd(delta)
        return delta


def elementwise_stage(layer: Any, src: Array, *, in_place: bool, augment_output: bool) -> Stage:
    kind = type(layer)
    if kind is Identity:
        return _Elementwise(
            src, src.base if src.base is not None else src, _nothing, lambda d: _nothing
        )
    if in_place and kind is not Dropout and kind not in SMOOTH:
        out, out_aug = src, src.base if src.base is not None else src
    else:  # (the smooth activations read their input after writing their output)
        out, out_aug = _output(src.shape[0], src.shape[1], src.dtype, augment_output)
    if kind in SMOOTH:  # the layer's own arithmetic, on the plan's buffers
        factor = np.empty(src.shape, src.dtype)

        def smooth() -> None:
            layer._activate(src, out)

        def smooth_bwd(d: Array) -> Callable[[], None]:
            def bwd() -> None:
                layer._factor(factor)
                np.multiply(d, factor, out=d)

            return bwd

        return _Elementwise(out, out_aug, smooth, smooth_bwd)
    if kind is ReLU:
        # 1.0 where z > 0: a float mask is fastest. In place on a (small) buffer with a
        # column of ones after it, the mask and product run over the whole contiguous
        # buffer (the ones stay ones: 1 > 0), comparing with an array of zeros (numpy's
        # scalar loops are slower there), not over the strided view of its first columns:
        # 2.8 against 8.3 µs a forward pass for 32 x 64 float32. (For large contiguous
        # arrays the scalar 0 is as fast or faster: 256 x 512, 70 against 90 µs.)
        m, k = src.shape
        ones_after = out_aug.shape == (m, k + 1) and out_aug.flags.c_contiguous
        whole = out_aug if out is src and ones_after else src
        mask_whole = np.empty(whole.shape, src.dtype)
        zero = np.zeros(whole.shape, src.dtype) if whole is not src else 0
        mask = mask_whole[:, :k]

        def relu() -> None:
            np.greater(whole, zero, out=mask_whole)
            np.multiply(whole, mask_whole, out=whole if out is src else out)  # (NaN * 0: NaN)

        return _Elementwise(out, out_aug, relu, lambda d: _times(d, mask))
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

        return _Elementwise(out, out_aug, leaky, leaky_bwd)
    if kind is Dropout:
        scale = np.empty(src.shape, src.dtype)
        keep, rng = 1.0 - float(layer.rate), layer._rng

        def drop() -> None:
            rng.random(out=scale, dtype=scale.dtype)
            np.less(scale, keep, out=scale, casting="unsafe")
            np.multiply(scale, 1.0 / keep, out=scale)
            np.multiply(src, scale, out=out)

        return _Elementwise(out, out_aug, drop, lambda d: _times(d, scale))
    tmp, positive = np.empty(src.shape, src.dtype), np.empty(src.shape, bool)
    if kind is Tanh:

        def act() -> None:
            np.tanh(src, out=out)

        def act_bwd(d: Array) -> Callable[[], None]:
            def bwd() -> None:  # σ' = 1 - a²
                np.multiply(out, out, out=tmp)
                np.subtract(1, tmp, out=tmp)
                np.multiply(d, tmp, out=d)

            return bwd

        return _Elementwise(out, out_aug, act, act_bwd)

    def sig() -> None:  # Sigmoid
        np.greater_equal(src, 0, out=positive)
        sigmoid(src, out, tmp, positive, mask_ready=True)

    def sig_bwd(d: Array) -> Callable[[], None]:
        def bwd() -> None:  # σ' = a (1 - a)
            np.subtract(1, out, out=tmp)
            np.multiply(tmp, out, out=tmp)
            np.multiply(d, tmp, out=d)

        return bwd

    return _Elementwise(out, out_aug, sig, sig_bwd)


def _nothing() -> None:
    pass


def _times(d: Array, factor: Array) -> Callable[[], None]:
    def bwd() -> None:
        np.multiply(d, factor, out=d)

    return bwd
