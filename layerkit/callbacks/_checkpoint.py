"""``Checkpoint``: the model file written as training goes, resumable exactly."""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from ..estimators._base import BaseMLP
from ._relay import Relay


class Checkpoint:
    """Save the model after every ``every``-th epoch, and at the end of each fit.

    Attach it with ``estimator.set_callbacks(Checkpoint("model.lkm"))``, or on a
    Pipeline that ends in the network, ``pipe.set_callbacks(...)``: then each file holds
    the whole Pipeline, its fitted steps and the network, as ``layerkit.save(pipe)``
    writes it. After epoch k (counted over warm starts: the length of ``loss_curve_``),
    the model as a fit stopped there would leave it is written with ``layerkit.save``: a
    temporary file moved into place, so a crash during a save leaves the previous
    checkpoint whole.
    With the optimizer's state saved (the default), a checkpoint of ``solver="sgd"`` or
    ``"adam"``, loaded and fitted on with ``warm_start=True``, trains as the unbroken
    run would have: the same weights, to the last bit, for a run without early
    stopping. (lbfgs resumes from the weights, but its curvature memory starts afresh,
    so its steps differ.) With early stopping, what is saved is the best model so far
    (the weights a fit stopped there keeps).

    Parameters
    ----------
    path : str or path-like
        The file to write (conventionally ``*.lkm``). A ``{epoch}`` field in its name
        (``"run/epoch-{epoch:03d}.lkm"``) keeps one file per saved epoch; without it the
        one file is replaced each time. A relative path is taken from the working folder
        where the fit starts. The folder must exist and be writable, and a file of that
        name that is not a layerkit model file is never overwritten: both are refused
        before the first epoch (a name with ``{epoch}`` that turns out taken is skipped
        with a ``CheckpointWarning``, as a save that fails for lack of space is; the
        training goes on).
    every : int, default 1
        Save after epochs ``every``, ``2 * every``, ..., and at the end of the fit
        when its last epoch was not just saved. A fit stopped by Ctrl-C inside an epoch
        is not saved at its end (its weights are of part of an epoch: a resume from
        them would not be exact); the last saved epoch's file stays, and a
        ``CheckpointWarning`` names it. Each ``partial_fit`` call is a fit of one
        epoch, and so is saved.
    optimizer_state : bool, default True
        Passed to ``layerkit.save``: False writes a file for prediction only (about a
        third of the size for Adam), whose warm start begins a fresh optimizer.

    Attributes
    ----------
    saved_ : list of pathlib.Path
        The files written, in order, by the latest fit, as absolute paths (one path
        repeated when there is no ``{epoch}`` field).

    Notes
    -----
    The estimator saved is the one the callback is set on: a layerkit MLPClassifier or
    MLPRegressor, or a Pipeline ending in one whose steps before it a model file can
    hold (``layerkit.save``'s list: scikit-learn's scalers, ``SimpleImputer``,
    ``PolynomialFeatures``, ``Normalizer``, ``"passthrough"``), checked when the fit
    starts. To resume a Pipeline's checkpoint, load it, set ``warm_start=True`` and
    ``max_iter`` (the epochs still to run) on its last step and fit the Pipeline on the
    same rows: its steps fit again to the same values. Set on the network inside a
    Pipeline, it saves the network alone, which expects transformed rows, and warns
    (``CheckpointWarning``). Set on a search, it is refused: every candidate's fit
    would write the same files (set on an estimator inside a search, it warns so);
    checkpoint a fit of the chosen parameters after the search instead. Inside a
    TransformedTargetRegressor that scales the target, its files hold the regressor,
    which predicts the scaled target, and it warns: save the TransformedTargetRegressor
    after the fit (``layerkit.save`` writes it whole).

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
    >>> [path.name for path in checkpoint.saved_]  # epochs 3 and 6 (6 is the end)
    ['iris-3.lkm', 'iris-6.lkm']
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
        except (KeyError, IndexError, ValueError, TypeError, AttributeError) as err:
            raise ValueError(
                f"Checkpoint: path {self._pattern!r} is formatted with the epoch number; "
                f"its only field may be {{epoch}} (as in 'model-{{epoch:03d}}.lkm'), and "
                f"literal braces are written doubled: {err!r}"
            ) from None
        self._single = self._pattern.format(epoch=0) == self._pattern.format(epoch=1)
        self._folder = Path.cwd()  # (a relative path is taken from where the fit starts)
        self._last_saved: int | None = None
        self._epoch_end: tuple[int, Any] | None = None  # (epochs, examples seen) at its end
        self.saved_: list[Path] = []

    def __repr__(self) -> str:
        return (
            f"Checkpoint({self._pattern!r}, every={self.every}, "
            f"optimizer_state={self.optimizer_state})"
        )

    def file_for(self, epoch: int) -> Path:
        """The file the checkpoint of ``epoch`` is written to (a relative path: from the
        working folder of the latest fit's start)."""
        return self._folder / self._pattern.format(epoch=epoch)

    # -- the callback protocol ---------------------------------------------------------

    def setup(self, estimator: Any, context: Any) -> None:
        """Before the first epoch: refuse an estimator that is not a layerkit network or
        a Pipeline ending in one, and a path that could not be written, so that a long
        fit does not fail at its first save."""
        from ..io._pipeline import is_pipeline
        from ..io._save import _describe, _is_model_file

        network = estimator
        if is_pipeline(estimator) and estimator.steps:
            network = estimator.steps[-1][1]
        if not isinstance(network, BaseMLP):
            raise TypeError(_misplaced(self, estimator, network))
        self._check(estimator, lambda: _describe(estimator))
        if network is not estimator and any(
            c is self for c in network.__dict__.get("_skl_callbacks") or ()
        ):
            raise TypeError(
                f"{self!r} is set on both the Pipeline and its {type(network).__name__}: "
                "set it on the Pipeline only (its files then hold the whole Pipeline)"
            )
        outer = _outer_estimators(context)
        searched = any(name != "Pipeline" for name in outer)  # (a search passes its context)
        for name in _wrappers_on_the_stack(estimator):
            if not (name == "cross-validation" and searched):
                outer.append(name)
        if outer:
            _warn_nested(self, estimator, outer)
        self.saved_, self._last_saved, self._folder = [], None, Path.cwd()
        self._epoch_end = None
        first = self.file_for(len(getattr(network, "loss_curve_", ())) + 1)
        if not first.parent.is_dir():
            problem = "is not a folder" if first.parent.exists() else "does not exist"
            raise FileNotFoundError(
                f"{self!r}: cannot save to {str(first)!r}: its folder {str(first.parent)!r} "
                f"{problem}; create it first"
            )
        try:  # (a folder one cannot write to: /proc, a read-only mount, permissions)
            fd, probe = tempfile.mkstemp(prefix=".layerkit-", suffix=".tmp", dir=first.parent)
        except OSError as err:
            raise PermissionError(
                f"{self!r}: cannot write in the folder {str(first.parent)!r}: {err}"
            ) from None
        os.close(fd)
        os.unlink(probe)
        if first.is_dir():
            raise IsADirectoryError(
                f"{self!r}: {str(first)!r} is a folder; give a file name inside it"
            )
        if self._single and first.exists() and not _is_model_file(first):
            raise FileExistsError(
                f"{self!r}: {str(first)!r} exists and is not a layerkit model file, which "
                "a checkpoint would overwrite: give another name, or remove it first"
            )
        if network is not estimator:  # the network's epochs reach the Pipeline's file
            Relay(self, estimator, network).attach()

    def _network_begins(self, pipeline: Any) -> None:
        """Set on a Pipeline: when its network starts, the steps before it are fitted,
        and a step a file cannot hold as fitted (an imputer fitted on text, say) is
        refused now, not at the first save."""
        from ..io._pipeline import pipeline_spec

        self._check(pipeline, lambda: pipeline_spec(pipeline))

    def _check(self, estimator: Any, describe: Any) -> None:
        """Run ``describe`` (layerkit.save's description of the model), its errors
        naming the checkpoint."""
        try:  # (what a model file cannot name, a layer of an unregistered class, say)
            describe()
        except TypeError as err:
            raise TypeError(f"{self!r} cannot save {type(estimator).__name__}: {err}") from err
        except ValueError as err:
            raise ValueError(f"{self!r} cannot save {type(estimator).__name__}: {err}") from err

    def teardown(self, estimator: Any, context: Any) -> None:
        """Every save is complete when it returns. Set on a Pipeline: its network gets
        back the callbacks it had."""
        from ..io._pipeline import is_pipeline

        if is_pipeline(estimator) and estimator.steps:
            network = estimator.steps[-1][1]
            if isinstance(network, BaseMLP):  # (else refused at setup: nothing set on it)
                Relay.detach(self, estimator, network)

    def on_fit_task_begin(self, estimator: Any, context: Any) -> None:
        """Nothing is saved before an epoch has trained."""

    def on_fit_task_end(
        self, estimator: Any, context: Any, *, fitted_estimator: Any = None
    ) -> bool:
        """Save after every ``every``-th epoch, and at the end of the fit unless its last
        epoch was just saved (after Ctrl-C, that keeps the epoch's exact file rather than
        weights from part of the next epoch); never stops the fit. A save that fails
        (a full disk, a file that is not a model file) is a warning: the training goes
        on, and the fit is not lost. (Set on a Pipeline, its own tasks save nothing:
        its network's epochs are saved through the relay set on the network.)"""
        if fitted_estimator is None or not isinstance(estimator, BaseMLP):
            return False
        return self._epoch_done(self, fitted_estimator, fitted_estimator, context)

    def _epoch_done(self, run: Any, model: Any, network: Any, context: Any) -> bool:
        """Save ``model`` if this epoch is due; ``run`` keeps the fit's last saved epoch,
        and the examples seen at the last epoch's end (a fit that ends with more, the
        same epochs done, was stopped inside the next one: Ctrl-C)."""
        epoch, seen = len(network.loss_curve_), getattr(network, "t_", None)
        if context.task_name == "epoch":
            run._epoch_end = (epoch, seen)
            if epoch % self.every == 0:
                self._save(run, model, epoch)
        elif epoch != run._last_saved:
            ended = run._epoch_end
            if ended is not None and ended[0] == epoch and ended[1] != seen:
                # (weights of part of epoch + 1, counted as epoch's: Ctrl-C)
                last = f"epoch {run._last_saved}'s" if run._last_saved else "no"
                warnings.warn(
                    f"{self!r}: the fit was stopped inside epoch {epoch + 1}; its weights "
                    f"are not saved as epoch {epoch}'s file (a resume from it would not be "
                    f"exact): {last} file is the last",
                    CheckpointWarning,
                    stacklevel=2,
                )
                return False
            self._save(run, model, epoch)
        return False

    def _save(self, run: Any, model: Any, epoch: int) -> None:
        from ..io import save

        path = self.file_for(epoch)
        try:
            save(model, path, optimizer_state=self.optimizer_state)
        except OSError as err:
            warnings.warn(
                f"{self!r}: epoch {epoch} was not saved to {str(path)!r} ({err}); "
                "the training goes on",
                CheckpointWarning,
                stacklevel=2,
            )
            return
        self.saved_.append(path)
        run._last_saved = epoch


def _misplaced(checkpoint: Checkpoint, estimator: Any, last: Any) -> str:
    """Why ``checkpoint`` cannot be set on ``estimator`` (``last``: its last step)."""
    wanted = (
        f"{checkpoint!r} saves a layerkit MLPClassifier or MLPRegressor, or a Pipeline "
        "that ends in one"
    )
    if last is estimator:
        return (
            f"{wanted}, and was set on {type(estimator).__name__}: set it on the network "
            "itself, or on the Pipeline that ends in it (of a search: on a fit of the "
            "chosen parameters after it)"
        )
    shown = repr(last) if isinstance(last, str) or last is None else type(last).__name__
    nested = (
        ": a model file holds one Pipeline, not one nested in another; set it on the "
        "Pipeline whose last step is the network"
        if hasattr(last, "steps")
        else ""
    )
    return f"{wanted}, and was set on a Pipeline that ends in {shown}{nested}"


def _outer_estimators(context: Any) -> list[str]:
    """The names of the meta-estimators around the fit whose ``context`` this is."""
    names, outer = [], getattr(context, "parent", None)
    while outer is not None:
        names.append(outer.estimator_name)
        outer = outer.parent
    return list(dict.fromkeys(names))


def _wrappers_on_the_stack(estimator: Any) -> list[str]:
    """What fits ``estimator`` without passing a callback context down, found by their
    frames: a TransformedTargetRegressor whose ``regressor_`` it is and which transforms
    the target (its files would predict the transformed target), and a cross-validation
    (scikit-learn's ``_fit_and_score``: every fold writes the same files)."""
    from ..io._target import is_target_regressor

    found: list[str] = []
    frame = sys._getframe(1)
    for _ in range(60):  # (scikit-learn's wrappers, a Pipeline, the callback machinery)
        frame = frame.f_back  # type: ignore[assignment]
        if frame is None:
            break
        code = frame.f_code
        wrapper: Any = frame.f_locals.get("self") if code.co_name == "fit" else None
        ours = is_target_regressor(wrapper) and wrapper.__dict__.get("regressor_") is estimator
        if ours and (wrapper.transformer is not None or wrapper.func is not None):
            found.append("TransformedTargetRegressor")
        if code.co_name == "_fit_and_score" and "model_selection" in code.co_filename:
            found.append("cross-validation")
            break
    return list(dict.fromkeys(found))


def _warn_nested(checkpoint: Checkpoint, estimator: Any, outer: list[str]) -> None:
    kind = type(estimator).__name__
    problems = []
    if "TransformedTargetRegressor" in outer:
        problems.append(
            "its files hold the regressor alone, which predicts the transformed (scaled) "
            "target: a deployment of such a file predicts in the wrong units; after the "
            "fit, save the whole TransformedTargetRegressor with layerkit.save(ttr, path)"
        )
    if "Pipeline" in outer:
        if isinstance(estimator, BaseMLP):
            problems.append(
                "its files hold the network alone, which expects the rows the steps "
                "before it give (a deployment of such a file predicts from untransformed "
                "rows, wrongly): set it on the Pipeline instead, pipe.set_callbacks(...), "
                "so that each file holds the whole Pipeline"
            )
        else:
            problems.append(
                "its files hold this Pipeline alone, without the steps of the Pipeline "
                "around it (a deployment of such a file predicts from rows those steps "
                "did not transform)"
            )
    searches = [name for name in outer if name not in ("Pipeline", "TransformedTargetRegressor")]
    if searches == ["cross-validation"]:
        problems.append(
            "in a cross-validation, every fold's fit writes the same files: checkpoint a "
            "fit on all the rows after it instead"
        )
    elif searches:
        problems.append(
            f"in {searches[0]}, every fit (each candidate's, each fold's) writes the same "
            "files: checkpoint a fit of the chosen parameters after the search instead"
        )
    warnings.warn(
        f"{checkpoint!r} is set on {kind} inside {' in '.join(outer)}: {'; '.join(problems)}",
        CheckpointWarning,
        stacklevel=3,
    )


class CheckpointWarning(UserWarning):
    """A checkpoint could not be written, or would not serve a deployment (a network
    inside a Pipeline saved alone); the fit goes on."""
