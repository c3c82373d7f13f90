"""Graphviz drawings of MGAS genotypes: every cell is different and an edge may carry several
ops, so each op is drawn as its own arrow, coloured by op and thickened by its output width
(docs/methods/mgas.md: "edge thickness proportional to width")."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..spaces.mgas import MGASGenotype, is_sep
from .cells import OP_COLOURS, _node_name
from .registry import register


def cell_dot(genotype: MGASGenotype, cell: int):
    """A ``graphviz.Digraph`` of one cell of ``genotype``."""
    import graphviz

    w = genotype.node_widths(cell)
    kind = "reduction" if genotype.is_reduction(cell) else "normal"
    title = f"cell {cell} ({kind}, width {w[2]}, {len(genotype.cells[cell])} ops)"
    g = graphviz.Digraph(name=f"cell{cell}", format="svg",
                         graph_attr=dict(rankdir="LR", label=title, labelloc="t", fontsize="14", fontname="Helvetica"),
                         node_attr=dict(style="filled", shape="rect", fontsize="12", height="0.4", width="0.4",
                                        penwidth="1.5", fontname="Helvetica"),
                         edge_attr=dict(fontsize="9", fontname="Helvetica", arrowsize="0.5"))
    for i in (0, 1):
        g.node(_node_name(i), fillcolor="darkseagreen2")
    for j in range(2, 6):
        g.node(_node_name(j), fillcolor="lightblue")
    top = max(max(w), 1)
    for op, src, dst, ws in genotype.cells[cell]:
        c = OP_COLOURS.get(op, "black")
        label = op.replace("_conv", "").replace("_pool", "").replace("_connect", "")
        if is_sep(op) and ws[1] != ws[0]:
            label += f" [{ws[1]}]"
        g.edge(_node_name(src), _node_name(dst), label=label, color=c, fontcolor=c,
               penwidth=f"{0.6 + 2.4 * ws[-1] / top:.2f}")
    g.node("c_{k}", fillcolor="palegoldenrod")
    for j in genotype.concat:
        g.edge(_node_name(j), "c_{k}", color="gray")
    return g


def draw_mgas(genotype: MGASGenotype, stem: str | Path, formats: Sequence[str] = ("svg", "png"),
              cells: Sequence[int] | None = None) -> list[Path]:
    """Render ``STEM_cell<i>.FMT`` for each cell (default: all); returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for i in (range(genotype.layers) if cells is None else cells):
        g = cell_dot(genotype, i)
        for fmt in formats:
            p = stem.parent / f"{stem.name}_cell{i}.{fmt}"
            p.write_bytes(g.pipe(format=fmt))
            out.append(p)
    return out


register("mgas", draw_mgas)
