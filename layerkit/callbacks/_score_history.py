"""``ScoreHistory``: metrics on held-out data after every epoch, as a table of columns."""

from __future__ import annotations

import csv
import os
import warnings
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._relay import Relay


class ScoreHistory:
    """Score the model on held-out data after every ``every``-th epoch, by several metrics.

    Attach it with ``estimator.set_callbacks(ScoreHistory(X_val, y_val, scoring=[...]))``.
    After each scored epoch, every scorer is called on the model as a fit stopped there
    would leave it, and ``history_`` grows by one row: a dict of equal-length lists,
    ``{"epoch": [...], "accuracy": [...], ...}``, which ``pandas.DataFrame(history_)``
    turns into a table. Epochs are counted over warm starts (the length of
    ``loss_curve_``): a warm start of the same estimator appends to the history; a fit
    from scratch, or a fit of another estimator, starts a new one. A row whose model
    predicts non-finite values (a diverging fit) is NaN, and the fit's own
    ``DivergenceError`` comes when the loss overflows.

    Parameters
    ----------
    X, y : array-like
        The held-out rows and their targets, as the estimator's ``score`` takes them
        (untransformed by any step before it: see Notes).
    scoring : str, callable, list, tuple, dict or None, default None
        What to record: None for the estimator's ``score`` (column ``"score"``); a
        scorer's name (``"f1_macro"``, also the column's name) or a callable
        ``scorer(estimator, X, y)`` (column: its function's name); a list or tuple of
        names; or a dict of column names to names or callables. Each is checked before
        the first epoch, as the estimators' ``scoring`` is: a scorer of the other task,
        of a method the estimator lacks, or a metric function in place of a scorer is
        refused then, not after an epoch.
    sample_weight : array-like of shape (n_samples,), default None
        Weights of the held-out rows, passed to every scorer.
    every : int, default 1
        Score after epochs ``every``, ``2 * every``, ...
    log : str or path-like, optional
        A CSV file each row is appended to as it is scored (written and closed at once,
        so a crash loses no scored epoch): the header ``epoch,<columns>`` when the file
        is new, then one line per row. A resumed fit's rows follow those of the fit it
        resumes (an epoch trained again after a crash appears again, its later row the
        model that went on); an existing log of other columns is refused before the
        first epoch. Keras's ``CSVLogger(append=True)``.

    Attributes
    ----------
    history_ : dict of str to list
        ``"epoch"``, then one column per metric, in the order given.

    Notes
    -----
    With ``early_stopping=True`` the model scored after an epoch is the one a fit
    stopped there keeps, the best so far by early stopping's own validation split, not
    the epoch's weights (Keras and skorch score those); the epoch's own validation
    score is ``validation_scores_``. Inside a search, each candidate's fit starts a new
    history, so the callback ends with the last fit's. It keeps a reference to ``X``
    and ``y``, which a pickled estimator carrying it carries too. Set on a Pipeline
    ending in a network (``pipe.set_callbacks(...)``), it scores the whole Pipeline on
    ``X`` as given, after each of the network's epochs; set on the network inside a
    Pipeline, it sees the network alone: give it ``X`` already transformed by the
    steps before (``pipe[:-1].transform(X_val)`` after the fit, or the transformers
    fitted beforehand).

    Examples
    --------
    >>> import warnings
    >>> import layerkit
    >>> from layerkit.callbacks import ScoreHistory
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import train_test_split
    >>> X, y = load_iris(return_X_y=True)
    >>> X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
    >>> history = ScoreHistory(X_val, y_val, scoring=["accuracy", "neg_log_loss"])
    >>> clf = layerkit.MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # (5 epochs do not converge)
    ...     _ = clf.set_callbacks(history).fit(X_train, y_train)
    >>> list(history.history_), history.history_["epoch"]
    (['epoch', 'accuracy', 'neg_log_loss'], [1, 2, 3, 4, 5])
    >>> history.history_["accuracy"][-1] == clf.score(X_val, y_val)
    True
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        *,
        scoring: Any = None,
        sample_weight: Any = None,
        every: int = 1,
        log: str | os.PathLike[str] | None = None,
    ) -> None:
        n = _rows(X, "X")
        if _rows(y, "y") != n:
            raise ValueError(
                f"ScoreHistory: X and y must have the same number of rows, got {n} and "
                f"{_rows(y, 'y')}"
            )
        if sample_weight is not None and _rows(sample_weight, "sample_weight") != n:
            raise ValueError(
                f"ScoreHistory: sample_weight must have one weight per row of X ({n}), got "
                f"{_rows(sample_weight, 'sample_weight')}"
            )
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"ScoreHistory: every must be an int >= 1, got {every!r}")
        if log is not None and not isinstance(log, (str, os.PathLike)):
            raise TypeError(
                f"ScoreHistory: log must be a file path (a str or pathlib.Path), got "
                f"{type(log).__name__}"
            )
        self.X, self.y, self.sample_weight, self.every = X, y, sample_weight, every
        self.scoring, self.log = scoring, log
        self._named = _named_scorings(scoring)
        self._scorers: dict[str, Any] = {}
        self._estimator: weakref.ref[Any] | None = None  # (the estimator last set up)
        self.history_: dict[str, list[Any]] = {"epoch": []}

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the weak reference to the estimator (a copy in another
        process scores a copy of the estimator)."""
        return {**self.__dict__, "_estimator": None}

    def __repr__(self) -> str:
        return f"ScoreHistory(<{_rows(self.X, 'X')} rows>, scoring={self.scoring!r})"

    # -- the callback protocol ---------------------------------------------------------

    def setup(self, estimator: Any, context: Any) -> None:
        """Before the first epoch: the estimator must be a layerkit network, or a
        Pipeline ending in one (whose network's epochs then reach this callback through
        a relay set on the network for the fit), and each scorer is checked against it."""
        from ..estimators._base import BaseMLP
        from ..estimators._scoring import checked_scorer
        from ..io._pipeline import is_pipeline

        network = estimator.steps[-1][1] if is_pipeline(estimator) and estimator.steps else None
        if not isinstance(estimator, BaseMLP) and not isinstance(network, BaseMLP):
            raise TypeError(
                f"{self!r} scores the epochs of a layerkit MLPClassifier or MLPRegressor, "
                f"or of a Pipeline ending in one, and was set on {type(estimator).__name__}"
            )
        if network is not None and any(
            c is self for c in network.__dict__.get("_skl_callbacks") or ()
        ):
            raise TypeError(
                f"{self!r} is set on both the Pipeline and its {type(network).__name__}: "
                "set it on the Pipeline only (it scores the whole Pipeline on X as given)"
            )
        self._check_log()
        if self._estimator is None or self._estimator() is not estimator:  # (another one)
            self.history_ = {"epoch": []}
            self._estimator = weakref.ref(estimator)
        self._scorers = {
            name: checked_scorer(
                estimator,
                scoring,
                self.sample_weight is not None,
                who=f"ScoreHistory on {type(estimator).__name__}",
                weighted_why="ScoreHistory's rows are weighted (its sample_weight)",
            )
            for name, scoring in self._named.items()
        }
        if network is not None:  # the network's epochs reach this callback
            Relay(self, estimator, network).attach()

    def teardown(self, estimator: Any, context: Any) -> None:
        """Set on a Pipeline: its network gets back the callbacks it had."""
        from ..estimators._base import BaseMLP
        from ..io._pipeline import is_pipeline

        if is_pipeline(estimator) and estimator.steps:
            network = estimator.steps[-1][1]
            if isinstance(network, BaseMLP):
                Relay.detach(self, estimator, network)

    def _network_begins(self, pipeline: Any) -> None:
        """Set on a Pipeline: when its network starts, the steps before it are fitted,
        and the held-out rows must go through them."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # (the steps' own warnings: at scoring)
                pipeline[:-1].transform(self.X)
        except Exception as err:
            raise ValueError(
                f"{self!r}: the Pipeline's steps before the network cannot transform its X: {err}"
            ) from err

    def on_fit_task_begin(
        self, estimator: Any, context: Any, *, X: Any = None, y: Any = None
    ) -> None:
        """Before the first epoch: the held-out rows must be as wide as the training
        rows, and should look like them (held-out rows given untransformed to a network
        inside a Pipeline scored it wrongly, silently); a classifier's held-out labels
        must be among the training labels (others score as errors every epoch)."""
        from ..estimators._base import BaseMLP

        if context.task_name == "epoch" or X is None:
            return
        self._check_labels(estimator, y)
        if hasattr(X, "tocsr") or not isinstance(estimator, BaseMLP):
            return  # (a Pipeline's X: the rows as given, checked by its steps)
        width = np.shape(self.X)[1] if np.ndim(self.X) == 2 else None
        if width is not None and width != np.shape(X)[1]:
            raise ValueError(
                f"{self!r}: its X has {width} columns, and {type(estimator).__name__} "
                f"trains on {np.shape(X)[1]}: give the held-out rows as the network sees "
                "them (inside a Pipeline: transformed by the steps before it, or set it on "
                "the Pipeline)"
            )
        if not hasattr(self.X, "tocsr"):
            _warn_if_unlike(self, X, type(estimator).__name__)

    def _check_labels(self, estimator: Any, y: Any) -> None:
        from sklearn.base import is_classifier

        if not is_classifier(estimator) or y is None or np.ndim(self.y) != 1 or np.ndim(y) != 1:
            return
        known = set(np.asarray(y).tolist())
        known |= set(np.asarray(getattr(estimator, "classes_", ())).tolist())
        unknown = sorted({v for v in np.asarray(self.y).tolist() if v not in known}, key=repr)
        if unknown:

            def shown(values: list[Any]) -> str:
                return ", ".join(repr(v) for v in values[:5]) + (
                    ", ..." if len(values) > 5 else ""
                )

            raise ValueError(
                f"{self!r}: its y holds labels the training data does not "
                f"({shown(unknown)}; the training labels are {shown(sorted(known, key=repr))}): "
                f"the {type(estimator).__name__} never predicts them, so they would count as "
                "errors every epoch; give held-out labels of the same classes, of the same type"
            )

    def on_fit_task_end(
        self, estimator: Any, context: Any, *, fitted_estimator: Any = None
    ) -> bool:
        """Score after every ``every``-th epoch; never stops the fit. (Set on a
        Pipeline, its own tasks score nothing: its network's epochs come through the
        relay.)"""
        from ..estimators._base import BaseMLP

        if not isinstance(estimator, BaseMLP):
            return False
        return self._epoch_done(self, fitted_estimator, fitted_estimator, context)

    def _epoch_done(self, run: Any, model: Any, network: Any, context: Any) -> bool:
        """Score ``model`` (the network, or the Pipeline ending in it) if the epoch just
        ended is due."""
        if context.task_name != "epoch" or network is None:
            return False
        epoch = len(network.loss_curve_)
        if epoch % self.every:
            return False
        if self.history_["epoch"] and epoch <= self.history_["epoch"][-1]:
            self.history_ = {"epoch": []}  # (a fit from scratch of the same estimator)
        row: dict[str, float] = {"epoch": epoch}
        for name, scorer in self._scorers.items():
            row[name] = self._score(name, scorer, model)
        for name, value in row.items():
            self.history_.setdefault(name, []).append(value)
        if self.log is not None:
            with open(self.log, "a", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                if handle.tell() == 0:
                    writer.writerow(self._header())
                writer.writerow([repr(v) if isinstance(v, float) else v for v in row.values()])
        return False

    def _header(self) -> list[str]:
        return ["epoch", *self._named]

    def _check_log(self) -> None:
        """Before the first epoch: the log's folder exists, and a log there already has
        these columns (rows are appended to it: a resumed fit's follow the first's)."""
        if self.log is None:
            return
        path = Path(self.log)
        if not path.parent.is_dir():
            raise FileNotFoundError(
                f"{self!r}: log {str(path)!r}: its folder {str(path.parent)!r} does not exist"
            )
        if path.is_file() and path.stat().st_size:
            with open(path, newline="", encoding="utf-8") as handle:
                first = next(csv.reader(handle), [])
            if first != self._header():
                raise ValueError(
                    f"{self!r}: log {str(path)!r} exists with the columns {first[:10]!r}, "
                    f"and this history writes {self._header()!r}: give another file, or "
                    "remove it first"
                )

    def _score(self, name: str, scorer: Any, model: Any) -> float:
        from ..estimators._scoring import as_score

        kwargs = {} if self.sample_weight is None else {"sample_weight": self.sample_weight}
        try:
            value = scorer(model, self.X, self.y, **kwargs)
        except Exception as error:
            if not _finite_outputs(model, self.X):  # (a diverging fit: its own error comes)
                return float("nan")
            if hasattr(error, "add_note"):  # (Python 3.11 and later)
                error.add_note(f"(raised by {self!r} scoring {name!r})")
            raise
        return as_score(value, f"ScoreHistory: the scorer of {name!r} must return a single number")


def _named_scorings(scoring: Any) -> dict[str, Any]:
    """The columns' names and what each is scored by."""
    if scoring is None:
        return {"score": None}
    if isinstance(scoring, str):
        return {scoring: scoring}
    if callable(scoring):
        name = getattr(scoring, "__name__", "score")
        return {"score" if name == "epoch" else name: scoring}
    if isinstance(scoring, (list, tuple)):
        if not scoring or not all(isinstance(s, str) for s in scoring):
            raise TypeError(
                f"ScoreHistory: a list or tuple scoring must hold scorer names (str), got "
                f"{scoring!r}; name callables in a dict instead"
            )
        if len(set(scoring)) != len(scoring):
            raise ValueError(f"ScoreHistory: scoring names a metric twice: {scoring!r}")
        return {s: s for s in scoring}
    if isinstance(scoring, Mapping) and scoring:
        bad = [k for k, v in scoring.items() if not isinstance(k, str) or k == "epoch"]
        bad += [k for k, v in scoring.items() if not (isinstance(v, str) or callable(v))]
        if bad:
            raise TypeError(
                f"ScoreHistory: a dict scoring maps column names (str, not 'epoch') to "
                f"scorer names or callables; wrong: {bad!r}"
            )
        return dict(scoring)
    raise TypeError(
        f"ScoreHistory: scoring must be None, a scorer's name, a callable, a list or tuple "
        f"of names, or a dict of names to scorers, got {scoring!r}"
    )


