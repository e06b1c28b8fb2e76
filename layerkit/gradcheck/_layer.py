"""check_layer: a layer's whole contract, its backward proven by finite differences."""

from __future__ import annotations

import copy
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import require_instance
from .._contract import live_arrays, replaced_array
from ..layers.base import Layer
from ._common import check_config_round_trip, check_copies, unchanged
from ._core import (
    GradientCheckError,
    GradientReport,
    Tolerance,
    as_float64,
    compare,
    expect,
    finite_batch,
    float_batch,
    raised_in,
    require_mode,
    require_seed,
    run_checks,
)

Array = Any

#: The width of the default ``x`` where the layer does not fix one.
_DEFAULT_WIDTH = 5


def check_layer(
    layer: Layer,
    x: Any = None,
    *,
    training: bool | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    max_entries: int | None = 64,
    random_state: int = 0,
    checks: Iterable[str] | None = None,
    move_ones_and_zeros: bool = True,
) -> GradientReport:
    """Check a layer against the whole layer contract; prove its backward with eq. 3-1.

    The layer is copied, never modified. The checks marked (both modes) run in
    prediction mode (``training=False``) and in training mode (``training=True``)
    unless ``training`` picks one; a failure names the mode. The checks, each named in
    the report:

    - ``build``: returns a positive width; ``params`` and ``grads`` have the same keys
      and shapes.
    - ``shapes`` (both modes): forward gives ``(m, n_out)``; backward gives the input's
      shape.
    - ``float32`` (both modes): built in float32, parameters, outputs, deltas and grads
      stay float32, and equal those of the same parameters in float64 up to float32's
      rounding (1e-3 of each value plus 1e-3 of its array's largest, plus 1e-4 of the
      largest output, ∂C/∂x or δ, what a cancellation leaves; not in training mode for
      a layer that draws random numbers there, as Dropout).
    - ``deterministic``: two builds with generators of the same seed give the same
      parameters; ``forward(x, training=False)`` twice gives the same output; in
      training mode, two copies of the layer give the same output (randomness drawn
      from the generator ``build`` received, never from ``np.random``).
    - ``rows_independent``: in prediction mode each row's output is the same whatever
      rows come with it (``forward(x)[i]`` equals ``forward(x[i:i+1])``): prediction
      works in chunks of rows, and batch statistics belong to training mode only.
    - ``input_not_mutated`` (both modes): forward leaves ``x`` as given, and backward
      leaves both ``delta`` and the ``x`` forward was given (with parameters moved as
      for the gradient check: ``delta *= g`` changes nothing at a gain of ones).
    - ``gradient`` (both modes): ``backward`` equals central differences (float64) for
      ∂C/∂x and every parameter, with ``C = Σ r ⊙ forward(x)`` (``r`` random): at most
      ``max_entries`` random entries per array one by one (``None``: all), and for a
      larger array all entries at once along a random direction, its disagreements
      traced to single entries by halving the direction and checked one by one too (a
      note says when kinks made that too many to trace). Parameter entries equal
      to 1 are first moved into [0.5, 0.9] and those equal to 0 into [0.05, 0.15] (see
      ``move_ones_and_zeros``). Dropout masks are held fixed. The report keeps each
      array's worse mode.
    - ``grads_overwritten`` (both modes): ``params`` and ``grads`` keep the arrays built
      (written in place, never replaced), and a second backward with the same delta
      gives the same ``grads`` (they are overwritten, never accumulated).
    - ``copies``: deepcopy and pickle round trips give the same output.
    - ``config``: registered; ``get_config`` is JSON and ``from_config`` inverts it.
    - ``save_load``: after one training-mode forward pass (which moves any state, such
      as running statistics), ``layerkit.save``/``layerkit.load`` of a network holding
      it give the same output, in prediction mode and in a training-mode pass (the
      same dropout masks: training resumes exactly).

    Parameters
    ----------
    layer : Layer
        The layer to check (built or not).
    x : array of shape (m, n_in), optional (dense)
        Where to check; by default a random batch of 4 rows, as wide as the input the
        layer was built for (``build`` records it, however it is called), or 5 wide for
        a layer not built.
    training : bool or None
        Check only the training-mode pass (True) or only the prediction-mode pass
        (False); both by default.
    eps : float
        The step ε of the central differences of eq. 3-1 (taken in float64).
    rtol, atol : float
        An entry passes when ``|analytic - numeric| <= atol + rtol * max(|analytic|,
        |numeric|)``.
    max_entries : int or None
        At most this many randomly chosen entries of each array are checked one by one
        (None: all); the others, together along a random direction.
    random_state : int
        Seeds the default ``x``, the random cost weights ``r`` and the checked entries.
    checks : iterable of str, optional
        Run only these checks (by name); all by default.
    move_ones_and_zeros : bool
        Before the gradient check, move parameter entries equal to 1 into [0.5, 0.9] and
        those equal to 0 into [0.05, 0.15]: at a scale initialized to ones, a backward
        that leaves the scale out is right, and at a shift of zeros, one that leaves the
        shift out. (Both stay positive, and below 1.) False checks at the parameters as
        they are.

    Returns
    -------
    GradientReport
        Every check's result and the worst relative error per gradient array.

    Raises
    ------
    GradientCheckError
        Naming every failed check and why (for gradients: the array, the worst entry,
        both values and the relative error).

    Examples
    --------
    >>> from layerkit.gradcheck import check_layer
    >>> from layerkit.layers import Dense
    >>> report = check_layer(Dense(3))
    >>> sorted(report.errors)
    ['W', 'b', 'input']
    >>> report.worst_error < 1e-6, report.failed
    (True, {})
    """
    require_instance(layer, Layer, "the layer given to check_layer")
    tol = Tolerance(eps, rtol, atol, max_entries, where="check_layer")
    require_seed(random_state, "check_layer")
    require_mode(training, "check_layer", both=True)
    rng = np.random.default_rng(random_state)
    drawn = x is None
    if x is None:
        x = rng.normal(size=(4, layer.__dict__.get("_n_in") or _DEFAULT_WIDTH))
    if hasattr(x, "tocsr"):
        raise TypeError(
            f"check_layer takes x as a dense array (x.toarray()), got a sparse "
            f"{type(x).__name__}: the finite differences of eq. 3-1 move every entry of x, "
            "stored or not (check_network checks a first Dense layer on sparse x)"
        )
    x = float_batch(x, "x", "check_layer")
    if x.ndim != 2:
        raise ValueError(f"check_layer expected x of shape (m, n_in), got {x.shape}")
    finite_batch(x, "x", "check_layer")
    n_in = layer.__dict__.get("_n_in")
    if n_in is not None and layer.params and x.shape[1] != n_in:  # (checked as built)
        raise ValueError(
            f"check_layer: x has {x.shape[1]} columns, but {layer!r} was built for {n_in} "
            f"inputs; give x of shape (m, {n_in}), or check an unbuilt copy of the layer"
        )
    report = GradientReport(repr(layer))
    if x.shape[0] == 1:
        report.notes.append(
            "x has one row: a parameter gradient averaged over the batch instead of "
            "summed (eqs. 3-III, 3-IV sum over rows; the loss divides by m) looks right, "
            "and rows_independent compares nothing; check with several rows too"
        )

    def built(dtype: Any) -> Layer:
        if dtype == np.float64:
            twin = as_float64(layer)
            if twin.params:
                return twin
        else:
            twin = copy.deepcopy(layer)
        n_out = twin.build(x.shape[1], np.random.default_rng(random_state), dtype)
        expect(
            isinstance(n_out, (int, np.integer)) and n_out >= 1,
            f"build() must return the output width as a positive int, got {n_out!r}",
        )
        twin.__dict__["_n_out"] = int(n_out)
        return twin

    def check_build() -> None:
        twin = built(np.float64)
        expect(
            isinstance(twin.params, dict) and isinstance(twin.grads, dict),
            "params and grads must be dicts",
        )
        expect(
            set(twin.params) == set(twin.grads),
            f"grads keys {sorted(twin.grads)} do not match params keys {sorted(twin.params)}",
        )
        for k, p in twin.params.items():
            g = twin.grads[k]
            for kind, a in (("params", p), ("grads", g)):
                expect(
                    isinstance(a, np.ndarray),
                    f"{kind}[{k!r}] is a {type(a).__name__}; build() must make numpy arrays "
                    "(np.zeros(shape, dtype=dtype))",
                )
            expect(
                np.shape(g) == np.shape(p),
                f"grads[{k!r}] has shape {np.shape(g)}, params[{k!r}] has {np.shape(p)}",
            )

    modes = [False, True] if training is None else [bool(training)]

    def in_each_mode(check: Any) -> Any:
        """Run ``check(mode)`` in every mode checked; a failure names its mode."""

        def run() -> None:
            for mode in modes:
                try:
                    check(mode)
                except Exception as err:
                    if len(modes) == 1:
                        raise
                    reason = str(err)
                    if not isinstance(err, GradientCheckError):
                        reason = f"raised {type(err).__name__}{raised_in(err)}: {err}"
                    where = "training" if mode else "prediction"
                    raise GradientCheckError(f"in {where} mode: {reason}") from err

        return run

    def check_shapes(training: bool) -> None:
        twin = built(np.float64)
        out = twin.forward(x.copy(), training)
        expect(
            out is not None and np.ndim(out) == 2 and np.shape(out)[0] == x.shape[0],
            f"forward must return an (m, n_out) array for x of shape {x.shape}, got "
            f"{None if out is None else np.shape(out)}",
        )
        width = twin.__dict__.get("_n_out")
        expect(
            width is None or np.shape(out)[1] == width,
            f"forward returned {np.shape(out)[1]} columns, but build() returned the "
            f"output width {width}",
        )
        expect(
            np.asarray(out).dtype == np.float64,
            f"forward turns float64 input into {np.asarray(out).dtype}: in a float64 "
            "network every layer computes in float64 (the gradient check, in float64, "
            "would blame the rounding on backward)",
        )
        dx = twin.backward(np.ones_like(out))
        expect(
            dx is not None and np.shape(dx) == x.shape,
            f"backward must return ∂C/∂x of the input's shape {x.shape}, got "
            f"{None if dx is None else np.shape(dx)}",
        )
        expect(
            np.asarray(dx).dtype == np.float64,
            f"backward turns a float64 delta into {np.asarray(dx).dtype}",
        )

    def check_float32(training: bool) -> None:
        twin = built(np.float32)
        for k, p in twin.params.items():
            expect(p.dtype == np.float32, f"params[{k!r}] is {p.dtype} in a float32 build")
        wide = as_float64(twin)  # the same parameters, in float64
        x32 = x.astype(np.float32)
        # (a copy: a forward that modifies its input fails input_not_mutated, not this)
        out = np.asarray(twin.forward(x32.copy(), training))
        expect(out.dtype == np.float32, f"forward turns float32 input into {out.dtype}")
        delta = _cost_weights(random_state + 4, out.shape, x)
        dx = twin.backward(delta.astype(np.float32))
        expect(dx is not None, "backward returned None for a float32 delta, not ∂C/∂x")
        dx = np.asarray(dx)
        expect(dx.dtype == np.float32, f"backward turns a float32 delta into {dx.dtype}")
        for k, g in twin.grads.items():
            expect(np.asarray(g).dtype == np.float32, f"grads[{k!r}] is {np.asarray(g).dtype}")
        if training and _draws_in_training(layer, x, random_state):
            return  # (its float32 draws are other numbers than its float64 ones)
        # the values: float32's against the same parameters' in float64 (the gradient
        # check runs in float64 only, and float32 data trains in float32)
        out64 = np.asarray(wide.forward(x32.astype(np.float64), training))
        dx64 = np.asarray(wide.backward(delta.astype(np.float32).astype(np.float64)))
        pairs = [("forward's output", out, out64), ("backward's ∂C/∂x", dx, dx64)]
        pairs += [(f"grads[{k!r}]", np.asarray(g), wide.grads[k]) for k, g in twin.grads.items()]
        # (1e-4 of the largest output, ∂C/∂x or δ: what float32 leaves of a cancellation,
        # a result of exact arithmetic 0 or tiny against the terms it came from; not of
        # the parameter gradients, which sum over rows and can dwarf the rest)
        floor = 1e-4 * max(float(np.abs(a).max(initial=0.0)) for a in (out64, dx64, delta))
        for what, narrow, exact in pairs:
            where = _float32_disagrees(narrow, exact, floor)
            expect(
                where is None,
                f"in float32, {what} differs from float64's {where}: the float32 path "
                "computes something else than the float64 one (a branch on the dtype?), "
                "by more than float32's rounding; float32 data trains in float32",
            )

    def check_deterministic() -> None:
        one_build, other_build = (copy.deepcopy(layer) for _ in range(2))
        for twin in (one_build, other_build):
            twin.build(x.shape[1], np.random.default_rng(random_state), np.float64)
        for k, p in one_build.params.items():
            expect(
                unchanged(np.asarray(p), np.asarray(other_build.params.get(k))),
                f"two builds with generators of the same seed gave different params[{k!r}]: "
                "draw initial values from the generator build() is given, never from "
                "np.random, so that random_state reproduces a fit",
            )
        twin = built(np.float64)
        first = np.array(twin.forward(x.copy(), False))
        second = np.array(twin.forward(x.copy(), False))
        expect(unchanged(first, second), "forward(x, training=False) gave two different outputs")
        if True in modes:
            one = np.array(copy.deepcopy(twin).forward(x.copy(), True))
            other = np.array(copy.deepcopy(twin).forward(x.copy(), True))
            expect(
                unchanged(one, other),
                "two copies of the layer gave different outputs in training mode: draw "
                "random numbers from the generator build() was given (keep it, e.g. as "
                "self.rng), never from np.random, so training is reproducible with "
                "random_state and the gradient check can hold the noise fixed",
            )

    def check_rows_independent() -> None:
        twin = built(np.float64)
        whole = np.asarray(twin.forward(x.copy(), False))
        # a product of one row and of a batch may round differently: allow for that,
        # in proportion to the largest input or output (not to an output near 0)
        size = max(float(np.abs(x).max(initial=0.0)), float(np.abs(whole).max(initial=0.0)))
        for i in range(x.shape[0]):
            row = np.asarray(twin.forward(x[i : i + 1].copy(), False))
            expect(
                np.allclose(row, whole[i : i + 1], rtol=1e-9, atol=1e-10 * max(size, 1.0)),
                f"in prediction mode, row {i}'s output alone differs from its output in "
                f"the batch of {x.shape[0]} rows (largest difference "
                f"{np.max(np.abs(row - whole[i : i + 1])):.3g}): predictions would depend "
                "on which rows are predicted together (predict works in chunks); use "
                "batch statistics in training mode only, running statistics in prediction",
            )

    def check_input_not_mutated(training: bool) -> None:
        twin = built(np.float64)
        if move_ones_and_zeros:  # (at a gain of ones, `delta *= g` changes nothing)
            _move_ones_and_zeros(twin, random_state + 3)
        given = x.copy()
        out = twin.forward(given, training)
        expect(unchanged(given, x), "forward modified its input x")
        delta = rng.normal(size=np.shape(out))
        kept = delta.copy()
        twin.backward(delta)
        expect(unchanged(delta, kept), "backward modified the delta it was given")
        expect(
            unchanged(given, x),
            "backward modified the input x that forward was given (kept for the backward "
            "pass, it is still the caller's: the previous layer's output, which its own "
            "backward reads; compute into a new array instead)",
        )

    def check_gradient(training: bool) -> None:
        base = built(np.float64)
        moved = _move_ones_and_zeros(base, random_state + 3) if move_ones_and_zeros else 0
        probe = copy.deepcopy(base)  # fresh copies share dropout masks (same rng state)
        out = np.asarray(probe.forward(x.copy(), training))
        r = _cost_weights(random_state, out.shape, x)
        dx = probe.backward(r.copy())

        def cost() -> Any:  # the terms of C = Σ r ⊙ forward(x), differenced one by one
            return r * copy.deepcopy(base).forward(x.copy(), training)

        found = GradientReport(report.subject)
        wrong = []  # (every array: a wrong ∂C/∂x does not hide a wrong parameter gradient)
        moved_matters = False
        for name, analytic, value in [
            ("input", dx, x),
            *((k, probe.grads[k], v) for k, v in base.params.items()),
        ]:
            try:
                compare(found, name, analytic, cost, value, tol, rng, rows=_rows(x))
            except GradientCheckError as err:
                wrong.append(str(err))
                # (moved parameters explain values, not a missing or misshapen array)
                if analytic is not None and np.shape(analytic) == np.shape(value):
                    moved_matters = True
        note = (
            f" (the values are at parameters moved first: {moved} entries equal to 1 or "
            "0 went into [0.5, 0.9] and [0.05, 0.15], where a missing factor or term "
            "shows; move_ones_and_zeros=False checks at the layer's own values)"
            if moved and moved_matters
            else ""
        )
        if len(wrong) == 1:
            raise GradientCheckError(wrong[0] + note)
        if wrong:
            raise GradientCheckError(
                f"{len(wrong)} gradient arrays are wrong{note}:\n"
                + "\n".join(f"  - {w}" for w in wrong)
            )
        for entry in found.entries:  # each array's worse mode
            held = next((e for e in report.entries if e.name == entry.name), None)
            if held is None:
                report.entries.append(entry)
            elif entry.worst_error > held.worst_error:
                report.entries[report.entries.index(held)] = entry
        where = "training" if training else "prediction"
        report.notes.extend(f"in {where} mode: {note}" for note in found.notes)

    def check_grads_overwritten(training: bool) -> None:
        twin = built(np.float64)
        held = live_arrays(twin)
        out = twin.forward(x.copy(), training)
        delta = _cost_weights(random_state + 2, np.shape(out), x)
        twin.backward(delta.copy())
        which = replaced_array(twin, held)
        expect(
            which is None,
            f"forward/backward replaced {which} by a new array: write into the one built "
            f"({which}[...] = ...); optimizers update that array, so a replaced one is "
            "never trained",
        )
        first = {k: np.array(g, copy=True) for k, g in twin.grads.items()}
        twin.backward(delta.copy())
        for k, g in twin.grads.items():
            expect(
                unchanged(first[k], g),
                f"a second backward with the same delta changed "
                f"grads[{k!r}]: backward must overwrite grads (grads[k][...] = ...), not "
                "accumulate into them (grads[k] += ...), and must leave what forward kept "
                "for it (such as x) unchanged",
            )

    def same_output(a: Layer, b: Layer) -> str | None:
        ya = np.asarray(copy.deepcopy(a).forward(x.copy(), False))
        yb = np.asarray(copy.deepcopy(b).forward(x.copy(), False))
        return None if unchanged(ya, yb) else "forward output differs"

    def check_copies_() -> None:
        check_copies(built(np.float64), same_output)
        fresh = copy.deepcopy(layer)
        before = copy.deepcopy(layer.params)
        fresh.build(x.shape[1], np.random.default_rng(random_state), np.float64)
        expect(
            all(unchanged(before[k], layer.params[k]) for k in before)
            and set(before) == set(layer.params),
            "building a deep copy changed the original layer",
        )

    def check_save_load() -> None:
        from ..io import load, save
        from ..io._state import LOAD_SEED
        from ..network import Sequential

        # built with another seed than load's, so an array drawn in build and not saved
        # cannot come back equal by chance
        seed = random_state if random_state != LOAD_SEED else LOAD_SEED + 1
        net = Sequential([copy.deepcopy(layer)]).build(x.shape[1], random_state=seed)
        net.forward(x, training=True)  # (a training pass moves any state: running means)
        with tempfile.TemporaryDirectory() as tmp:
            again = load(save(net, Path(tmp) / "layer.lkm"))
        expect(
            unchanged(net.forward(x), again.forward(x)),
            "a saved and loaded copy computes a different output after a training "
            "pass: a model file keeps params and the float arrays named in "
            "state_attributes, and load builds the layer again with a seed of its own; "
            "name there the layer's state (running statistics) and any array build "
            "draws that is not a parameter (a fixed random projection)",
        )
        expect(  # (a training pass draws from the generators the file keeps: dropout)
            unchanged(net.forward(x, training=True), again.forward(x, training=True)),
            "a saved and loaded copy computes a different output in training mode: "
            "training would not resume as it left off; a model file keeps the random "
            "generators (np.random.Generator) the layer holds, and those of layers "
            "inside it (in attributes, lists and dicts): draw from one of them",
        )

    named = [
        ("build", check_build),
        ("shapes", in_each_mode(check_shapes)),
        ("float32", in_each_mode(check_float32)),
        ("deterministic", check_deterministic),
        ("rows_independent", check_rows_independent),
        ("input_not_mutated", in_each_mode(check_input_not_mutated)),
        ("gradient", in_each_mode(check_gradient)),
        ("grads_overwritten", in_each_mode(check_grads_overwritten)),
        ("copies", check_copies_),
        ("config", lambda: check_config_round_trip(layer)),
        ("save_load", check_save_load),
    ]
    try:
        return run_checks(report, named, checks)
    except GradientCheckError as err:
        crashed = [  # (an unregistered class is no matter of x)
            n
            for n, why in report.failed.items()
            if _RAISED.match(why) and "raised UnnamedClassError" not in why
        ]
        if not drawn or not crashed:
            raise
        raise GradientCheckError(  # (each check crashing on it says the same)
            f"{err}\n- note: {len(crashed)} check(s) raised on x drawn at random, "
            f"{x.shape[0]} rows of normal values {x.shape[1]} wide: if the layer takes "
            "inputs of another kind (integer indices, positive values), pass x=, a "
            "batch where it is defined",
            report,
        ) from err.__cause__


