"""Ranking NAS-Bench-201 cells with trained supernets against the benchmark
(docs/methods/fewshot_nl.md, "Ranking against NAS-Bench-201").

Every cell (or a fixed, seeded subset stratified by nonlinearity count [O]) is scored with the
supernet that owns it, on fixed batches of the run's test split (CIFAR-10: the 10k test images
at batch 512 [C]). The scores are compared with the benchmark's test accuracies by
Kendall tau-b and Spearman rho (scipy), overall, within each subspace and on the top 1%,
top 50% and bottom 50% by ground truth; "count alone" is the zero-cost baseline on the same
cells. The found architecture's benchmark accuracies are looked up on all three datasets.

``nasbook rank RUN --benchmark PATH`` runs this on a search run folder.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ...measure import kendall_tau, spearman_rho
from ...spaces.nb201 import NB201Cell, all_cells


def stratified_cells(n: int | None, seed: int = 0) -> list[NB201Cell]:
    """``n`` cells drawn without replacement, proportionally from each nonlinearity count
    (largest remainders), seeded; all 15,625 when ``n`` is None or too large."""
    cells = list(all_cells())
    if n is None or n >= len(cells):
        return cells
    by_count: dict[int, list[NB201Cell]] = {}
    for c in cells:
        by_count.setdefault(c.nonlinearity_count, []).append(c)
    quota = {k: n * len(v) / len(cells) for k, v in by_count.items()}
    take = {k: int(q) for k, q in quota.items()}
    for k in sorted(quota, key=lambda k: -(quota[k] - take[k]))[: n - sum(take.values())]:
        take[k] += 1
    g = torch.Generator().manual_seed(seed)
    out = []
    for k in sorted(by_count):
        idx = torch.randperm(len(by_count[k]), generator=g)[: take[k]].tolist()
        out += [by_count[k][i] for i in sorted(idx)]
    return out


def score_cells(task, cells: Sequence[NB201Cell], batches, progress: bool = False) -> np.ndarray:
    """Top-1 accuracy (percent) of each cell on its supernet over fixed ``batches``."""
    batches = task.on_device(batches)
    it = cells
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(cells, desc="scoring cells", leave=False)
    return np.array([task.score(c, batches) for c in it])


def _tau_where(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float | None:
    return kendall_tau(pred[mask], gt[mask]) if mask.sum() >= 2 else None


def rank_report(pred: np.ndarray, cells: Sequence[NB201Cell], gt: np.ndarray, subspaces=None) -> dict:
    """Correlations of supernet scores ``pred`` with ground truth ``gt`` (tau-b, rho)."""
    pred, gt = np.asarray(pred, float), np.asarray(gt, float)
    counts = np.array([c.nonlinearity_count for c in cells])
    order = np.argsort(-gt, kind="stable")
    pos = np.empty(len(gt), int)
    pos[order] = np.arange(len(gt))
    top1 = pos < max(2, int(np.ceil(0.01 * len(gt))))
    top50 = pos < len(gt) // 2
    out = {"n": len(cells), "kendall_tau": kendall_tau(pred, gt), "spearman_rho": spearman_rho(pred, gt),
           "tau_top1pct": _tau_where(pred, gt, top1), "tau_top50pct": _tau_where(pred, gt, top50),
           "tau_bottom50pct": _tau_where(pred, gt, ~top50),
           "count_alone_tau": kendall_tau(counts, gt)}
    if subspaces is not None:
        group = np.array([subspaces.group_of(c) for c in cells])
        out["tau_within_subspace"] = {lab: _tau_where(pred, gt, group == k) for k, lab in enumerate(subspaces.labels)}
    best = int(np.argmax(pred))
    out["top_predicted"] = {"arch": str(cells[best]), "ground_truth": float(gt[best]),
                            "regret": float(gt.max() - gt[best])}
    return out


def plot_ranking(pred, gt, cells, subspaces=None, report: dict | None = None, ax=None, gt_label="benchmark test accuracy (%)"):
    """Scatter of supernet score against ground truth, coloured by subspace."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.2))
    pred, gt = np.asarray(pred), np.asarray(gt)
    if subspaces is None:
        ax.scatter(gt, pred, s=8, alpha=0.6)
    else:
        group = np.array([subspaces.group_of(c) for c in cells])
        for k, lab in enumerate(subspaces.labels):
            m = group == k
            ax.scatter(gt[m], pred[m], s=8, alpha=0.6, label=f"count {lab}")
        ax.legend(fontsize=8, loc="upper left")
    ax.set_xlabel(gt_label)
    ax.set_ylabel("supernet accuracy (%)")
    if report:
        ax.set_title(f"n={report['n']}  tau={report['kendall_tau']:.3f}  rho={report['spearman_rho']:.3f}  "
                     f"(count alone tau={report['count_alone_tau']:.3f})", fontsize=9)
    ax.figure.tight_layout()
    return ax


