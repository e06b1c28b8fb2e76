"""Optimizers: SGD is eqs. 2-5/2-6; momentum, Nesterov, Adam and AdamW match their formulas."""

import copy

import numpy as np
import pytest

from layerkit.optim import SGD, Adam, AdamW


def _problem(rng):
    params = {"0.W": rng.normal(size=(3, 2)), "0.b": rng.normal(size=2)}
    grads = [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(4)]
    return params, grads


def test_sgd_defaults_are_exactly_eqs_2_5_and_2_6(rng):
    params, grads = _problem(rng)
    expected = copy.deepcopy(params)
    opt = SGD(learning_rate=0.3)
    for g in grads:
        opt.step(params, g)
        for k in expected:
            expected[k] = expected[k] - 0.3 * g[k]
    for k in params:
        np.testing.assert_array_equal(params[k], expected[k])
    assert opt.state == {}  # plain SGD keeps no state


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_matches_its_formula(nesterov, rng):
    params, grads = _problem(rng)
    expected = copy.deepcopy(params)
    v = {k: np.zeros_like(p) for k, p in params.items()}
    opt = SGD(learning_rate=0.1, momentum=0.9, nesterov=nesterov, weight_decay=0.01)
    for g in grads:
        opt.step(params, g)
        for k in expected:
            gk = g[k] + 0.01 * expected[k]
            v[k] = 0.9 * v[k] - 0.1 * gk
            expected[k] = expected[k] + (0.9 * v[k] - 0.1 * gk if nesterov else v[k])
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-13)
        np.testing.assert_allclose(opt.state["velocity"][k], v[k], rtol=1e-13)
    assert set(opt.state["velocity"]) == {"0.W", "0.b"}  # keyed by parameter name


def test_adam_matches_its_formula(rng):
    params, grads = _problem(rng)
    expected = copy.deepcopy(params)
    m = {k: np.zeros_like(p) for k, p in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    opt = Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-7)
    for t, g in enumerate(grads, start=1):
        opt.step(params, g)
        for k in expected:
            m[k] = 0.8 * m[k] + 0.2 * g[k]
            v[k] = 0.99 * v[k] + 0.01 * g[k] ** 2
            m_hat, v_hat = m[k] / (1 - 0.8**t), v[k] / (1 - 0.99**t)
            # scikit-learn's (and the paper's efficient) form: ε added to √v, not √v̂
            lr_t = 0.01 * np.sqrt(1 - 0.99**t) / (1 - 0.8**t)
            expected[k] = expected[k] - lr_t * m[k] / (np.sqrt(v[k]) + 1e-7)
            assert np.all(np.isfinite(m_hat + v_hat))
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-12)
    assert opt.state["t"] == 4 and set(opt.state["m"]) == {"0.W", "0.b"}


def test_adamw_decays_by_the_current_learning_rate_then_takes_adams_step(rng):
    params, grads = _problem(rng)
    expected = copy.deepcopy(params)
    m = {k: np.zeros_like(p) for k, p in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    opt = AdamW(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-7, weight_decay=0.3)
    for t, g in enumerate(grads, start=1):
        lr = 0.01 if t < 3 else 0.002
        opt.current_learning_rate = lr  # a schedule's rate scales the decay as well
        opt.step(params, g)
        for k in expected:
            m[k] = 0.8 * m[k] + 0.2 * g[k]
            v[k] = 0.99 * v[k] + 0.01 * g[k] ** 2
            lr_t = lr * np.sqrt(1 - 0.99**t) / (1 - 0.8**t)
            decayed = expected[k] * (1 - lr * 0.3)
            expected[k] = decayed - lr_t * m[k] / (np.sqrt(v[k]) + 1e-7)
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-12)


def test_adamw_without_decay_is_adam(rng):
    params, grads = _problem(rng)
    twin = copy.deepcopy(params)
    adamw, adam = AdamW(0.05, weight_decay=0.0), Adam(0.05)
    for g in grads:
        adamw.step(params, g)
        adam.step(twin, g)
    for k in params:
        np.testing.assert_array_equal(params[k], twin[k])


