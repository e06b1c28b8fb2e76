"""A layer inside a training plan through its own forward and backward: a user's
parameter-free layer, or a built-in layer with parameters of its own (BatchNorm)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._contract import check_backward, check_forward, note_where
from ..layers.base import Layer
from ._stages import Stage, _output

Array = Any


class UserStage(Stage):
    """A user's layer without parameters (an activation of one's own, say).

    ``fwd()`` calls ``layer.forward`` on the previous stage's buffer and copies the
    result into this stage's own (so the Dense stage after it multiplies a fixed array);
    ``bwd()`` calls ``layer.backward`` (eq. 3-II as the layer writes it) and copies
    ∂C/∂(input) into the delta buffer of the stage before. Every call is checked against
    the layer contract, as the general path checks it (``LayerContractError`` at the
    first breach, naming ``position``), and ``backward`` runs even where no earlier
    layer needs its result, as it does there.

    (A user's layer *with* parameters keeps the general path: the plan would move its
    arrays into the flat buffer, and a layer that exposes them through a property, or
    shares them with an inner object, would then train arrays it no longer reads.)
    """

    is_user = True
    checked = True  # each call checked against the layer contract

    def __init__(
        self, layer: Layer, position: int, src: Array, plan: Any, *, augment_output: bool
    ) -> None:
        self.layer, self.position, self.src = layer, position, src
        width = int(layer.__dict__["_n_out"])
        self.out, self.out_aug = _output(src.shape[0], width, src.dtype, augment_output)
        out, training, copyto, checked = self.out, plan.training, np.copyto, self.checked

        def fwd() -> None:
            try:
                a = layer.forward(src, training)
            except Exception as error:
                if checked:
                    note_where(error, position, layer, "forward")
                raise
            if checked:
                check_forward(position, layer, src, a)
            copyto(out, a)

        self.fwd = fwd

    def bind(self, delta: Array, need_input_delta: bool) -> Array:
        layer, position, shape, copyto = self.layer, self.position, self.src.shape, np.copyto
        dx_buffer = np.empty(shape, self.src.dtype) if need_input_delta else None
        checked = self.checked

        def bwd() -> None:
            try:
                dx = layer.backward(delta)
            except Exception as error:
                if checked:
                    note_where(error, position, layer, "backward")
                raise
            if checked:
                check_backward(position, layer, delta, dx, shape)
            if dx_buffer is not None:
                copyto(dx_buffer, dx)

        self.bwd = bwd
        return dx_buffer


class OwnArithmeticStage(UserStage):
    """A built-in layer with parameters of its own besides Dense (BatchNorm): its
    ``forward`` and ``backward`` on the plan's buffers, unchecked (trusted code); its
    gradients land in the flat buffer the plan's step reads, as the layer writes them in
    place (a built-in network is flattened at build)."""

    is_user = False
    checked = False
    has_params = True
