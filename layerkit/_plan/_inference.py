"""Inference through fixed buffers, for networks of built-in layers."""

from __future__ import annotations

from math import isfinite
from typing import Any

import numpy as np

from ..layers import (
    BatchNorm,
    Dense,
    Dropout,
    Identity,
    LeakyReLU,
    ReLU,
    Tanh,
)
from ..layers.activations import sigmoid
from ..layers.smooth import SMOOTH
from ..network import Sequential
from ._training import HIDDEN, LINKS

Array = Any


def predict_planned(net: Sequential, X: Any, *, logits: bool, chunk: int) -> Array | None:
    """Inference through fixed buffers, for networks of built-in layers; None otherwise.

    Every buffer belongs to this call (so calls from several threads never share one),
    is allocated once and reused for each chunk of rows; activations work in place; the
    last Dense layer writes straight into the result. X of another dtype than the
    network's is cast a chunk at a time into a buffer of its own (casting the whole of
    a 100,000 x 512 float64 X for a float32 network took 195 MiB).
    """
    *hidden, last = net.layers
    if (
        not isinstance(X, np.ndarray)
        or not all(type(layer) in HIDDEN or type(layer) is BatchNorm for layer in hidden)
        or (not logits and type(last) not in LINKS)
    ):
        return None
    layers = [layer for layer in hidden if not isinstance(layer, (Dropout, Identity))]
    if not layers or not isinstance(layers[-1], Dense) or not isinstance(layers[0], Dense):
        # the result would not come out of a Dense layer, or an activation would work in
        # place on the caller's X: use the general path
        return None
    n = X.shape[0]
    out = np.empty((n, layers[-1].params["W"].shape[1]), net.dtype)
    rows = max(1, min(chunk, n))  # (no rows: one empty result, no chunk run)
    buffers = {
        id(layer): np.empty((rows, layer.params["W"].shape[1]), net.dtype)
        for layer in layers[:-1]
        if isinstance(layer, Dense)
    }
    width = max((b.shape[1] for b in buffers.values()), default=1)
    scratch = (np.empty((rows, width), net.dtype), np.empty((rows, width), bool))
    # ReLU as max(a, 0) against an array of zeros: one pass, where a scalar 0 or a row of
    # zeros takes numpy's slower loops (1024 x 256 float32 with the bias add: 73 µs,
    # against 89 and 114 for the mask and product). It maps -inf to 0, where the mask
    # and product give NaN, which the estimators' scan of the logits for a non-finite X
    # relies on: a chunk whose first products are not all finite (a NaN or infinity in
    # a row of X makes every output of its row so) takes the mask and product. (Where a
    # finite X overflows a later pre-activation to -inf, the fast way gives ReLU's 0,
    # the mask and product NaN.)
    cast = None if X.dtype == net.dtype else np.empty((rows, X.shape[1]), net.dtype)
    fast_relu = any(type(layer) is ReLU for layer in layers)
    zeros = np.zeros(rows * width if fast_relu else 0, net.dtype)
    first, add_reduce = layers[0], np.add.reduce
    for start in range(0, n, rows):
        a = X[start : start + rows]
        m = a.shape[0]
        if cast is not None:  # (beyond float32's range: inf, as astype gives it)
            with np.errstate(over="ignore"):
                a = cast[:m]
                np.copyto(a, X[start : start + m], casting="unsafe")
        fast = fast_relu
        for layer in layers:
            if isinstance(layer, Dense):
                W, b = layer.params["W"], layer.params["b"]
                z = out[start : start + m] if layer is layers[-1] else buffers[id(layer)][:m]
                np.matmul(a, W, out=z)
                z += b
                a = z
                if layer is first and fast:  # (a sum overflowing to inf: the exact way)
                    fast = isfinite(float(add_reduce(z[:, 0])))
            elif fast and type(layer) is ReLU:
                k = a.shape[1]
                np.maximum(a, zeros[: m * k].reshape(m, k), out=a)  # (NaN stays NaN)
            else:
                k = a.shape[1]
                _activate_in_place(layer, a, scratch[0][:m, :k], scratch[1][:m, :k])
    if not logits:
        link_in_place(last, out)
    return out


def link_in_place(last: Any, out: Array) -> bool:
    """The output activation on ``out``, in place, as its ``forward`` computes it but
    keeping nothing in the layer (a pending backward pass still reads what the last
    ``forward`` kept there). False (``out`` untouched) for a layer other than the
    built-in links."""
    kind = type(last)
    if kind not in LINKS:
        return False
    kind._apply(out, out)  # (the layer's own arithmetic, nothing kept)
    return True


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
    elif kind in SMOOTH:
        layer._in_place(a, mask, positive)
    elif kind is BatchNorm:  # prediction: the running statistics, as its forward does
        a -= layer.running_mean
        a *= 1.0 / np.sqrt(layer.running_var + layer.epsilon)
        a *= layer.params["gamma"]
        a += layer.params["beta"]
    else:  # Sigmoid
        np.greater_equal(a, 0, out=positive)
        sigmoid(a, a, mask, positive, mask_ready=True)
