"""The errors layerkit raises beyond Python's own."""

from __future__ import annotations

from ._configurable import RegistryError


class ModelFileError(ValueError):
    """A model file cannot be read: truncated, corrupted, of an unknown format version,
    with a manifest that does not validate, a missing or misshapen array, or naming a
    type that is not registered in this process. Raised for every such problem."""


class DivergenceError(ValueError):
    """Training produced a non-finite loss (it diverged). The message names the epoch
    and the batch; the estimator that raised it is left as it was before ``fit``."""

    def __init__(self, message: str, *, epoch: int | None = None, batch: int | None = None):
        super().__init__(message)
        self.epoch, self.batch = epoch, batch


class LayerContractError(ValueError):
    """A layer broke the layer contract: ``forward``/``backward`` returned None, an
    array of the wrong shape, or a non-finite array from finite input, or its ``grads``
    do not match its ``params``. The message names the layer's position and class."""


class TrainingInterrupted(UserWarning):
    """Ctrl-C stopped a fit; the model keeps what was trained up to the last completed
    batch (or lbfgs iteration), or with early stopping the best epoch's weights (the
    starting ones if no epoch was scored yet). A ``UserWarning``, so existing filters
    still apply."""


__all__ = [
    "DivergenceError",
    "LayerContractError",
    "ModelFileError",
    "RegistryError",
    "TrainingInterrupted",
]
