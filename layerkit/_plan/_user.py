"""A user's layer inside a training plan: its own forward and backward, checked."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._contract import check_backward, check_forward, check_live, live_arrays
from ..layers.base import Layer
from ..optim._blas import axpy
from ._stages import Stage, _output

Array = Any


class UserStage(Stage):
    """Any layer the plan has no arithmetic of its own for (a user's layer).

    ``fwd()`` calls ``layer.forward`` on the previous stage's buffer and copies the
    result into this stage's own (so the Dense stage after it multiplies a fixed array);
    ``bwd()`` calls ``layer.backward`` (eq. 3-II as the layer writes it; its gradients
    land in the network's flat buffer, of which ``layer.grads`` are views) and copies
    ∂C/∂(input) into the delta buffer of the stage before. Each call is checked against
    the layer contract, as the general path checks it (``LayerContractError`` at the
    first breach, naming ``position``). When the plan takes plain SGD inside the
    gradient products (``plan.fused``), the layer's parameters take their step here,
    ``p <- (1 - η λ) p - η ∂C/∂p`` (eqs. 2-5, 2-6 with weight decay λ).
    """

    def __init__(
        self, layer: Layer, position: int, src: Array, plan: Any, *, augment_output: bool
    ) -> None:
        self.layer, self.position, self.src, self.plan = layer, position, src, plan
        self.has_params = bool(layer.params)
        width = int(layer.__dict__["_n_out"])
        self.out, self.out_aug = _output(src.shape[0], width, src.dtype, augment_output)
        out, training, copyto = self.out, plan.training, np.copyto

        def fwd() -> None:
            a = layer.forward(src, training)
            check_forward(position, layer, src, a)
            copyto(out, a)

        self.fwd = fwd

    def bind(self, delta: Array, need_input_delta: bool) -> Array:
        layer, position, src, plan = self.layer, self.position, self.src, self.plan
        dx_buffer = np.empty(src.shape, src.dtype) if need_input_delta else None
        live, shape, copyto = live_arrays(layer), src.shape, np.copyto
        step = _fused_step(plan, live) if plan.fused and live else None

        def bwd() -> None:
            dx = layer.backward(delta)
            check_backward(position, layer, delta, dx, shape)
            check_live(position, layer, live)
            if dx_buffer is not None:
                copyto(dx_buffer, dx)
            if step is not None:
                step()

        self.bwd = bwd
        return dx_buffer


def _fused_step(plan: Any, live: list[tuple[str, Array, Array]]) -> Any:
    """Plain SGD on one layer's parameters (a contiguous run of the flat buffers)."""
    flat, gflat, rates = plan.flat, plan.gflat, plan.rates
    first, last = live[0][1], live[-1][1]
    start = (_address(first) - _address(flat)) // flat.itemsize
    stop = (_address(last) - _address(flat)) // flat.itemsize + last.size
    w, g = flat[start:stop], gflat[start:stop]
    tmp = np.empty_like(w)

    def step() -> None:
        if rates[2]:  # weight decay (these parameters carry no L2 penalty)
            np.multiply(w, 1.0 - rates[2], out=w)
        axpy(g, w, -rates[0], tmp)

    return step


def _address(a: Array) -> int:
    return int(a.__array_interface__["data"][0])
