"""Prediction split among threads: the same numbers, BLAS's thread count set back."""

import threading
import time
from contextlib import contextmanager

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
    controller = _threads._blas_controller()
    return [c.num_threads for c in controller.lib_controllers] if controller else []


@pytest.fixture(autouse=True)
def blas_set_back():
    """Every test here leaves BLAS's thread counts as it found them, and no split
    prediction running."""
    before = _blas_threads()
    yield
    assert _blas_threads() == before
    assert not _threads._busy.locked() and not _threads._limited


_REAL_CHUNK = _inference._Chunks._chunk


@pytest.fixture
def split(monkeypatch):
    """Every prediction split among 3 threads, whatever the machine; each thread waits
    for the others before it takes a chunk. Returns the threads that ran chunks, with
    BLAS's thread counts seen meanwhile."""
    monkeypatch.setattr(_inference, "SPLIT_FROM", 0)
    monkeypatch.setattr(_threads, "_alone", lambda: True)  # (threads other tests left)
    real, splitting = _threads.split_threads, []

    @contextmanager
    def three(wanted=True):
        with real(wanted) as budget:  # (BLAS on one thread, where the machine has more)
            splitting.append(wanted)
            try:
                yield 3 if wanted else budget
            finally:
                splitting.pop()

    monkeypatch.setattr(_inference, "split_threads", three)
    seen = []
    run, chunk = _inference._Chunks.run, _inference._Chunks._chunk
    barrier = threading.Barrier(3, timeout=30)

    def waiting_run(self, starts):
        if any(splitting):  # (a split prediction: not one in a thread of its own)
            barrier.wait()
        run(self, starts)

    first_chunks = threading.Barrier(3, timeout=30)
    holding = []  # (each thread's buffers of a split prediction, once it took a chunk)

    def recorded_chunk(self, start, rows):
        seen.append((threading.get_ident(), tuple(_blas_threads())))
        if any(splitting) and not any(self is held for held in holding):
            # no thread finishes its first chunk before every thread has taken one: on
            # a busy machine a thread late after the first barrier found the chunks gone
            holding.append(self)
            first_chunks.wait()
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
    assert len({ident for ident, _ in split}) == 3  # (no thread since)
    np.testing.assert_array_equal(got, expected)


needs_blas = pytest.mark.skipif(
    _threads._blas_controller() is None, reason="threadpoolctl finds no BLAS here"
)


@needs_blas
def test_blas_runs_on_one_thread_during_a_split_prediction_and_gets_its_count_back(split):
    _net().predict(np.ones((300, 7)), batch_size=20)
    assert split and {counts for _, counts in split} == {tuple(1 for _ in _blas_threads())}


def _in_thread(fn):
    """``fn()`` in a thread of its own, started now; returns (thread, its results)."""
    results = []
    thread = threading.Thread(target=lambda: results.append(fn()))
    thread.start()
    return thread, results


@needs_blas
def test_beside_other_python_threads_prediction_stays_in_its_thread_and_blas_as_it_is(
    monkeypatch,
):
    """A threadpool_limits another thread opened during a split and closed after it
    would restore BLAS's one thread for good: no split while other threads run."""
    monkeypatch.setattr(_inference, "SPLIT_FROM", 0)
    before, seen = _blas_threads(), []
    chunk = _inference._Chunks._chunk

    def recorded(self, start, rows):
        seen.append((threading.current_thread().name, _blas_threads()))
        chunk(self, start, rows)

    monkeypatch.setattr(_inference._Chunks, "_chunk", recorded)
    release = threading.Event()
    other, _ = _in_thread(lambda: release.wait(30))
    try:
        _net().predict(np.ones((2000, 7)), batch_size=50)
        worker, results = _in_thread(lambda: _net().predict(np.ones((2000, 7)), batch_size=50))
        worker.join()
    finally:
        release.set()
        other.join()
    assert results and len({name for name, _ in seen}) == 2  # the main thread, the worker
    assert all(counts == before for _, counts in seen)


