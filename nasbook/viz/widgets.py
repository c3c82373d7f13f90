"""The ipywidgets panels the notebooks share."""
from __future__ import annotations

from typing import Callable


def knob_panel(controls: dict, show: Callable[..., None]):
    """A column of ``controls`` (name -> widget) above an output area that re-runs
    ``show(**values)`` whenever a control moves; returns the panel to ``display``."""
    import ipywidgets as W

    out = W.Output()

    def redraw(_=None):
        with out:
            out.clear_output(wait=True)
            show(**{k: w.value for k, w in controls.items()})

    for w in controls.values():
        w.observe(redraw, names="value")
    return W.VBox([*controls.values(), out])