def _rows(a: Any, name: str) -> int:
    shape = getattr(a, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    try:
        return len(a)
    except TypeError:
        raise TypeError(
            f"ScoreHistory: {name} must be an array-like of rows, got {type(a).__name__}"
        ) from None


def _finite_outputs(model: Any, X: Any) -> bool:
    """Whether the model's outputs on X are finite (asked only when a scorer failed)."""
    try:
        out = model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)
        return bool(np.isfinite(np.asarray(out, dtype=float)).all())
    except Exception:
        return True  # (the scorer's error is the one to show)


def _warn_if_unlike(history: ScoreHistory, X: Any, owner: str) -> None:
    """Warn when most held-out columns sit far outside the training columns' spread:
    rows not transformed as the training rows were."""
    try:
        train = np.asarray(X, dtype=float)
        held = np.asarray(history.X, dtype=float)
    except (TypeError, ValueError):
        return
    with np.errstate(all="ignore"):
        mean, spread = np.nanmean(train, axis=0), np.nanstd(train, axis=0)
        shift = np.abs(np.nanmean(held, axis=0) - mean) / (spread + 1e-12)
        ratio = (np.nanstd(held, axis=0) + 1e-12) / (spread + 1e-12)
    unlike = (shift > 10) | (ratio > 10) | (ratio < 0.1)
    if np.count_nonzero(unlike) > train.shape[1] / 2:
        warnings.warn(
            f"{history!r}: {np.count_nonzero(unlike)} of the {train.shape[1]} columns of "
            f"its X are centred or spread unlike those {owner} trains on (by a factor of "
            "10 or more): inside a Pipeline, give the held-out rows transformed by the "
            "steps before the network, or set the callback on the Pipeline itself",
            UserWarning,
            stacklevel=2,
        )
