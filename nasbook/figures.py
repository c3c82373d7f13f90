"""``nasbook figures``: regenerate every figure in ``figures/``, byte for byte reproducibly.

* ``zoo/``: the cells (or layer chains) of every published architecture in :mod:`nasbook.zoo`;
* ``spaces/``: what the search spaces hold, computed rather than quoted: parameters of random
  DARTS networks, MACs of random MBConv networks (both seeded, counted on the ``meta`` device),
  and NAS-Bench-201 accuracies by nonlinearity count (from the benchmark table);
* ``compare.svg``: accuracy against search cost for every method, drawn from
  ``figures/compare.json`` (written by :func:`nasbook.compare.compare_methods`; ``--rerun-compare``
  runs that comparison again at tiny scale first).

Determinism: samples come from fixed-seed generators, graphviz output has no dates, and
matplotlib's SVG writer gets a fixed hash salt and no ``Date`` metadata, so two runs write
identical files.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch

REPO_SHARED_NB201 = Path(__file__).resolve().parents[2] / "shared" / "data" / "nasbench201"
SEED = 0


def _savefig(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    return path


def zoo_figures(out: Path) -> list[Path]:
    """One drawing per zoo architecture (every cell type / the layer chain)."""
    from . import zoo
    from .viz import draw_arch, has_drawing

    paths = []
    for name in zoo.names():
        e = zoo.get(name)
        if not has_drawing(e.space):
            continue
        paths += draw_arch(e.arch, out / "zoo" / name, formats=("svg",))
    return paths


def darts_params_figure(out: Path, samples: int = 100) -> Path:
    """Parameters of random DARTS networks at the CIFAR evaluation size (C=36, 20 cells),
    with the published cells marked."""
    import matplotlib.pyplot as plt

    from . import zoo
    from .measure import count_params
    from .spaces.darts import build_network, sample_genotype

    gen = torch.Generator().manual_seed(SEED)
    genotypes = [sample_genotype(gen) for _ in range(samples)]  # sampled outside the meta context
    with torch.device("meta"):
        sampled = [count_params(build_network(g, "cifar", auxiliary=False)) / 1e6 for g in genotypes]
        published = {n: count_params(build_network(zoo.get(n).arch, "cifar", auxiliary=False)) / 1e6
                     for n in zoo.names() if zoo.get(n).space == "darts"
                     and (zoo.get(n).meta.get("dataset") or "cifar10") == "cifar10"}
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(sampled, bins=30, color="#9ab", label=f"{samples} random genotypes")
    for i, (n, p) in enumerate(sorted(published.items(), key=lambda kv: kv[1])):
        ax.axvline(p, color=f"C{i % 10}", lw=1.2, label=f"{n} ({p:.2f}M)")
    ax.set(xlabel="parameters (M), CIFAR-10, C=36, 20 cells", ylabel="networks",
           title="DARTS space: size of random vs published cells")
    ax.legend(fontsize=7, ncol=2)
    return _savefig(fig, out / "spaces" / "darts_params.svg")


def mbconv_macs_figure(out: Path, samples: int = 50, backbone: str = "proxyless") -> Path:
    """MACs at 224 px of random architectures of an MBConv backbone."""
    import matplotlib.pyplot as plt

    from .measure import count_macs
    from .spaces import get_space
    from .spaces.mbconv import sample_arch

    gen = torch.Generator().manual_seed(SEED)
    space = get_space("mbconv")
    archs = [sample_arch(backbone, gen) for _ in range(samples)]
    with torch.device("meta"):
        macs = [count_macs(space.build(a, 1000, 3, 224), space.input_shape(3, 224)) / 1e6 for a in archs]  # ImageNet's sizes
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(macs, bins=25, color="#b9a")
    ax.set(xlabel="MACs (M) at 224 px", ylabel="networks",
           title=f"MBConv space ({backbone} backbone): cost of {samples} random networks")
    return _savefig(fig, out / "spaces" / "mbconv_macs.svg")


def nb201_figure(out: Path, benchmark: str | Path) -> Path:
    """CIFAR-10 test accuracy of all 15,625 NAS-Bench-201 cells, split by nonlinearity count."""
    import matplotlib.pyplot as plt
    import numpy as np

    from .data.nasbench201 import load_nb201

    table = load_nb201(benchmark)
    counts = np.array([c.nonlinearity_count for c in table.cells])
    acc = table.accuracy["cifar10"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    bins = np.linspace(max(acc.min(), 10), acc.max(), 40)
    for k in sorted(set(counts.tolist())):
        ax.hist(acc[counts == k], bins=bins, histtype="step", lw=1.5, label=f"{k} nonlinear ({(counts == k).sum()})")
    ax.set(xlabel="CIFAR-10 test accuracy (%)", ylabel="cells", yscale="log",
           title="NAS-Bench-201: accuracy by nonlinearity count")
    ax.legend(fontsize=8)
    return _savefig(fig, out / "spaces" / "nb201_accuracy.svg")


def compare_figure(out: Path, rerun: bool = False) -> Path:
    """Accuracy against cost for every method, from ``out/compare.json``."""
    from .compare import compare_methods, load_results, plot_comparison, save_results

    results = out / "compare.json"
    if rerun:
        save_results(compare_methods(progress=True), results)
    if not results.is_file():
        raise FileNotFoundError(f"{results} is missing: run `nasbook figures --rerun-compare` to create it")
    return _savefig(plot_comparison(load_results(results)), out / "compare.svg")


def _benchmark_path(benchmark: str | Path | None) -> Path | None:
    for p in (benchmark, os.environ.get("NASBOOK_NB201"), REPO_SHARED_NB201):
        if p and (Path(p) / "configs.txt").is_file():
            return Path(p)
    return None


def make_figures(out: str | Path = "figures", only: list[str] | None = None, benchmark: str | Path | None = None,
                 rerun_compare: bool = False, log: Callable[[str], None] = print) -> list[Path]:
    """Write the figures (all groups, or those in ``only``: zoo, spaces, compare) under ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "nasbook"  # fixed ids inside the SVG
    out = Path(out)
    groups = only or ["zoo", "spaces", "compare"]
    unknown = set(groups) - {"zoo", "spaces", "compare"}
    if unknown:
        raise ValueError(f"unknown figure group(s) {sorted(unknown)}; choose from zoo, spaces, compare")
    written: list[Path] = []
    if "zoo" in groups:
        written += zoo_figures(out)
    if "spaces" in groups:
        written += [darts_params_figure(out), mbconv_macs_figure(out)]
        nb201 = _benchmark_path(benchmark)
        if nb201 is None:
            log("figures: NAS-Bench-201 table not found (--benchmark or $NASBOOK_NB201): spaces/nb201_accuracy.svg skipped")
        else:
            written.append(nb201_figure(out, nb201))
    if "compare" in groups:
        written.append(compare_figure(out, rerun_compare))
    return written
