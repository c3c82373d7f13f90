"""Figures for EnTranNAS (docs/methods/entrannas.md): the super-net strip, weighted cells, sparsity.

* :func:`plot_supernet_strip`: one row of cells coloured by role, after the paper's Fig. 2
  (Engine-cells red, Transit-cells green; DARTS cells, all mixed, grey); reductions marked.
* :func:`weighted_cell_dot`: a searched cell as graphviz, each edge's strongest op drawn with
  a width proportional to its weight; pairs outside the derived set dashed grey.
* :func:`plot_dst_history`: active pairs and thresholds ``t_j`` over the epochs of a DST run.
"""
from __future__ import annotations

from typing import Sequence

from .cells import OP_COLOURS, _node_name

ROLE_COLOURS = {"engine": "#d62728", "transit": "#2ca02c", "mixed": "#9e9e9e"}


def plot_supernet_strip(roles: Sequence[str], reductions: Sequence[int], ax=None, title: str = ""):
    """Cells as boxes: ``roles[i]`` in {'engine', 'transit', 'mixed'}; reduction cells hatched."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(1.1 * len(roles) + 1, 1.3))
    for i, role in enumerate(roles):
        red = i in reductions
        ax.add_patch(Rectangle((i, 0), 0.85, 1, facecolor=ROLE_COLOURS[role], edgecolor="black",
                               hatch="//" if red else None, alpha=0.85))
        ax.text(i + 0.425, 0.5, f"{i}\n{'R' if red else 'N'}", ha="center", va="center", fontsize=9, color="white")
    ax.set_xlim(-0.1, len(roles)), ax.set_ylim(-0.1, 1.1), ax.axis("off")
    ax.set_title(title, fontsize=10, loc="left")
    return ax


def weighted_cell_dot(weights, primitives: Sequence[str], steps: int, derived: Sequence[Sequence] | None = None,
                      title: str = ""):
    """A graphviz digraph of one searched cell.

    ``weights`` is ``[edges, K]`` (p or qhat), rows in the DARTS layout. Each edge ``i -> j``
    shows its strongest non-'none' op, pen width proportional to the weight; ``derived`` (the
    node lists of a genotype) marks the pairs the Transit-cells run: those are solid and
    coloured by op, every other strongest op is dashed grey. Derived pairs that are not an
    edge's strongest op (DST may keep several) are drawn too.
    """
    import graphviz

    w = [[float(v) for v in row] for row in weights]
    g = graphviz.Digraph(name=title or "cell", format="svg",
                         graph_attr=dict(rankdir="LR", label=title, labelloc="t", fontsize="14", fontname="Helvetica"),
                         node_attr=dict(style="filled", shape="rect", fontsize="12", height="0.4", width="0.4",
                                        fontname="Helvetica"),
                         edge_attr=dict(fontsize="9", fontname="Helvetica"))
    for i in range(2):
        g.node(_node_name(i), fillcolor="darkseagreen2")
    for j in range(steps):
        g.node(str(j), fillcolor="lightblue")
    kept = {(src, j + 2, op) for j, node in enumerate(derived or []) for op, src in node}
    row = 0
    for j in range(steps):
        for i in range(j + 2):
            ks = [k for k, name in enumerate(primitives) if name != "none"]
            best = max(ks, key=lambda k: w[row][k])
            shown = {best} | {primitives.index(op) for (s, d, op) in kept if s == i and d == j + 2}
            for k in sorted(shown):
                name, on = primitives[k], (i, j + 2, primitives[k]) in kept
                width = 0.5 + 6 * w[row][k]
                g.edge(_node_name(i), str(j), label=f"{name} {w[row][k]:.2f}",
                       color=OP_COLOURS.get(name, "black") if on else "gray70",
                       fontcolor="black" if on else "gray60", style="solid" if on else "dashed",
                       penwidth=f"{width:.2f}")
            row += 1
    g.node("c_{k}", fillcolor="palegoldenrod")
    for j in range(steps):
        g.edge(str(j), "c_{k}", color="gray")
    return g


def plot_dst_history(history: Sequence[dict], axes=None):
    """Left: derived pairs per cell type over epochs (the sparsity curve). Right: thresholds
    ``t_j`` of the normal cell. ``history`` is the epoch records of a DST search."""
    import matplotlib.pyplot as plt

    recs = [h for h in history if "thresholds_normal" in h]
    if not recs:
        raise ValueError("no DST epoch records (run a search with derive='dst')")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3))
    ep = [h["epoch"] + 1 for h in recs]
    for cell in ("normal", "reduce"):
        axes[0].plot(ep, [sum(h[f"pairs_per_node_{cell}"]) for h in recs], marker="o", label=cell)
    axes[0].set_xlabel("epoch"), axes[0].set_ylabel("pairs in S (all nodes)"), axes[0].legend()
    axes[0].set_title("derived pairs per cell (sparsity)", fontsize=10)
    steps = len(recs[0]["thresholds_normal"])
    for j in range(steps):
        axes[1].plot(ep, [h["thresholds_normal"][j] for h in recs], marker=".", label=f"node {j + 2}")
    axes[1].set_xlabel("epoch"), axes[1].set_ylabel("t_j = sigmoid(beta_j)"), axes[1].legend(fontsize=7)
    axes[1].set_title("normal-cell thresholds", fontsize=10)
    return axes
