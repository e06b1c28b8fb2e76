"""A callback set on a Pipeline that reaches the network ending it: for the length of
one fit, a relay set on the network passes the network's epochs on, each with the
Pipeline's fitted steps, to the callback set on the Pipeline (scikit-learn's
auto-propagation would pass the hooks on too, but warns of every step without callback
support). One relay per fit: fits running at once (threads of a cross-validation) each
have their own."""

from __future__ import annotations

from typing import Any


class Relay:
    """Set on ``network`` for one fit of ``pipeline``, for ``owner``, which gives
    ``_network_begins(pipeline)`` (the steps before the network are fitted then) and
    ``_epoch_done(run, model, network, context)`` (``model``: the Pipeline as a fit
    stopped there leaves it; ``run``: this relay, which keeps the fit's own state)."""

    def __init__(self, owner: Any, pipeline: Any, network: Any) -> None:
        self.owner, self.pipeline, self.network = owner, pipeline, network
        self._last_saved: int | None = None
        self._epoch_end: tuple[int, Any] | None = None
        self.original: Any = None  # the network's callbacks before any relay

    def __repr__(self) -> str:
        return f"{self.owner!r} (set on the Pipeline)"

    def attach(self) -> None:
        before = self.network.__dict__.get("_skl_callbacks")
        earlier = next((c for c in before or () if isinstance(c, Relay)), None)
        self.original = earlier.original if earlier is not None else before
        self.network.set_callbacks(*(before or ()), self)

    @staticmethod
    def detach(owner: Any, pipeline: Any, network: Any) -> None:
        """Take ``owner``'s relay for ``pipeline`` off ``network``; with no relay left,
        give the network back its own callbacks (its own list)."""
        current = network.__dict__.get("_skl_callbacks")
        mine = [
            c
            for c in current or ()
            if isinstance(c, Relay) and c.owner is owner and c.pipeline is pipeline
        ]
        if not mine:
            return
        # in place: copies of the network made during the fit (the callbacks' fitted
        # copies, a clone) share this list, made by attach, never the user's
        current[:] = [c for c in current if all(c is not relay for relay in mine)]
        if not any(isinstance(c, Relay) for c in current):
            if mine[0].original is None:
                network.__dict__.pop("_skl_callbacks", None)
            else:
                network._skl_callbacks = mine[0].original

    def setup(self, estimator: Any, context: Any) -> None:
        """The owner was set up with the Pipeline."""

    def teardown(self, estimator: Any, context: Any) -> None:
        """The owner is torn down with the Pipeline."""

    def on_fit_task_begin(self, estimator: Any, context: Any, **kwargs: Any) -> None:
        if estimator is self.network and context.task_name != "epoch":
            self.owner._network_begins(self.pipeline)

    def on_fit_task_end(
        self, estimator: Any, context: Any, *, fitted_estimator: Any = None
    ) -> bool:
        if fitted_estimator is None or estimator is not self.network:
            return False
        *before, (name, _) = self.pipeline.steps
        model = type(self.pipeline)([*before, (name, fitted_estimator)])
        model.verbose = self.pipeline.verbose
        return bool(self.owner._epoch_done(self, model, fitted_estimator, context))