def load_run(run: str | Path, device: str = "cpu"):
    """The task of a search run folder with its trained supernets (config.yaml + checkpoint.pt)."""
    import yaml

    from ...config import make_config
    from ...data import dataset_info
    from ...engine import select_device
    from ...engine.checkpoint import load
    from .. import get_method
    from .method import FewShotNLSearch

    run = Path(run)
    if not (run / "config.yaml").exists() or not (run / "checkpoint.pt").exists():
        raise ValueError(f"{run} is not a search run folder (needs config.yaml and checkpoint.pt)")
    saved = yaml.safe_load((run / "config.yaml").read_text())
    cls = get_method(saved["method"])
    if not issubclass(cls, FewShotNLSearch):
        raise ValueError(f"{run}: method {saved['method']!r} has no supernets to rank with")
    cfg = make_config(cls.Config, saved["config"])
    if cfg.space != "nb201":
        raise ValueError(f"{run}: ranking against NAS-Bench-201 needs an nb201 run, this one searched {cfg.space!r}")
    task = cls(cfg, dataset_info(cfg.dataset, cfg.resolution))
    task.model.load_state_dict(load(run / "checkpoint.pt", map_location="cpu")["model"])
    task.model.to(select_device(device))
    return task


#: the datasets whose accuracies the NAS-Bench-201 table holds
NB201_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


def rank_run(run: str | Path, benchmark: str | Path | None = None, sample: int | None = None,
             gt_dataset: str | None = None, split: str = "test", device: str = "cpu", seed: int = 0,
             progress: bool = True, plot: bool = True) -> dict:
    """Score a run's NB201 cells, compare with the benchmark, write ``rank.json`` (and
    ``rank_scatter.png``) into the run folder; returns the report."""
    from ...data.nasbench201 import load_nb201
    from ...spaces import load_arch
    from . import data as fdata

    table = load_nb201(benchmark)
    task = load_run(run, device)
    cfg = task.cfg
    # The benchmark's columns are accuracies on its own datasets: a run on another dataset
    # (the offline digits) ranked against them measures transfer, not the supernet. Refused
    # unless the column is named explicitly, and then reported as transfer.
    transfer = None
    if gt_dataset is None:
        if cfg.dataset not in NB201_DATASETS:
            raise ValueError(
                f"{run}: this run searched on {cfg.dataset!r}, but the NAS-Bench-201 table holds accuracies on "
                f"{', '.join(NB201_DATASETS)} only; ranking against one of them would measure how well "
                f"{cfg.dataset} stands in for it, not the supernet. Name the column to rank against it anyway "
                f"(--gt cifar10), and the report says 'transfer to cifar10'")
        gt_dataset = cfg.dataset
    elif gt_dataset != cfg.dataset:
        transfer = gt_dataset
    if split == "test":
        batches = fdata.test_batches(cfg, cfg.rank_batch_size, cfg.rank_images)
    elif split == "heldout":
        batches = fdata.heldout_batches(cfg, None, cfg.rank_batch_size)
    else:
        raise ValueError(f"split must be 'test' or 'heldout', got {split!r}")
    cells = stratified_cells(sample, seed)
    pred = score_cells(task, cells, batches, progress)
    gt = table.accs(cells, gt_dataset)
    report = rank_report(pred, cells, gt, task.subspaces)
    report.update({"run": str(run), "method": task.key, "images": f"{cfg.dataset} {split} split",
                   "ground_truth": (f"transfer to {gt_dataset}: " if transfer else f"{gt_dataset}: ") + table.name,
                   "transfer": transfer, "sample": sample, "seed": seed})
    arch_file = Path(run) / "arch.json"
    if arch_file.exists():
        found = load_arch(arch_file)
        if isinstance(found, NB201Cell):
            acc = table.lookup(found)
            report["found"] = {"arch": str(found), "benchmark_accuracy": acc,
                               "regret": {k: table.best(k)[1] - v for k, v in acc.items()}}
    (Path(run) / "rank.json").write_text(json.dumps(
        {**report, "cells": [str(c) for c in cells], "predicted": pred.tolist()}) + "\n")
    if plot:
        import matplotlib

        matplotlib.use("Agg", force=False)
        ax = plot_ranking(pred, gt, cells, task.subspaces, report, gt_label=f"{gt_dataset} benchmark test accuracy (%)")
        ax.figure.savefig(Path(run) / "rank_scatter.png", dpi=120)
        report["plot"] = str(Path(run) / "rank_scatter.png")
    return report
