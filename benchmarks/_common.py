"""Shared pieces of the benchmarks: workloads, timing, tables (not part of the package)."""

from __future__ import annotations

import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

WORKLOADS = {
    # name: (n, layer sizes, batch size, dtype)
    "W1": (20_000, (784, 256, 128, 10), 128, np.float32),
    "W1-float64": (20_000, (784, 256, 128, 10), 128, np.float64),
    "W2": (50_000, (20, 64, 64, 2), 32, np.float32),
    # a tiny one, so the test suite can check that the commands run (never timed there)
    "smoke": (300, (12, 8, 3), 32, np.float32),
}


@dataclass
class Workload:
    name: str
    n: int
    sizes: tuple[int, ...]
    batch_size: int
    dtype: type

    @classmethod
    def get(cls, name: str, n: int | None = None) -> Workload:
        size, sizes, batch, dtype = WORKLOADS[name]
        return cls(name, n or size, sizes, batch, dtype)

    def data(self, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Random inputs and integer labels (the work does not depend on the values)."""
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((self.n, self.sizes[0]), dtype=np.float32).astype(self.dtype)
        y = rng.integers(0, self.sizes[-1], self.n)
        return X, y


def quiet() -> None:
    warnings.simplefilter("ignore")


def median_time(fn: Callable[[], float | None], repeats: int = 3) -> float:
    """Median of ``repeats`` calls; ``fn`` returns its own duration or None (timed here)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        got = fn()
        times.append(got if got is not None else time.perf_counter() - start)
    return statistics.median(times)


def machine() -> str:
    from threadpoolctl import threadpool_info

    blas = [
        f"{i['internal_api']} {i['version']} ({i['num_threads']} threads)"
        for i in threadpool_info()
        if i["user_api"] == "blas" and "numpy" in i["filepath"]
    ]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, BLAS: {', '.join(blas) or 'unknown'}"
    )


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
