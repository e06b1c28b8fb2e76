"""Every docstring example in the package runs (numpydoc Examples sections)."""

import doctest
import importlib
import pkgutil

import pytest

import layerkit

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(layerkit.__path__, "layerkit.")
    if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"


def test_public_classes_have_examples():
    import inspect

    from layerkit import gradcheck, layers, losses, optim

    missing = []
    for mod in (layers, losses, optim):
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj) and ">>>" not in (obj.__doc__ or ""):
                missing.append(f"{mod.__name__}.{name}")
    for name in ("check_layer", "check_loss", "check_network"):
        if ">>>" not in (getattr(gradcheck, name).__doc__ or ""):
            missing.append(name)
    assert not missing, missing
