"""If fit fails for any reason, the estimator is exactly as it was before the call."""

import pickle
import warnings

import numpy as np
import pytest

from layerkit import MLPClassifier
from layerkit.layers import Dense, ReLU

rng = np.random.default_rng(0)
X = rng.normal(size=(60, 3))
y = rng.integers(0, 3, 60)


class FailsAfter(ReLU, register=False):
    """Raises ``error`` on its n-th forward call."""

    def __init__(self, error=None, after=3):
        self.error = error
        self.after = after

    def forward(self, x, training=False):
        self.__dict__["calls"] = self.__dict__.get("calls", 0) + 1
        if self.calls > self.after:
            raise self.error
        return super().forward(x, training)


def _snapshot(est):
    return pickle.dumps(est)


@pytest.mark.parametrize(
    "error",
    [MemoryError("simulated"), RuntimeError("a user's bug"), KeyError("x")],
    ids=["MemoryError", "RuntimeError", "KeyError"],
)
def test_a_failing_first_fit_leaves_the_estimator_unfitted(error):
    est = MLPClassifier(layers=[Dense(4), FailsAfter(error)], max_iter=5, random_state=0)
    with pytest.raises(type(error)):
        est.fit(X, y)
    assert not [k for k in vars(est) if k.endswith("_")]
    assert pickle.dumps(est) == pickle.dumps(
        MLPClassifier(layers=est.layers, max_iter=5, random_state=0)
    )


@pytest.mark.parametrize("how", ["refit", "warm_start", "partial_fit"])
def test_a_failing_later_fit_keeps_the_previous_model(how):
    est = MLPClassifier(
        layers=[Dense(4), FailsAfter(MemoryError("simulated"), after=10**9)],
        max_iter=5,
        random_state=0,
        warm_start=how == "warm_start",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if how == "partial_fit":
            est.partial_fit(X, y, classes=[0, 1, 2])
        else:
            est.fit(X, y)
    expected = est.predict_proba(X)
    before = _snapshot(est)
    coefs = est.coefs_[0]
    if how == "refit":  # a new network is built from the layers given
        est.set_params(layers=[Dense(4), FailsAfter(MemoryError("simulated"), after=2)])
    else:  # the network goes on training: make it fail mid-way (the layer asked for
        # says the same, or the continued fit refuses to change a user layer's arguments)
        calls = est.network_.layers[1].calls
        est.network_.layers[1].after = calls  # the next call fails
        est.set_params(layers__1__after=calls)
    with pytest.raises(MemoryError):
        if how == "partial_fit":
            est.partial_fit(X, y)
        else:
            est.fit(X, y)
    if how != "refit":  # the layer is as we set it before the call: let it work again
        est.network_.layers[1].after = 10**9
    np.testing.assert_array_equal(est.predict_proba(X), expected)
    assert est.coefs_[0] is coefs  # the live arrays were restored in place
    restored = pickle.loads(before)
    assert est.n_iter_ == restored.n_iter_ and est.loss_curve_ == restored.loss_curve_
