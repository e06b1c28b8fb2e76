"""Prediction split among threads: the same numbers, BLAS's thread count set back."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from layerkit import Sequential
from layerkit._plan import _inference, _threads
from layerkit.layers import (
    ELU,
    BatchNorm,
    Dense,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)


def _blas_threads():
    return [c.num_threads for c in _threads._blas()]


@pytest.fixture(autouse=True)
def blas_set_back():
    """Every test here leaves BLAS's thread counts as it found them."""
    before = _blas_threads()
    yield
    assert _blas_threads() == before
    assert _threads._active == 0


@pytest.fixture
def split(monkeypatch):
    """Every prediction split among 3 threads, whatever the machine; each thread waits
    for the others before it takes a chunk. Returns the threads that ran chunks, with
    BLAS's thread counts seen meanwhile."""
    monkeypatch.setattr(_inference, "SPLIT_FROM", 0)
    monkeypatch.setattr(_inference, "thread_budget", lambda: 3)
    seen = []
    run, chunk = _inference._Chunks.run, _inference._Chunks._chunk
    barrier = threading.Barrier(3, timeout=30)

    def waiting_run(self, starts):
        if _threads._active:  # (a split prediction: not one in a thread of its own)
            barrier.wait()
        run(self, starts)

    def recorded_chunk(self, start, rows):
        seen.append((threading.get_ident(), tuple(_blas_threads())))
        time.sleep(0.001)  # (lets the other threads take chunks: small ones keep the GIL)
        chunk(self, start, rows)

    monkeypatch.setattr(_inference._Chunks, "run", waiting_run)
    monkeypatch.setattr(_inference._Chunks, "_chunk", recorded_chunk)
    return seen


def _dense(n_in, n_out):
    layer = Dense(n_out)
    layer.build(n_in, np.random.default_rng(0), np.float32)
    return layer


def _net(dtype=np.float64):
    layers = [Dense(24), ReLU(), Dense(16), LeakyReLU(0.2), BatchNorm(), Dense(12), Tanh()]
    layers += [Dense(10), ELU(), Dense(8), Sigmoid(), Dense(3), Softmax()]
    net = Sequential(layers).build(7, random_state=0, dtype=dtype)
    for layer in net.layers:  # statistics away from 0 and 1
        if isinstance(layer, BatchNorm):
            layer.running_mean[...] = 0.3
            layer.running_var[...] = 1.7
    return net


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_size", [5, 64, 1000])
def test_split_prediction_equals_prediction_in_one_thread(split, dtype, x_dtype, batch_size):
    """Every row once, in its place, through every kind of layer the split runs: the
    same bits as one thread with BLAS on one thread."""
    net = _net(dtype)
    # (1,020 rows: no chunk of fewer than 5 rows, either way; BLAS multiplies 1 to 3
    # rows by other kernels, which can differ in the last bit)
    X = np.random.default_rng(1).normal(size=(1020, 7)).astype(x_dtype)
    X[::97] *= 50  # (rows whose activations saturate)
    got = net.predict(X, batch_size=batch_size)
    assert len({ident for ident, _ in split}) == 3  # every thread ran chunks
    with threadpool_limits(1, user_api="blas"):
        _inference.SPLIT_FROM = 1 << 62  # (the fixture sets it back)
        expected = net.predict(X, batch_size=batch_size)
    np.testing.assert_array_equal(got, expected)


def test_blas_runs_on_one_thread_during_a_split_prediction_and_gets_its_count_back(split):
    if not _threads._blas():
        pytest.skip("threadpoolctl finds no BLAS here")
    before = _blas_threads()
    _net().predict(np.ones((300, 7)), batch_size=20)
    assert split and {counts for _, counts in split} == {tuple(1 for _ in before)}
    assert _blas_threads() == before


def test_overlapping_split_predictions_set_blas_back_once_the_last_ends(monkeypatch):
    monkeypatch.setattr(_inference, "SPLIT_FROM", 0)
    monkeypatch.setattr(_inference, "thread_budget", lambda: 2)
    net, X = _net(), np.random.default_rng(2).normal(size=(4000, 7))
    expected = net.predict(X)
    before, threads_before = _blas_threads(), threading.active_count()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: net.predict(X, batch_size=50), range(12)))
    for result in results:
        np.testing.assert_array_equal(result, expected)
    assert _blas_threads() == before
    assert _threads._active == 0
    assert threading.active_count() == threads_before


