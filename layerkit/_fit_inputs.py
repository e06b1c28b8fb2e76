"""The checks ``Sequential.fit`` makes before training: the estimators validate their
input in scikit-learn's way; the low-level API checks here, once per call, so that bad
data is named as such instead of surfacing as a divergence or an IndexError."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .layers import Exp, Identity, Sigmoid, Softmax, Softplus

#: For a loss whose link is a key, the last layers whose outputs it is meaningful on.
_MEANINGFUL_OUTPUTS: dict[type, tuple[type, ...]] = {
    Sigmoid: (Sigmoid, Softmax),  # probabilities
    Softmax: (Softmax, Sigmoid),
    Exp: (Exp, Softplus),  # positive rates
}


def checked_inputs(X: Any, y: Any, sample_weight: Any) -> tuple[Any, Any, Any]:
    """``(X, y, sample_weight)`` as training takes them, or a ValueError naming the fault:
    no rows, non-finite values, weights of the wrong shape or sign. Sparse X other than
    CSR/CSC is converted to CSR (row slicing needs it)."""
    if hasattr(X, "tocsr"):
        if X.format not in ("csr", "csc"):
            X = X.tocsr()
        values = X.data
    else:
        X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=float)
        values = X
    n = X.shape[0] if X.ndim else 0
    if n == 0:
        raise ValueError(f"Sequential.fit: X has no rows (shape {X.shape}); nothing to train on")
    _require_finite(values, "X")
    y = np.asarray(y.toarray() if hasattr(y, "toarray") else y)
    if y.dtype.kind in "fc":
        _require_finite(y, "y")
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=float)
        if sample_weight.shape != (n,):
            raise ValueError(
                f"Sequential.fit: expected sample_weight of shape ({n},) (one weight per row "
                f"of X), got shape {sample_weight.shape}"
            )
        _require_finite(sample_weight, "sample_weight")
        if (sample_weight < 0).any():
            raise ValueError(
                "Sequential.fit: sample_weight must be non-negative (a weighted mean needs "
                f"it), got a minimum of {float(sample_weight.min())!r}"
            )
    return X, y, sample_weight


def _require_finite(values: Any, name: str) -> None:
    if values.size and not np.isfinite(values).all():
        bad = np.argwhere(~np.isfinite(values))[0]
        where = ", ".join(str(int(i)) for i in bad)
        raise ValueError(
            f"Sequential.fit: {name} contains NaN or infinity (first at [{where}]: "
            f"{values[tuple(bad)].item()!r}); remove or impute those values before training"
        )


def warn_if_outputs_unfit(net: Any, loss: Any, stacklevel: int) -> None:
    """Warn when ``loss`` is meaningless on what the network's last layer outputs: a
    cross-entropy after a Dense layer (logits, as PyTorch's CrossEntropyLoss takes them)
    trains towards a negative loss."""
    link = getattr(loss, "link", None)
    if link is None or link is Identity:
        return
    last = net.layers[-1]
    if isinstance(last, _MEANINGFUL_OUTPUTS.get(link, (link,))):
        return
    warnings.warn(
        f"{loss!r} is computed on the outputs of {link.__name__}, but the network ends in "
        f"{last!r}, whose outputs it is meaningless on (a cross-entropy of logits goes "
        f"negative); end the network in {link.__name__}(): layerkit then computes the "
        "loss and its error from the logits, stably, as PyTorch's CrossEntropyLoss does",
        UserWarning,
        stacklevel=stacklevel,
    )