def test_adamw_steps_a_flat_network_as_it_steps_separate_arrays(rng):
    from layerkit import Sequential
    from layerkit.layers import Dense

    net = Sequential([Dense(5), Dense(3)]).build(4, random_state=0)
    params, grads = net.params, {k: rng.normal(size=v.shape) for k, v in net.params.items()}
    for k, g in grads.items():
        net.grads[k][...] = g
    assert params.flat is not None and net.grads.flat is not None
    separate = {k: v.copy() for k, v in params.items()}
    AdamW(0.05, weight_decay=0.5).step(params, net.grads)
    AdamW(0.05, weight_decay=0.5).step(separate, grads)
    for k in separate:
        np.testing.assert_allclose(params[k], separate[k], rtol=1e-12)


@pytest.mark.parametrize(
    "opt",
    [SGD(0.1), SGD(0.1, momentum=0.9, nesterov=True), Adam(0.1), AdamW(0.1)],
    ids=repr,
)
def test_optimizers_keep_float32(opt, rng):
    params = {"w": rng.normal(size=(4, 3)).astype(np.float32)}
    grads = {"w": rng.normal(size=(4, 3)).astype(np.float32)}
    opt.step(params, grads)
    assert params["w"].dtype == np.float32
    for slot in opt.state.values():
        if isinstance(slot, dict):
            assert all(a.dtype == np.float32 for a in slot.values())


def test_params_are_updated_in_place(rng):
    w = rng.normal(size=(2, 2))
    params = {"w": w}
    Adam().step(params, {"w": np.ones((2, 2))})
    assert params["w"] is w


def test_current_learning_rate_can_be_scheduled(rng):
    opt = SGD(learning_rate=0.5)
    assert opt.current_learning_rate == 0.5
    opt.current_learning_rate = 0.1
    params = {"w": np.zeros(1)}
    opt.step(params, {"w": np.ones(1)})
    np.testing.assert_allclose(params["w"], [-0.1])
    assert opt.learning_rate == 0.5  # the hyperparameter itself is untouched
    opt.reset()
    assert opt.current_learning_rate == 0.5


def test_state_shape_mismatch_is_a_clear_error():
    opt = SGD(0.1, momentum=0.5)
    opt.step({"w": np.zeros(2)}, {"w": np.ones(2)})
    with pytest.raises(ValueError, match=r"velocity\['w'\].*reset\(\)"):
        opt.step({"w": np.zeros(3)}, {"w": np.ones(3)})


@pytest.mark.parametrize("make", [lambda: Adam(0.01), lambda: SGD(0.1, momentum=0.9)])
def test_an_optimizer_reused_on_another_network_is_refused_on_every_path(make):
    from layerkit import Sequential
    from layerkit.layers import Dense, Softmax
    from layerkit.losses import CategoricalCrossEntropy

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(32, 4)), np.eye(3)[rng.integers(0, 3, 32)]
    opt = make()
    loss = CategoricalCrossEntropy()
    Sequential([Dense(9), Dense(3), Softmax()]).build(4).fit(X, Y, loss=loss, optimizer=opt)
    X5 = np.c_[X, X[:, 0]]
    for units, data in ((5, X), (8, X5)):  # other shapes; 5-8-3 has 4-9-3's 75 parameters
        other = Sequential([Dense(units), Dense(3), Softmax()]).build(data.shape[1])
        with pytest.raises(ValueError, match=r"holds state .* it was stepping another network"):
            other.fit(data, Y, loss=loss, optimizer=opt)
    opt.reset()
    other.fit(X5, Y, loss=loss, optimizer=opt)


def test_adamw_as_an_estimators_solver_shrinks_the_weights_it_decays():
    from sklearn.datasets import load_digits

    from layerkit import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16.0, y[:400]
    coefs = {}
    for decay in (0.0, 5.0):  # 10 steps (2 batches x 5 epochs): 0.95**10 = 0.6
        clf = MLPClassifier((16,), solver=AdamW(0.01, weight_decay=decay), max_iter=5)
        with pytest.warns(Warning, match="Maximum iterations"):
            clf.set_params(random_state=0).fit(X, y)
        coefs[decay] = clf.coefs_[0]
    adam = MLPClassifier((16,), solver=Adam(0.01), max_iter=5, random_state=0)
    with pytest.warns(Warning, match="Maximum iterations"):
        adam.fit(X, y)
    np.testing.assert_array_equal(coefs[0.0], adam.coefs_[0])
    assert np.abs(coefs[5.0]).mean() < 0.8 * np.abs(coefs[0.0]).mean()