def test_an_error_in_a_helper_thread_reaches_the_caller_and_every_thread_stops(split):
    chunk = _inference._Chunks._chunk
    caller = threading.get_ident()

    def failing(self, start, rows):
        if threading.get_ident() != caller:
            raise ValueError(f"helper failed at row {start}")
        time.sleep(0.01)
        chunk(self, start, rows)

    before, threads_before = _blas_threads(), threading.active_count()
    _inference._Chunks._chunk = failing  # (the fixture sets it back)
    with pytest.raises(ValueError, match="helper failed at row"):
        _net().predict(np.ones((3000, 7)), batch_size=10)
    assert _blas_threads() == before
    assert threading.active_count() == threads_before


@pytest.mark.filterwarnings("error")
def test_helper_threads_keep_the_callers_numpy_error_state(split):
    """numpy's errstate lives in the caller's context: a helper thread without it would
    warn of the overflow (an error here) where the caller said to ignore it or raise."""
    layers = [Dense(4), ReLU(), Dense(2), Identity()]
    net = Sequential(layers).build(3, random_state=0, dtype=np.float32)
    net.layers[0].params["W"][...] = 2.0  # (3 x 2 x 3e38 overflows float32)
    X = np.full((60, 3), 3e38, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        out = net.predict(X, batch_size=20)
    assert not np.isfinite(out).all()
    assert len({ident for ident, _ in split}) == 3
    with np.errstate(over="raise", invalid="ignore"), pytest.raises(FloatingPointError):
        net.predict(X, batch_size=20)


def test_blas_limited_to_one_thread_predicts_in_the_callers_thread(monkeypatch):
    if not _threads._blas():
        pytest.skip("threadpoolctl finds no BLAS here")
    monkeypatch.setattr(_inference, "SPLIT_FROM", 0)

    def no_threads(*args):
        raise AssertionError("threads started although BLAS is limited to one")

    monkeypatch.setattr(_inference, "run_in_threads", no_threads)
    with threadpool_limits(1, user_api="blas"):
        assert _threads.thread_budget() == 1
        _net().predict(np.ones((500, 7)))


def test_thread_budget_is_blas_own_count():
    if not _threads._blas():
        pytest.skip("threadpoolctl finds no BLAS here")
    with threadpool_limits(2, user_api="blas"):
        assert _threads.thread_budget() == 2
    with threadpool_limits(1, user_api="blas"):
        assert _threads.thread_budget() == 1


def test_a_fork_during_a_split_prediction_sets_blas_back_in_the_child(monkeypatch):
    class Library:
        num_threads = 1

        def set_num_threads(self, n):
            self.num_threads = n

    library = Library()
    monkeypatch.setattr(_threads, "_active", 1)
    monkeypatch.setattr(_threads, "_saved", [(library, 4)])
    _threads._after_fork_in_child()
    assert library.num_threads == 4
    assert _threads._active == 0


@pytest.mark.parametrize(
    ("n", "chunk", "budget", "expected"),
    [
        (100_000, 1024, 2, (2, 1021)),  # 98 chunks, 49 each
        (3000, 1024, 2, (2, 750)),  # 4 chunks, not 3 (one thread would wait)
        (1500, 1024, 4, (4, 375)),
        (3, 1024, 4, (3, 1)),
        (100_000, 1024, 1, (1, 1024)),
    ],
)
def test_chunks_are_shared_evenly(monkeypatch, n, chunk, budget, expected):
    monkeypatch.setattr(_inference, "SPLIT_FROM", 0)
    monkeypatch.setattr(_inference, "thread_budget", lambda: budget)
    assert _inference._split(n, chunk, [_dense(3, 4)]) == expected


def test_small_predictions_stay_in_one_thread(monkeypatch):
    monkeypatch.setattr(_inference, "thread_budget", lambda: 2)
    W1 = [_dense(784, 256), _dense(256, 128), _dense(128, 10)]
    assert _inference._split(1000, 1024, W1)[0] == 1
    assert _inference._split(100_000, 1024, W1) == (2, 1021)
    # BLAS's 64 threads on a large machine: one per half of SPLIT_FROM, not 64 starting
    # for 18 rows each
    monkeypatch.setattr(_inference, "thread_budget", lambda: 64)
    assert _inference._split(1200, 1024, W1) == (2, 600)
    assert _inference._split(100_000, 1024, W1)[0] == 64


def test_a_blas_count_set_by_others_during_a_split_prediction_stays(split):
    if not _threads._blas():
        pytest.skip("threadpoolctl finds no BLAS here")
    before = _blas_threads()
    chunk = _inference._Chunks._chunk

    def user_sets_three(self, start, rows):
        for c in _threads._blas():
            c.set_num_threads(3)
        chunk(self, start, rows)

    _inference._Chunks._chunk = user_sets_three  # (the fixture sets it back)
    try:
        _net().predict(np.ones((300, 7)), batch_size=20)
        assert _blas_threads() == [3 for _ in before]
    finally:
        for c, n in zip(_threads._blas(), before, strict=True):
            c.set_num_threads(n)