@needs_blas
def test_a_users_limit_in_another_thread_during_a_split_leaves_blas_as_it_was(
    monkeypatch,
):
    monkeypatch.setattr(_inference, "SPLIT_FROM", 0)
    inside, release = threading.Event(), threading.Event()
    chunk = _inference._Chunks._chunk

    def blocking(self, start, rows):
        if start == 0:
            inside.set()
            assert release.wait(30)
        chunk(self, start, rows)

    monkeypatch.setattr(_inference._Chunks, "_chunk", blocking)
    first, _ = _in_thread(lambda: _net().predict(np.ones((4000, 7)), batch_size=50))
    try:
        assert inside.wait(30)
        with threadpool_limits(1, user_api="blas"):
            pass
    finally:
        release.set()
        first.join()
    with threadpool_limits(1, user_api="blas"):  # (a user's limit still takes)
        assert set(_blas_threads()) <= {1}


def test_an_error_in_a_helper_thread_reaches_the_caller_and_every_thread_stops(split):
    chunk = _REAL_CHUNK  # (the fixture's waits for every thread's first chunk: none comes)
    caller, ran = threading.get_ident(), []

    def failing(self, start, rows):
        if threading.get_ident() != caller:
            raise ValueError(f"helper failed at row {start}")
        ran.append(start)
        time.sleep(0.01)
        chunk(self, start, rows)

    threads_before = threading.active_count()
    _inference._Chunks._chunk = failing  # (the fixture sets it back)
    with pytest.raises(ValueError, match="helper failed at row"):
        _net().predict(np.ones((3000, 7)), batch_size=10)  # 300 chunks
    assert len(ran) < 10  # (the caller stopped after its chunk in hand)
    assert threading.active_count() == threads_before


def test_a_helper_that_cannot_start_stops_the_prediction(monkeypatch):
    @contextmanager
    def three(wanted=True):
        yield 3

    monkeypatch.setattr(_inference, "SPLIT_FROM", 0)
    monkeypatch.setattr(_inference, "split_threads", three)
    started, ran = [], []
    start, chunk = threading.Thread.start, _inference._Chunks._chunk

    def second_fails(self):
        started.append(self)
        if len(started) == 2:
            raise RuntimeError("can't start new thread")
        start(self)

    def counted(self, first, rows):
        ran.append(first)
        time.sleep(0.005)
        chunk(self, first, rows)

    monkeypatch.setattr(_inference._Chunks, "_chunk", counted)
    threads_before = threading.active_count()
    monkeypatch.setattr(threading.Thread, "start", second_fails)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        _net().predict(np.ones((3000, 7)), batch_size=10)  # 300 chunks
    monkeypatch.setattr(threading.Thread, "start", start)
    assert len(ran) < 30  # (the helper that started stopped after its chunk in hand)
    assert threading.active_count() == threads_before


def test_helper_threads_keep_the_callers_numpy_error_state(split, monkeypatch):
    states = {}
    chunk = _inference._Chunks._chunk

    def recorded(self, start, rows):
        states[threading.get_ident()] = np.geterr()
        chunk(self, start, rows)

    monkeypatch.setattr(_inference._Chunks, "_chunk", recorded)
    with np.errstate(over="raise", invalid="ignore", divide="warn", under="ignore"):
        caller = np.geterr()
        _net().predict(np.ones((300, 7)), batch_size=20)
    assert len(states) == 3
    assert all(state == caller for state in states.values())


@pytest.mark.filterwarnings("error")
def test_an_overflow_the_caller_ignores_is_ignored_in_every_thread(split):
    layers = [Dense(4), ReLU(), Dense(2), Identity()]
    net = Sequential(layers).build(3, random_state=0, dtype=np.float32)
    net.layers[0].params["W"][...] = 2.0  # (3 x 2 x 3e38 overflows float32)
    X = np.full((60, 3), 3e38, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        out = net.predict(X, batch_size=20)
    assert not np.isfinite(out).all()
    assert len({ident for ident, _ in split}) == 3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_an_estimator_refuses_a_non_finite_x_it_splits(split):
    from layerkit import MLPClassifier

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 7)), np.arange(300) % 3
    clf = MLPClassifier((8,), max_iter=2, random_state=0).fit(X, y)
    X[250, 3] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        clf.predict_proba(X)