@pytest.mark.parametrize(
    ("make", "kind"), [(lambda: Adam(0.05), "m"), (lambda: SGD(0.1, momentum=0.9), "velocity")]
)
def test_an_array_assigned_into_the_state_takes_effect_on_a_flat_network(make, kind, rng):
    """Resetting one parameter's state by assignment was ignored by the one-pass update
    (its buffer kept the old values; the assigned array stayed zeros), and a checkpoint
    taken after it resumed differently (a user's trial)."""
    grads = _random_grads(rng)
    by_item, opt = _steps_with_reset(
        make, grads, lambda o: o.state[kind].__setitem__("0.W", np.zeros((4, 5)))
    )
    whole, _ = _steps_with_reset(
        make,
        grads,
        lambda o: o.state.__setitem__(kind, {**o.state[kind], "0.W": np.zeros((4, 5))}),
    )
    for k in whole:
        np.testing.assert_array_equal(by_item[k], whole[k])
    assert np.abs(opt.state[kind]["0.W"]).max() > 0  # (the live state, not the zeros)
    with pytest.raises(ValueError, match=r"state array for '0.W' has shape \(4, 5\)"):
        opt.state[kind]["0.W"] = np.zeros(3)


@pytest.mark.parametrize("how", ["clear", "pop", "del", "update"])
def test_removing_or_updating_flat_state_entries_takes_effect(how, rng):
    """(clear() and update() bypassed the copy into the flat buffer: the one-pass update
    went on with the old state, as if nothing had been reset)"""
    grads = _random_grads(rng)
    resets = {
        "clear": lambda m: m.clear(),
        "pop": lambda m: (m.pop("0.W"), m.pop("0.b")),
        "del": lambda m: (m.__delitem__("0.W"), m.__delitem__("0.b")),
        "update": lambda m: m.update({"0.W": np.zeros((4, 5)), "0.b": np.zeros(5)}),
    }

    def momentum():
        return SGD(0.1, momentum=0.9)

    changed, _ = _steps_with_reset(momentum, grads, lambda o: resets[how](o.state["velocity"]))
    fresh, _ = _steps_with_reset(momentum, grads, lambda o: o.state.__setitem__("velocity", {}))
    for k in fresh:
        np.testing.assert_array_equal(changed[k], fresh[k])


def _random_grads(rng):
    return [{k: rng.normal(size=s) for k, s in (("0.W", (4, 5)), ("0.b", (5,)))} for _ in range(4)]


def _steps_with_reset(make, grads, reset):
    """Steps of a fresh optimizer on a flat one-layer network, ``reset`` called on it
    before the third; the parameters and the optimizer."""
    from layerkit import Sequential
    from layerkit.layers import Dense

    net = Sequential([Dense(5)]).build(4, random_state=0)
    opt = make()
    for i, g in enumerate(grads):
        for k, v in g.items():
            net.grads[k][...] = v
        if i == 2:
            reset(opt)
        opt.step(net.params, net.grads)
    return net.params, opt


def _student_and_teacher():
    from layerkit import Sequential
    from layerkit.layers import Dense, ReLU, Softmax
    from layerkit.losses import CategoricalCrossEntropy

    X = np.random.default_rng(0).normal(size=(8, 4))
    Y = np.eye(3)[np.arange(8) % 3]
    student = Sequential([Dense(3), Softmax()]).build(4, random_state=0)
    teacher = Sequential([Dense(64), ReLU(), Dense(3), Softmax()]).build(4, random_state=0)
    for net in (student, teacher):
        net.loss_and_grads(X, Y, CategoricalCrossEntropy())
    return student, teacher


