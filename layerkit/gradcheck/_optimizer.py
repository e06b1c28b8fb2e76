"""check_optimizer: an optimizer's contract on a problem with a known minimum."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._checks import require_instance
from ..optim.base import Optimizer
from ._common import check_config_round_trip, check_copies, unchanged
from ._core import GradientReport, expect, require_seed, run_checks


def check_optimizer(
    optimizer: Optimizer,
    *,
    n_steps: int = 50,
    random_state: int = 0,
    checks: Iterable[str] | None = None,
) -> GradientReport:
    """Check an optimizer against the optimizer contract.

    It minimizes ``f(w) = ½ Σ ‖w - w*‖²`` over two named parameters (a matrix and a
    vector). The checks, each named in the report:

    - ``in_place``: ``step`` updates the given arrays themselves and leaves the
      gradients as given.
    - ``float32``: float32 parameters and state arrays stay float32.
    - ``state_keys``: every per-parameter state dict is keyed by parameter names, and
      the state is what a model file holds (dicts of arrays by parameter name, plain
      values otherwise), as ``layerkit.save`` writes it.
    - ``descent``: ``n_steps`` steps from a fresh copy lower f, and each parameter's
      steps depend on its own gradient (opposite gradients, different steps).
    - ``schedule``: the step honours ``current_learning_rate`` (what the estimators'
      schedules, ``'invscaling'`` and ``'adaptive'``, set): setting it to half the rate
      changes the step, both from a fresh state and after a few steps, and makes the
      first step shorter. An optimizer without ``learning_rate`` passes; one whose rate
      is deliberately only a starting step (as Rprop's) should leave it out of
      ``checks``.
    - ``deterministic``: two copies given the same gradients make the same steps.
    - ``reused_gradients``: steps with the gradients refilled in the same arrays, as
      training refills them, equal steps given new arrays (an optimizer keeping
      ``prev = g`` instead of a copy sees the current gradient as the previous one).
    - ``flat_path``: steps on a flattened network's parameters (views of one buffer,
      ``params.flat``, which built-in optimizers update in one pass) equal steps on
      separate arrays, and follow ``current_learning_rate`` there too (when the
      ``schedule`` check runs).
    - ``state_round_trip``: an optimizer rebuilt from its config, given a copy of the
      state, continues exactly as the original (what ``layerkit.load`` relies on).
    - ``copies``, ``config``: deepcopy/pickle keep it working; the config round-trips.

    Parameters
    ----------
    optimizer : Optimizer
    n_steps : int
        Steps of the ``descent`` check.
    random_state : int
        Seeds the test problem: its minimum and the starting point.
    checks : iterable of str, optional
        Run only these checks (by name); all by default.

    Returns
    -------
    GradientReport

    Raises
    ------
    GradientCheckError
        Naming every failed check and why.

    Examples
    --------
    >>> from layerkit.gradcheck import check_optimizer
    >>> from layerkit.optim import SGD
    >>> check_optimizer(SGD(learning_rate=0.1, momentum=0.9)).failed
    {}
    """
    require_instance(optimizer, Optimizer, "the optimizer given to check_optimizer")
    if checks is not None:  # (read twice: by the flat_path check, then by run_checks)
        checks = [checks] if isinstance(checks, str) else list(checks)
    require_seed(random_state, "check_optimizer")
    rng = np.random.default_rng(random_state)
    target = {"0.W": rng.normal(size=(4, 3)), "0.b": rng.normal(size=3)}
    start = {k: v + rng.normal(size=v.shape) for k, v in target.items()}
    report = GradientReport(repr(optimizer))

    def grads_of(params: dict[str, Any]) -> dict[str, Any]:
        return {k: (p - target[k]).astype(p.dtype) for k, p in params.items()}

    def f(params: dict[str, Any]) -> float:
        return 0.5 * sum(float(np.sum((p - target[k]) ** 2)) for k, p in params.items())

    def run(
        opt: Optimizer, params: dict[str, Any], steps: int, grads: Any = None
    ) -> dict[str, Any]:
        """``steps`` steps, the gradients refilled in the same arrays each time, as
        training does (in ``grads`` if given), unless ``grads`` is ``"new"``."""
        new = grads == "new"
        if grads is None or new:
            grads = {k: np.empty_like(p) for k, p in params.items()}
        for _ in range(steps):
            if new:
                grads = {k: np.empty_like(p) for k, p in params.items()}
            for k, p in params.items():
                np.subtract(p, target[k], out=grads[k], casting="same_kind")
            opt.step(params, grads)
        return params

    def flat_pair(dtype: Any = np.float64) -> tuple[Any, Any]:
        """Parameters and gradients as a flattened network gives them: views of one
        buffer each, the buffer as ``.flat`` (the one-pass path optimizers may take)."""
        from ..network import FlatDict

        start_params = fresh(dtype)
        size = sum(v.size for v in start_params.values())
        buffers = np.empty(size, dtype), np.zeros(size, dtype)
        views: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
        offset = 0
        for k, v in start_params.items():
            for buffer, into in zip(buffers, views, strict=True):
                into[k] = buffer[offset : offset + v.size].reshape(v.shape)
            views[0][k][...] = v
            offset += v.size
        return FlatDict(views[0], flat=buffers[0]), FlatDict(views[1], flat=buffers[1])

    def fresh(dtype: Any = np.float64) -> dict[str, Any]:
        return {k: v.astype(dtype) for k, v in start.items()}

    def check_in_place() -> None:
        opt, params = copy.deepcopy(optimizer), fresh()
        arrays = dict(params)
        grads = grads_of(params)
        kept = {k: g.copy() for k, g in grads.items()}
        opt.step(params, grads)
        expect(
            all(params[k] is arrays[k] for k in params),
            "step replaced a parameter array instead of updating it in place",
        )
        expect(any(not unchanged(params[k], start[k]) for k in params), "step changed nothing")
        expect(all(unchanged(grads[k], kept[k]) for k in grads), "step modified the gradients")

    def check_float32() -> None:
        opt, params = copy.deepcopy(optimizer), run(copy.deepcopy(optimizer), fresh(np.float32), 0)
        run(opt, params, 3)
        for k, p in params.items():
            expect(p.dtype == np.float32, f"parameter {k!r} became {p.dtype}")
        for key, slot in opt.state.items():
            if isinstance(slot, dict):
                for k, arr in slot.items():
                    expect(
                        np.asarray(arr).dtype == np.float32,
                        f"state[{key!r}][{k!r}] is {np.asarray(arr).dtype} for float32 parameters",
                    )

    def check_state_keys() -> None:
        from ..io._state import optimizer_state  # (the model file's own encoding)

        opt = copy.deepcopy(optimizer)
        run(opt, fresh(), 2)
        for key, slot in opt.state.items():
            if isinstance(slot, dict):
                expect(
                    set(slot) <= set(start),
                    f"state[{key!r}] is keyed {sorted(slot)}, not "
                    f"by parameter names {sorted(start)}",
                )
        try:
            optimizer_state(opt, set(start))
        except (TypeError, ValueError) as err:
            expect(False, f"the state cannot be saved in a model file: {err}")

    def check_descent() -> None:
        before = f(fresh())
        final = run(copy.deepcopy(optimizer), fresh(), n_steps)
        after = f(final)
        expect(
            after < before, f"{n_steps} steps on ½‖w - w*‖² went from {before:.4g} to {after:.4g}"
        )
        for k in start:  # (the cost fell with one parameter's gradient ignored, too)
            moved = []
            for sign in (1.0, -1.0):  # that gradient, then its opposite, the rest the same
                params, opt = fresh(), copy.deepcopy(optimizer)
                for _ in range(3):  # (a few steps: a warm-up may make the first one 0)
                    grads = grads_of(params)
                    grads[k] = sign * grads[k]
                    opt.step(params, grads)
                moved.append(params[k])
            expect(
                not unchanged(moved[0], moved[1]),
                f"parameter {k!r} took the same 3 steps for its gradient and the opposite "
                "one: step() must update every parameter by its own gradient",
            )

    def check_deterministic() -> None:
        a = run(copy.deepcopy(optimizer), fresh(), 5)
        b = run(copy.deepcopy(optimizer), fresh(), 5)
        expect(all(unchanged(a[k], b[k]) for k in a), "two copies made different steps")

    def check_state_round_trip() -> None:
        opt, params = copy.deepcopy(optimizer), fresh()
        run(opt, params, 3)
        twin = type(optimizer).from_config(optimizer.get_config())
        twin.state = copy.deepcopy(opt.state)
        p1, p2 = run(opt, {k: v.copy() for k, v in params.items()}, 3), run(twin, params, 3)
        expect(
            all(unchanged(p1[k], p2[k]) for k in p1),
            "an optimizer rebuilt from its config and given the saved state steps differently",
        )

    def check_schedule() -> None:
        if not hasattr(optimizer, "learning_rate"):
            return  # no global rate (AdaDelta, say): nothing a schedule could set
        # a fixed gradient, not one of the current point (a step may land on w*)
        draw = np.random.default_rng(random_state + 1)
        g = {k: draw.normal(size=v.shape) for k, v in start.items()}
        for warm in (0, 3):  # from a fresh state, and after some steps (a cached rate)
            opt, params = copy.deepcopy(optimizer), fresh()
            run(opt, params, warm)
            rate = opt.current_learning_rate
            moves = []
            for scale in (1.0, 0.5):
                twin, p = copy.deepcopy(opt), {k: v.copy() for k, v in params.items()}
                twin.current_learning_rate = rate * scale
                twin.step(p, {k: v.copy() for k, v in g.items()})
                moves.append(np.concatenate([(p[k] - params[k]).ravel() for k in p]))
            full, half = moves
            after = f" after {warm} steps" if warm else ""
            expect(
                not unchanged(full, half),
                f"setting current_learning_rate to {rate / 2:g} (from {rate:g}){after} did not "
                "change the step: step() must use self.current_learning_rate, not "
                "self.learning_rate; the estimators' learning-rate schedules ('invscaling', "
                "'adaptive') set it, and are silently ignored otherwise",
            )
            if not warm:
                long, short = float(np.linalg.norm(full)), float(np.linalg.norm(half))
                expect(
                    short < long,
                    f"halving current_learning_rate did not shorten the first step (of "
                    f"length {long:.6g} at {rate:g}, {short:.6g} at {rate / 2:g}): a "
                    "smaller rate must give a smaller step",
                )

    def check_reused_gradients() -> None:
        a = run(copy.deepcopy(optimizer), fresh(), 5)
        b = run(copy.deepcopy(optimizer), fresh(), 5, grads="new")
        expect(
            all(unchanged(a[k], b[k]) for k in a),
            "5 steps differ when the gradients are refilled in the same arrays at every "
            "step, as training refills them, from 5 steps given new arrays: step() keeps a "
            "gradient array itself for a later step (prev = g), which the next batch then "
            "overwrites; keep a copy (prev = g.copy())",
        )

    def check_flat_path() -> None:
        plain = run(copy.deepcopy(optimizer), fresh(), 5)
        params, grads = flat_pair()
        opt = copy.deepcopy(optimizer)
        run(opt, params, 5, grads)
        expect(
            all(np.allclose(params[k], plain[k], rtol=1e-9, atol=1e-12) for k in plain),
            "5 steps on a flattened network's parameters (views of one buffer, params.flat, "
            "as training gives them) differ from 5 steps on separate arrays: the one-pass "
            "branch of step() computes another update",
        )
        schedule = checks is None or "schedule" in checks
        if schedule and hasattr(optimizer, "learning_rate"):
            moved = []
            for scale in (1.0, 0.5):
                twin = copy.deepcopy(opt)
                twin.current_learning_rate = opt.current_learning_rate * scale
                p, g = flat_pair()
                for k in p:
                    p[k][...] = params[k]
                twin_params = run(twin, p, 1, g)
                moved.append(np.concatenate([twin_params[k].ravel() for k in twin_params]))
            expect(
                not unchanged(moved[0], moved[1]),
                "setting current_learning_rate did not change the step on a flattened "
                "network's parameters (params.flat): the one-pass branch of step() must use "
                "self.current_learning_rate too, or the estimators' schedules are ignored",
            )

    def same_steps(p: Optimizer, q: Optimizer) -> str | None:
        a, b = run(copy.deepcopy(p), fresh(), 3), run(copy.deepcopy(q), fresh(), 3)
        return None if all(unchanged(a[k], b[k]) for k in a) else "steps differ"

    named = [
        ("in_place", check_in_place),
        ("float32", check_float32),
        ("state_keys", check_state_keys),
        ("descent", check_descent),
        ("schedule", check_schedule),
        ("deterministic", check_deterministic),
        ("reused_gradients", check_reused_gradients),
        ("flat_path", check_flat_path),
        ("state_round_trip", check_state_round_trip),
        ("copies", lambda: check_copies(optimizer, same_steps)),
        ("config", lambda: check_config_round_trip(optimizer)),
    ]
    return run_checks(report, named, checks)
