"""Layers: each one a forward pass and a backward pass that sends δ back."""

from .activations import (
    Activation,
    Exp,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .base import Layer
from .composite import Composite
from .dense import Dense
from .dropout import Dropout
from .normalization import BatchNorm
from .smooth import ELU, GELU, SiLU, Softplus

#: Every built-in layer class (the training loop trusts their code).
BUILT_IN = frozenset(
    {Dense, Dropout, Exp, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh, ELU, GELU, SiLU}
    | {Softplus, BatchNorm}
)

__all__ = [
    "ELU",
    "GELU",
    "Activation",
    "BatchNorm",
    "Composite",
    "Dense",
    "Dropout",
    "Exp",
    "Identity",
    "Layer",
    "LeakyReLU",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
]
