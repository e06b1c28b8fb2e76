"""Gradient checking: the seed's eq. 3-1 (central differences) proves backward passes.

``check_layer``, ``check_loss`` and ``check_network`` compare every analytic gradient
with finite differences in float64 and raise ``GradientCheckError`` naming the layer,
the parameter, the worst entry, both values and the relative error.
"""

from ._core import GradientCheckError, GradientEntry, GradientReport, numeric_gradient
from ._layer import check_layer
from ._loss import check_loss
from ._network import check_network

__all__ = [
    "GradientCheckError",
    "GradientEntry",
    "GradientReport",
    "check_layer",
    "check_loss",
    "check_network",
    "numeric_gradient",
]
