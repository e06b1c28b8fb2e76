"""One ``random_state`` becomes one ``np.random.Generator``."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

RandomStateLike = Any  # None | int | np.random.Generator | np.random.RandomState | SeedSequence


def as_generator(random_state: RandomStateLike) -> np.random.Generator:
    """Turn scikit-learn's ``random_state`` conventions into a ``Generator``.

    ``None`` means numpy's global ``RandomState``, as in scikit-learn's
    ``check_random_state``: one draw from it seeds a new stream, so ``np.random.seed``
    makes a script's runs repeat; an int is a fixed seed; a ``Generator`` is used as is
    (and advanced); a legacy ``RandomState`` is advanced by one draw that seeds a new
    stream.
    """
    if random_state is None:
        random_state = np.random.mtrand._rand  # (the global one np.random.seed seeds)
    if isinstance(random_state, np.random.SeedSequence):
        return np.random.default_rng(random_state)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}")
        return np.random.default_rng(int(random_state))
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(int(random_state.randint(2**31 - 1)))
    raise TypeError(
        "random_state must be None, an int, a numpy Generator or RandomState, got "
        f"{type(random_state).__name__}"
    )


def spawn(rng: np.random.Generator, n: int) -> list[np.random.Generator]:
    """``n`` independent child generators of ``rng``."""
    return list(rng.spawn(n))
