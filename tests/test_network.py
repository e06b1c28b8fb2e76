"""Sequential: building, flat params/grads views, dtypes, training loop and memory."""

import copy
import pickle
import tracemalloc

import numpy as np
import pytest
from helpers import ColumnScale, Swish
from sklearn.datasets import load_digits

from layerkit import Sequential
from layerkit.layers import Dense, Dropout, ReLU, Softmax, Tanh
from layerkit.losses import CategoricalCrossEntropy, SquaredError
from layerkit.optim import SGD, Adam, Optimizer
from layerkit.training import EpochRunner


def test_params_and_grads_are_live_flat_views():
    net = Sequential([Dense(4), Swish(), Dense(2)]).build(3, random_state=0)
    assert list(net.params) == ["0.W", "0.b", "1.beta", "2.W", "2.b"]
    assert list(net.grads) == list(net.params)
    assert net.params["0.W"] is net.layers[0].params["W"]
    assert net.params["1.beta"].shape == (4,)
    assert net.params["2.W"].shape == (4, 2)


def test_flatten_keeps_gradients_and_leaves_zero_ones_unwritten():
    """Re-flattening (after a layer's arrays were replaced) keeps every gradient's value:
    nonzero ones are copied, zero ones stay zeros of the new buffer (not written, so a
    large buffer's pages take no memory until a backward pass writes them)."""
    net = Sequential([Dense(4), Tanh(), Dense(2)]).build(3, random_state=0)
    x = np.linspace(-1, 1, 15).reshape(5, 3)
    net.loss_and_grads(x, np.ones((5, 2)), SquaredError())
    expected = {k: g.copy() for k, g in net.grads.items()}
    assert all(g.any() for g in expected.values())
    net.layers[2].grads["b"] = np.zeros(2)  # replaced: no longer a view of the buffer
    expected["2.b"] = np.zeros(2)
    net.flatten()
    flat = net._flat_buffers()
    assert flat is not None
    for k, g in net.grads.items():
        assert g.base is flat[1]
        np.testing.assert_array_equal(g, expected[k])


def test_build_infers_widths_and_is_seeded():
    a = Sequential([Dense(5), Tanh(), Dense(2)]).build(3, random_state=7)
    b = Sequential([Dense(5), Tanh(), Dense(2)]).build(3, random_state=7)
    c = Sequential([Dense(5), Tanh(), Dense(2)]).build(3, random_state=8)
    assert (a.n_in_, a.n_out_) == (3, 2)
    np.testing.assert_array_equal(a.params["0.W"], b.params["0.W"])
    assert not np.array_equal(a.params["0.W"], c.params["0.W"])


