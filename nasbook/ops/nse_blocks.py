"""The candidate blocks of NSE's op pools (docs/methods/nse.md), built from one :class:`OpSpec`.

- ``LB`` is :class:`nasbook.ops.mbconv.MBConv` with the expansion conv kept at t = 1,
  dilation, grouped 1x1 convs, SE on the expanded width (reduce to hidden // 4) and **no
  residual**: NSE's residual comes from the multi-branch averaging rule (Sec. 3.3).
- ``NC``, ``DC`` and ``SP`` replace the depthwise conv by dense convs (a 3x3; two 3x3s; a
  1 x k then a k x 1), :class:`DenseBottleneck` below.

All convs are bias-free and followed by BN; ``act`` is ReLU in search, Swish in final nets.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .mbconv import ConvBNAct, MBConv, SqueezeExcite, make_activation

BLOCK_TYPES = ("LB", "NC", "DC", "SP")


@dataclass(frozen=True)
class OpSpec:
    """One candidate operation: block type, kernel k, expansion t, dilation d, and the groups
    of the expansion (``ge``) and projection (``gp``) 1x1 convs."""

    type: str
    k: int
    t: int
    d: int = 1
    ge: int = 1
    gp: int = 1

    def __post_init__(self):
        if self.type not in BLOCK_TYPES:
            raise ValueError(f"unknown block type {self.type!r}; known: {', '.join(BLOCK_TYPES)}")

    def __str__(self) -> str:
        s = f"{self.type} k{self.k} t{self.t}"
        if self.d != 1:
            s += f" d{self.d}"
        if (self.ge, self.gp) != (1, 1):
            s += f" g{self.ge},{self.gp}"
        return s


class RectConvBNAct(nn.Sequential):
    """A dense ``kh x kw`` conv with per-axis stride and "same" padding -> BN -> act (the
    1 x k and k x 1 halves of NSE's spatially separable ``SP`` op)."""

    def __init__(self, c: int, kernel: tuple[int, int], stride: tuple[int, int], act: str):
        super().__init__()
        kh, kw = kernel
        self.conv = nn.Conv2d(c, c, kernel, stride, padding=(kh // 2, kw // 2), bias=False)
        self.bn = nn.BatchNorm2d(c)
        self.act = make_activation(act)


class DenseBottleneck(nn.Module):
    """NC / DC / SP: 1x1 expand -> dense spatial convs -> [SE] -> 1x1 linear projection.

    Sub-module names follow MBConv (``expand``, ``spatial``, ``se``, ``project``)."""

    def __init__(self, spec: OpSpec, c_in: int, c_out: int, stride: int, act: str = "relu", se: bool = False):
        super().__init__()
        c = spec.t * c_in
        self.spec, self.stride = spec, stride
        self.expand = ConvBNAct(c_in, c, 1, act=act)
        if spec.type == "NC":
            spatial = [ConvBNAct(c, c, 3, stride, act=act)]
        elif spec.type == "DC":
            spatial = [ConvBNAct(c, c, 3, 1, act=act), ConvBNAct(c, c, 3, stride, act=act)]
        elif spec.type == "SP":
            spatial = [RectConvBNAct(c, (1, spec.k), (1, stride), act),
                       RectConvBNAct(c, (spec.k, 1), (stride, 1), act)]
        else:
            raise ValueError(f"DenseBottleneck builds NC, DC and SP ops, not {spec.type}")
        self.spatial = nn.Sequential(*spatial)
        self.se = SqueezeExcite(c, c // 4, act) if se else None
        self.project = ConvBNAct(c, c_out, 1, act=None)

    def forward(self, x):
        h = self.spatial(self.expand(x))
        if self.se is not None:
            h = self.se(h)
        return self.project(h)


def make_nse_op(spec: OpSpec, c_in: int, c_out: int, stride: int, act: str = "relu", se: bool = False) -> nn.Module:
    """The module of pool op ``spec`` in a layer ``c_in -> c_out`` with ``stride``."""
    if spec.type == "LB":
        hidden = spec.t * c_in
        for g, what in ((spec.ge, "expansion"), (spec.gp, "projection")):
            if c_in % g or hidden % g or c_out % g:
                raise ValueError(f"{spec}: {what} groups {g} must divide the widths {c_in}, {hidden}, {c_out}")
        return MBConv(c_in, c_out, spec.k, spec.t, stride, spec.d, act=act, se_channels=hidden // 4 if se else 0,
                      expand_groups=spec.ge, project_groups=spec.gp, expand_conv=True, residual=False)
    return DenseBottleneck(spec, c_in, c_out, stride, act, se)


class NSEStem(nn.Sequential):
    """3x3 conv (stride 2 at 224; 1 for small inputs, ours) -> BN -> act (docs/methods/nse.md)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 2, act: str = "relu"):
        super().__init__()
        self.conv = ConvBNAct(c_in, c_out, 3, stride, act=act)


class NSEHead(nn.Module):
    """1x1 conv to ``width`` **without BN** (bias-free, as the authors' model code) -> act ->
    global average pool -> linear classifier with bias; no dropout (docs/methods/nse.md)."""

    def __init__(self, c_in: int, num_classes: int, width: int = 1024, act: str = "relu", dropout: float = 0.0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, width, 1, bias=False)
        self.act = make_activation(act)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.classifier = nn.Linear(width, num_classes)

    def extra_macs(self) -> int:
        """MACs the torch counter does not see: the global pool, one per output element
        (the package's NSE MACs convention, :mod:`nasbook.methods.nse.cost`; read by
        :func:`nasbook.measure.count_macs`)."""
        return self.conv.out_channels

    def forward(self, x):
        x = self.act(self.conv(x)).mean((2, 3))
        return self.classifier(self.dropout(x))
