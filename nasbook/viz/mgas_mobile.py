"""Graphviz drawing of an MGAS MobileNet-like architecture (our space, docs/methods/mgas.md): the
layer chain left to right, each kept candidate a parallel branch labelled with its hidden
width and thickened by it, the identity path dashed, and an emptied layer shown as identity."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..spaces.mgas_mobile import CANDIDATE_GEOMETRY, MGASMobileArch, has_residual
from .cells import render
from .registry import register

#: one colour per kernel size, darker for expansion 6
_COLOURS = {(3, 3): "lightskyblue", (3, 6): "steelblue", (5, 3): "palegreen3", (5, 6): "forestgreen",
            (7, 3): "orange", (7, 6): "orangered3"}


def mobile_dot(arch: MGASMobileArch):
    """A ``graphviz.Digraph`` of the whole network."""
    import graphviz

    sk = arch.skeleton
    g = graphviz.Digraph(name="mgas_mobile", format="svg",
                         graph_attr=dict(rankdir="LR", fontname="Helvetica", fontsize="14", labelloc="t",
                                         label=f"MGAS, MobileNet-like space (ours): depth {arch.depth()}"
                                               f"/{len(arch.layers)}, {arch.n_ops()} blocks"),
                         node_attr=dict(shape="rect", style="filled", fontname="Helvetica", fontsize="10", height="0.3"),
                         edge_attr=dict(arrowsize="0.5", fontname="Helvetica", fontsize="8"))
    g.node("in", f"stem {sk.stem}\\nIR e1 {sk.first}", fillcolor="darkseagreen2")
    prev = "in"
    top = max((h for layer in arch.layers for _, h in layer), default=1)
    for i, ((c_in, c_out, s, grp), layer) in enumerate(zip(sk.plan(), arch.layers)):
        node = f"x{i}"
        g.node(node, f"{c_out}" + (" /2" if s == 2 else ""), fillcolor="lightblue" if layer else "gray90",
               tooltip=f"layer {i}, group {grp + 1}")
        if has_residual(c_in, c_out, s):
            g.edge(prev, node, style="dashed", color="gray50")
        for name, h in layer:
            k, e = CANDIDATE_GEOMETRY[name]
            b = f"b{i}_{name}"
            g.node(b, f"k{k} e{e}\\n[{h}]", fillcolor=_COLOURS[(k, e)], shape="box", style="rounded,filled",
                   penwidth=f"{0.5 + 2.5 * h / top:.2f}")
            g.edge(prev, b)
            g.edge(b, node)
        prev = node
    g.node("out", f"1x1 {sk.last}\\nGAP, FC", fillcolor="palegoldenrod")
    g.edge(prev, "out")
    return g


def draw_mgas_mobile(arch: MGASMobileArch, stem: str | Path, formats: Sequence[str] = ("svg", "png")) -> list[Path]:
    """Render ``STEM.FMT``; returns the paths."""
    return render(mobile_dot(arch), stem, formats)


register("mgas_mobile", draw_mgas_mobile)
