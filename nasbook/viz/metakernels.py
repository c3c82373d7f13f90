"""Matplotlib figures of the Meta Kernels notebook (docs/methods/metakernels.md)."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def draw_rings(ax, kernels: Sequence[int], size: int | None = None, color: str = "white") -> None:
    """Outline the centre k x k squares of a K x K image (the candidate kernels inside a meta kernel)."""
    import matplotlib.patches as mpatches

    size = size or max(kernels)
    for k in kernels:
        d = (size - k) / 2 - 0.5
        ax.add_patch(mpatches.Rectangle((d, d), k, k, fill=False, lw=1.5, ec=color, ls="--"))


def plot_meta_kernel(kmap, p: Sequence[float], kernels: Sequence[int], ax_img, ax_bar, title: str = "", vmax=None):
    """|M(p)| averaged over channels, with the candidate squares outlined, and p as bars."""
    kmap = np.asarray(kmap)
    im = ax_img.imshow(kmap, cmap="magma", vmin=0, vmax=vmax)
    draw_rings(ax_img, kernels, kmap.shape[-1])
    ax_img.set_xticks([]), ax_img.set_yticks([])
    ax_img.set_title(title, fontsize=9)
    ax_bar.bar([f"{k}x{k}" for k in kernels], p, color="#4292c6")
    ax_bar.set_ylim(0, max(0.5, max(p) * 1.1))
    ax_bar.tick_params(labelsize=7)
    return im


def choice_grids(records: Sequence[dict], kernels: Sequence[int]):
    """(width grid, kernel grid): layers x records, expansion (0 = skip) and kernel size of the argmax."""
    widths, ks = [], []
    for r in records:
        widths.append([0 if c == "skip" else int(c.split("_e")[1]) for c in r["arch"]])
        ks.append([0 if c == "skip" else int(c.split("_")[0][1:]) for c in r["arch"]])
    return np.array(widths).T, np.array(ks).T


def plot_choice_timeline(records: Sequence[dict], kernels: Sequence[int], axes) -> None:
    """Two layers x steps grids: the argmax expansion (0 = skip) and kernel size of every layer."""
    w, k = choice_grids(records, kernels)
    steps = [r["step"] for r in records]
    extent = (steps[0] - 0.5, steps[-1] + 0.5, w.shape[0] - 0.5, -0.5)
    for ax, grid, title, cmap in ((axes[0], w, "expansion (0 = skip)", "viridis"),
                                  (axes[1], k, "kernel size (0 = skip)", "Blues")):
        im = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap=cmap, extent=extent)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel("layer")
        ax.figure.colorbar(im, ax=ax, fraction=0.04)


def plot_cost(records: Sequence[dict], target_m: float, ax) -> None:
    """E[MACs] (the differentiable term), the derived architecture's exact MACs and the target T."""
    steps = [r["step"] for r in records]
    ax.plot(steps, [r["e_mflops"] for r in records], label="E[MACs] of the relaxed super-net")
    ax.step(steps, [r["arch_mflops"] for r in records], where="post", label="exact MACs of the argmax architecture")
    ax.axhline(target_m, color="k", ls="--", lw=1, label=f"target T = {target_m:g}M")
    ax.set_xlabel("step")
    ax.set_ylabel("M MACs")
    ax.legend(fontsize=8)
