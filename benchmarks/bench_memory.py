"""Peak memory beyond the data while fitting one epoch on 200,000 x 784 float32 rows.

    python benchmarks/bench_memory.py [--n 200000]

Each library fits in its own fresh process (so one cannot inherit the other's freed
memory). Two measures: tracemalloc's peak of memory allocated during fit (numpy reports
its arrays to it), and the growth of the process's peak resident set size (max RSS)
over what it was once the data existed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import warnings

CHILD = r"""
import json, resource, sys, tracemalloc, warnings
import numpy as np
warnings.simplefilter("ignore")
which, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
X = rng.standard_normal((n, 784), dtype=np.float32)
y = rng.integers(0, 10, n)
if which == "layerkit":
    from layerkit import MLPClassifier
else:
    from sklearn.neural_network import MLPClassifier
est = MLPClassifier(hidden_layer_sizes=(256, 128), solver="sgd", momentum=0.0, alpha=0.0,
                    batch_size=128, learning_rate_init=0.01, max_iter=1, random_state=0)
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
est.fit(X, y)
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"traced_peak": peak, "rss_growth": (rss_after - rss_before) * 1024,
                  "data": X.nbytes + y.nbytes}))
"""


def measure(which: str, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, which, str(n)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"data: {args.n} x 784 float32 = {args.n * 784 * 4 / 2**20:.0f} MiB\n")
    print("| library | peak allocated during fit (MiB) | peak RSS growth (MiB) |")
    print("|---|---|---|")
    for which in ("layerkit", "scikit-learn"):
        got = measure(which, args.n)
        print(
            f"| {which} | {got['traced_peak'] / 2**20:.1f} | {got['rss_growth'] / 2**20:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
