"""Matplotlib plots of search runs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from ..ops.cell_ops import PRIMITIVES


def read_history(run_dir: str | Path, event: str = "epoch") -> list[dict]:
    p = Path(run_dir) / "metrics.jsonl"
    if not p.exists():
        raise ValueError(f"{run_dir}: no metrics.jsonl (not a search run folder?)")
    return [r for r in map(json.loads, p.read_text().splitlines()) if r.get("event") == event]


def plot_arch_weights(history: Sequence[dict] | str | Path, cell: str = "normal", edges: Sequence[int] | None = None,
                      primitives: Sequence[str] = PRIMITIVES, ax=None):
    """Softmax architecture weights of each edge over the epochs of a run, one panel per edge.

    ``history`` is a run folder or the epoch records of ``Trainer.history``.
    """
    import matplotlib.pyplot as plt

    if isinstance(history, (str, Path)):
        history = read_history(history)
    recs = [h for h in history if f"alphas_{cell}" in h]
    if not recs:
        raise ValueError("the history holds no architecture weights (run at least one epoch)")
    n_edges = len(recs[0][f"alphas_{cell}"])
    edges = list(range(n_edges)) if edges is None else list(edges)
    cols = min(7, len(edges))
    rows = -(-len(edges) // cols)
    if ax is None:
        fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 1.9 * rows), sharey=True, squeeze=False)
    else:
        fig, axes = ax.figure, ax
    epochs = [h["epoch"] + 1 for h in recs]
    colours = plt.get_cmap("tab10")
    for n, e in enumerate(edges):
        a = axes[n // cols][n % cols]
        for k, name in enumerate(primitives):
            a.plot(epochs, [h[f"alphas_{cell}"][e][k] for h in recs], color=colours(k), label=name, lw=1.5)
        a.set_title(f"edge {e}", fontsize=9)
        a.tick_params(labelsize=7)
    for n in range(len(edges), rows * cols):
        axes[n // cols][n % cols].axis("off")
    axes[0][0].legend(fontsize=6, loc="upper left", ncol=1)
    fig.suptitle(f"{cell} cell: softmax(alpha) per edge over epochs", fontsize=11)
    fig.tight_layout()
    return fig
