"""Reusable scratch arrays for built-in layers during training.

Outside training, ``scratch`` returns a fresh array, so ``forward``/``backward`` results
belong to the caller. Inside ``Sequential``'s training loop a per-layer workspace is
switched on and the same arrays are reused batch after batch (one set per batch size),
so the loop allocates nothing it could reuse.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def scratch(owner: Any, key: str, shape: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialized array of ``shape`` and ``dtype``, reused while a workspace is on."""
    ws = owner.__dict__.get("_workspace")
    if ws is None:
        return np.empty(shape, dtype)
    slot = (key, shape[0])
    buf = ws.get(slot)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = ws[slot] = np.empty(shape, dtype)
    return buf
