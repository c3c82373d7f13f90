"""Graphviz layer diagrams of MBConv-chain architectures (``nasbook.spaces.mbconv``).

One box per layer, left to right, grouped by stage as in the MnasNet/EfficientNet figures:
the label says ``MB<e> k x k`` and the output shape; the colour encodes the kernel size and
the box height the expansion ratio; skipped layers are dashed. Rendering needs Graphviz's
``dot``; the DOT source does not.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence
from .cells import render
from .registry import register

#: Fill colour per depthwise kernel size (light = small receptive field).
KERNEL_COLOURS = {1: "#f7fbff", 3: "#c6dbef", 5: "#6baed6", 7: "#2171b5", 9: "#08519c", 11: "#08306b"}


def mbconv_dot(arch, title: str | None = None):
    """A ``graphviz.Digraph`` of an :class:`~nasbook.spaces.mbconv.MBConvArch`."""
    import graphviz

    bb = arch.backbone
    g = graphviz.Digraph(name="mbconv", format="svg",
                         graph_attr=dict(rankdir="LR", label=title or str(bb.name), labelloc="t", fontsize="16",
                                         fontname="Helvetica", nodesep="0.15", ranksep="0.25"),
                         node_attr=dict(shape="box", style="filled,rounded", fontname="Helvetica", fontsize="11",
                                        width="0.9"),
                         edge_attr=dict(arrowsize="0.6"))
    g.node("input", f"input\n{bb.resolution}x{bb.resolution}", fillcolor="darkseagreen2")
    g.node("stem", f"conv 3x3\n{bb.stem_channels}, s{bb.stem_stride}", fillcolor="palegoldenrod")
    g.edge("input", "stem")
    prev = "stem"
    specs = bb.layers()
    for stage in sorted({s.stage for s in specs}):
        with g.subgraph(name=f"cluster_{stage}") as c:
            c.attr(label=f"stage {stage}", style="rounded", color="gray70", fontsize="11")
            for s in (s for s in specs if s.stage == stage):
                ch = arch.layers[s.index]
                node = f"L{s.index}"
                if ch.is_skip:
                    c.node(node, "skip", style="dashed,rounded", fillcolor="white", fontcolor="gray40", height="0.3")
                else:
                    dw = KERNEL_COLOURS.get(ch.kernel, "#4292c6")
                    font = "white" if ch.kernel >= 5 else "black"
                    c.node(node, f"MB{ch.expand} {ch.kernel}x{ch.kernel}\n{s.c_out}, {s.size_out}x{s.size_out}",
                           fillcolor=dw, fontcolor=font, height=f"{0.35 + 0.1 * ch.expand:.2f}")
                g.edge(prev, node, style="dashed" if ch.is_skip else "solid")
                prev = node
    g.node("head", f"conv 1x1\n{bb.head_channels}\npool, fc", fillcolor="palegoldenrod")
    g.edge(prev, "head")
    return g


def draw_mbconv(arch, stem: str | Path, formats: Sequence[str] = ("svg", "png")) -> list[Path]:
    """Render ``STEM.FMT`` for each format; returns the paths. SVG output is deterministic."""
    return render(mbconv_dot(arch), stem, formats)


register("mbconv", draw_mbconv)
