"""One ``random_state`` becomes one ``np.random.Generator``; numpy's global RNG is never used."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

RandomStateLike = Any  # None | int | np.random.Generator | np.random.RandomState | SeedSequence


def as_generator(random_state: RandomStateLike) -> np.random.Generator:
    """Turn scikit-learn's ``random_state`` conventions into a ``Generator``.

    ``None`` gives fresh entropy, an int a fixed seed; a ``Generator`` is used as is (and
    advanced); a legacy ``RandomState`` is advanced by one draw that seeds a new stream.
    """
    if random_state is None or isinstance(random_state, np.random.SeedSequence):
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
