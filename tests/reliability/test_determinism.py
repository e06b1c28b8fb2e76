"""A fixed random_state gives bit-identical weights and predictions across runs, clones,
pickling and n_jobs; the random streams are independent of each other."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_predict

from layerkit import MLPClassifier
from layerkit.layers import Dense, Dropout, ReLU
from layerkit.optim import Optimizer

rng = np.random.default_rng(0)
X = rng.normal(size=(120, 5))
y = rng.integers(0, 3, 120)


def _fit(est):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def _make(**kw):
    return MLPClassifier(
        layers=[Dense(8), ReLU(), Dropout(0.2)], max_iter=10, random_state=7, **kw
    )


def _same(a, b):
    for p, q in zip(a.network_.params.values(), b.network_.params.values(), strict=True):
        np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_runs_clones_and_pickles_agree_bit_for_bit(solver):
    base = _make(solver=solver)
    first = _fit(clone(base))
    _same(first, _fit(clone(base)))
    _same(first, _fit(pickle.loads(pickle.dumps(base))))
    _same(first, _fit(clone(pickle.loads(pickle.dumps(first)))))


def test_parallel_jobs_agree_with_serial():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = cross_val_predict(_make(), X, y, cv=3, n_jobs=1, method="predict_proba")
        two = cross_val_predict(_make(), X, y, cv=3, n_jobs=2, method="predict_proba")
    np.testing.assert_array_equal(one, two)


class Frozen(Optimizer, register=False):
    """Never moves the weights: what fit leaves are the initial weights."""

    learning_rate = 0.0

    def step(self, params, grads):
        pass


@pytest.mark.parametrize(
    "change",
    [
        {"batch_size": 7},
        {"shuffle": False},
        {"early_stopping": True},
        {"validation_fraction": 0.3, "early_stopping": True},
    ],
)
def test_initial_weights_do_not_depend_on_batching_shuffling_or_the_split(change):
    ref = _fit(_make(solver=Frozen(), batch_size=32))
    other = _fit(_make(solver=Frozen(), **change))
    _same(ref, other)


def test_dropout_masks_do_not_depend_on_the_shuffling_stream():
    a = _fit(_make(solver="sgd", shuffle=False))
    b = _fit(_make(solver="sgd", shuffle=False))
    _same(a, b)
    net = a.network_
    seeds = [
        layer._rng.bit_generator.state["state"]["state"]
        for layer in net.layers
        if isinstance(layer, Dropout)
    ]
    assert len(set(seeds)) == 1  # one dropout layer: its own stream
