"""Safe persistence: a documented zip of JSON and .npy arrays, loaded without pickle."""

from ..exceptions import ModelFileError
from ._load import load, read_manifest
from ._save import save

__all__ = ["ModelFileError", "load", "read_manifest", "save"]
