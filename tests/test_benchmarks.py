"""The benchmark commands run end to end (on a tiny workload: nothing here is timed)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
RATIO = r"\d+\.\d{2,3}"  # (bench_training: 3 decimals, against a target of 1.2)


def _run(*args):
    env = dict(os.environ, LAYERKIT_BENCH_NO_TORCH="1", LAYERKIT_BENCH_PAUSE="0")
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_training_benchmark_prints_the_side_by_side_ratios():
    out = _run("bench_training.py", "--rounds", "2", "--workloads", "smoke", "--no-predict")
    row = next(line for line in out.splitlines() if line.startswith("| smoke: n=300, 12-8-3"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert all(re.fullmatch(r"\d+\.\d{3}", c) for c in cells[1:4])  # floor, layerkit, sklearn
    assert cells[4] == "n/a" and cells[7] == "n/a"  # PyTorch left out
    assert re.fullmatch(RATIO, cells[5]) and re.fullmatch(RATIO, cells[6])


def test_training_benchmark_times_prediction_against_the_floor_in_its_best_chunk_size():
    out = _run(
        "bench_training.py",
        "--rounds",
        "2",
        "--workloads",
        "--predict-workload",
        "smoke",
        "--predict-rows",
        "3000",
    )
    chosen = re.search(r"prediction floor, median by chunk size \((.*)\): chunks of (\d+)", out)
    medians = dict(pair.split(": ") for pair in chosen.group(1).split(", "))
    assert list(medians) == ["512", "1024", "2048", "4096"]
    seconds = {chunk: float(t.removesuffix(" s")) for chunk, t in medians.items()}
    assert seconds[chosen.group(2)] == min(seconds.values())  # (as rounded in print)
    row = next(line for line in out.splitlines() if line.startswith("| predict_proba on 3,000"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert all(re.fullmatch(r"\d+\.\d{3}", c) for c in cells[1:4])
    assert re.fullmatch(RATIO, cells[5]) and re.fullmatch(RATIO, cells[6])


@pytest.mark.parametrize("workload", ["smoke", "W2"])
def test_breakdown_benchmark_accounts_for_the_epoch(workload):
    out = _run("bench_breakdown.py", "--workload", workload, "--seconds", "0")
    rows = [line for line in out.splitlines() if re.match(r"\| \d", line)]
    assert len(rows) == 1
    floor, ours, ratio, *parts = (float(c) for c in rows[0].strip("|").split("|"))
    assert floor > 0 and ours > 0 and all(p > 0 for p in parts)
    assert ratio == pytest.approx(ours / floor, rel=0.02)


def test_custom_layer_benchmark_times_the_four_networks():
    out = _run("bench_custom_layer.py", "--workload", "smoke", "--rounds", "1")
    rows = [line for line in out.splitlines() if "ReLU, " in line and line.startswith("| ")]
    assert [r.split("|")[1].strip() for r in rows] == [
        "built-in ReLU, plan",
        "user's ReLU, plan",
        "built-in ReLU, general path",
        "user's ReLU, general path",
    ]
    times = [float(r.split("|")[2]) for r in rows]
    ratios = [float(r.split("|")[3]) for r in rows]
    assert all(t >= 0 for t in times) and all(r > 0 for r in ratios)


def test_memory_benchmark_measures_both_libraries():
    out = _run("bench_memory.py", "--n", "2000")
    for library in ("layerkit", "scikit-learn"):
        assert re.search(rf"^\| {library} \| \d+\.\d \| -?\d+\.\d \|$", out, re.MULTILINE), out
