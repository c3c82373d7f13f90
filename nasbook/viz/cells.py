"""Graphviz drawings and networkx graphs of DARTS-space genotypes.

Layout follows the DARTS paper's figures: the two inputs c_{k-2} and c_{k-1} on the left,
intermediate nodes 0..N-1, edges labelled by op, all intermediate nodes into c_{k}.
Drawing needs Graphviz's ``dot`` (Debian package ``graphviz``); the DOT source does not.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import networkx as nx

from ..spaces.darts import Genotype, edges_of
from .registry import register

#: One colour per op family, so the eye groups convs, pools and skips.
OP_COLOURS = {
    "sep_conv_3x3": "#1f77b4", "sep_conv_5x5": "#17becf", "sep_conv_7x7": "#0b5394",
    "dil_conv_3x3": "#2ca02c", "dil_conv_5x5": "#98df8a", "conv_7x1_1x7": "#8c564b",
    "max_pool_3x3": "#d62728", "avg_pool_3x3": "#ff9896", "skip_connect": "#7f7f7f", "none": "#c7c7c7",
}


def _node_name(i: int) -> str:
    return {0: "c_{k-2}", 1: "c_{k-1}"}.get(i, str(i - 2))


def cell_dot(nodes: Sequence, concat: Sequence[int], title: str = ""):
    """A ``graphviz.Digraph`` of one cell."""
    import graphviz

    g = graphviz.Digraph(name=title or "cell", format="svg",
                         graph_attr=dict(rankdir="LR", label=title, labelloc="t", fontsize="16", fontname="Helvetica"),
                         node_attr=dict(style="filled", shape="rect", align="center", fontsize="14",
                                        height="0.5", width="0.5", penwidth="2", fontname="Helvetica"),
                         edge_attr=dict(fontsize="12", fontname="Helvetica"))
    g.node("c_{k-2}", fillcolor="darkseagreen2")
    g.node("c_{k-1}", fillcolor="darkseagreen2")
    for j in range(len(nodes)):
        g.node(str(j), fillcolor="lightblue")
    for src, dst, op in edges_of(nodes):
        c = OP_COLOURS.get(op, "black")
        g.edge(_node_name(src), _node_name(dst), label=op, color=c, fontcolor=c)
    g.node("c_{k}", fillcolor="palegoldenrod")
    for i in concat:
        g.edge(_node_name(i), "c_{k}", color="gray")
    return g


def genotype_dot(genotype: Genotype):
    """(normal, reduce) graphviz digraphs of a genotype."""
    return (cell_dot(genotype.normal, genotype.normal_concat, "normal cell"),
            cell_dot(genotype.reduce, genotype.reduce_concat, "reduction cell"))


def render(g, stem: str | Path, formats: Sequence[str] = ("svg", "png"), suffix: str = "") -> list[Path]:
    """Write ``STEM{suffix}.FMT`` for each format from a graphviz graph; returns the paths.
    Graphviz output is deterministic: the same graph gives the same bytes."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        p = stem.parent / f"{stem.name}{suffix}.{fmt}"
        p.write_bytes(g.pipe(format=fmt))
        out.append(p)
    return out


def draw_genotype(genotype: Genotype, stem: str | Path, formats: Sequence[str] = ("svg", "png")) -> list[Path]:
    """Render ``STEM_normal.FMT`` and ``STEM_reduce.FMT`` for each format; returns the paths.

    SVG output is deterministic (same genotype, same bytes)."""
    return [p for kind, g in zip(("normal", "reduce"), genotype_dot(genotype))
            for p in render(g, stem, formats, f"_{kind}")]


def genotype_to_networkx(genotype: Genotype, cell: str = "normal") -> nx.DiGraph:
    """One cell as a DiGraph: nodes 'c_{k-2}', 'c_{k-1}', '0'..'N-1', 'c_{k}'; edge attr ``op``.

    Parallel pairs (same source and target, two ops) are kept as one edge whose ``ops``
    attribute lists both."""
    nodes = getattr(genotype, cell)
    concat = getattr(genotype, f"{cell}_concat")
    g = nx.DiGraph(cell=cell)
    for i in range(len(nodes) + 2):
        g.add_node(_node_name(i), kind="input" if i < 2 else "intermediate")
    g.add_node("c_{k}", kind="output")
    for src, dst, op in edges_of(nodes):
        u, v = _node_name(src), _node_name(dst)
        if g.has_edge(u, v):
            g[u][v]["ops"].append(op)
        else:
            g.add_edge(u, v, op=op, ops=[op])
    for i in concat:
        g.add_edge(_node_name(i), "c_{k}", op="concat", ops=["concat"])
    return g


register("darts", draw_genotype)
