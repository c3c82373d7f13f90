"""Single-path supernets, narrowed by the width divisor G, and the bank that routes a subnet to one.

* :class:`SearchCell` / :func:`nb201_supernet`: the NAS-Bench-201 network in which every edge
  holds all five ops and ``forward(x, cell)`` runs the chosen one on each edge, in all 15
  cells (the benchmark's ``forward_dynamic``). BN: no affine, batch statistics only [C].
* :class:`MBConvSupernet`: the MobileNet-space network in which every searchable layer holds
  its six MBConvs (and Identity where allowed); stem, first block, head and classifier are
  its own (each supernet is a complete network [C]).
* Channel reduction [P] (docs/methods/fewshot_nl.md, "Narrow supernets and weight
  sharing"): every width is divided by G (integer floor); the MBConv expansion multiplies the reduced input width.
* :class:`SupernetBank`: ``sharing="independent"`` gives each subspace its own supernet
  (default [O], as the paper describes [R]); ``"single"`` one supernet for the whole space
  (SPOS, or "balancing without splitting"); ``"layerwise_cumulative"`` the development code's
  NAS-Bench-201 variant (:class:`CopiedCell`, [C]): one network sharing stem, reductions
  and head, with some cells in several copies picked by the running count.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import torch
from torch import nn

from ...ops.nb201_ops import NB201_OPS, make_nb201_op
from ...ops.search_bn import use_batch_statistics
from ...spaces.nb201 import NB201Cell, NB201Network


class SearchCell(nn.Module):
    """An NB201 cell with all five ops on each of its six edges; runs the ops of ``cell``."""

    def __init__(self, channels: int):
        super().__init__()
        self.edges = nn.ModuleList(
            nn.ModuleList(make_nb201_op(op, channels, affine=False) for op in NB201_OPS) for _ in range(6))

    def forward(self, x, cell: NB201Cell):
        nodes, e = [x], 0
        for j in (1, 2, 3):
            nodes.append(sum(self.edges[e + i][NB201_OPS.index(cell.ops[e + i])](nodes[i]) for i in range(j)))
            e += j
        return nodes[-1]


def copy_index(running_count: int, thresholds: Sequence[int]) -> int:
    """Which copy a cell uses: the number of thresholds the running count exceeds [C]."""
    return sum(running_count > t for t in thresholds)


class CopiedCell(nn.Module):
    """Searched cell number ``position`` (1..3N) of a layer-wise network: ``len(thresholds) + 1``
    copies of a :class:`SearchCell`; a cell with count e uses copy ``copy_index(position * e)``."""

    def __init__(self, channels: int, position: int, thresholds: Sequence[int]):
        super().__init__()
        self.position, self.thresholds = position, tuple(thresholds)
        self.copies = nn.ModuleList(SearchCell(channels) for _ in range(len(self.thresholds) + 1))

    def copy_for(self, cell: NB201Cell) -> int:
        return copy_index(self.position * cell.nonlinearity_count, self.thresholds)

    def forward(self, x, cell: NB201Cell):
        return self.copies[self.copy_for(cell)](x, cell)


def nb201_supernet(C: int, N: int, num_classes: int, in_channels: int = 3,
                   copy_thresholds: Sequence[int] | None = None, copy_stages: Sequence[int] = (2, 3)) -> NB201Network:
    """A single-path NB201 supernet (batch-statistics BN, no affine). With ``copy_thresholds``,
    the cells of ``copy_stages`` become :class:`CopiedCell` s (``layerwise_cumulative``)."""
    position = 0

    def make_cell(c):
        nonlocal position
        position += 1
        stage = (position - 1) // N + 1
        if copy_thresholds and stage in copy_stages:
            return CopiedCell(c, position, copy_thresholds)
        return SearchCell(c)

    return use_batch_statistics(NB201Network(make_cell, C, N, num_classes, in_channels, affine=False))


# -- MobileNet space ---------------------------------------------------------------------------
def narrow_backbone(backbone, divisor: int):
    """The backbone with every width divided by ``divisor`` (floor) [P]."""
    if divisor == 1:
        return backbone
    from ...spaces.mbconv import Stage

    return dataclasses.replace(
        backbone, name=f"{backbone.name}/{divisor}", stem_channels=backbone.stem_channels // divisor,
        head_channels=backbone.head_channels // divisor,
        stages=tuple(Stage(s.out_channels // divisor, s.layers, s.stride, s.fixed) for s in backbone.stages))


class ChoiceLayer(nn.Module):
    """One layer of the MobileNet supernet: an MBConv per candidate (key ``k3_e6`` ...); Identity
    for ``skip``."""

    def __init__(self, backbone, spec):
        from ...ops.mbconv import MBConv

        super().__init__()
        self.ops = nn.ModuleDict({
            str(c): MBConv(spec.c_in, spec.c_out, c.kernel, c.expand, spec.stride, act=backbone.activation,
                           expand_conv=None if spec.searchable else c.expand != 1)
            for c in backbone.choices(spec) if not c.is_skip})

    def forward(self, x, choice):
        return x if choice.is_skip else self.ops[str(choice)](x)


class MBConvSupernet(nn.Module):
    """A complete single-path network of the MobileNet space at reduced width:
    stem conv-BN-ReLU6, the layers, 1x1 head conv-BN-ReLU6, global pooling, linear."""

    def __init__(self, backbone, num_classes: int = 1000, in_channels: int = 3, divisor: int = 1):
        from ...ops.mbconv import ConvBNAct
        from ...spaces.mbconv import init_mobilenet_

        super().__init__()
        bb = narrow_backbone(backbone, divisor)
        self.backbone = bb
        self.stem = ConvBNAct(in_channels, bb.stem_channels, 3, bb.stem_stride, act=bb.activation)
        self.layers = nn.ModuleList(ChoiceLayer(bb, s) for s in bb.layers())
        self.head = ConvBNAct(bb.last_channels, bb.head_channels, 1, act=bb.activation)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(bb.head_channels, num_classes)
        init_mobilenet_(self)
        use_batch_statistics(self, affine=False)

    def forward(self, x, arch):
        x = self.stem(x)
        for layer, choice in zip(self.layers, arch.layers):
            x = layer(x, choice)
        return self.classifier(torch.flatten(self.pool(self.head(x)), 1))


# -- the bank ----------------------------------------------------------------------------------
SHARING = ("independent", "single", "layerwise_cumulative")


class SupernetBank(nn.Module):
    """The supernets of a run and the rule that routes an architecture to one of them.

    ``forward(x, arch)`` runs ``arch`` on the supernet that owns it: with independent
    supernets, the one of its subspace; otherwise the only one.
    """

    def __init__(self, nets: Sequence[nn.Module], subspaces, sharing: str = "independent"):
        super().__init__()
        if sharing not in SHARING:
            raise ValueError(f"sharing must be one of {SHARING}, got {sharing!r}")
        if sharing == "independent" and len(nets) != len(subspaces):
            raise ValueError(f"independent sharing needs one supernet per subspace ({len(subspaces)}), got {len(nets)}")
        self.nets = nn.ModuleList(nets)
        self.subspaces, self.sharing = subspaces, sharing

    def route(self, arch) -> int:
        return self.subspaces.group_of(arch) if self.sharing == "independent" else 0

    def forward(self, x, arch):
        return self.nets[self.route(arch)](x, arch)


def build_bank(subspaces, sharing: str, num_classes: int, in_channels: int, width: int | None = None, N: int = 5,
               divisor: int = 1, copy_thresholds: Sequence[int] = (15, 20), copy_stages: Sequence[int] = (2, 3),
               backbone=None) -> SupernetBank:
    """The supernets of a run: NB201 at base ``width // divisor`` with ``N`` cells per stage,
    or the MobileNet ``backbone`` narrowed by ``divisor``."""
    k = len(subspaces) if sharing == "independent" else 1
    if subspaces.space == "nb201":
        c = width // divisor
        if c < 1:
            raise ValueError(f"width {width} // divisor {divisor} leaves no channels")
        th = copy_thresholds if sharing == "layerwise_cumulative" else None
        nets = [nb201_supernet(c, N, num_classes, in_channels, th, copy_stages) for _ in range(k)]
    else:
        if sharing == "layerwise_cumulative":
            raise ValueError("layerwise_cumulative sharing exists only for the nb201 space (Sec. 1.8)")
        nets = [MBConvSupernet(backbone or subspaces.backbone, num_classes, in_channels, divisor) for _ in range(k)]
    return SupernetBank(nets, subspaces, sharing)
