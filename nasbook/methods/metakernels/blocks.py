"""Searchable MBConv blocks: the meta-kernel block and the weighted-sum (multi-path) baseline.

Both blocks take the block's relaxed choice as ``(p, q̃)``:

* ``p``  kernel weights over 𝒦 (shape (|𝒦|,), or (U, |𝒦|) for ``kernel_groups: per_unit``);
* ``q̃`` weights over {skip} ∪ 𝓔 for skippable blocks, over 𝓔 otherwise (docs/methods/metakernels.md).

:class:`MetaKernelMBConv` computes ONE feature map (Sec. 1.3-1.5):

    h = act(BN(expand(x)))                           at the largest width H = e_max * C_in
    h = act(BN(conv(h, M(p))))                       depthwise meta kernel, K = max 𝒦
    y = BN(conv1x1(SE_s(h), W_proj ⊙ s))             width meta kernel: columns scaled by s(q)
    out = x + g · y   (residual blocks),  g = 1 - q̃_skip

with the nested-width staircase s_c(q) = Σ_{j: c < e_j C_in} q_j, q = q̃_𝓔 / max(g, 1e-12),
and SE_s the squeeze-and-excitation whose reduce kernel columns are scaled by s too. The
scales act after every train-mode BN (the "BN trap" of Sec. 1.4 is avoided by construction).

:class:`WeightedSumMBConv` is the DARTS/FBNet relaxation of the same space: every (k, e)
candidate is a complete MBConv block with its own weights, and the block outputs are mixed
with weights q̃_e · p_k (skip mixes in the identity). |𝒦|·|𝓔| feature maps per block.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...ops.mbconv import ConvBNAct, MBConv, SqueezeExcite, make_activation
from ...spaces.mbconv import LayerSpec
from .kernels import MetaKernelConv


def split_width_weights(q_tilde: torch.Tensor, skippable: bool):
    """(g, q): the keep-probability g = 1 - q̃_skip and the renormalised width weights
    q = q̃_𝓔 / max(g, 1e-12) (the guard makes a one-hot skip an exact identity, Sec. 1.5)."""
    if not skippable:
        return None, q_tilde
    g = 1 - q_tilde[0]
    return g, q_tilde[1:] / g.clamp_min(1e-12)


class MetaDepthwise(nn.Module):
    """Meta-kernel depthwise conv -> BN -> act (sub-module names as in :class:`ConvBNAct`)."""

    def __init__(self, channels: int, kernels: Sequence[int], stride: int, act: str, kernel_weights: str,
                 bn_eps: float, bn_momentum: float):
        super().__init__()
        self.conv = MetaKernelConv(channels, channels, kernels, stride, groups=channels, kernel_weights=kernel_weights)
        self.bn = nn.BatchNorm2d(channels, eps=bn_eps, momentum=bn_momentum)
        self.act = make_activation(act)

    def forward(self, x, p):
        return self.act(self.bn(self.conv(x, p)))


class MetaKernelMBConv(nn.Module):
    """One searchable MBConv layer of the meta-kernel super-net (see the module docstring).

    ``width_placement``: ``"kernels"`` (default) scales the input columns of the projection
    and SE-reduce kernels by s; ``"activation"`` multiplies the hidden activation by s before
    SE instead. The two are algebraically identical (Sec. 1.4, checked by a test).
    """

    def __init__(self, spec: LayerSpec, kernels: Sequence[int], expansions: Sequence[int], act: str,
                 se_channels: int = 0, kernel_weights: str = "independent", per_unit: bool = False,
                 bn_eps: float = 1e-5, bn_momentum: float = 0.1):
        super().__init__()
        self.spec, self.kernels, self.expansions = spec, tuple(kernels), tuple(expansions)
        self.skippable, self.per_unit, self.act = spec.skippable, per_unit, act
        c_in, self.units = spec.c_in, max(expansions)
        hidden = self.units * c_in
        bn = dict(bn_eps=bn_eps, bn_momentum=bn_momentum)
        self.expand = ConvBNAct(c_in, hidden, 1, act=act, **bn)
        self.depthwise = MetaDepthwise(hidden, kernels, spec.stride, act, kernel_weights, **bn)
        self.se = SqueezeExcite(hidden, se_channels, act) if se_channels else None
        self.project = ConvBNAct(hidden, spec.c_out, 1, act=None, **bn)
        self.use_residual = spec.stride == 1 and spec.c_in == spec.c_out
        self.width_placement = "kernels"
        # row j: 1 on the first e_j * C_in hidden channels (the nested width candidates)
        masks = torch.zeros(len(expansions), hidden)
        for j, e in enumerate(expansions):
            masks[j, :e * c_in] = 1
        self.register_buffer("width_masks", masks, persistent=False)

    def staircase(self, q: torch.Tensor) -> torch.Tensor:
        """s(q): per hidden channel, the probability that it is kept."""
        return q.to(self.width_masks.dtype) @ self.width_masks

    def forward(self, x: torch.Tensor, p: torch.Tensor, q_tilde: torch.Tensor) -> torch.Tensor:
        g, q = split_width_weights(q_tilde, self.skippable)
        w_dtype = self.project.conv.weight.dtype
        s = self.staircase(q).to(w_dtype)
        if self.per_unit:  # one kernel mixture per width unit of C_in hidden channels
            p = p.repeat_interleave(self.spec.c_in, dim=0)
        h = self.depthwise(self.expand(x), p)
        if self.width_placement == "kernels":
            if self.se is not None:
                se = self.se
                z = F.conv2d(h.mean((2, 3), keepdim=True), se.reduce.weight * s.view(1, -1, 1, 1), se.reduce.bias)
                h = h * torch.sigmoid(se.expand(se.act(z)))
            y = self.project.bn(F.conv2d(h, self.project.conv.weight * s.view(1, -1, 1, 1)))
        else:
            h = h * s.view(1, -1, 1, 1).to(h.dtype)
            if self.se is not None:
                h = self.se(h)
            y = self.project(h)
        if g is not None:
            y = g.to(y.dtype) * y
        return x + y if self.use_residual else y


class WeightedSumMBConv(nn.Module):
    """The multi-path baseline: Σ_{k,e} q̃_e p_k · MBConv_{k,e}(x) (+ x for residual layers)."""

    def __init__(self, spec: LayerSpec, kernels: Sequence[int], expansions: Sequence[int], act: str,
                 se_channels: int = 0, bn_eps: float = 1e-5, bn_momentum: float = 0.1, **_):
        super().__init__()
        self.spec, self.kernels, self.expansions = spec, tuple(kernels), tuple(expansions)
        self.skippable, self.per_unit = spec.skippable, False
        self.use_residual = spec.stride == 1 and spec.c_in == spec.c_out
        self.candidates = nn.ModuleList(
            MBConv(spec.c_in, spec.c_out, k, e, spec.stride, act=act, se_channels=se_channels, expand_conv=True,
                   residual=False, bn_eps=bn_eps, bn_momentum=bn_momentum)
            for e in expansions for k in kernels)

    def forward(self, x, p, q_tilde):
        q = q_tilde[1:] if self.skippable else q_tilde   # q̃_skip weighs the identity, folded into "+ x"
        w = (q[:, None] * p[None, :]).flatten()          # (e, k) in the order of self.candidates
        out = sum(wi * op(x) for wi, op in zip(w, self.candidates))
        return x + out if self.use_residual else out
