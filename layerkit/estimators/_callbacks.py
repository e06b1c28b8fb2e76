"""scikit-learn's callback API (``sklearn.callback``, scikit-learn >= 1.9) for the MLPs.

A fit is one task; each epoch (each lbfgs iteration) is a subtask, so a
``ProgressBar`` shows the epochs and a ``ScoringMonitor`` scores the model after each
of them, nested under Pipeline and GridSearchCV like scikit-learn's own estimators.
With an older scikit-learn the estimators simply have no ``set_callbacks``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    from sklearn.callback import CallbackSupportMixin, with_callbacks

    CALLBACKS_SUPPORTED = True
except ImportError:  # scikit-learn < 1.9

    class CallbackSupportMixin:  # type: ignore[no-redef]
        """Stand-in: this scikit-learn has no callback API."""

    def with_callbacks(method: Any) -> Any:
        return method

    CALLBACKS_SUPPORTED = False

#: ``stacklevel`` that points a warning raised in a solver's function (fit_stochastic,
#: fit_lbfgs) at the user's call of fit/partial_fit: solver, _fit_unchecked, _fit, the
#: callbacks' wrapper (when there is one), fit, the caller.
SOLVER_STACKLEVEL = 6 if CALLBACKS_SUPPORTED else 5

#: Attributes the callback machinery keeps on the estimator during a fit; a failed
#: fit's rollback must leave them so that the callbacks are still torn down.
CALLBACK_STATE = ("_callback_fit_ctx", "_skl_callbacks_to_teardown")

Attributes = Callable[[], dict[str, Any]]


class FitReport:
    """The callback hooks of one fit: ``begin``, then ``epoch``/``epoch_done`` pairs, ``end``.

    ``X``, ``y`` and ``metadata`` (the sample weights) are what the hooks receive;
    ``fitted`` arguments build, only if a callback asks for one, the attributes of a
    copy of the estimator as it stands at that point (``fitted_estimator``).
    """

    def __init__(self, est: Any, n_subtasks: int, X: Any, y: Any, sample_weight: Any) -> None:
        self._est = est
        self._kwargs = {
            "X": X,
            "y": y,
            "metadata": None if sample_weight is None else {"sample_weight": sample_weight},
        }
        self._root = (
            est._init_callback_context(max_subtasks=n_subtasks) if CALLBACKS_SUPPORTED else None
        )
        self._current: Any = None

    def begin(self) -> None:
        if self._root is not None:
            self._root.call_on_fit_task_begin(estimator=self._est, **self._kwargs)

    def epoch(self) -> None:
        """An epoch starts."""
        if self._root is not None:
            self._current = self._root.subcontext(task_name="epoch")
            self._current.call_on_fit_task_begin(estimator=self._est, **self._kwargs)

    def epoch_done(self, fitted: Attributes) -> bool:
        """An epoch ended; True if a callback asks to stop training."""
        if self._current is None:
            return False
        context, self._current = self._current, None
        return bool(
            context.call_on_fit_task_end(
                estimator=self._est, reconstruction_attributes=fitted, **self._kwargs
            )
        )

    def end(self) -> None:
        """The fit succeeded: the estimator itself is the fitted one."""
        if self._root is not None:
            self._root.call_on_fit_task_end(
                estimator=self._est, reconstruction_attributes=dict, **self._kwargs
            )