def test_one_layer_does_not_shift_another_layers_initialization():
    a = Sequential([Dense(5), Dropout(0.5), Dense(2)]).build(3, random_state=7)
    b = Sequential([Dense(5), Dropout(0.1), Dense(2)]).build(3, random_state=7)
    np.testing.assert_array_equal(a.params["2.W"], b.params["2.W"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_end_to_end(dtype, rng):
    net = Sequential([Dense(6), Swish(), Dense(3), Softmax()]).build(
        4, random_state=0, dtype=dtype
    )
    x = rng.normal(size=(10, 4)).astype(dtype)
    y = np.eye(3)[rng.integers(0, 3, 10)].astype(dtype)
    assert net.forward(x).dtype == dtype
    net.train_step(x, y, CategoricalCrossEntropy(), Adam(0.01))
    for arrays in (net.params, net.grads):
        assert all(v.dtype == dtype for v in arrays.values())


def test_float64_input_to_a_float32_network_computes_in_float32(rng):
    net = Sequential([Dense(3), ReLU()]).build(2, random_state=0, dtype=np.float32)
    assert net.forward(rng.normal(size=(4, 2))).dtype == np.float32


def test_wrong_input_width_is_a_clear_error(rng):
    net = Sequential([Dense(3)]).build(2, random_state=0)
    with pytest.raises(
        ValueError,
        match=r"built for 2 input features expected x of shape \(m, 2\), got \(4, 5\)",
    ):
        net.forward(rng.normal(size=(4, 5)))


def test_unbuilt_network_is_a_call_order_error():
    with pytest.raises(RuntimeError, match="must be built"):
        Sequential([Dense(3)]).forward(np.ones((1, 2)))


def test_non_layers_are_refused():
    with pytest.raises(TypeError, match="expected Layer objects, got int at position 1"):
        Sequential([Dense(3), 5])


def test_backward_returns_the_input_delta(rng):
    net = Sequential([Dense(4), Tanh(), Dense(2)]).build(3, random_state=0)
    x = rng.normal(size=(5, 3))
    out = net.forward(x)
    dx = net.backward(np.ones_like(out))
    assert dx.shape == x.shape


def test_forward_results_belong_to_the_caller(rng):
    net = Sequential([Dense(4), ReLU()]).build(3, random_state=0)
    first = net.forward(rng.normal(size=(5, 3)))
    kept = first.copy()
    net.forward(rng.normal(size=(5, 3)))
    np.testing.assert_array_equal(first, kept)


def _digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return X[:1500], np.eye(10)[y[:1500]], X[1500:], y[1500:]


def test_low_level_loop_learns_digits():
    Xtr, Ytr, Xte, yte = _digits()
    net = Sequential([Dense(64), ReLU(), Dense(10), Softmax()]).build(64, random_state=0)
    losses = net.fit(
        Xtr,
        Ytr,
        loss=CategoricalCrossEntropy(),
        optimizer=SGD(0.1, momentum=0.9),
        batch_size=32,
        max_iter=15,
        random_state=0,
    )
    assert losses[-1] < losses[0] / 5
    accuracy = np.mean(net.forward(Xte).argmax(axis=1) == yte)
    assert accuracy > 0.9


def test_training_is_reproducible():
    Xtr, Ytr, _, _ = _digits()
    runs = []
    for _ in range(2):
        net = Sequential([Dense(16), ReLU(), Dropout(0.2), Dense(10), Softmax()]).build(
            64, random_state=1
        )
        net.fit(
            Xtr,
            Ytr,
            loss=CategoricalCrossEntropy(),
            optimizer=Adam(0.01),
            max_iter=2,
            random_state=2,
        )
        runs.append(net.params["0.W"].copy())
    np.testing.assert_array_equal(*runs)


class NoUpdate(Optimizer, register=False):
    learning_rate = 0.0

    def step(self, params, grads):
        pass


def test_epoch_loss_is_the_weighted_mean_of_batch_losses(rng):
    X = rng.normal(size=(10, 2))
    y = rng.normal(size=(10, 1))
    net = Sequential([Dense(1)]).build(2, random_state=0)
    runner = EpochRunner(net, X, y, SquaredError(), NoUpdate(), batch_size=4)
    epoch = runner.run()
    assert epoch == pytest.approx(net.loss_value(X, y, SquaredError()), rel=1e-12)


def test_all_zero_weight_batch_makes_no_update(rng):
    X = rng.normal(size=(8, 2))
    y = rng.normal(size=(8, 1))
    net = Sequential([Dense(1)]).build(2, random_state=0)
    before = net.params["0.W"].copy()
    value = net.train_step(X, y, SquaredError(), SGD(0.1, momentum=0.9), sample_weight=np.zeros(8))
    assert value == 0.0
    np.testing.assert_array_equal(net.params["0.W"], before)


def test_training_loop_keeps_no_copy_of_the_training_set(rng):
    """Traced memory during an epoch stays far below the size of X."""
    X = rng.normal(size=(20_000, 50))  # 8 MB
    y = np.eye(4)[rng.integers(0, 4, 20_000)]
    net = Sequential([Dense(32), ReLU(), Dense(4), Softmax()]).build(50, random_state=0)
    runner = EpochRunner(net, X, y, CategoricalCrossEntropy(), SGD(0.01), batch_size=64)
    gen = np.random.default_rng(0)
    with net.workspace():
        runner.run(gen)  # first epoch: buffers are allocated
        tracemalloc.start()
        runner.run(gen)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < X.nbytes / 50, peak  # well under 160 kB: per-batch temporaries only


def test_no_per_batch_allocation_in_dense_layers(rng):
    """Inside a workspace, Dense outputs and gradients reuse the same arrays."""
    X = rng.normal(size=(256, 8))
    y = np.eye(3)[rng.integers(0, 3, 256)]
    net = Sequential([Dense(16), ReLU(), Dense(3), Softmax()]).build(8, random_state=0)
    runner = EpochRunner(net, X, y, CategoricalCrossEntropy(), SGD(0.01), batch_size=32)
    with net.workspace():
        runner.run(np.random.default_rng(0))
        ids = {k: id(v) for k, v in net.layers[0]._workspace.items()}
        runner.run(np.random.default_rng(1))
        assert {k: id(v) for k, v in net.layers[0]._workspace.items()} == ids


def test_the_layers_may_be_given_as_arguments_as_in_pytorch():

    assert repr(Sequential(Dense(3), ReLU())) == repr(Sequential([Dense(3), ReLU()]))
    with pytest.raises(TypeError, match=r"as one list, .* or as separate arguments"):
        Sequential([Dense(3)], ReLU())
    with pytest.raises(TypeError, match=r"expected a list of layers, got int"):
        Sequential(3)


def test_parameter_arrays_taken_after_build_stay_live_through_fit():
    net = Sequential([Dense(5), ReLU(), Dense(3), Softmax()]).build(4, random_state=0)
    W = net.layers[0].params["W"]  # a handle, as a user keeps one to watch training
    before = W.copy()
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(64, 4)), np.eye(3)[rng.integers(0, 3, 64)]
    net.fit(X, Y, loss=CategoricalCrossEntropy(), optimizer=SGD(0.5), random_state=0)
    assert W is net.layers[0].params["W"] and not np.array_equal(W, before)


@pytest.mark.parametrize("copier", [copy.deepcopy, lambda n: pickle.loads(pickle.dumps(n))])
def test_a_copy_is_flat_as_the_original_so_its_arrays_stay_live(copier):
    net = copier(Sequential([Dense(5), ReLU(), Dense(3), Softmax()]).build(4, random_state=0))
    W = net.layers[0].params["W"]
    before = W.copy()
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(64, 4)), np.eye(3)[rng.integers(0, 3, 64)]
    net.fit(X, Y, loss=CategoricalCrossEntropy(), optimizer=SGD(0.5), random_state=0)
    assert W is net.layers[0].params["W"] and not np.array_equal(W, before)


