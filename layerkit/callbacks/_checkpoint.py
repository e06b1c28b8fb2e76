"""``Checkpoint``: the model file written as training goes, resumable exactly."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class Checkpoint:
    """Save the model after every ``every``-th epoch, and at the end of each fit.

    Attach it with ``estimator.set_callbacks(Checkpoint("model.lkm"))``. After epoch k
    (counted over warm starts: the length of ``loss_curve_``), the model as a fit
    stopped there would leave it is written with ``layerkit.save``: a temporary file
    moved into place, so a crash during a save leaves the previous checkpoint whole.
    With the optimizer's state saved (the default), a loaded checkpoint fitted on with
    ``warm_start=True`` trains as the unbroken run would have: the same weights, to
    the last bit, for a run without early stopping. With early stopping, what is saved
    is the best model so far (the weights a fit stopped there keeps).

    Parameters
    ----------
    path : str or path-like
        The file to write (conventionally ``*.lkm``). A ``{epoch}`` field in its name
        (``"run/epoch-{epoch:03d}.lkm"``) keeps one file per saved epoch; without it the
        one file is replaced each time. Its folder must exist. A file there that is not
        a layerkit model file is refused before the first epoch, never overwritten.
    every : int, default 1
        Save after epochs ``every``, ``2 * every``, ...; the end of the fit is saved
        whatever its epoch.
    optimizer_state : bool, default True
        Passed to ``layerkit.save``: False writes a file for prediction only (about a
        third of the size for Adam), whose warm start begins a fresh optimizer.

    Attributes
    ----------
    saved_ : list of pathlib.Path
        The files written, in order, by the latest fit (one path repeated when there is
        no ``{epoch}`` field).

    Notes
    -----
    The estimator saved is the one the callback is set on. Inside a Pipeline that is
    the network alone, which expects the transformed input: to resume, refit the steps
    before it and set the loaded network in its place. Inside a search every
    candidate's fit would write the same files: checkpoint a fit of the chosen
    parameters after the search instead.

    Examples
    --------
    >>> import tempfile, pathlib, warnings
    >>> import layerkit
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> clf = layerkit.MLPClassifier(hidden_layer_sizes=(8,), max_iter=6, random_state=0)
    >>> from layerkit.callbacks import Checkpoint
    >>> checkpoint = Checkpoint(folder / "iris-{epoch}.lkm", every=3)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # (6 epochs do not converge)
    ...     _ = clf.set_callbacks(checkpoint).fit(X, y)
    >>> [path.name for path in checkpoint.saved_]  # epochs 3 and 6, and the end of the fit
    ['iris-3.lkm', 'iris-6.lkm', 'iris-6.lkm']
    >>> layerkit.load(folder / "iris-3.lkm").n_iter_
    3
    """

    def __init__(
        self, path: str | os.PathLike[str], *, every: int = 1, optimizer_state: bool = True
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                f"Checkpoint: path must be a file path (a str or pathlib.Path), got "
                f"{type(path).__name__}"
            )
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"Checkpoint: every must be an int >= 1, got {every!r}")
        if not isinstance(optimizer_state, bool):
            raise TypeError(
                f"Checkpoint: optimizer_state must be True or False, got {optimizer_state!r}"
            )
        self.path = path
        self.every = every
        self.optimizer_state = optimizer_state
        self._pattern = os.fspath(path)
        try:
            self._pattern.format(epoch=0)
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(
                f"Checkpoint: path {self._pattern!r} is formatted with the epoch number; "
                f"its only field may be {{epoch}} (as in 'model-{{epoch:03d}}.lkm'), and "
                f"literal braces are written doubled: {err!r}"
            ) from None
        self.saved_: list[Path] = []

    def __repr__(self) -> str:
        return (
            f"Checkpoint({self._pattern!r}, every={self.every}, "
            f"optimizer_state={self.optimizer_state})"
        )

    def file_for(self, epoch: int) -> Path:
        """The file the checkpoint of ``epoch`` is written to."""
        return Path(self._pattern.format(epoch=epoch))

    # -- the callback protocol ---------------------------------------------------------

    def setup(self, estimator: Any, context: Any) -> None:
        """Before the first epoch: refuse a path that could not be written, so that a
        long fit does not fail at its first save."""
        from ..io._save import _is_model_file

        self.saved_ = []
        first = self.file_for(self.every)
        if not first.parent.is_dir():
            problem = "is not a folder" if first.parent.exists() else "does not exist"
            raise FileNotFoundError(
                f"{self!r}: cannot save to {str(first)!r}: its folder {str(first.parent)!r} "
                f"{problem}; create it first"
            )
        if first.exists() and not _is_model_file(first):
            raise FileExistsError(
                f"{self!r}: {str(first)!r} exists and is not a layerkit model file, which "
                "a checkpoint would overwrite: give another name, or remove it first"
            )

    def teardown(self, estimator: Any, context: Any) -> None:
        """Nothing to release: every save is complete when it returns."""

    def on_fit_task_begin(self, estimator: Any, context: Any) -> None:
        """Nothing is saved before an epoch has trained."""

    def on_fit_task_end(
        self, estimator: Any, context: Any, *, fitted_estimator: Any = None
    ) -> bool:
        """Save after every ``every``-th epoch and at the end of the fit; never stops it."""
        from ..io import save

        if fitted_estimator is None or not hasattr(fitted_estimator, "loss_curve_"):
            return False
        epoch = len(fitted_estimator.loss_curve_)
        at_end = context.task_name != "epoch"
        if at_end or epoch % self.every == 0:
            path = save(
                fitted_estimator, self.file_for(epoch), optimizer_state=self.optimizer_state
            )
            self.saved_.append(path)
        return False
