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
    # (not Sigmoid: summing y log a alone, nothing pulls an output down where y is 0,
    # so independent sigmoids all go to 1; softmax outputs share their sum)
    Softmax: (Softmax,),
    Exp: (Exp, Softplus),  # positive rates
}


def checked_inputs(X: Any, y: Any, sample_weight: Any) -> tuple[Any, Any, Any]:
    """``(X, y, sample_weight)`` as training takes them, or a ValueError naming the fault:
    no rows, non-finite values, weights of the wrong shape or sign. Sparse X other than
    CSR/CSC is converted to CSR (row slicing needs it)."""
    if hasattr(X, "tocsr"):
        if X.format not in ("csr", "csc"):
            X = X.tocsr()
    else:
        X = numeric(np.asarray(X), "X")  # (float32 stays float32: the plan needs it)
    n = X.shape[0] if X.ndim else 0
    if n == 0:
        raise ValueError(f"Sequential.fit: X has no rows (shape {X.shape}); nothing to train on")
    require_finite(X, "X")
    y = numeric(np.asarray(y.toarray() if hasattr(y, "toarray") else y), "y")
    require_finite(y, "y")
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=float)
        if sample_weight.shape != (n,):
            raise ValueError(
                f"Sequential.fit: expected sample_weight of shape ({n},) (one weight per row "
                f"of X), got shape {sample_weight.shape}"
            )
        require_finite(sample_weight, "sample_weight")  # (float64: asarray above)
        if (sample_weight < 0).any():
            raise ValueError(
                "Sequential.fit: sample_weight must be non-negative (a weighted mean needs "
                f"it), got a minimum of {float(sample_weight.min())!r}"
            )
        if not sample_weight.sum() > 0:  # (a loss of 0.0 for every epoch looked like a fit)
            raise ValueError(
                "Sequential.fit: sample_weight is 0 for every row: no example counts, so "
                "there is nothing to train on"
            )
    return X, y, sample_weight


#: dtypes that numpy converts to numbers but that are no numbers to train on
_NOT_NUMBERS = {"M": "dates", "m": "time spans", "U": "text", "S": "bytes"}


def numeric(X: Any, name: str, where: str = "Sequential.fit") -> Any:
    """``X`` as it is when numeric, else converted to float64 (an object array of
    numbers; a None becomes NaN, refused next as such), or a ValueError saying what it
    holds: complex values (numpy would drop the imaginary parts with a warning), dates
    (numpy would count days) and text (even "1.5": scikit-learn refuses it too)."""
    kind = X.dtype.kind
    if kind in "fiub":
        return X
    if kind == "c":
        raise ValueError(f"{where}: {name} must hold real numbers, got complex values ({X.dtype})")
    if kind in _NOT_NUMBERS:
        raise ValueError(
            f"{where}: {name} must hold numbers, got {_NOT_NUMBERS[kind]} (dtype {X.dtype}); "
            "convert them to numbers first"
        )
    try:
        return X.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{where}: {name} must hold numbers, got dtype {X.dtype} ({err})"
        ) from None


def all_finite(A: Any) -> bool:
    """Whether every value of ``A`` (dense, or a sparse matrix's stored values) is
    finite. One sum decides in the usual case, without a mask the size of ``A``."""
    values = A.data if hasattr(A, "tocsr") else A
    if not values.size or values.dtype.kind not in "fc":
        return True
    with np.errstate(all="ignore"):  # (a sum of finite values may overflow: look closer)
        if np.isfinite(values.sum()):
            return True
    return bool(np.isfinite(values).all())


def require_finite(A: Any, name: str, where: str = "Sequential.fit") -> None:
    """A ValueError naming the first non-finite entry of ``A`` (dense or sparse) by row
    and column."""
    if all_finite(A):
        return
    values = A.data if hasattr(A, "tocsr") else A
    k = np.flatnonzero(~np.isfinite(values.ravel()))[0]
    if hasattr(A, "tocsr"):  # the k-th stored value: its row and column
        major = int(np.searchsorted(A.indptr, k, side="right")) - 1
        minor = int(A.indices[k])
        index: tuple[int, ...] = (major, minor) if A.format == "csr" else (minor, major)
    else:
        index = tuple(int(i) for i in np.unravel_index(k, values.shape))
    at = ", ".join(str(i) for i in index)
    raise ValueError(
        f"{where}: {name} contains NaN or infinity (first at [{at}]: "
        f"{values.ravel()[k].item()!r}); remove or impute those values before training"
    )


def fits_dtype(X: Any, dtype: Any) -> bool:
    """Whether ``X``'s values (finite) stay finite in ``dtype``: float64 values beyond
    float32's range do not. Two reductions, no copy of X."""
    dtype = np.dtype(dtype)
    if X.dtype == dtype or np.dtype(X.dtype).itemsize <= dtype.itemsize:
        return True
    values = X.data if hasattr(X, "tocsr") else X
    if not values.size:
        return True
    largest = float(np.finfo(dtype).max)
    low, high = float(values.min()), float(values.max())
    if low != low or high != high:  # a NaN: not this check's to report (NaN in, NaN out)
        with np.errstate(invalid="ignore"):
            return not bool((np.abs(values) > largest).any())
    return -largest <= low and high <= largest


def refuse_beyond_dtype(
    X: Any,
    dtype: Any,
    name: str,
    where: str,
    advice: str = "rescale them, or build the network with dtype=np.float64",
) -> None:
    """A ValueError if ``X`` (finite) holds values that ``dtype`` cannot: float64 values
    beyond float32's range, for a network that computes in float32, would be infinite
    there (NaN outputs, or a divergence reported with advice on the learning rate)."""
    if fits_dtype(X, dtype):
        return
    dtype = np.dtype(dtype)
    values = X.data if hasattr(X, "tocsr") else X
    raise ValueError(
        f"{where}: {name} holds values beyond the range of {dtype.name} (largest magnitude "
        f"{float(np.nanmax(np.abs(values))):.3g}; {dtype.name} reaches "
        f"{float(np.finfo(dtype).max):.3g}), but the network computes in {dtype.name}, "
        f"where they would be infinite; {advice}"
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
    what = "positive rates" if link is Exp else "probabilities"
    why = "" if link is Exp else " (a cross-entropy of logits even goes negative)"
    if link is Softmax and isinstance(last, Sigmoid):
        what = "probabilities that sum to 1"
        why = (
            " (it sums y log a only, so nothing pulls an output down where y is 0: every "
            "sigmoid goes to 1); for independent labels use BinaryCrossEntropy"
        )
    warnings.warn(
        f"{loss!r} is computed on {what}, the outputs of {link.__name__}, but the network "
        f"ends in {last!r}, whose outputs it is not meant for{why}; end the network in "
        f"{link.__name__}(): layerkit then computes the loss and its error from the "
        "logits, stably"
        + (" (as PyTorch's CrossEntropyLoss takes logits)" if link is not Exp else ""),
        UserWarning,
        stacklevel=stacklevel,
    )
