"""Checkers: the seed's eq. 3-1 (central differences) proves backward passes, and the
rest of each contract is checked beside it.

``check_layer``, ``check_loss`` and ``check_optimizer`` run every check of their
contract and raise ``GradientCheckError`` naming each failed check and why (for a
gradient: the array, the worst entry, both values and the relative error).
``check_network`` compares every parameter gradient of a network with finite
differences. ``layerkit.testing.parametrize_checks`` runs the checks as pytest tests.
"""

from ._core import GradientCheckError, GradientEntry, GradientReport, numeric_gradient
from ._layer import check_layer
from ._loss import check_loss
from ._network import check_network
from ._optimizer import check_optimizer

__all__ = [
    "GradientCheckError",
    "GradientEntry",
    "GradientReport",
    "check_layer",
    "check_loss",
    "check_network",
    "check_optimizer",
    "numeric_gradient",
]
