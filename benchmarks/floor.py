"""The floor: only the matrix products one epoch of training needs, nothing else."""

from __future__ import annotations

import time

import numpy as np
from _common import Workload


def epoch_floor(w: Workload) -> float:
    """Seconds for one epoch's products: per batch, x W for every layer, and backward
    a^T δ for every layer and δ W^T for every layer but the first (its input delta is
    never needed)."""
    rng = np.random.default_rng(1)
    dims = list(zip(w.sizes[:-1], w.sizes[1:], strict=True))
    Ws = [rng.standard_normal(d, dtype=np.float32).astype(w.dtype) for d in dims]
    batches = [w.batch_size] * (w.n // w.batch_size) + (
        [w.n % w.batch_size] if w.n % w.batch_size else []
    )
    buffers = {}
    for m in set(batches):
        acts = [rng.standard_normal((m, s), dtype=np.float32).astype(w.dtype) for s in w.sizes]
        deltas = [np.empty((m, s), w.dtype) for s in w.sizes]
        buffers[m] = (acts, deltas)
    grads = [np.empty_like(W) for W in Ws]
    start = time.perf_counter()
    for m in batches:
        acts, deltas = buffers[m]
        for i, W in enumerate(Ws):
            np.matmul(acts[i], W, out=acts[i + 1])
        for i in range(len(Ws) - 1, -1, -1):
            np.matmul(acts[i].T, acts[i + 1], out=grads[i])
            if i:
                np.matmul(acts[i + 1], Ws[i].T, out=deltas[i])
    return time.perf_counter() - start


def predict_floor(w: Workload, X: np.ndarray, chunk: int) -> float:
    """Seconds for the forward products of inference on X (in chunks of ``chunk`` rows)."""
    rng = np.random.default_rng(1)
    Ws = [
        rng.standard_normal(d, dtype=np.float32).astype(w.dtype)
        for d in zip(w.sizes[:-1], w.sizes[1:], strict=True)
    ]
    outs = [np.empty((chunk, s), w.dtype) for s in w.sizes[1:]]
    start = time.perf_counter()
    for s in range(0, len(X), chunk):
        a = X[s : s + chunk]
        for i, W in enumerate(Ws):
            out = outs[i][: len(a)]
            np.matmul(a, W, out=out)
            a = out
    return time.perf_counter() - start
