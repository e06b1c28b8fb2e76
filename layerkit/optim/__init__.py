"""Optimizers: gradients to updates (the seed's eqs. 2-5 and 2-6, and refinements)."""

from .adam import Adam, AdamW
from .base import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]
