"""layerkit: neural networks as pluggable, gradient-checked layers for scikit-learn."""

from .network import Sequential

__version__ = "0.1.0"

__all__ = ["Sequential", "__version__"]
