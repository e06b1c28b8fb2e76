"""The errors layerkit raises beyond Python's own."""

from __future__ import annotations

from ._configurable import RegistryError


class ModelFileError(ValueError):
    """A model file cannot be read: truncated, corrupted, of an unknown format version,
    with a manifest that does not validate, a missing or misshapen array, or naming a
    type that is not registered in this process. Raised for every such problem."""


__all__ = ["ModelFileError", "RegistryError"]
