"""An interactive cell explorer for notebooks (ipywidgets).

``cell_explorer()`` returns a ``VBox``: a dropdown of DARTS-space architectures (the zoo's,
plus any you pass), a toggle for the normal / reduction cell, and an HTML view with the
drawing (graphviz SVG) and a one-line summary (depth, width, ops; see :mod:`.graphs`).
Changing either control redraws in the kernel, so the widget works the same headless (set
``explorer.dropdown.value`` from code) and in JupyterLab (pick with the mouse).
"""
from __future__ import annotations

import html
from typing import Mapping

from ..spaces.darts import Genotype
from .cells import cell_dot
from .graphs import cell_summary


def darts_zoo() -> dict[str, Genotype]:
    """The zoo's DARTS-space genotypes, by name."""
    from .. import zoo

    return {n: zoo.get(n).arch for n in zoo.names() if zoo.get(n).space == "darts"}


def cell_svg(genotype: Genotype, cell: str = "normal") -> str:
    """The SVG text of one cell (graphviz ``dot``)."""
    nodes = getattr(genotype, cell)
    concat = getattr(genotype, f"{cell}_concat")
    svg = cell_dot(nodes, concat, f"{cell} cell").pipe(format="svg").decode()
    return svg[svg.index("<svg"):]  # drop the XML prologue so the SVG can sit inside HTML


def summary_line(genotype: Genotype, cell: str = "normal") -> str:
    s = cell_summary(genotype, cell)
    ops = ", ".join(f"{op} ×{n}" for op, n in s["ops"].items())
    return f"depth {s['depth']}, width {s['width']}; ops: {ops}"


class CellExplorer:
    """The explorer's widgets and state (``.widget`` is what a notebook displays)."""

    def __init__(self, genotypes: Mapping[str, Genotype] | None = None, value: str | None = None):
        import ipywidgets as widgets

        self.genotypes = dict(genotypes) if genotypes is not None else darts_zoo()
        if not self.genotypes:
            raise ValueError("the explorer needs at least one genotype")
        names = list(self.genotypes)
        self.dropdown = widgets.Dropdown(options=names, value=value or names[0], description="architecture")
        self.cell = widgets.ToggleButtons(options=["normal", "reduce"], value="normal", description="cell")
        self.view = widgets.HTML()
        self.dropdown.observe(self.redraw, names="value")
        self.cell.observe(self.redraw, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.dropdown, self.cell]), self.view])
        self.redraw()

    @property
    def summary(self) -> str:
        return summary_line(self.genotypes[self.dropdown.value], self.cell.value)

    def redraw(self, change=None) -> None:
        g = self.genotypes[self.dropdown.value]
        self.view.value = (f"<p><b>{html.escape(self.dropdown.value)}</b>, {self.cell.value} cell: "
                           f"{html.escape(self.summary)}</p>{cell_svg(g, self.cell.value)}")


def cell_explorer(genotypes: Mapping[str, Genotype] | None = None, value: str | None = None) -> CellExplorer:
    """A :class:`CellExplorer` over ``genotypes`` (default: the zoo's DARTS-space cells)."""
    return CellExplorer(genotypes, value)
