"""``LossCurveDisplay``: the training loss and validation score per epoch, in matplotlib.

Follows scikit-learn's Display convention: ``from_estimator`` builds and plots,
``plot`` draws on given (or new) axes, and the display keeps what it drew in
``ax_``, ``figure_``, ``line_`` and, with early stopping's records, ``score_ax_``,
``score_line_`` and ``validation_loss_line_``. matplotlib is an optional extra
(``pip install -e ".[plot]"`` in a clone).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.utils.validation import check_is_fitted


def _pyplot(caller: str) -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib, which is not installed; install it with "
            '`pip install matplotlib` (or, in a clone of layerkit, `pip install -e ".[plot]"`)'
        ) from exc
    return plt


class LossCurveDisplay:
    """Plot of a network's training loss and validation score against the epoch.

    Parameters
    ----------
    loss_curve : sequence of float
        The training loss after each epoch (an estimator's ``loss_curve_``).
    validation_scores : sequence of float or None, default=None
        The validation score after each epoch (``validation_scores_``, recorded when
        ``early_stopping=True``); drawn on a second y axis, against the last epochs
        when there are fewer scores than losses.
    estimator_name : str or None, default=None
        Used in the title.
    x_label : str, default="epoch"
        What one step of the curves is; ``from_estimator`` gives ``"lbfgs iteration"``
        for ``solver="lbfgs"``, whose ``loss_curve_`` has a point per iteration.
    scoring : str or None, default=None
        What the validation scores are by (the estimator's ``scoring``), named on the
        second axis. ``"loss"`` scores are minus the validation loss: it is drawn
        instead, on the training loss's axis (``score_ax_`` is then ``ax_``).
    validation_loss_curve : sequence of float or None, default=None
        The validation loss after each epoch (``validation_loss_curve_``), drawn on the
        training loss's axis, against the last epochs (``validation_loss_line_``). The
        training loss includes the L2 term of ``alpha``; the validation loss does not.

    Several displays drawn on one axes (``from_estimator(est, ax=ax, name=...)`` for
    each) compare runs: a colour per run, the names in the legend, one second axis.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from layerkit import LossCurveDisplay
    >>> display = LossCurveDisplay(loss_curve=[0.9, 0.5, 0.4]).plot()
    >>> display.line_.get_ydata().tolist()
    [0.9, 0.5, 0.4]
    """

    def __init__(
        self,
        *,
        loss_curve: Sequence[float],
        validation_scores: Sequence[float] | None = None,
        estimator_name: str | None = None,
        x_label: str = "epoch",
        scoring: str | None = None,
        validation_loss_curve: Sequence[float] | None = None,
    ) -> None:
        self.loss_curve = list(loss_curve)
        self.validation_scores = None if validation_scores is None else list(validation_scores)
        self.estimator_name = estimator_name
        self.x_label = x_label
        self.scoring = scoring
        self.validation_loss_curve = (
            None if validation_loss_curve is None else list(validation_loss_curve)
        )

    @classmethod
    def from_estimator(
        cls, estimator: Any, *, ax: Any = None, name: str | None = None
    ) -> LossCurveDisplay:
        """Plot the curves a fitted layerkit estimator (or a Pipeline ending in one) recorded.

        Parameters
        ----------
        estimator : fitted MLPClassifier, MLPRegressor, Pipeline ending in one, or a
            fitted search (GridSearchCV, refit on) over one: its ``best_estimator_``;
            or a TransformedTargetRegressor of one (whose curves are in the transformed
            target's units)
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created if None.
        name : str, default=None
            Title; the estimator's class name if None.

        Returns
        -------
        display : LossCurveDisplay
        """
        from .estimators._base import BaseMLP  # (here: the estimators need no plotting)

        _pyplot("LossCurveDisplay.from_estimator")
        # a fitted search (GridSearchCV, refit=True): the model it refit on all the data
        if any(
            hasattr(estimator, a) for a in ("cv_results_", "param_grid", "param_distributions")
        ):
            check_is_fitted(estimator)  # (an unfitted search: NotFittedError, as an MLP's)
        final = _innermost(estimator)
        if isinstance(final, BaseMLP):
            check_is_fitted(final, "loss_curve_")  # NotFittedError, as scikit-learn does
        curve = getattr(final, "loss_curve_", None)
        if curve is None:
            raise TypeError(
                "LossCurveDisplay.from_estimator expected a fitted estimator with a "
                "loss_curve_ (a layerkit MLPClassifier or MLPRegressor, a Pipeline "
                "ending in one, or a search over one fitted with refit=True, whose "
                f"best_estimator_ is drawn); this {type(final).__name__} has no loss_curve_"
            )
        from .estimators._scoring import scoring_label

        # (what the scores were by, not the scoring set since: a fit's record)
        scoring = scoring_label(getattr(final, "__dict__", {}).get("_validation_scoring"))
        display = cls(
            loss_curve=curve,
            validation_scores=getattr(final, "validation_scores_", None),
            estimator_name=name or type(final).__name__,
            x_label="lbfgs iteration" if getattr(final, "solver", None) == "lbfgs" else "epoch",
            scoring=scoring,
            validation_loss_curve=getattr(final, "validation_loss_curve_", None),
        )
        return display.plot(ax=ax)

    def plot(self, ax: Any = None, *, name: str | None = None) -> LossCurveDisplay:
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created if None.
        name : str, default=None
            Title; overrides ``estimator_name``.

        Returns
        -------
        self : LossCurveDisplay
        """
        plt = _pyplot("LossCurveDisplay.plot")
        made_here = ax is None
        if made_here:
            _, ax = plt.subplots(figsize=(6.4, 4.0))
        # a display drawn on axes that hold another's is a run compared with it: each run
        # its own colour (training loss solid, validation loss dashed, score dotted), the
        # names in the legend instead of the title, one second axis for their scores
        title = name or self.estimator_name
        earlier = _live_runs(ax, self)
        color = f"C{len(earlier) % 10}"  # (set again with the legend)
        (self.line_,) = ax.plot(
            range(1, len(self.loss_curve) + 1), self.loss_curve, color=color, label="training loss"
        )
        ax.set_xlabel(self.x_label)
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs: no 2.5
        self.score_ax_ = self.score_line_ = self.validation_loss_line_ = None
        as_loss = self.scoring == "loss"
        losses = self.validation_loss_curve
        if not losses and as_loss and self.validation_scores:
            losses = [-s for s in self.validation_scores]  # (what they are minus of)
        if losses:
            (self.validation_loss_line_,) = ax.plot(
                _last_epochs(len(self.loss_curve), len(losses)),
                losses,
                color=color,
                linestyle="--",
                label="validation loss",
            )
        if self.validation_scores and as_loss:
            self.score_ax_, self.score_line_ = ax, self.validation_loss_line_
        elif self.validation_scores:
            self.score_ax_ = _score_axes(ax)
            (self.score_line_,) = self.score_ax_.plot(
                _last_epochs(len(self.loss_curve), len(self.validation_scores)),
                self.validation_scores,
                color=color,
                linestyle=":",
                label="validation score",
            )
        run = _Run(self, title, self.line_, self.validation_loss_line_, self.score_line_)
        ax._layerkit_runs = [*earlier, run]
        _label_runs(ax, ax._layerkit_runs)
        self.ax_ = ax
        self.figure_ = ax.figure
        if made_here:  # (the right-hand axis label inside the figure; no layout engine,
            # so a later tight_layout or subplots_adjust of the user's works as usual)
            self.figure_.tight_layout()
        return self


class _Run:
    """One display's drawing on an axes: its lines there (a display drawn again on other
    axes leaves these as they are), its name and what its scores are by."""

    def __init__(self, display: LossCurveDisplay, title: Any, *lines: Any) -> None:
        self.display, self.title, self.scoring = display, title, display.scoring
        self.training, self.validation_loss, self.score = lines

    def lines(self) -> list[tuple[Any, str]]:
        named = (
            (self.training, "training loss"),
            (self.validation_loss, "validation loss"),
            (self.score, "validation score"),
        )
        return [(line, text) for line, text in named if line is not None]


def _score_axes(ax: Any) -> Any:
    """The second y axis the runs on ``ax`` share for their scores (a new one if the
    user removed it)."""
    twin = getattr(ax, "_layerkit_score_ax", None)
    if twin is None or twin not in ax.figure.axes:
        twin = ax._layerkit_score_ax = ax.twinx()
    return twin


def _live_runs(ax: Any, display: LossCurveDisplay) -> list[_Run]:
    """The runs already drawn on ``ax`` and still there, without ``display``'s own
    earlier drawing there (``plot`` called again redraws it: its old lines go). After
    ``ax.clear()`` none is left, and the second axis they shared goes too."""
    runs = []
    for run in getattr(ax, "_layerkit_runs", ()):
        if run.display is display:
            for line, _ in run.lines():
                if line.axes is not None and line in line.axes.get_lines():  # (still drawn)
                    line.remove()
        elif run.training in ax.get_lines():
            runs.append(run)
    twin = getattr(ax, "_layerkit_score_ax", None)
    if twin is not None and not any(
        run.score is not None and run.score.axes is twin for run in runs
    ):
        if twin in ax.figure.axes:  # (the user may have removed it)
            twin.remove()
        ax._layerkit_score_ax = None
    return runs


def _label_runs(ax: Any, runs: list[_Run]) -> None:
    """The title, axis labels and legend of the runs drawn on ``ax``: one run is named
    by the title; several, each in its lines' labels."""
    several = len(runs) > 1
    handles = []
    titles = _distinct([run.title or f"run {i + 1}" for i, run in enumerate(runs)])
    for index, run in enumerate(runs):
        for line, text in run.lines():
            if line in handles:
                continue
            line.set_label(f"{text} ({titles[index]})" if several else text)
            # one run: the score in a colour of its own, on its own axis; several: a
            # colour per run
            other = not several and text == "validation score" and line.axes is not ax
            line.set_color(f"C{(index + other) % 10}")
            handles.append(line)
    first = runs[0].title
    ax.set_title("" if several or not first else first)
    any_loss = any(run.validation_loss is not None for run in runs)
    ax.set_ylabel("loss" if any_loss else "training loss")
    twin = getattr(ax, "_layerkit_score_ax", None)
    if twin is not None:  # (the scores of the runs scored by other than 'loss')
        names = {run.scoring for run in runs if run.score is not None and run.score.axes is twin}
        by = f" ({names.pop()})" if len(names) == 1 and None not in names else ""
        twin.set_ylabel(f"validation score{by}")
    where = "upper right" if len(handles) == 1 else "center right" if len(handles) <= 3 else "best"
    ax.legend(handles=handles, loc=where, fontsize="small" if len(handles) > 3 else None)


def _distinct(names: list[str]) -> list[str]:
    """``names``, a repeated one numbered from its second use ("MLPClassifier 2"), to
    a number no other name takes."""
    taken = set(names)
    out: list[str] = []
    for name in names:
        label, number = name, 1
        while label in out or (label != name and label in taken):
            number += 1
            label = f"{name} {number}"
        out.append(label)
    return out


def _last_epochs(n_epochs: int, n_values: int) -> range:
    """The epochs of the last ``n_values`` of ``n_epochs`` (early stopping switched on
    in a warm start records the epochs since; every one otherwise)."""
    first = max(1, n_epochs - n_values + 1)
    return range(first, first + n_values)


def _innermost(estimator: Any) -> Any:
    """The estimator inside the wrappers a display looks through: a search's
    ``best_estimator_``, a Pipeline's last step, a TransformedTargetRegressor's
    ``regressor_`` (the fitted one), in any nesting."""
    for _ in range(16):
        if hasattr(estimator, "regressor") and hasattr(estimator, "transformer"):
            check_is_fitted(estimator)  # (a TransformedTargetRegressor: its fitted copy)
        for name in ("best_estimator_", "_final_estimator", "regressor_"):
            inner = getattr(estimator, name, None)
            if inner is not None and inner is not estimator:
                estimator = inner
                break
        else:
            return estimator
    return estimator
