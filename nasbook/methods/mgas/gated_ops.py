"""The search-time candidate ops of an MGAS edge (docs/methods/mgas.md), built from nasbook's
one definition of each op (:mod:`nasbook.spaces.mgas` composes DARTS' ``DilConv`` blocks
with masked convs) plus the filter and weight gates of :mod:`.units`.

* sep_conv / dil_conv: every depthwise and pointwise conv weight is multiplied by its
  weight gate; after each BN (the "mid" and the "out" BN of a sep_conv, the one BN of a
  dil_conv) channel f is multiplied by its filter gate times ``sigmoid(b_f)``.
* skip_connect on a stride-2 edge: FactorizedReduce whose conv outputs are scaled by
  ``sigmoid(b)`` before its BN (as the official code), with no threshold.
* pools: no BN at search time; identity.
* a removed op becomes :class:`Removed` (no parameters, never run).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ...ops.cell_ops import FactorizedReduce
from ...spaces.mgas import CONV_GEOMETRY, conv_body, is_sep, make_op
from .units import FilterGate, PassState, weight_gate


class GatedOp(nn.Module):
    """An op with filter and weight units: ``gates`` (its :class:`~.units.FilterGate` s) and
    ``convs()`` (its masked conv tensors in tensor-index order). Rounds, compaction, sizes and
    derivation treat every gated op alike through these two."""

    gates: nn.ModuleList

    def convs(self):  # pragma: no cover - abstract
        raise NotImplementedError


class GatedConvOp(GatedOp):
    """A sep_conv (``c_in -> c_mid -> c_out``) or dil_conv (``c_in -> c_out``) with gates.

    ``body`` is a Sequential of DARTS ``DilConv`` blocks ``(ReLU, dw, pw, BN)`` whose convs
    are :class:`~nasbook.ops.masked_conv.MaskedConv2d`; ``gates[i]`` follows block i's BN.
    """

    def __init__(self, name: str, c_in: int, c_mid: int, c_out: int, stride: int):
        super().__init__()
        self.name = name
        widths = (c_in, c_mid, c_out) if is_sep(name) else (c_in, c_out)
        self.body = conv_body(name, widths, stride)
        self.gates = nn.ModuleList(FilterGate(block[3].num_features) for block in self.body)

    @property
    def kernel(self) -> int:
        return CONV_GEOMETRY[self.name][0]

    @property
    def c_in(self) -> int:
        return self.body[0][1].in_channels

    @property
    def c_mid(self) -> int:
        return self.body[0][3].num_features

    @property
    def c_out(self) -> int:
        return self.body[-1][3].num_features

    def convs(self):
        """The masked conv tensors in tensor-index order (dw, pw[, dw, pw])."""
        return [m for block in self.body for m in (block[1], block[2])]

    def forward(self, x, tau_f, tau_w, state: PassState):
        for block, gate in zip(self.body, self.gates):
            relu, dw, pw, bn = block
            x = relu(x)
            x = dw(x, weight_gate(dw, tau_w, state))
            x = pw(x, weight_gate(pw, tau_w, state))
            x = gate(bn(x), tau_f, state)
        return x


class GatedMBConv(GatedOp):
    """A candidate of the MobileNet-like space (ours, Sec. 2.3): nasbook's one inverted
    residual block (:func:`nasbook.spaces.mgas_mobile.candidate_block`, masked convs, no
    residual of its own) with the filter gate on its hidden channels, after the expansion BN,
    and weight gates on the expansion, depthwise and projection convs. A hidden channel whose
    gate is 0 is zeroed after the depthwise block too (ours, see ``forward``)."""

    def __init__(self, name: str, c_in: int, c_out: int, stride: int):
        super().__init__()
        from ...spaces.mgas_mobile import candidate_block

        self.name = name
        self.block = candidate_block(name, c_in, c_out, stride)
        self.gates = nn.ModuleList([FilterGate(self.block.hidden)])

    @property
    def kernel(self) -> int:
        return self.block.kernel

    @property
    def c_in(self) -> int:
        return self.block.expand.conv.in_channels

    @property
    def hidden(self) -> int:
        return self.block.expand.conv.out_channels

    @property
    def c_out(self) -> int:
        return self.block.project.conv.out_channels

    def convs(self):
        b = self.block
        return [b.expand.conv, b.depthwise.conv, b.project.conv]

    def forward(self, x, tau_f, tau_w, state: PassState):
        b = self.block
        scale = self.gates[0].scale(tau_f, state).view(1, -1, 1, 1)   # sigmoid(b) * g, or M when discrete
        h = b.expand.conv(x, weight_gate(b.expand.conv, tau_w, state))
        h = b.expand.act(b.expand.bn(h) * scale.to(h.dtype))
        h = b.depthwise.act(b.depthwise.bn(b.depthwise.conv(h, weight_gate(b.depthwise.conv, tau_w, state))))
        # ours: the depthwise BN would turn a gated-off channel into a constant; zeroing the
        # channel again (the binary gate, no gradient) makes a gate of 0 exactly the removal of
        # the expansion row, depthwise channel and projection column that compaction performs
        h = h * (scale.detach() > 0).to(h.dtype)
        return b.project.bn(b.project.conv(h, weight_gate(b.project.conv, tau_w, state)))


class ScaledFactorizedReduce(nn.Module):
    """The skip op of a stride-2 edge: nasbook's FactorizedReduce with its conv outputs scaled
    by ``sigmoid(b) * M`` before the BN (official search op; no threshold, Sec. 1.3)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.fr = FactorizedReduce(c_in, c_out)
        self.gate = FilterGate(c_out, thresholded=False)

    def forward(self, x, state: PassState):
        fr = self.fr
        x = fr.relu(x)
        # the same two offset stride-2 paths as FactorizedReduce.forward
        y = torch.cat([fr.conv_1(x), fr.conv_2(F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1)))], dim=1)
        return fr.bn(self.gate(y, None, state))


class Removed(nn.Module):
    """Placeholder of a removed op: no parameters; the cell never runs it (Sec. 1.4)."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x, *args, **kwargs):  # pragma: no cover - never called
        raise RuntimeError("a removed op was executed")


def make_search_op(name: str, c: int, stride: int) -> nn.Module:
    """A fresh search op at width ``c`` (used at construction and by regrowth)."""
    if name in CONV_GEOMETRY:
        return GatedConvOp(name, c, c, c, stride)
    if name == "skip_connect" and stride != 1:
        return ScaledFactorizedReduce(c, c)
    return make_op(name, (c,), stride, pool_bn=False)


def run_op(op: nn.Module, x, tau_f, tau_w, state: PassState):
    if isinstance(op, GatedOp):
        return op(x, tau_f, tau_w, state)
    if isinstance(op, ScaledFactorizedReduce):
        return op(x, state)
    return op(x)


__all__ = ["GatedOp", "GatedConvOp", "GatedMBConv", "ScaledFactorizedReduce", "Removed", "make_search_op", "run_op"]