MISMATCHES = {
    "another network's grads, smaller": (
        lambda s, t: (t.params, s.grads),
        r"grads must have the keys of params; missing \['2.W', '2.b'\]",
    ),
    "another network's grads, larger": (
        lambda s, t: (s.params, t.grads),
        r"not in params: \['2.W', '2.b'\]",
    ),
    "a gradient of another shape": (
        lambda s, t: ({"W": np.zeros((4, 3))}, {"W": np.ones((1, 3))}),
        r"grads\['W'\] must be an array of params\['W'\]'s shape \(4, 3\), got an array",
    ),
    "a number for a gradient": (
        lambda s, t: ({"w": np.ones(2)}, {"w": 1.0}),
        r"grads\['w'\] must be an array .* got float",
    ),
    "a list for a parameter": (
        lambda s, t: ({"w": [1.0, 2.0]}, {"w": np.ones(2)}),
        r"params\['w'\] must be a writable numpy array \(updated in place\), got list",
    ),
    "lists for the dicts": (
        lambda s, t: ([np.ones(2)], [np.ones(2)]),
        r"expected params as a dict of arrays by name",
    ),
}


@pytest.mark.parametrize("make", [SGD, lambda: SGD(momentum=0.9), Adam, AdamW])
@pytest.mark.parametrize("case", MISMATCHES)
def test_grads_that_do_not_match_the_params_are_refused_before_any_update(make, case):
    """(an audit: the whole-buffer updates read a smaller gradient's memory past its
    end: teacher weights turned NaN, Adam wrote leftover memory into them, and a large
    enough case crashed Python)"""
    student, teacher = _student_and_teacher()
    params, grads = MISMATCHES[case][0](student, teacher)
    opt = make()
    before = copy.deepcopy(params)
    with pytest.raises((TypeError, ValueError), match=MISMATCHES[case][1]) as error:
        opt.step(params, grads)
    assert str(error.value).startswith(f"{type(opt).__name__}.step")
    for name in params if isinstance(params, dict) else ():
        np.testing.assert_array_equal(params[name], before[name])


@pytest.mark.parametrize("flat", [False, True])
def test_clip_norm_scales_every_gradient_by_one_factor(flat):
    """‖(3, 0, 4)‖ = 5, clipped to 1: the step of SGD(1) is the gradient / 5; the
    gradients given are left as they are."""
    params = {"a": np.zeros(2), "b": np.zeros(1)}
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([4.0])}
    if flat:
        from layerkit.network import FlatDict

        buffer, gbuffer = np.zeros(3), np.array([3.0, 0.0, 4.0])
        params = FlatDict({"a": buffer[:2], "b": buffer[2:]}, flat=buffer)
        grads = FlatDict({"a": gbuffer[:2], "b": gbuffer[2:]}, flat=gbuffer)
    SGD(learning_rate=1.0, clip_norm=1.0).step(params, grads)
    np.testing.assert_allclose(np.concatenate([params["a"], params["b"]]), [-0.6, 0.0, -0.8])
    np.testing.assert_array_equal(np.concatenate([grads["a"], grads["b"]]), [3.0, 0.0, 4.0])


@pytest.mark.parametrize("make", [Adam, AdamW, lambda **kw: SGD(momentum=0.9, **kw)])
def test_a_clipped_step_is_the_step_on_the_scaled_gradients(make):
    rng = np.random.default_rng(0)
    start = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    grads = [{k: 10 * rng.normal(size=v.shape) for k, v in start.items()} for _ in range(3)]
    clipped, by_hand = make(clip_norm=0.5), make()
    p1, p2 = copy.deepcopy(start), copy.deepcopy(start)
    for g in grads:
        norm = np.sqrt(sum(np.sum(v**2) for v in g.values()))
        clipped.step(p1, g)
        by_hand.step(p2, {k: v * (0.5 / norm) for k, v in g.items()})
    for name in start:
        np.testing.assert_allclose(p1[name], p2[name], rtol=1e-12)


def test_gradients_within_the_limit_are_not_touched():
    rng = np.random.default_rng(1)
    start = {"W": rng.normal(size=(3, 2))}
    g = {"W": rng.normal(size=(3, 2))}
    p1, p2 = copy.deepcopy(start), copy.deepcopy(start)
    Adam(clip_norm=1e6).step(p1, g)
    Adam().step(p2, g)
    np.testing.assert_array_equal(p1["W"], p2["W"])