#: A check's failure that is an exception it raised ("in training mode: raised ...").
_RAISED = re.compile(r"(in \w+ mode: )?raised ")


def _cost_weights(seed: int, shape: Any, x: Array) -> Array:
    """Normal draws for the δ a check passes backward (the weights r of the cost
    C = Σ r ⊙ forward(x)), from a stream no integer seed gives (a SeedSequence of two
    numbers): had r been the user's x (drawn with ``default_rng(random_state + 1)``), a
    backward using x where δ belongs passed the gradient check. Drawn again in the
    unlikely case they still coincide."""
    r = np.random.default_rng([seed, 0x6C6B]).normal(size=shape)
    if np.shape(x) == r.shape and np.allclose(np.abs(r), np.abs(x)):
        r = np.random.default_rng([seed, 0x6C6B, 1]).normal(size=shape)
    return r


def _float32_disagrees(narrow: Array, exact: Array, floor: float) -> str | None:
    """Where a float32 result is farther from its float64 twin than float32's rounding
    explains (1e-3 of the value, plus 1e-3 of the array's largest value, plus
    ``floor``, for results that are rounding only: a bias gradient before a BatchNorm,
    0 in exact arithmetic), or None."""
    narrow, exact = np.asarray(narrow, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    if narrow.shape != exact.shape:
        return f"shape {narrow.shape} against {exact.shape}"
    with np.errstate(invalid="ignore", over="ignore"):
        scale = float(np.abs(exact).max(initial=0.0))
        off = np.abs(narrow - exact) > 1e-3 * (np.abs(exact) + scale) + floor
        off |= np.isfinite(narrow) != np.isfinite(exact)
    if not off.any():
        return None
    i = np.unravel_index(int(np.argmax(off)), off.shape)
    at = [int(j) for j in i]
    return f"at {at}, {narrow[i]:.6g} against {exact[i]:.6g} ({int(off.sum())} of {off.size})"


def _draws_in_training(layer: Layer, x: Array, seed: int) -> bool:
    """Whether the layer's training-mode output depends on its generators (Dropout):
    one build, and a copy of it whose generators are replaced by other ones."""
    from ..io._state import generators_of, put_generator

    one = copy.deepcopy(layer)
    one.build(x.shape[1], np.random.default_rng(seed), np.float64)
    other = copy.deepcopy(one)
    paths = [path for path, _ in generators_of(other)]
    if not paths:
        return False
    for i, path in enumerate(paths):
        put_generator(other, path, np.random.default_rng([seed, i, 7]))
    first = np.asarray(one.forward(x.copy(), True))
    return not unchanged(first, np.asarray(other.forward(x.copy(), True)))


def _move_ones_and_zeros(layer: Layer, seed: int) -> int:
    """Move the (writable, float) parameter entries of ``layer`` equal to 1 into
    [0.5, 0.9] and those equal to 0 into [0.05, 0.15], in place: initial values at which
    a missing factor (a scale of ones) or term (a shift of zeros) changes nothing. The
    moved entries stay positive and below 1, inside the range of most parameters.
    Returns how many entries moved."""
    rng = np.random.default_rng(seed)
    moved = 0
    for p in layer.params.values():
        if isinstance(p, np.ndarray) and p.dtype.kind == "f" and p.flags.writeable:
            for value, low, high in ((1.0, 0.5, 0.9), (0.0, 0.05, 0.15)):
                at = p == value
                count = int(at.sum())
                p[at] = rng.uniform(low, high, size=count)
                moved += count
    return moved


def _rows(x: Any) -> int | None:
    """The batch's rows: what a parameter's gradient sums over (2-d input)."""
    return int(x.shape[0]) if np.ndim(x) == 2 else None
