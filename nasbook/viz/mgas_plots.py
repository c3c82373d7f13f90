"""Matplotlib figures of an MGAS search (docs/methods/mgas.md): remaining ratios and thresholds per
unit level over the epochs with the phases shaded, lambda with each round's pruned ops,
per-cell op heatmaps and weight-sparsity maps, the accuracy-versus-size path."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..spaces.mgas import PRIMITIVES, MGASGenotype, is_conv

LEVEL_COLOURS = {"op": "#1f77b4", "filter": "#2ca02c", "weight": "#d62728"}


def epoch_records(history: Sequence[dict]) -> list[dict]:
    """The epoch records of an MGAS run (``SearchResult.history``), numbered across phases."""
    recs = [dict(h) for h in history if h.get("event") == "epoch" and "r_op" in h]
    for k, r in enumerate(recs):
        r["t"] = k + 1
    return recs


def _shade_phases(ax, recs):
    start = 0
    for k in range(1, len(recs) + 1):
        if k == len(recs) or recs[k]["phase"] != recs[start]["phase"]:
            lo, hi = recs[start]["t"] - 0.5, recs[k - 1]["t"] + 0.5
            if recs[start]["phase"] != "final":
                ax.axvspan(lo, hi, color="0.92" if (len({r['phase'] for r in recs[:start]}) % 2) else "0.85", lw=0)
            ax.text((lo + hi) / 2, 1.0, recs[start]["phase"], transform=ax.get_xaxis_transform(), ha="center",
                    va="bottom", fontsize=8)
            start = k


def plot_levels(history, events: Sequence[dict] = (), axes=None):
    """Remaining ratio and mean threshold per unit level over the epochs (phases shaded,
    regrowth marked)."""
    import matplotlib.pyplot as plt

    recs = epoch_records(history)
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
    t = [r["t"] for r in recs]
    for level in ("op", "filter", "weight"):
        c = LEVEL_COLOURS[level]
        axes[0].plot(t, [r[f"r_{level}"] for r in recs], color=c, label=f"r_{level}")
        axes[1].plot(t, [r[f"tau_{level}"] for r in recs], color=c, label=f"tau_{level}")
    for ax in axes:
        _shade_phases(ax, recs)
        ax.set_xlabel("epoch (all phases)")
    ends = {(r["phase"], r["epoch"]): r["t"] for r in recs}
    for ev in events:
        if ev["event"] == "regrowth" and (ev["phase"], ev["epoch"]) in ends:
            axes[0].axvline(ends[(ev["phase"], ev["epoch"])], color="purple", ls=":", lw=1.2)
            axes[0].text(ends[(ev["phase"], ev["epoch"])], 0.05, f" +{len(ev['regrown'])} regrown", color="purple",
                         fontsize=7, rotation=90, va="bottom")
    axes[0].set_ylabel("remaining ratio")
    axes[0].set_ylim(0, 1.05)
    axes[1].set_ylabel("mean learned threshold")
    axes[0].legend(fontsize=7, loc="lower left")
    axes[1].legend(fontsize=7, loc="upper left")
    axes[0].figure.tight_layout()
    return axes[0].figure


def plot_lambda(history, ax=None):
    """lambda per epoch (log scale) with the number of ops each round removed as bars."""
    import matplotlib.pyplot as plt

    recs = epoch_records(history)
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 2.6))
    t = [r["t"] for r in recs]
    lam = [r["lam"] if r["lam"] > 0 else np.nan for r in recs]
    ax.semilogy(t, lam, "k.-", label="lambda")
    ax.set_ylabel("lambda")
    ax2 = ax.twinx()
    ax2.bar([r["t"] for r in recs if "round" in r], [len(r["round"]["removed"]) for r in recs if "round" in r],
            color="orange", alpha=0.6, label="ops removed")
    ax2.set_ylabel("ops removed in the round")
    _shade_phases(ax, recs)
    ax.set_xlabel("epoch (all phases)")
    ax.figure.tight_layout()
    return ax.figure


def op_heatmaps(model, regrown: Sequence = (), cells: Sequence[int] | None = None, axes=None):
    """Per cell: 14 edges x 7 ops coloured by sigmoid(a); removed ops grey, regrown outlined."""
    import matplotlib.pyplot as plt
    import torch

    cells = list(range(model.layers)) if cells is None else list(cells)
    if axes is None:
        fig, axes = plt.subplots(1, len(cells), figsize=(2.4 * len(cells), 3.6), squeeze=False)
        axes = axes[0]
    for ax, i in zip(axes, cells):
        cell = model.cells[i]
        p = torch.sigmoid(cell.op_logits.detach()).numpy().copy()
        mask = cell.op_mask.numpy()
        img = np.ma.masked_where(~mask, p)
        ax.imshow(np.where(mask, np.nan, 0.5), cmap="Greys", vmin=0, vmax=1, aspect="auto")
        im = ax.imshow(img, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        for c, e, o in regrown:
            if c == i:
                ax.add_patch(plt.Rectangle((o - 0.5, e - 0.5), 1, 1, fill=False, ec="red", lw=1.5))
        ax.set_title(f"cell {i}", fontsize=9)
        ax.set_xticks(range(len(PRIMITIVES)))
        ax.set_xticklabels([n.replace("_conv", "").replace("_pool", "").replace("_connect", "") for n in PRIMITIVES],
                           rotation=90, fontsize=6)
        ax.set_yticks(range(14))
        ax.set_yticklabels([f"e{e}" for e in range(14)], fontsize=6)
    axes[-1].figure.colorbar(im, ax=list(axes), shrink=0.8, label="sigmoid(a)")
    return axes[0].figure


def sparsity_maps(genotype: MGASGenotype, axes=None):
    """Per cell: the share of weights each kept conv op keeps (its weight masks), by (edge, op);
    blank = op not kept or no weights."""
    import matplotlib.pyplot as plt

    from ..methods.mgas.supernet import EDGES

    L = genotype.layers
    if axes is None:
        fig, axes = plt.subplots(1, L, figsize=(2.2 * L, 3.4), squeeze=False)
        axes = axes[0]
    edge_index = {e: k for k, e in enumerate(EDGES)}
    for c, ax in enumerate(axes):
        grid = np.full((len(EDGES), len(PRIMITIVES)), np.nan)
        for o, (op, s, t, ws) in enumerate(genotype.cells[c]):
            if not is_conv(op) or genotype.weight_masks is None:
                continue
            keys = [k for k in genotype.weight_masks.keys() if k[0] == c and k[1] == o]
            kept = sum(int(genotype.weight_masks[k].sum()) for k in keys)
            total = sum(genotype.weight_masks[k].size for k in keys)
            grid[edge_index[(s, t)], PRIMITIVES.index(op)] = kept / total
        im = ax.imshow(grid, cmap="magma", vmin=0.5, vmax=1, aspect="auto")
        ax.set_title(f"cell {c}: width {genotype.node_widths(c)[2]}", fontsize=8)
        ax.set_xticks(range(len(PRIMITIVES)))
        ax.set_xticklabels([n[:3] + n[-3:] for n in PRIMITIVES], rotation=90, fontsize=6)
        ax.set_yticks([])
    axes[-1].figure.colorbar(im, ax=list(axes), shrink=0.8, label="weights kept")
    return axes[0].figure


def plot_accuracy_vs_size(history, supernet_size: float, targets: Sequence[float] = (), ax=None,
                          label: str = "search path"):
    """Monitor accuracy against size (share of the super-net) for the whole-network epochs of
    a run (stage 3 and the final phase), with the targets marked."""
    import matplotlib.pyplot as plt

    recs = [r for r in epoch_records(history) if r["phase"] in ("stage3", "final") and "val_top1" in r]
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([r["proxy"] / supernet_size for r in recs], [100 * r["val_top1"] for r in recs], ".-", label=label)
    for t in targets:
        ax.axvline(t, color="gray", ls="--", lw=0.8)
    ax.set_xlabel("size proxy / super-net")
    ax.set_ylabel("monitor accuracy (%)")
    ax.legend(fontsize=7)
    ax.figure.tight_layout()
    return ax.figure
