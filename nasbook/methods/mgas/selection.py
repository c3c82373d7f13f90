"""Shrinking modules in place by a set of kept channels (the tools of MGAS's compaction,
docs/methods/mgas.md): each parameter stays the same ``nn.Parameter`` object, sliced with its
optimiser state (SGD momentum, Adam moments), so optimisers and checkpoints stay valid."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .gated_ops import ScaledFactorizedReduce
from .units import FilterGate


def _even(n: int) -> int:
    return n + (n % 2)


# ---------------------------------------------------------------------------------------
# in-place tensor selection
# ---------------------------------------------------------------------------------------

def _select_param(p: nn.Parameter, dim: int, idx: torch.Tensor, optimizers) -> None:
    p.data = p.data.index_select(dim, idx.to(p.device)).contiguous()
    p.grad = None
    for opt in optimizers:
        st = opt.state.get(p)
        if st and st.get("momentum_buffer") is not None:
            st["momentum_buffer"] = st["momentum_buffer"].index_select(dim, idx.to(p.device)).contiguous()


def _select_buffer(module: nn.Module, name: str, dim: int, idx: torch.Tensor) -> None:
    b = getattr(module, name)
    setattr(module, name, b.index_select(dim, idx.to(b.device)).contiguous())


def select_conv(conv: nn.Conv2d, rows=None, cols=None, optimizers=()) -> None:
    """Keep output channels ``rows`` and input channels ``cols`` of a conv (depthwise convs:
    ``rows`` only, the groups follow)."""
    depthwise = conv.groups > 1
    if rows is not None:
        _select_param(conv.weight, 0, rows, optimizers)
        if hasattr(conv, "weight_mask"):
            _select_buffer(conv, "weight_mask", 0, rows)
        conv.out_channels = len(rows)
        if depthwise:
            conv.in_channels = conv.groups = len(rows)
    if cols is not None and not depthwise:
        _select_param(conv.weight, 1, cols, optimizers)
        if hasattr(conv, "weight_mask"):
            _select_buffer(conv, "weight_mask", 1, cols)
        conv.in_channels = len(cols)


def select_bn(bn: nn.BatchNorm2d, idx, optimizers=()) -> None:
    for name in ("weight", "bias"):
        if getattr(bn, name) is not None:
            _select_param(getattr(bn, name), 0, idx, optimizers)
    for name in ("running_mean", "running_var"):
        if getattr(bn, name) is not None:
            _select_buffer(bn, name, 0, idx)
    bn.num_features = len(idx)


def select_gate(gate: FilterGate, idx, optimizers=()) -> None:
    """Keep filters ``idx``; every kept filter is active afterwards (official)."""
    _select_param(gate.logits, 0, idx, optimizers)
    gate.mask = torch.ones(len(idx), dtype=torch.bool, device=gate.mask.device)
    gate.pending = None


def select_fr(fr, rows, cols, optimizers=()) -> None:
    """FactorizedReduce: ``cols`` of both convs; ``rows`` (indices into the concatenated
    output) split into the two halves."""
    h = fr.conv_1.weight.shape[0]
    lo, hi = rows[rows < h], rows[rows >= h] - h
    select_conv(fr.conv_1, lo, cols, optimizers)
    select_conv(fr.conv_2, hi, cols, optimizers)
    select_bn(fr.bn, rows, optimizers)


def select_preprocess(pre: nn.Module, rows=None, cols=None, optimizers=()) -> None:
    if hasattr(pre, "conv_1"):
        if rows is None:
            rows = torch.arange(pre.bn.num_features)
        select_fr(pre, rows, cols, optimizers)
    else:
        select_conv(pre[1], rows, cols, optimizers)
        if rows is not None:
            select_bn(pre[2], rows, optimizers)


# ---------------------------------------------------------------------------------------
# widths and channel choice
# ---------------------------------------------------------------------------------------

@dataclass
class CompactionRecord:
    end: int
    widths: dict = field(default_factory=dict)       # cell -> (width before, width after)
    readded: dict = field(default_factory=dict)      # cell -> filters re-added by harmonisation (cell-level)
