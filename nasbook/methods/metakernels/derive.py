"""Derivation (docs/methods/metakernels.md) [O]: super-net state -> :class:`MBConvArch`.

Per searchable layer: d = argmax q̃ (skip only where the layer may be skipped); if d is skip
the block is removed, otherwise e = d and k = argmax p. Candidates are ordered cheapest first
(skip, then increasing e; increasing k) and ``torch.argmax`` returns the first maximum, so ties
break towards the cheaper option. The derived network is retrained from scratch (Sec. 5);
:func:`inherit_block` / :func:`inherited_network` slice the super-net's weights instead
(the notebook's ``inherit`` option).
"""
from __future__ import annotations

import torch
from torch import nn

from ...ops.mbconv import MBConv
from ...spaces.mbconv import SKIP, Choice, MBConvArch, MBConvNet
from .blocks import MetaKernelMBConv


def derive_choices(alphas, betas, backbone, specs) -> list[Choice]:
    """The argmax choice of every layer (fixed layers keep their choice)."""
    out, it = [], iter(zip(alphas, betas))
    for s in specs:
        if s.fixed is not None:
            out.append(Choice(*s.fixed))
            continue
        a, b = next(it)
        if a.dim() != 1:
            raise ValueError("kernel_groups='per_unit' derives a different kernel per channel group (MixConv), "
                             "which MBConvArch cannot hold yet; derive with kernel_groups=1")
        d = int(torch.argmax(b.detach()))
        if s.skippable:
            if d == 0:
                out.append(SKIP)
                continue
            d -= 1
        out.append(Choice(backbone.kernels[int(torch.argmax(a.detach()))], backbone.expansions[d]))
    return out


def derive_arch(model) -> MBConvArch:
    """The architecture a :class:`~.supernet.ChainSupernet` stands for."""
    return MBConvArch(model.backbone, derive_choices(model.alphas, model.betas, model.backbone, model.specs))


@torch.no_grad()
def _copy_bn(dst: nn.BatchNorm2d, src: nn.BatchNorm2d, n: int | None = None):
    sl = slice(None) if n is None else slice(0, n)
    dst.weight.copy_(src.weight[sl])
    dst.bias.copy_(src.bias[sl])
    dst.running_mean.copy_(src.running_mean[sl])
    dst.running_var.copy_(src.running_var[sl])
    dst.num_batches_tracked.copy_(src.num_batches_tracked)


@torch.no_grad()
def inherit_block(block: MetaKernelMBConv, choice: Choice) -> MBConv:
    """The standalone MBConv of ``choice`` with the super-net block's weights sliced in:
    the chosen kernel (independent: W_k; shared: the centre crop), the first e·C_in hidden
    channels of the expansion, depthwise, BN and SE, and the matching projection columns."""
    s = block.spec
    h = choice.expand * s.c_in
    se = block.se.reduce.out_channels if block.se is not None else 0
    out = MBConv(s.c_in, s.c_out, choice.kernel, choice.expand, s.stride, act=block.act, se_channels=se,
                 expand_conv=True, bn_eps=block.expand.bn.eps, bn_momentum=block.expand.bn.momentum)
    out = out.to(block.expand.conv.weight.dtype)
    out.expand.conv.weight.copy_(block.expand.conv.weight[:h])
    _copy_bn(out.expand.bn, block.expand.bn, h)
    out.depthwise.conv.weight.copy_(block.depthwise.conv.weight_of(choice.kernel)[:h])
    _copy_bn(out.depthwise.bn, block.depthwise.bn, h)
    if block.se is not None:
        out.se.reduce.weight.copy_(block.se.reduce.weight[:, :h])
        out.se.reduce.bias.copy_(block.se.reduce.bias)
        out.se.expand.weight.copy_(block.se.expand.weight[:h])
        out.se.expand.bias.copy_(block.se.expand.bias[:h])
    out.project.conv.weight.copy_(block.project.conv.weight[:, :h])
    _copy_bn(out.project.bn, block.project.bn)
    return out


@torch.no_grad()
def inherited_network(model, arch: MBConvArch | None = None) -> MBConvNet:
    """The standalone network of ``arch`` (default: the derived one) initialised from the
    meta-kernel super-net by slicing (docs/methods/metakernels.md, ``inherit: true``)."""
    arch = arch or derive_arch(model)
    net = MBConvNet(arch, model.num_classes, model.in_channels).to(next(model.parameters()).dtype)
    net.stem.load_state_dict(model.stem.state_dict())
    net.head.load_state_dict(model.head.state_dict())
    net.classifier.load_state_dict(model.classifier.state_dict())
    kept = iter(net.blocks)
    for s, block, c in zip(model.specs, model.blocks, arch.layers):
        if c.is_skip:
            continue
        dst = next(kept)
        src = block if s.fixed is not None else inherit_block(block, c)
        dst.load_state_dict(src.state_dict())
    return net
