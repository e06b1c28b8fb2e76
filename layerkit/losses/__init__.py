"""Losses: the batch-mean cost C and ∇_a C, the first factor of eq. 3-I."""

from .base import Loss
from .cross_entropy import BinaryCrossEntropy, CategoricalCrossEntropy
from .poisson import PoissonLoss
from .squared_error import SquaredError

__all__ = [
    "BinaryCrossEntropy",
    "CategoricalCrossEntropy",
    "Loss",
    "PoissonLoss",
    "SquaredError",
]
