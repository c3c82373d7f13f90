"""Scoring candidates with the supernet (docs/methods/nse.md step 4).

For each architecture: fix it, recalibrate BN on training batches (no gradient, train mode),
then measure top-1 on the whole held-out split in eval mode. Recalibration (Sec. 10 #8):
``cumulative`` (ours, default) resets the running statistics and averages them over the
batches exactly (momentum None); ``momentum`` keeps the code's running update from the
current statistics.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import torch
from torch import nn

from ...engine import distributed as D


@torch.no_grad()
def recalibrate_bn(model: nn.Module, arch, batches: Iterable, mode: str = "cumulative", device=None) -> None:
    """Re-estimate BN running statistics of ``model`` running ``arch`` on ``batches``."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    if mode == "cumulative":
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
    was_training = model.training
    model.train()
    try:
        for x, _ in batches:
            model(x.to(device) if device is not None else x, arch)
    finally:
        for m, mom in zip(bns, saved):
            m.momentum = mom
        model.train(was_training)


@torch.no_grad()
def heldout_top1(model: nn.Module, arch, loader: Iterable, device=None) -> float:
    """Top-1 accuracy of ``model`` running ``arch`` on ``loader`` (eval mode; summed over DDP ranks)."""
    was_training = model.training
    model.eval()
    correct = torch.zeros(2, dtype=torch.float64, device=device)
    for x, y in loader:
        if device is not None:
            x, y = x.to(device), y.to(device)
        correct[0] += (model(x, arch).argmax(1) == y).sum()
        correct[1] += y.numel()
    model.train(was_training)
    if D.world()[1] > 1:
        torch.distributed.all_reduce(correct)
    return float(correct[0] / correct[1].clamp(min=1))


def score(model: nn.Module, archs: Sequence, recal_batches: Callable[[], Iterable], heldout: Iterable,
          mode: str = "cumulative", device=None, progress: bool = False) -> list[float]:
    """Held-out top-1 of every architecture after its own BN recalibration; ``recal_batches()``
    yields the same training batches for every architecture."""
    it = archs
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(archs, desc="scoring candidates", leave=False, dynamic_ncols=True)
    out = []
    for a in it:
        recalibrate_bn(model, a, recal_batches(), mode, device)
        out.append(heldout_top1(model, a, heldout, device))
    return out