def test_a_shallow_copy_leaves_the_originals_arrays_live():
    net = Sequential([Dense(5), ReLU(), Dense(3), Softmax()]).build(4, random_state=0)
    W = net.layers[0].params["W"]
    before = W.copy()
    shallow = copy.copy(net)  # shares the layers: must not move their arrays elsewhere
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(64, 4)), np.eye(3)[rng.integers(0, 3, 64)]
    for trained in (net, shallow):  # training either trains the shared arrays
        trained.fit(X, Y, loss=CategoricalCrossEntropy(), optimizer=SGD(0.5), random_state=0)
        assert W is net.layers[0].params["W"] and not np.array_equal(W, before)
        before = W.copy()


def test_summary_lists_each_layers_parameters_state_and_the_total():
    from layerkit.layers import BatchNorm, ReLU

    net = Sequential([Dense(16), BatchNorm(), ReLU(), Dense(2)]).build(4, dtype=np.float32)
    lines = net.summary().splitlines()
    assert lines[0] == "Sequential: 4 inputs (float32) -> 2 outputs"
    assert lines[1].split() == [
        "0",
        "Dense(units=16)",
        "W",
        "4x16,",
        "b",
        "16",
        "80",
        "parameters",
    ]
    assert lines[2].endswith("32 parameters  state: running_mean 16, running_var 16")
    assert lines[-1] == f"  parameters: {sum(p.size for p in net.params.values()):,} in total"
    assert "not built" in Sequential([Dense(2)]).summary()


def test_a_fortran_ordered_training_set_is_not_copied_per_batch_on_the_general_path(rng):
    """(numpy's take copied a Fortran-ordered X whole on every batch; a layer with
    parameters of the user's takes the general path, which gathered that way too)"""
    X = np.asfortranarray(rng.normal(size=(20_000, 64)))  # 10 MiB
    net = Sequential([Dense(8), ColumnScale(), Dense(1)]).build(64, random_state=0)
    tracemalloc.start()
    try:
        net.fit(X, X[:, :1].copy(), loss=SquaredError(), optimizer=SGD(0.01), batch_size=64)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 4, peak


def test_a_weighted_epoch_loss_is_the_weighted_mean_over_all_rows(rng):
    """Each batch counts by its weight sum, not its row count (a mutation audit: the
    row count passed every test; loss_curve_ and the stopping rule read this)."""
    X = rng.normal(size=(40, 3))
    y = rng.normal(size=(40, 1))
    sw = rng.uniform(0.1, 3.0, 40)
    for layers in ([Dense(1)], [Dense(4), ColumnScale(), Dense(1)]):  # plan, general path
        net = Sequential(layers).build(3, random_state=0)
        runner = EpochRunner(net, X, y, SquaredError(), NoUpdate(), batch_size=7, sample_weight=sw)
        expected = net.loss_value(X, y, SquaredError(), sw)
        assert runner.run() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("init", "fan", "uniform"),
    [
        ("glorot_uniform", 400, True),
        ("glorot_normal", 400, False),
        ("he_uniform", 100, True),
        ("he_normal", 100, False),
    ],
)
def test_dense_initial_weights_have_the_variance_of_their_scheme(init, fan, uniform):
    """Var W = 2 gain² / fan (Glorot: fan_in + fan_out; He: fan_in); uniform ones within
    ±√3 std. (A mutation audit: swapping the fans was caught only by a docs example
    that happened to stop converging.)"""
    layer = Dense(300, init=init, gain=0.5)
    layer.build(100, np.random.default_rng(0), np.float64)
    W = layer.params["W"]
    variance = 0.25 * 2.0 / fan
    assert W.var() == pytest.approx(variance, rel=0.03)
    if uniform:
        assert np.abs(W).max() <= np.sqrt(3 * variance)
