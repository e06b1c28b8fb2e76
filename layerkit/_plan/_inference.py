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
from ._threads import Starts, run_in_threads, split_threads
from ._training import HIDDEN, LINKS

Array = Any


def predict_planned(net: Sequential, X: Any, *, logits: bool, chunk: int) -> Array | None:
    """Inference through fixed buffers, for networks of built-in layers; None otherwise.

    Every buffer belongs to this call (so calls from several threads never share one),
    is allocated once and reused for each chunk of rows; activations work in place; the
    last Dense layer writes straight into the result. X of another dtype than the
    network's is cast a chunk at a time into a buffer of its own (casting the whole of
    a 100,000 x 512 float64 X for a float32 network took 195 MiB).

    Large X is split among BLAS's threads a chunk at a time, each thread with buffers of
    its own and its products on one BLAS thread (see ``_threads``); the result does not
    depend on how the chunks fell to the threads.
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
    work = _work(n, layers)
    with split_threads(work >= SPLIT_FROM) as budget:
        threads, rows = _split(n, chunk, work, budget)
        starts = Starts(n, rows)
        if threads == 1:
            _Chunks(layers, X, out, rows, net.dtype).run(starts)
        else:
            run_in_threads(
                lambda: _Chunks(layers, X, out, rows, net.dtype).run(starts), threads, starts
            )
    if not logits:
        link_in_place(last, out)
    return out


# split the rows among threads from this much work on, in multiply-adds (an element of
# an activation counted as 16): about 9,000 rows of 784-256-128-10. Below, the split
# measured no faster, or slower, on the project's two cores (see _threads)
SPLIT_FROM = 1 << 31


def _work(n: int, layers: list[Any]) -> int:
    dense = [layer.params["W"].shape for layer in layers if isinstance(layer, Dense)]
    return n * sum(k * j + 16 * j for k, j in dense)


def _split(n: int, chunk: int, work: int, budget: int) -> tuple[int, int]:
    """(threads, rows per chunk): one thread and ``chunk`` rows on a budget of one
    thread; otherwise the budget (at most one thread per half of ``SPLIT_FROM``), and a
    number of chunks of at most ``chunk`` rows that they share evenly."""
    rows = max(1, min(chunk, n))  # (no rows: one empty result, no chunk run)
    # (no more threads than halves of SPLIT_FROM: BLAS's 64 threads on a large machine
    # would each start for a few rows)
    threads = min(budget, work // max(1, SPLIT_FROM >> 1))
    if threads <= 1:
        return 1, rows
    rounds = -(-n // (threads * rows))  # chunks per thread
    rows = -(-n // (threads * rounds))
    return min(threads, -(-n // rows)), rows


class _Chunks:
    """One thread's buffers, and the arithmetic of a chunk of rows through them."""

    def __init__(self, layers: list[Any], X: Array, out: Array, rows: int, dtype: Any) -> None:
        self.layers, self.X, self.out, self.first = layers, X, out, layers[0]
        self.buffers = {
            id(layer): np.empty((rows, layer.params["W"].shape[1]), dtype)
            for layer in layers[:-1]
            if isinstance(layer, Dense)
        }
        width = max((b.shape[1] for b in self.buffers.values()), default=1)
        self.scratch = (np.empty((rows, width), dtype), np.empty((rows, width), bool))
        # ReLU as max(a, 0) against an array of zeros: one pass, where a scalar 0 or a
        # row of zeros takes numpy's slower loops (1024 x 256 float32 with the bias add:
        # 73 µs, against 89 and 114 for the mask and product). It maps -inf to 0, where
        # the mask and product give NaN, which the estimators' scan of the logits for a
        # non-finite X relies on: a chunk whose first products are not all finite (a NaN
        # or infinity in a row of X makes every output of its row so) takes the mask and
        # product. (Where a finite X overflows a later pre-activation to -inf, the fast
        # way gives ReLU's 0, the mask and product NaN.)
        self.cast = None if X.dtype == dtype else np.empty((rows, X.shape[1]), dtype)
        self.fast_relu = any(type(layer) is ReLU for layer in layers)
        self.zeros = np.zeros(rows * width if self.fast_relu else 0, dtype)

    def run(self, starts: Starts) -> None:
        """Every chunk ``starts`` hands out, until it has none left."""
        start = starts.take()
        while start is not None:
            self._chunk(start, starts.rows)
            start = starts.take()

    def _chunk(self, start: int, rows: int) -> None:
        a = self.X[start : start + rows]
        m = a.shape[0]
        if self.cast is not None:  # (beyond float32's range: inf, as astype gives it)
            with np.errstate(over="ignore"):
                a = self.cast[:m]
                np.copyto(a, self.X[start : start + m], casting="unsafe")
        fast, last = self.fast_relu, self.layers[-1]
        for layer in self.layers:
            if isinstance(layer, Dense):
                W, b = layer.params["W"], layer.params["b"]
                z = self.out[start : start + m] if layer is last else self.buffers[id(layer)][:m]
                np.matmul(a, W, out=z)
                z += b
                a = z
                if layer is self.first and fast:  # (a sum overflowing to inf: the exact way)
                    fast = isfinite(float(np.add.reduce(z[:, 0])))
            elif fast and type(layer) is ReLU:
                k = a.shape[1]
                np.maximum(a, self.zeros[: m * k].reshape(m, k), out=a)  # (NaN stays NaN)
            else:
                k = a.shape[1]
                _activate_in_place(layer, a, self.scratch[0][:m, :k], self.scratch[1][:m, :k])


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
