"""``import layerkit`` is cheap (names load on first use) and every public name works."""

from __future__ import annotations

import subprocess
import sys

import pytest

import layerkit


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_import_and_cli_help_do_not_import_scikit_learn() -> None:
    assert "sklearn" not in _modules_after("import layerkit")
    loaded = _modules_after(
        "import contextlib, io\n"
        "from layerkit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])"
    )
    assert "sklearn" not in loaded and "scipy" not in loaded


def test_every_public_name_resolves_to_its_object() -> None:
    from layerkit.estimators import MLPClassifier
    from layerkit.io import save

    assert sorted(layerkit.__all__) == sorted(["__version__", *layerkit._WHERE])
    for name in layerkit.__all__:
        assert getattr(layerkit, name) is not None, name
    assert layerkit.MLPClassifier is MLPClassifier and layerkit.save is save
    assert set(layerkit.__all__) <= set(dir(layerkit))


def test_subpackages_are_attributes_as_before() -> None:
    from layerkit.layers import Dense

    assert layerkit.layers.Dense is Dense
    assert "optim" in dir(layerkit)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Dens'"):
        _ = layerkit.Dens


def test_first_use_from_many_threads_at_once_imports_each_name_once():
    """Two threads importing the estimators and the plotting module at once met a
    partly initialized module (ImportError: cannot import name 'BaseMLP'), 5 to 8 of 24
    threads in every run; each run here is a fresh process."""
    code = """
import threading, layerkit
names = ["MLPClassifier", "LossCurveDisplay", "MLPRegressor", "check_layer", "save",
         "load", "Sequential", "register", "check_network", "layers", "optim"] * 2
barrier, errors = threading.Barrier(len(names)), []
def use(name):
    barrier.wait()
    try:
        getattr(layerkit, name)
    except Exception as err:
        errors.append(repr(err))
threads = [threading.Thread(target=use, args=(name,)) for name in names]
for t in threads: t.start()
for t in threads: t.join()
print(len(errors), errors[:1])
"""
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.startswith("0 "), out
