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
    if name.startswith("layerkit.callbacks"):
        pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9 has no callbacks")
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


PUBLIC = ("layerkit", "layerkit.layers", "layerkit.losses", "layerkit.optim", "layerkit.gradcheck")


def _documented_parameters(doc):
    """The names a numpydoc ``Parameters`` section lists (``a, b : ...`` counts both)."""
    import inspect
    import re

    section = re.search(
        r"^Parameters\n-+\n(.*?)(?:\n\n[A-Z][a-z]+\n-+\n|\Z)", inspect.cleandoc(doc), re.S | re.M
    )
    if section is None:
        return None
    names = set()
    for line in section.group(1).splitlines():
        entry = re.match(r"^([A-Za-z_][\w, ]*?) ?:|^([A-Za-z_]\w*)$", line)
        if entry:
            names |= {n.strip() for n in (entry.group(1) or entry.group(2)).split(",")}
    return names


def test_parameters_sections_list_exactly_the_signature():
    import inspect

    wrong = []
    for module_name in PUBLIC:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            documented = _documented_parameters(getattr(obj, "__doc__", None) or "")
            if documented is None or not callable(obj):
                continue
            signature = inspect.signature(obj).parameters.values()
            actual = {p.name for p in signature if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
            if documented != actual:
                wrong.append(f"{module_name}.{name}: undocumented {sorted(actual - documented)}, ")
                wrong[-1] += f"not in the signature {sorted(documented - actual)}"
    assert not wrong, "\n".join(wrong)
