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
from .dense import Dense
from .dropout import Dropout
from .smooth import ELU, GELU, SiLU, Softplus

__all__ = [
    "ELU",
    "GELU",
    "Activation",
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
