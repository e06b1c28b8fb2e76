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

__all__ = [
    "Activation",
    "Dense",
    "Dropout",
    "Exp",
    "Identity",
    "Layer",
    "LeakyReLU",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
