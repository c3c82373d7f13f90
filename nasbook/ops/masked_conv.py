"""Convolutions with an elementwise weight mask (weight-level pruning).

:class:`MaskedConv2d` is an ``nn.Conv2d`` whose weight is multiplied by a mask in every
forward: the committed boolean mask it stores (``weight_mask``, a buffer, so it travels with
``state_dict`` and checkpoints), or a live mask passed to ``forward`` (MGAS search, where
the mask is a learned step function of ``|w|``). The multiplication goes through the
ordinary conv kernel, so ``torch.utils.flop_counter`` and the parameter counters see a dense
conv; :func:`masked_zeros` counts what the mask removes.

:func:`mask_convs` turns the plain convs of any op from :mod:`nasbook.ops.cell_ops` into
masked ones in place, so masked ops are *compositions* of the one definition of each op
(e.g. a masked ``DilConv`` is ``mask_convs(DilConv(...))``), never copies of it.
"""
from __future__ import annotations

import torch
from torch import nn


class MaskedConv2d(nn.Conv2d):
    """``nn.Conv2d`` computing ``conv(x, weight * mask)``.

    ``forward(x)`` uses the stored ``weight_mask`` (all ones at construction);
    ``forward(x, mask)`` uses ``mask`` instead (any tensor broadcastable to the weight,
    gradients flow through it).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_buffer("weight_mask", torch.ones_like(self.weight, dtype=torch.bool))

    @classmethod
    def from_conv(cls, conv: nn.Conv2d) -> "MaskedConv2d":
        """A masked conv sharing ``conv``'s parameters (same hyper-parameters, same tensors)."""
        m = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                conv.dilation, conv.groups, conv.bias is not None, conv.padding_mode,
                device=conv.weight.device, dtype=conv.weight.dtype)
        m.weight = conv.weight
        if conv.bias is not None:
            m.bias = conv.bias
        return m

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        m = self.weight_mask if mask is None else mask
        return self._conv_forward(x, self.weight * m, self.bias)

    def set_mask(self, mask) -> None:
        """Store a committed mask (anything convertible to a bool tensor of the weight's shape)."""
        mask = torch.as_tensor(mask, device=self.weight.device).to(torch.bool)
        if mask.shape != self.weight.shape:
            raise ValueError(f"mask shape {tuple(mask.shape)} does not match the weight {tuple(self.weight.shape)}")
        self.weight_mask = mask.clone()


def mask_convs(module: nn.Module) -> nn.Module:
    """Replace every plain ``nn.Conv2d`` inside ``module`` by a :class:`MaskedConv2d` holding
    the same parameters (in place; returns ``module``)."""
    for name, child in list(module.named_children()):
        if type(child) is nn.Conv2d:
            setattr(module, name, MaskedConv2d.from_conv(child))
        else:
            mask_convs(child)
    return module


def masked_convs(module: nn.Module) -> list[MaskedConv2d]:
    """The masked convs of ``module`` in registration order."""
    return [m for m in module.modules() if isinstance(m, MaskedConv2d)]


def masked_zeros(module: nn.Module) -> int:
    """Number of weights that the stored masks of ``module``'s masked convs set to zero."""
    return sum(int((~m.weight_mask).sum()) for m in masked_convs(module))
