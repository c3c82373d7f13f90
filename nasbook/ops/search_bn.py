"""Batch norm as single-path supernets use it: normalise with the current batch only.

The statistics of one sampled subnet are wrong for the next, so single-path supernets (SPOS,
the few-shot method's code) build their BN layers with ``track_running_stats=False`` and,
usually, ``affine=False``: BN then uses batch statistics in training *and* evaluation, and
a subnet's accuracy depends on the evaluation batch (docs/methods/fewshot_nl.md).
:func:`recalibrate` is the ImageNet alternative: fresh running statistics per subnet.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn

_BN = nn.modules.batchnorm._BatchNorm


def use_batch_statistics(module: nn.Module, affine: bool | None = None) -> nn.Module:
    """Switch every BN in ``module`` to batch statistics only (no running buffers); with
    ``affine=False`` also remove their scale and shift. Returns ``module``."""
    for m in module.modules():
        if isinstance(m, _BN):
            m.track_running_stats = False
            m.running_mean = m.running_var = m.num_batches_tracked = None
            if affine is False and m.affine:
                m.affine = False
                m.weight = m.bias = None
    return module


@torch.no_grad()
def recalibrate(module: nn.Module, forward: Callable[[torch.Tensor], object], images: Iterable[torch.Tensor]) -> None:
    """Give every BN of ``module`` fresh running statistics from ``forward(x)`` over ``images``
    in train mode (default momentum), then leave ``module`` in eval mode so they are used.
    Undo with :func:`use_batch_statistics`. (Few-shot method's ImageNet search, Sec. 1.7.)"""
    for m in module.modules():
        if isinstance(m, _BN):
            m.track_running_stats = True
            m.running_mean = torch.zeros(m.num_features, device=_device(module))
            m.running_var = torch.ones(m.num_features, device=_device(module))
            m.num_batches_tracked = torch.tensor(0, dtype=torch.long, device=_device(module))
    module.train()
    for x in images:
        forward(x)
    module.eval()


def _device(module: nn.Module) -> torch.device:
    p = next(module.parameters(), None)
    return p.device if p is not None else torch.device("cpu")