def test_an_estimator_steps_at_most_lr_times_clip_norm():
    """One batch of all rows, plain SGD: the weights move by exactly η · clip_norm
    when the gradient is larger (the training plan leaves a clipping SGD to its step)."""
    from layerkit import MLPRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5))
    y = 100 * X[:, 0]
    est = MLPRegressor(
        (8,), solver=SGD(0.1, clip_norm=1e-3), batch_size=64, alpha=0.0, random_state=0
    )
    est.partial_fit(X, y)
    before = np.concatenate([p.ravel().copy() for p in est.network_.params.values()])
    est.partial_fit(X, y)
    after = np.concatenate([p.ravel() for p in est.network_.params.values()])
    assert np.linalg.norm(after - before) == pytest.approx(0.1 * 1e-3, rel=1e-9)


@pytest.mark.parametrize("make", [SGD, Adam, AdamW])
def test_clipping_optimizers_pass_check_optimizer(make):
    from layerkit.gradcheck import check_optimizer

    assert check_optimizer(make(clip_norm=0.5)).failed == {}


def test_clip_norm_clips_float32_gradients_whose_squares_overflow():
    """(a review: a finite norm of 2e20, whose float32 square is inf, was not clipped:
    the step was the whole gradient; PyTorch's clip_grad_norm_ zeroes it)"""
    params = {"w": np.zeros(4, np.float32)}
    grads = {"w": np.full(4, 1e20, np.float32)}
    SGD(0.1, clip_norm=1.0).step(params, grads)
    assert np.linalg.norm(params["w"].astype(np.float64)) == pytest.approx(0.1, rel=1e-6)


@pytest.mark.parametrize(
    "momentum", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}],
    ids=["plain", "momentum", "nesterov"],
)  # fmt: skip
@pytest.mark.parametrize("flat", ["flat", "flat-numpy", "per-array"])
@pytest.mark.parametrize("weight_decay", [1e-6, 1e-5])
def test_a_small_weight_decay_keeps_its_effect_in_float32(
    weight_decay, flat, momentum, monkeypatch
):
    """(a review: the flat step took w (1 - ηλ), a factor rounded to float32: with
    ηλ = 1e-8 the decay had no effect at all, with 1e-7 1.14 times its effect).
    flat-numpy: axpy without BLAS, which writes its scratch."""
    import layerkit.optim._blas
    from layerkit import Sequential
    from layerkit.layers import Dense, Identity

    if flat == "flat-numpy":
        monkeypatch.setattr(layerkit.optim._blas, "_FNS", {})
    flat = flat != "per-array"

    G = np.random.default_rng(0).normal(size=(600, 1000)) * 1e-3

    def run(dtype, decay):
        net = Sequential([Dense(1000), Identity()]).build(1, random_state=0, dtype=dtype)
        params, grads = (net.params, net.grads) if flat else (dict(net.params), dict(net.grads))
        opt = SGD(0.01, weight_decay=weight_decay if decay else 0.0, **momentum)
        for g in G:
            grads["0.W"][...] = g
            grads["0.b"][...] = 0
            opt.step(params, grads)
        return params["0.W"].astype(np.float64).ravel()

    reference = run(np.float64, True) - run(np.float64, False)
    got = run(np.float32, True) - run(np.float32, False)
    assert got @ reference / (reference @ reference) == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("blas", [True, False], ids=["blas", "numpy"])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}],
    ids=["plain", "momentum", "nesterov"],
)
def test_sgd_with_weight_decay_steps_a_flat_network_as_it_steps_separate_arrays(
    kwargs, blas, monkeypatch
):
    """Over many steps (state carried), with numpy's BLAS and without it (whose axpy
    writes its scratch buffer)."""
    import layerkit.optim._blas
    from layerkit import Sequential
    from layerkit.layers import Dense

    if not blas:
        monkeypatch.setattr(layerkit.optim._blas, "_FNS", {})
    net = Sequential([Dense(5), Dense(3)]).build(4, random_state=0)
    separate = {k: v.copy() for k, v in net.params.items()}
    flat_opt, opt = SGD(0.1, weight_decay=0.1, **kwargs), SGD(0.1, weight_decay=0.1, **kwargs)
    rng = np.random.default_rng(0)
    for _ in range(20):
        grads = {k: rng.normal(size=v.shape) for k, v in separate.items()}
        for k, g in grads.items():
            net.grads[k][...] = g
        flat_opt.step(net.params, net.grads)
        opt.step(separate, grads)
    for k in separate:
        np.testing.assert_allclose(net.params[k], separate[k], rtol=1e-12, atol=1e-15)
