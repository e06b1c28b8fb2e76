"""Scale-out on Dask: grid search through joblib's dask backend, out-of-core training
through dask_ml.wrappers.Incremental, both on a local cluster of worker processes.

Acceptance of docs/scaling.md: the Dask grid search gives the local run's cv_results_
scores, and Incremental training on a chunked dask array reaches the accuracy of an
in-memory partial_fit loop over the same chunks.
"""

import os
import re

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split

from layerkit import MLPClassifier

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
wrappers = pytest.importorskip("dask_ml.wrappers")

GRID = {"hidden_layer_sizes": [(16,), (32,)], "alpha": [1e-4, 1e-2]}
CV = 3
CHUNK = 200  # rows per block of the dask arrays
PASSES = 6  # passes over the training blocks


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on loopback, shut down after the module."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # its web server on a free port of loopback (None means the default, 8787,
            # which another cluster or test run may hold: the start failed then)
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.wait_for_workers(2, timeout=60)
        pids = client.run(os.getpid)
        assert len(pids) == 2
        assert os.getpid() not in pids.values()  # real processes, not threads of this one
        yield client


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16, y


def task_keys(task_stream):
    """The keys of the tasks a task stream saw run: a name, or a tuple (name, index...)."""
    return [t["key"] for t in task_stream.data]


def calls_run(task_stream, function):
    """How many calls of `function` ran on the workers in joblib's batches."""
    pattern = re.compile(rf"batch_of_{function}_(\d+)_calls")
    return sum(
        int(m.group(1))
        for key in task_keys(task_stream)
        if isinstance(key, str) and (m := pattern.search(key))
    )


def test_grid_search_on_dask_gives_the_local_scores(client, digits):
    X, y = digits

    def search(n_jobs):
        # early stopping ends every fit before max_iter: no ConvergenceWarning
        est = MLPClassifier(solver="adam", max_iter=200, early_stopping=True, random_state=0)
        return GridSearchCV(est, GRID, cv=CV, n_jobs=n_jobs)

    local = search(n_jobs=1).fit(X, y)
    with distributed.get_task_stream(client) as stream, parallel_config(backend="dask"):
        remote = search(n_jobs=-1).fit(X, y)

    # every fit of the search ran as a task on the cluster's workers, none in this process
    n_fits = len(remote.cv_results_["params"]) * CV
    assert calls_run(stream, "_fit_and_score") == n_fits == 12
    assert {t["worker"] for t in stream.data} <= set(client.scheduler_info()["workers"])

    # the same scores, bit for bit: a fit depends only on its data and random_state
    assert remote.cv_results_["params"] == local.cv_results_["params"]
    scores = [f"split{i}_test_score" for i in range(CV)] + ["mean_test_score"]
    for key in [*scores, "std_test_score", "rank_test_score"]:
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    assert remote.best_params_ == local.best_params_
    assert remote.best_score_ == local.best_score_
    assert local.best_score_ > 0.85


@pytest.fixture(scope="module")
def split(digits):
    X, y = digits
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def make_classifier():
    return MLPClassifier(
        hidden_layer_sizes=(32,),
        solver="adam",
        batch_size=32,
        learning_rate_init=0.01,
        random_state=0,
    )


@pytest.fixture(scope="module")
def in_memory(split):
    """partial_fit on NumPy blocks of CHUNK rows, in order, PASSES times."""
    X_train, _, y_train, _ = split
    classes = np.unique(y_train)
    clf = make_classifier()
    for _ in range(PASSES):
        for start in range(0, len(X_train), CHUNK):
            rows = slice(start, start + CHUNK)
            clf.partial_fit(X_train[rows], y_train[rows], classes=classes)
    return clf


def incremental(client, split, **params):
    X_train, _, y_train, _ = split
    dX = da.from_array(X_train, chunks=(CHUNK, -1))
    dy = da.from_array(y_train, chunks=CHUNK)
    assert dX.numblocks == (7, 1)  # 6 x 200 + 147 rows
    inc = wrappers.Incremental(make_classifier(), **params)
    with distributed.get_task_stream(client) as stream:
        for _ in range(PASSES):  # each call is one pass: partial_fit once per block
            inc.partial_fit(dX, dy, classes=np.unique(y_train))
    # the graph of a pass holds the model as task ("fit-<token>", -1), and task
    # ("fit-<token>", i) calls partial_fit on block i: one per block and pass, on the workers
    fits = [
        key
        for key in task_keys(stream)
        if isinstance(key, tuple) and key[0].startswith("fit-") and key[1] >= 0
    ]
    assert len(fits) == PASSES * dX.numblocks[0]
    assert inc.estimator_.t_ == PASSES * len(X_train)  # rows seen: every row, every pass
    return inc


def test_incremental_in_block_order_equals_in_memory_partial_fit(client, split, in_memory):
    _, X_test, _, y_test = split
    inc = incremental(client, split, shuffle_blocks=False)

    # the same partial_fit calls on the same blocks in the same order: the same model
    got = [*inc.estimator_.coefs_, *inc.estimator_.intercepts_]
    want = [*in_memory.coefs_, *in_memory.intercepts_]
    for got_array, want_array in zip(got, want, strict=True):
        np.testing.assert_array_equal(got_array, want_array)

    # prediction is blockwise and lazy: a dask array with the blocks of the input
    dX_test = da.from_array(X_test, chunks=(100, -1))
    predicted = inc.predict(dX_test)
    assert isinstance(predicted, da.Array)
    assert predicted.chunks == (dX_test.chunks[0],)
    np.testing.assert_array_equal(predicted.compute(), in_memory.predict(X_test))

    accuracy = inc.score(X_test, y_test)
    assert accuracy == in_memory.score(X_test, y_test) > 0.9


def test_incremental_with_shuffled_blocks_reaches_in_memory_accuracy(client, split, in_memory):
    _, X_test, _, y_test = split
    # a RandomState (not an int) draws a new block order for every pass
    inc = incremental(client, split, shuffle_blocks=True, random_state=np.random.RandomState(0))
    assert not np.array_equal(inc.estimator_.coefs_[0], in_memory.coefs_[0])  # other order
    accuracy = inc.score(X_test, y_test)
    assert accuracy >= in_memory.score(X_test, y_test) - 0.02
    assert accuracy > 0.9