@needs_blas
def test_blas_limited_to_one_thread_predicts_in_the_callers_thread(monkeypatch):
    monkeypatch.setattr(_inference, "SPLIT_FROM", 0)

    def no_threads(*args):
        raise AssertionError("threads started although BLAS is limited to one")

    monkeypatch.setattr(_inference, "run_in_threads", no_threads)
    with threadpool_limits(1, user_api="blas"):
        _net().predict(np.ones((500, 7)))


@needs_blas
def test_the_budget_is_blas_own_count(monkeypatch):
    monkeypatch.setattr(_threads, "_alone", lambda: True)  # (threads other tests left)
    with threadpool_limits(2, user_api="blas"), _threads.split_threads() as budget:
        assert budget == 2
        assert set(_blas_threads()) == {1}
    with threadpool_limits(1, user_api="blas"), _threads.split_threads() as budget:
        assert budget == 1
    with _threads.split_threads(False) as budget:
        assert budget == 1


def test_a_fork_during_a_split_prediction_sets_blas_back_in_the_child(monkeypatch):
    class Library:
        num_threads = 1

        def set_num_threads(self, n):
            self.num_threads = n

    library = Library()
    monkeypatch.setattr(_threads, "_limited", [(library, 4)])
    monkeypatch.setattr(_threads, "_busy", threading.Lock())
    _threads._busy.acquire()
    _threads._after_fork_in_child()
    assert library.num_threads == 4
    assert not _threads._limited and not _threads._busy.locked()


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
    assert _inference._split(n, chunk, 1 << 40, budget) == expected


def test_small_predictions_stay_in_one_thread():
    W1 = [_dense(784, 256), _dense(256, 128), _dense(128, 10)]
    assert _inference._work(8000, W1) < _inference.SPLIT_FROM
    assert _inference._work(10_000, W1) >= _inference.SPLIT_FROM
    work = _inference._work(100_000, W1)
    assert _inference._split(100_000, 1024, work, 2) == (2, 1021)
    # BLAS's 64 threads on a large machine: one per half of SPLIT_FROM, not 64 starting
    # for a few rows each
    assert _inference._split(10_000, 1024, _inference._work(10_000, W1), 64)[0] == 2
    assert _inference._split(100_000, 1024, work, 64)[0] == 22


@needs_blas
def test_a_limit_that_does_not_take_keeps_the_prediction_in_its_callers_thread(
    monkeypatch,
):
    """threadpoolctl >= 3.8 lets one thread at a time set OpenBLAS's count, and ignores
    the others: a split then would run two BLAS threads in each of its threads."""
    import threadpoolctl

    if not hasattr(getattr(threadpoolctl, "OpenBLASController", None), "_SHARED_STATE"):
        pytest.skip("this threadpoolctl lets every thread set OpenBLAS's count")
    monkeypatch.setattr(_inference, "SPLIT_FROM", 0)
    holding, release = threading.Event(), threading.Event()

    def hold_the_limit():
        with threadpool_limits(2, user_api="blas"):
            holding.set()
            release.wait(30)

    holder, _ = _in_thread(hold_the_limit)
    try:
        assert holding.wait(30)
        monkeypatch.setattr(_threads, "_alone", lambda: True)  # (the holder, and others)
        if set(_blas_threads()) != {2}:
            pytest.skip("no OpenBLAS on its own thread pool here")
        names = []
        chunk = _inference._Chunks._chunk

        def recorded(self, start, rows):
            names.append(threading.current_thread().name)
            chunk(self, start, rows)

        monkeypatch.setattr(_inference._Chunks, "_chunk", recorded)
        _net().predict(np.ones((2000, 7)), batch_size=50)
        assert set(names) == {threading.current_thread().name}
    finally:
        release.set()
        holder.join()
