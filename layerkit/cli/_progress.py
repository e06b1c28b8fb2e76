"""Progress of a fit on the terminal: one line per epoch."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from ..estimators._callbacks import CALLBACKS_SUPPORTED


def say(*parts: Any) -> None:
    """``print`` to stdout, except that a reader gone away (``layerkit train | head``)
    silences the rest instead of stopping the command: a training run's results are
    its files (it stopped, exit 1, with nothing written)."""
    try:
        print(*parts, flush=True)
    except BrokenPipeError:
        silence_stdout()


class _PipeSafe:
    """A text stream whose writes to a reader gone away are silenced, as ``say``'s."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            self._stream.write(text)
        except BrokenPipeError:
            silence_stdout()
        return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            silence_stdout()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def silence_stdout() -> None:
    """Point stdout at /dev/null: its reader went away."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


class EpochPrinter:
    """A scikit-learn fit callback printing each epoch's loss (and validation score).

    ``attach(estimator)`` sets it on the estimator, or, with a scikit-learn older than
    1.9 (no callback API: Python 3.10), switches on the estimator's own ``verbose`` lines
    instead; ``detach(estimator)`` undoes that, so the printing is not part of the model
    saved (a loaded model kept ``verbose=True`` and printed every epoch of a later fit).
    """

    def __init__(self, every: int = 1) -> None:
        self.every = every
        self._verbose: Any = None
        self._stdout: Any = None

    def attach(self, estimator: Any) -> Any:
        if CALLBACKS_SUPPORTED:
            return estimator.set_callbacks(self)
        self._verbose = estimator.get_params()["verbose"]
        # (the verbose lines are printed inside fit: a closed pipe must not stop it)
        if sys.stdout is not None:  # (None: stdout closed, `>&-`; nothing is printed)
            self._stdout, sys.stdout = sys.stdout, _PipeSafe(sys.stdout)
        return estimator.set_params(verbose=True)

    def detach(self, estimator: Any) -> Any:
        if CALLBACKS_SUPPORTED:
            return estimator.set_callbacks()
        if self._stdout is not None:
            sys.stdout, self._stdout = self._stdout, None
        return estimator.set_params(verbose=self._verbose)

    def setup(self, estimator: Any, context: Any) -> None:
        self._start = time.perf_counter()

    def teardown(self, estimator: Any, context: Any) -> None:
        pass

    def on_fit_task_begin(self, estimator: Any, context: Any) -> None:
        pass

    def on_fit_task_end(self, estimator: Any, context: Any) -> None:
        if context.task_name != "epoch":
            return
        epoch = context.task_id + 1
        total = context.parent.max_subtasks
        if epoch % self.every and epoch != total:
            return
        line = f"  epoch {epoch:>4}/{total}  loss {estimator.loss_curve_[-1]:.4f}"
        scores = getattr(estimator, "validation_scores_", None)
        if scores:
            line += f"  validation score {scores[-1]:.4f}"
        say(f"{line}  ({time.perf_counter() - self._start:.1f} s)")
