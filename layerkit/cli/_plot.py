"""The loss-curve PNG that ``layerkit demo`` and ``layerkit train`` write."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ._tables import written_whole


def save_loss_curve(
    est: Any, path: Path, *, name: str | None = None, command: str = "layerkit"
) -> str | None:
    """Draw ``est``'s loss curve (and validation scores) to ``path``; None without
    matplotlib (``command`` names the command in the warning that says so)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no window, works without a display
        import matplotlib.pyplot as plt
    except ImportError:
        print(  # (a warning: on stderr, so -q keeps it and the output stays the data's)
            f"{command}: warning: matplotlib is not installed, so no loss-curve plot: "
            "pip install matplotlib",
            file=sys.stderr,
        )
        return None
    from ..plotting import LossCurveDisplay

    display = LossCurveDisplay.from_estimator(est, name=name)
    with written_whole(path) as temporary:  # (the format from the name, not the temporary's)
        display.figure_.savefig(temporary, dpi=100, format=path.suffix[1:].lower() or "png")
    plt.close(display.figure_)
    return str(path)
