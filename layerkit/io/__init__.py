"""Safe persistence: a documented zip of JSON and .npy arrays, loaded without pickle."""

from ..exceptions import ModelFileError
from ._load import load
from ._save import save

__all__ = ["ModelFileError", "load", "save"]
