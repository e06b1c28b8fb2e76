"""Callbacks for scikit-learn's callback API (``sklearn.callback``, scikit-learn >= 1.9).

Set them with ``estimator.set_callbacks(...)``:

- ``Checkpoint`` saves the model file as training goes, so that a crash, a killed
  process or a lost machine costs at most a few epochs: ``layerkit.load`` the file and
  fit on with ``warm_start=True``.
- ``ScoreHistory`` scores the model on held-out data after every epoch, with as many
  metrics as you name (Keras's ``val_*`` history, skorch's ``EpochScoring``).
"""

from ._checkpoint import Checkpoint, CheckpointWarning
from ._score_history import ScoreHistory

__all__ = ["Checkpoint", "CheckpointWarning", "ScoreHistory"]
