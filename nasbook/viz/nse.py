"""Drawings and plots of NSE: multi-branch architectures (graphviz) and the evolving space
(matplotlib): op membership per round, branch probabilities, Pareto fronts (docs/methods/nse.md)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from ..spaces.nse import NSEArch
from ..spaces.nse_pools import get_pool
from .cells import render
from .registry import register

#: One colour per block type of the pools.
BLOCK_COLOURS = {"LB": "#9ecae1", "NC": "#fdae6b", "DC": "#fd8d3c", "SP": "#a1d99b"}


def arch_dot(arch: NSEArch, title: str = ""):
    """A ``graphviz.Digraph`` of the network: each layer's ops side by side feeding its average;
    layers that act as normal ones (``spec.role == "N"``) also average their input (dashed
    identity edge)."""
    import graphviz

    pool = get_pool(arch.pool)
    g = graphviz.Digraph(name="nse", format="svg",
                         graph_attr=dict(rankdir="TB", label=title, labelloc="t", fontsize="16", fontname="Helvetica",
                                         nodesep="0.15", ranksep="0.25"),
                         node_attr=dict(style="filled", shape="rect", fontsize="11", fontname="Helvetica",
                                        height="0.3", penwidth="1.2"),
                         edge_attr=dict(arrowsize="0.6"))
    widths = arch.stage_widths()
    g.node("stem", f"stem 3x3 s{arch.stem_stride}, {widths[0]}", fillcolor="darkseagreen2")
    prev = "stem"
    for i, (spec, ids) in enumerate(zip(arch.layer_specs(), arch.layers)):
        out = f"l{i}"
        # drawn by the role the layer plays (spec.role), not the plan's letter: a stride-1 E layer
        # that keeps its width averages its input like an N layer and gets the identity edge
        normal = spec.role == "N"
        name = f"{spec.kind}{i + 1}" if spec.kind == spec.role else f"{spec.kind}{i + 1} (as N)"
        label = f"{name}: (x + sum) / {len(ids) + 1}" if normal else f"{name}: mean"
        g.node(out, f"{label}  {spec.c_in}->{spec.c_out}" + (" s2" if spec.stride == 2 else ""),
               fillcolor="lightyellow" if normal else "palegoldenrod", shape="box", style="rounded,filled")
        for o in ids:
            n = f"l{i}o{o}"
            g.node(n, f"[{o}] {pool[o]}", fillcolor=BLOCK_COLOURS.get(pool[o].type, "white"))
            g.edge(prev, n)
            g.edge(n, out)
        if normal:
            g.edge(prev, out, style="dashed", color="gray40")
        prev = out
    g.node("head", f"1x1 conv {arch.head_width}, pool, FC", fillcolor="darkseagreen2")
    g.edge(prev, "head")
    return g


def draw_nse(arch: NSEArch, stem: str | Path, formats: Sequence[str] = ("svg", "png")) -> list[Path]:
    """Render ``STEM.FMT`` for each format; returns the paths."""
    return render(arch_dot(arch), stem, formats)


register("nse", draw_nse)


def read_records(run_dir: str | Path) -> list[dict]:
    """The per-round records of an NSE run folder (``nse_state.json``)."""
    p = Path(run_dir) / "nse_state.json"
    if not p.exists():
        raise ValueError(f"{run_dir}: no nse_state.json (not an NSE run folder?)")
    return json.loads(p.read_text())["records"]


#: Membership states of an op in a round, with their colours.
MEMBERSHIP = {"queued": "#f0f0f0", "discarded": "#bdbdbd", "pruned": "#de2d26", "dropped": "#fc9272",
              "retained": "#31a354"}


def membership(records: Sequence[dict], layer: int) -> tuple[list[int], list[list[str]]]:
    """(op ids, states[op][round]) of one layer over the rounds: ``queued`` (never tried yet),
    ``pruned`` (alpha < tau mid-round), ``dropped`` (active but not on the front), ``retained``
    (in the optimised subset P), ``discarded`` (tried in an earlier round and gone)."""
    ops = sorted({o for r in records for o in r["subsets_start"][layer] + [x[1] for x in r["pruned"] if x[0] == layer]})
    tried: set[int] = set()
    grid = {o: [] for o in ops}
    for r in records:
        start = set(r["subsets_start"][layer])
        pruned = {x[1] for x in r["pruned"] if x[0] == layer}
        kept = set(r["retained"][layer])
        for o in ops:
            if o in start or o in pruned:
                grid[o].append("pruned" if o in pruned else "retained" if o in kept else "dropped")
            else:
                grid[o].append("discarded" if o in tried else "queued")
        tried |= start | pruned
    return ops, [grid[o] for o in ops]


def plot_membership(records: Sequence[dict], layers: Sequence[int] | None = None, pool: str | None = None, axes=None):
    """One panel per layer: rows = ops ever active, columns = rounds, coloured by state."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    layers = list(range(len(records[0]["subsets_start"]))) if layers is None else list(layers)
    names = list(MEMBERSHIP)
    cmap = ListedColormap([MEMBERSHIP[n] for n in names])
    if axes is None:
        cols = min(6, len(layers))
        fig, axes = plt.subplots(-(-len(layers) // cols), cols, figsize=(1.9 * cols, 2.3 * -(-len(layers) // cols)),
                                 squeeze=False)
    axes = list(getattr(axes, "flat", axes))
    specs = get_pool(pool) if pool else None
    for ax, l in zip(axes, layers):
        ops, states = membership(records, l)
        ax.imshow([[names.index(s) for s in row] for row in states], cmap=cmap, vmin=0, vmax=len(names) - 1,
                  aspect="auto")
        ax.set_yticks(range(len(ops)), [f"{o} {specs[o]}" if specs else str(o) for o in ops], fontsize=6)
        ax.set_xticks(range(len(records)), [str(r["round"]) for r in records], fontsize=7)
        ax.set_title(f"layer {l}", fontsize=8)
    for ax in axes[len(layers):]:
        ax.axis("off")
    fig = axes[0].figure
    fig.legend(handles=[Patch(color=MEMBERSHIP[n], label=n) for n in names], loc="lower center", ncol=len(names),
               fontsize=7, frameon=False)
    fig.supxlabel("round", fontsize=8, y=0.06)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_probabilities(record: dict, tau: float = -2.0, eps: float = 5e-4, ax=None):
    """Heat map of the learned on-probabilities p at the end of one round (layers x active ops);
    the pruning threshold p(tau) is marked in the colour bar."""
    import math

    import matplotlib.pyplot as plt
    import numpy as np

    subsets, probs = record["subsets_end"], record["p"]
    width = max(1, max(len(s) for s in subsets))
    grid = np.full((len(subsets), width), np.nan)
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.0 + 0.7 * width, 0.3 * len(subsets) + 1))
    for l, (s, p) in enumerate(zip(subsets, probs)):
        grid[l, :len(p)] = p
        for j, (o, v) in enumerate(zip(s, p)):
            ax.text(j, l, str(o), ha="center", va="center", fontsize=7)
    im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    cb = ax.figure.colorbar(im, ax=ax, fraction=0.05)
    cb.ax.axhline((1 - 2 * eps) / (1 + math.exp(-tau)) + eps, color="red", lw=1.5)
    ax.set_xlabel("op slot (label: pool id)")
    ax.set_ylabel("layer")
    ax.set_title(f"round {record['round']}: p = on-probability (red: prune threshold)", fontsize=9)
    return ax


def plot_fronts(records: Sequence[dict], ax=None):
    """Cost vs held-out top-1 of every scored architecture per round; the front as a line."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    colours = plt.get_cmap("viridis")
    markers = {"window": "o", "lower": "v", "carried": "s"}
    for i, r in enumerate(records):
        c = colours(i / max(1, len(records) - 1))
        for role, m in markers.items():
            pts = [(cost, t) for cost, t, rr in r["candidates"] if rr == role]
            if pts:
                ax.scatter(*zip(*pts), s=14, marker=m, color=c, alpha=0.45,
                           label=f"round {r['round']} {role}" if role != "window" else f"round {r['round']}")
        front = sorted((f["cost"], f["top1"]) for f in r["front"])
        ax.plot(*zip(*front), "-", color=c, lw=1.5)
    lo, hi = records[-1]["window"]
    ax.axvspan(lo, hi, color="gray", alpha=0.08)
    ax.set_xlabel("cost")
    ax.set_ylabel("held-out top-1 (supernet)")
    ax.legend(fontsize=6, ncol=2)
    return ax
