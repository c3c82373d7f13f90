"""Graphviz drawings of NAS-Bench-201 cells, with the nonlinearity count made visible.

Nodes 0 (input) to 3 (output) left to right; each edge labelled and coloured by its op.
``none`` edges are dashed grey (they cut every path through them); the edges of the deepest
live path, whose ReLU count is the cell's nonlinearity count, are drawn bold.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import networkx as nx

from ..spaces.nb201 import EDGES, PATHS, NB201Cell
from .cells import render
from .registry import register

OP_COLOURS = {"nor_conv_3x3": "#1f77b4", "nor_conv_1x1": "#17becf", "avg_pool_3x3": "#ff7f0e",
              "skip_connect": "#7f7f7f", "none": "#c7c7c7"}
NODE_NAMES = {0: "in (0)", 1: "1", 2: "2", 3: "out (3)"}


def deepest_path(cell: NB201Cell) -> tuple[int, ...]:
    """Edge indices of a live path with the most nonlinear ops (empty if the cell is disconnected)."""
    depths = cell.path_depths()
    live = [p for p, d in enumerate(depths) if d is not None]
    if not live:
        return ()
    return PATHS[max(live, key=lambda p: (depths[p], -p))]


def cell_dot(cell: NB201Cell, title: str | None = None, highlight: bool = True):
    """A ``graphviz.Digraph`` of one cell; the title shows its nonlinearity count."""
    import graphviz

    label = title if title is not None else f"{cell}\nnonlinearity count = {cell.nonlinearity_count}"
    g = graphviz.Digraph(name="nb201_cell", format="svg",
                         graph_attr=dict(rankdir="LR", label=label, labelloc="t", fontsize="12", fontname="Helvetica"),
                         node_attr=dict(style="filled", shape="circle", fontsize="12", fontname="Helvetica",
                                        penwidth="2", width="0.85", fixedsize="true"),
                         edge_attr=dict(fontsize="10", fontname="Helvetica"))
    for n, name in NODE_NAMES.items():
        g.node(name, fillcolor={0: "darkseagreen2", 3: "palegoldenrod"}.get(n, "lightblue"))
    deep = set(deepest_path(cell)) if highlight else set()
    for e, ((j, i), op) in enumerate(zip(EDGES, cell.ops)):
        c = OP_COLOURS[op]
        g.edge(NODE_NAMES[i], NODE_NAMES[j], label=op, color=c, fontcolor=c,
               style="dashed" if op == "none" else "solid", penwidth="3.5" if e in deep else "1.2")
    return g


def draw_cell(cell: NB201Cell, stem: str | Path, formats: Sequence[str] = ("svg", "png")) -> list[Path]:
    """Render ``STEM.FMT`` for each format; returns the paths."""
    return render(cell_dot(cell), stem, formats)


def cell_to_networkx(cell: NB201Cell) -> nx.DiGraph:
    """The cell as a DiGraph on nodes 0..3 with edge attribute ``op``."""
    g = nx.DiGraph()
    g.add_nodes_from(range(4))
    for (j, i), op in zip(EDGES, cell.ops):
        g.add_edge(i, j, op=op)
    return g


register("nb201", draw_cell)
