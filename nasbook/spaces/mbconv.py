"""The MBConv chain search space (MobileNetV2 / EfficientNet family) as plain data.

A :class:`Backbone` is the macro layer table (stem, stages of MBConv layers, head) plus the
per-layer candidate sets (kernel sizes, expansion ratios, whether non-first layers of a stage
may be skipped). An :class:`MBConvArch` is one architecture: a :class:`Choice` (kernel,
expansion, or skip) for every layer of the table. It is frozen, validated (``ValueError``
naming the layer), JSON-serialisable with ``"space": "mbconv"``, prints as a block-string
table (``arch.table()``) and builds into a standalone ImageNet network
(:class:`MBConvNet`, stem -> blocks -> 1x1 head -> pool -> dropout -> FC).

Backbones shipped as data (``BACKBONES``):

* ``mk-b0``   EfficientNet-B0 macro, swish, SE 0.25, k in {3,5,7}, e in {1..6}, skip
  (the Meta Kernels default space, docs/methods/metakernels.md); B0 itself is one point.
* ``mk-mbv2`` MobileNetV2 macro, ReLU6, no SE, same choices (docs/methods/metakernels.md);
  MobileNetV2 1.0 is one point (all k3 e6).
* ``mk-tiny`` the 32x32 teaching space of the same code path (docs/methods/metakernels.md).
* ``proxyless`` the ProxylessNAS-style space (k in {3,5,7}, e in {3,6}, identity), as used by
  the few-shot method's MobileNet variant (docs/methods/fewshot_nl.md).

How other methods reuse this module:

* **Few-shot NAS (MobileNet variant)**: use ``BACKBONES["proxyless"]`` and
  :class:`MBConvArch` as its architecture value, :func:`sample_arch` for uniform sampling,
  :func:`count_architectures` for the space size, and build subnets with
  :func:`build_network`. The number of nonlinear functions of a value is
  ``2 * (number of non-skip searchable layers)``; the fixed layers are the same for all.
* **NSE**: its layers are multi-branch averages over an op pool, so it keeps its own value
  type, but builds every LB op from :class:`nasbook.ops.mbconv.MBConv` (``expand_conv=True``,
  ``dilation``, ``expand_groups``/``project_groups``, ``se_channels=hidden // 4``) and may
  use :class:`Backbone`/:class:`Stage` for its layer tables and :func:`block_macs` for
  closed-form costs.
* **Meta Kernels**: its super-net follows a Backbone layer by layer and derives an
  :class:`MBConvArch`; :func:`block_macs` is linear in ``expand`` and ``kernel**2``, which is
  what makes its expected-FLOPs term exact.

MACs here follow nasbook's convention (conv + linear multiply-accumulates, as the measure
layer's ``count_macs`` counts them): :func:`arch_macs` is the closed form, and a test
checks it against the counter.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..ops.mbconv import ACTIVATIONS, ConvBNAct, MBConv
from . import SpaceInfo

# ---------------------------------------------------------------------------------------
# The layer table
# ---------------------------------------------------------------------------------------


def _int(field_name: str, v: Any, lo: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"{field_name}: expected an integer >= {lo}, got {v!r}")
    return v


def _check_kernel(where: str, k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1 or k % 2 == 0:
        raise ValueError(f"{where}: kernel size must be a positive odd integer, got {k!r}")
    return k


@dataclass(frozen=True)
class Stage:
    """One row of a layer table: ``layers`` MBConv layers with ``out_channels`` outputs, the
    first with ``stride``. ``fixed = (kernel, expand)`` marks a stage that is not searched
    (e.g. MobileNetV2's first t=1 block); a fixed e=1 block has no expansion conv."""

    out_channels: int
    layers: int
    stride: int
    fixed: tuple[int, int] | None = None

    def __post_init__(self):
        _int("stage out_channels", self.out_channels)
        _int("stage layers", self.layers)
        if self.stride not in (1, 2):
            raise ValueError(f"stage stride must be 1 or 2, got {self.stride!r}")
        if self.fixed is not None:
            if not isinstance(self.fixed, (list, tuple)) or len(self.fixed) != 2:
                raise ValueError(f"stage fixed: expected (kernel, expand), got {self.fixed!r}")
            k, e = self.fixed
            object.__setattr__(self, "fixed", (_check_kernel("stage fixed", k), _int("stage fixed expand", e)))


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a backbone with everything that is not searched (derived from the table)."""

    index: int          # position in the whole chain
    stage: int          # stage number, 1-based (stage 0 is the stem)
    position: int       # position inside the stage, 0-based
    c_in: int
    c_out: int
    stride: int
    size_in: int        # input height (= width) at the backbone's resolution
    size_out: int
    fixed: tuple[int, int] | None
    skippable: bool

    @property
    def searchable(self) -> bool:
        return self.fixed is None


@dataclass(frozen=True)
class Backbone:
    """The macro of an MBConv chain and its per-layer candidate sets (see module docstring).

    ``se_ratio``: SE reduce width ``max(1, int(se_ratio * C_in))`` of the block *input*
    (EfficientNet convention); 0 = no SE. Searchable e=1 layers keep their expansion conv
    (one code path for all widths, docs/methods/metakernels.md).
    """

    name: str
    stem_channels: int
    stages: tuple[Stage, ...]
    head_channels: int
    kernels: tuple[int, ...] = (3, 5, 7)
    expansions: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    skip: bool = True
    activation: str = "relu6"
    se_ratio: float = 0.0
    stem_stride: int = 2
    resolution: int = 224
    dropout: float = 0.2

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"backbone name must be a non-empty string, got {self.name!r}")
        _int("stem_channels", self.stem_channels)
        _int("head_channels", self.head_channels)
        _int("resolution", self.resolution)
        if self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {self.stem_stride!r}")
        if not isinstance(self.stages, (list, tuple)) or not self.stages:
            raise ValueError("a backbone needs a non-empty list of stages")
        stages = tuple(s if isinstance(s, Stage) else _stage_from(s) for s in self.stages)
        object.__setattr__(self, "stages", stages)
        if not self.kernels or not self.expansions:
            raise ValueError("kernels and expansions must be non-empty")
        ks = tuple(_check_kernel("backbone kernels", k) for k in self.kernels)
        es = tuple(_int("backbone expansions", e) for e in self.expansions)
        if len(set(ks)) != len(ks) or len(set(es)) != len(es):
            raise ValueError(f"repeated candidate in kernels {ks} or expansions {es}")
        object.__setattr__(self, "kernels", tuple(sorted(ks)))
        object.__setattr__(self, "expansions", tuple(sorted(es)))
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if not isinstance(self.se_ratio, (int, float)) or not 0 <= self.se_ratio <= 1:
            raise ValueError(f"se_ratio must be in [0, 1], got {self.se_ratio!r}")
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    # -- derived facts ---------------------------------------------------------------------
    @property
    def stem_size(self) -> int:
        return _out_size(self.resolution, self.stem_stride)

    def layers(self, resolution: int | None = None) -> list[LayerSpec]:
        """Every layer of the chain with its shapes (at ``resolution``, default the backbone's)."""
        out, c, size = [], self.stem_channels, _out_size(resolution or self.resolution, self.stem_stride)
        for si, st in enumerate(self.stages, start=1):
            for j in range(st.layers):
                stride = st.stride if j == 0 else 1
                size_out = _out_size(size, stride)
                skippable = self.skip and st.fixed is None and stride == 1 and c == st.out_channels
                out.append(LayerSpec(len(out), si, j, c, st.out_channels, stride, size, size_out, st.fixed, skippable))
                c, size = st.out_channels, size_out
        return out

    @property
    def num_layers(self) -> int:
        return sum(s.layers for s in self.stages)

    @property
    def last_channels(self) -> int:
        return self.stages[-1].out_channels

    def se_channels(self, c_in: int) -> int:
        return max(1, int(c_in * self.se_ratio)) if self.se_ratio > 0 else 0

    def choices(self, spec: LayerSpec) -> list["Choice"]:
        """The candidate choices of one layer, cheapest first (skip, then by expansion, kernel)."""
        if spec.fixed is not None:
            return [Choice(*spec.fixed)]
        out = [SKIP] if spec.skippable else []
        return out + [Choice(k, e) for e in self.expansions for k in self.kernels]

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"name": self.name, "stem_channels": self.stem_channels,
                "stages": [[s.out_channels, s.layers, s.stride] + ([list(s.fixed)] if s.fixed else [])
                           for s in self.stages],
                "head_channels": self.head_channels, "kernels": list(self.kernels),
                "expansions": list(self.expansions), "skip": self.skip, "activation": self.activation,
                "se_ratio": self.se_ratio, "stem_stride": self.stem_stride, "resolution": self.resolution,
                "dropout": self.dropout}

    @classmethod
    def from_dict(cls, d: Any) -> "Backbone":
        if isinstance(d, str):
            if d not in BACKBONES:
                raise ValueError(f"unknown backbone {d!r}; known: {', '.join(BACKBONES)}")
            return BACKBONES[d]
        if not isinstance(d, dict):
            raise ValueError(f"a backbone must be a name or a JSON object, got {type(d).__name__}")
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown backbone field(s): {', '.join(sorted(unknown))}")
        missing = {"name", "stem_channels", "stages", "head_channels"} - set(d)
        if missing:
            raise ValueError(f"backbone is missing field(s): {', '.join(sorted(missing))}")
        kw = dict(d)
        for k in ("kernels", "expansions"):
            if k in kw:
                if not isinstance(kw[k], (list, tuple)):
                    raise ValueError(f"backbone {k}: expected a list, got {kw[k]!r}")
                kw[k] = tuple(kw[k])
        return cls(**kw)


def _stage_from(row: Any) -> Stage:
    """A stage from ``[out_channels, layers, stride]`` or ``[..., [kernel, expand]]``."""
    if isinstance(row, dict):
        return Stage(**row)
    if not isinstance(row, (list, tuple)) or len(row) not in (3, 4):
        raise ValueError(f"a stage is [out_channels, layers, stride] or [..., [kernel, expand]], got {row!r}")
    fixed = tuple(row[3]) if len(row) == 4 and row[3] is not None else None
    return Stage(row[0], row[1], row[2], fixed)


def _out_size(size: int, stride: int) -> int:
    """Output size of a "same"-padded conv: floor((H - 1) / s) + 1."""
    return (size - 1) // stride + 1


#: The layer tables, as data. Sources in the module docstring and each comment.
BACKBONES: dict[str, Backbone] = {
    # EfficientNet-B0 macro (Tan & Le, arXiv 1905.11946, Table 1); docs/methods/metakernels.md [O].
    "mk-b0": Backbone(
        "mk-b0", stem_channels=32, head_channels=1280, activation="swish", se_ratio=0.25,
        stages=(Stage(16, 1, 1, fixed=(3, 1)), Stage(24, 2, 2), Stage(40, 2, 2), Stage(80, 3, 2),
                Stage(112, 3, 1), Stage(192, 4, 2), Stage(320, 1, 1))),
    # MobileNetV2 1.0 macro (Sandler et al., arXiv 1801.04381, Table 2); docs/methods/metakernels.md [O].
    "mk-mbv2": Backbone(
        "mk-mbv2", stem_channels=32, head_channels=1280, activation="relu6",
        stages=(Stage(16, 1, 1, fixed=(3, 1)), Stage(24, 2, 2), Stage(32, 3, 2), Stage(64, 4, 2),
                Stage(96, 3, 1), Stage(160, 3, 2), Stage(320, 1, 1))),
    # The 32x32 teaching space (docs/methods/metakernels.md [O]): same code path as mk-b0.
    "mk-tiny": Backbone(
        "mk-tiny", stem_channels=16, stem_stride=1, head_channels=128, activation="swish", se_ratio=0.25,
        resolution=32,
        stages=(Stage(8, 1, 1, fixed=(3, 1)), Stage(16, 2, 2), Stage(24, 2, 2), Stage(40, 2, 2), Stage(64, 1, 1))),
    # ProxylessNAS-style space of the few-shot method's MobileNet variant (docs/methods/fewshot_nl.md).
    "proxyless": Backbone(
        "proxyless", stem_channels=32, head_channels=1280, activation="relu6", kernels=(3, 5, 7),
        expansions=(3, 6),
        stages=(Stage(16, 1, 1, fixed=(3, 1)), Stage(32, 4, 2), Stage(40, 4, 2), Stage(80, 4, 2),
                Stage(96, 4, 1), Stage(192, 4, 2), Stage(320, 1, 1))),
}

# ---------------------------------------------------------------------------------------
# The architecture value
# ---------------------------------------------------------------------------------------

_CHOICE_RE = re.compile(r"^k(\d+)_e(\d+)$")


@dataclass(frozen=True, order=True)
class Choice:
    """One layer's choice: depthwise ``kernel`` and expansion ``expand``; ``SKIP`` is (0, 0)."""

    kernel: int
    expand: int

    @property
    def is_skip(self) -> bool:
        return self.expand == 0

    def __str__(self) -> str:
        return "skip" if self.is_skip else f"k{self.kernel}_e{self.expand}"

    @classmethod
    def parse(cls, v: Any, where: str = "layer") -> "Choice":
        """``"k5_e6"``, ``"skip"``, ``[5, 6]`` or a Choice."""
        if isinstance(v, Choice):
            return v
        if v == "skip" or v is None:
            return SKIP
        if isinstance(v, str):
            m = _CHOICE_RE.match(v)
            if not m:
                raise ValueError(f"{where}: expected 'k<kernel>_e<expand>' or 'skip', got {v!r}")
            k, e = int(m.group(1)), int(m.group(2))
        elif isinstance(v, (list, tuple)) and len(v) == 2:
            k, e = v
        else:
            raise ValueError(f"{where}: expected 'k<kernel>_e<expand>', 'skip' or [kernel, expand], got {v!r}")
        return cls(_check_kernel(where, k), _int(f"{where} expand", e))


SKIP = Choice(0, 0)


@dataclass(frozen=True)
class MBConvArch:
    """An architecture of an MBConv chain space: one :class:`Choice` per layer of ``backbone``.

    ``layers`` lists *every* layer of the table, fixed ones included (they must hold their
    fixed choice), so ``arch.layers[i]`` belongs to ``arch.backbone.layers()[i]``.
    ``backbone`` may be given as a :class:`Backbone`, a name in ``BACKBONES`` or its dict.
    """

    backbone: Backbone
    layers: tuple[Choice, ...]

    def __post_init__(self):
        bb = self.backbone if isinstance(self.backbone, Backbone) else Backbone.from_dict(self.backbone)
        object.__setattr__(self, "backbone", bb)
        if isinstance(self.layers, str) or not isinstance(self.layers, (list, tuple)):
            raise ValueError(f"layers: expected a list of per-layer choices, got {self.layers!r}")
        specs = bb.layers()
        if len(self.layers) != len(specs):
            raise ValueError(f"layers: backbone {bb.name!r} has {len(specs)} layers "
                             f"(stages {[s.layers for s in bb.stages]}), got {len(self.layers)} choices")
        out = []
        for spec, v in zip(specs, self.layers):
            where = f"layer {spec.index} (stage {spec.stage}, block {spec.position})"
            c = Choice.parse(v, where)
            if spec.fixed is not None:
                if c != Choice(*spec.fixed):
                    raise ValueError(f"{where} is fixed to {Choice(*spec.fixed)}, got {c}")
            elif c.is_skip:
                if not spec.skippable:
                    why = "the space has no skip" if not bb.skip else "it changes the shape (first block of its stage)"
                    raise ValueError(f"{where} cannot be skipped: {why}")
            else:
                if c.kernel not in bb.kernels:
                    raise ValueError(f"{where}: kernel size {c.kernel} is not a candidate of {bb.name!r} "
                                     f"(kernels {list(bb.kernels)})")
                if c.expand not in bb.expansions:
                    raise ValueError(f"{where}: expansion {c.expand} is not a candidate of {bb.name!r} "
                                     f"(expansions {list(bb.expansions)})")
            out.append(c)
        object.__setattr__(self, "layers", tuple(out))

    # -- construction / export -------------------------------------------------------------
    @classmethod
    def uniform(cls, backbone: Backbone | str, kernel: int, expand: int) -> "MBConvArch":
        """Every searchable layer at (kernel, expand); fixed layers as fixed."""
        bb = backbone if isinstance(backbone, Backbone) else Backbone.from_dict(backbone)
        return cls(bb, [Choice(*s.fixed) if s.fixed else Choice(kernel, expand) for s in bb.layers()])

    def to_dict(self) -> dict:
        return {"space": "mbconv", "backbone": self.backbone.to_dict(), "layers": [str(c) for c in self.layers]}

    @classmethod
    def from_dict(cls, d: Any) -> "MBConvArch":
        if not isinstance(d, dict):
            raise ValueError(f"an MBConv architecture must be a JSON object, got {type(d).__name__}")
        if d.get("space", "mbconv") != "mbconv":
            raise ValueError(f"not an MBConv architecture (space={d.get('space')!r})")
        missing = {"backbone", "layers"} - set(d)
        if missing:
            raise ValueError(f"MBConv architecture is missing field(s): {', '.join(sorted(missing))}")
        return cls(Backbone.from_dict(d["backbone"]), d["layers"])

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> "MBConvArch":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"not valid JSON: {e}") from None
        return cls.from_dict(d)

    # -- reading -------------------------------------------------------------------------
    def searchable(self) -> list[Choice]:
        """The choices of the searchable layers only (what a search decides)."""
        return [c for s, c in zip(self.backbone.layers(), self.layers) if s.searchable]

    @property
    def depth(self) -> int:
        """Number of MBConv blocks actually built (skips removed)."""
        return sum(not c.is_skip for c in self.layers)

    def block_strings(self) -> list[str]:
        """EfficientNet-style block strings, one per layer (``skip`` for removed layers)."""
        out = []
        for s, c in zip(self.backbone.layers(), self.layers):
            if c.is_skip:
                out.append("skip")
                continue
            se = f"_se{self.backbone.se_ratio:g}" if self.backbone.se_ratio else ""
            out.append(f"k{c.kernel}_s{s.stride}{s.stride}_e{c.expand}_i{s.c_in}_o{s.c_out}{se}")
        return out

    def table(self) -> str:
        """A readable layer table: stage, shapes, choice, block string."""
        bb = self.backbone
        lines = [f"MBConv chain {bb.name!r} at {bb.resolution}x{bb.resolution}, {bb.activation}"
                 + (f", SE {bb.se_ratio:g}" if bb.se_ratio else "") + f", {self.depth} blocks",
                 f"{'#':>3} {'stage':>5} {'size':>5} {'in->out':>9} {'choice':>7}  block string",
                 f"{'':>3} {'stem':>5} {bb.resolution:>5} {f'img->{bb.stem_channels}':>9} {'k3':>7}  "
                 f"conv3x3_s{bb.stem_stride}"]
        for s, c, b in zip(bb.layers(), self.layers, self.block_strings()):
            mark = "" if s.searchable else " (fixed)"
            lines.append(f"{s.index:>3} {s.stage:>5} {s.size_in:>5} {f'{s.c_in}->{s.c_out}':>9} {str(c):>7}  {b}{mark}")
        lines.append(f"{'':>3} {'head':>5} {bb.layers()[-1].size_out:>5} "
                     f"{f'{bb.last_channels}->{bb.head_channels}':>9} {'k1':>7}  conv1x1, pool, fc")
        return "\n".join(lines)

    def __str__(self) -> str:
        stages: dict[int, list[str]] = {}
        for s, c in zip(self.backbone.layers(), self.layers):
            stages.setdefault(s.stage, []).append(str(c))
        return f"{self.backbone.name}[" + " | ".join(" ".join(v) for v in stages.values()) + "]"


# ---------------------------------------------------------------------------------------
# Counting and sampling
# ---------------------------------------------------------------------------------------


def count_architectures(backbone: Backbone | str) -> int:
    """Distinct architectures: the product over searchable layers of their choice counts."""
    bb = backbone if isinstance(backbone, Backbone) else Backbone.from_dict(backbone)
    return math.prod(len(bb.choices(s)) for s in bb.layers() if s.searchable)


def sample_arch(backbone: Backbone | str, generator: torch.Generator | None = None) -> MBConvArch:
    """A uniformly random architecture (each layer's choice uniform over its candidates)."""
    bb = backbone if isinstance(backbone, Backbone) else Backbone.from_dict(backbone)
    out = []
    for s in bb.layers():
        cands = bb.choices(s)
        out.append(cands[int(torch.randint(len(cands), (1,), generator=generator))])
    return MBConvArch(bb, out)


def block_macs(c_in: int, c_out: int, size_in: int, size_out: int, kernel: int, hidden: int,
               se_channels: int = 0, expand_conv: bool = True) -> int:
    """Multiply-accumulates of one MBConv block (conv and SE convs; BN/act/pool not counted).

    ``hidden * (H_in^2 C_in + H_out^2 k^2 + 2 r + H_out^2 C_out)``: expansion, depthwise, SE,
    projection (docs/methods/metakernels.md). Linear in ``hidden`` and in ``kernel**2``.
    """
    expand = size_in * size_in * c_in * hidden if expand_conv else 0
    return expand + hidden * (size_out * size_out * kernel * kernel + 2 * se_channels + size_out * size_out * c_out)


def layer_macs(backbone: Backbone, spec: LayerSpec, choice: Choice) -> int:
    """MACs of one layer of ``backbone`` with ``choice`` (0 for skip)."""
    if choice.is_skip:
        return 0
    return block_macs(spec.c_in, spec.c_out, spec.size_in, spec.size_out, choice.kernel, choice.expand * spec.c_in,
                      backbone.se_channels(spec.c_in), expand_conv=spec.searchable or choice.expand != 1)


def fixed_macs(backbone: Backbone, num_classes: int = 1000, in_channels: int = 3,
               resolution: int | None = None) -> int:
    """MACs of the parts no choice changes: stem conv, 1x1 head conv and the classifier."""
    res = resolution or backbone.resolution
    stem = _out_size(res, backbone.stem_stride) ** 2 * backbone.stem_channels * in_channels * 9
    last = backbone.layers(res)[-1].size_out
    head = last * last * backbone.last_channels * backbone.head_channels
    return stem + head + backbone.head_channels * num_classes


def arch_macs(arch: MBConvArch, num_classes: int = 1000, in_channels: int = 3, resolution: int | None = None) -> int:
    """Closed-form MACs of the standalone network (equals ``count_macs`` of :func:`build_network`)."""
    bb = arch.backbone
    return fixed_macs(bb, num_classes, in_channels, resolution) + sum(
        layer_macs(bb, s, c) for s, c in zip(bb.layers(resolution), arch.layers))


# ---------------------------------------------------------------------------------------
# The standalone network
# ---------------------------------------------------------------------------------------


class MBConvNet(nn.Module):
    """Stem 3x3 conv -> MBConv blocks (skips removed) -> 1x1 head conv -> global pool ->
    dropout -> linear. BN/activation after stem and head; initialisation as torchvision's
    MobileNetV2/EfficientNet (Kaiming fan-out convs, BN 1/0, small normal FC).

    ``drop_connect`` is the EfficientNet stochastic-depth rate, scaled linearly with the
    block index (0 for the first block, ``drop_connect * (n-1)/n`` for the last).
    """

    def __init__(self, arch: MBConvArch, num_classes: int = 1000, in_channels: int = 3,
                 dropout: float | None = None, drop_connect: float = 0.0, bn_eps: float = 1e-5,
                 bn_momentum: float = 0.1):
        super().__init__()
        if not isinstance(arch, MBConvArch):
            raise TypeError(f"arch must be an MBConvArch, got {type(arch).__name__}")
        self.arch = arch
        bb = arch.backbone
        bn = dict(bn_eps=bn_eps, bn_momentum=bn_momentum)
        self.stem = ConvBNAct(in_channels, bb.stem_channels, 3, bb.stem_stride, act=bb.activation, **bn)
        kept = [(s, c) for s, c in zip(bb.layers(), arch.layers) if not c.is_skip]
        self.blocks = nn.Sequential(*[
            MBConv(s.c_in, s.c_out, c.kernel, c.expand, s.stride, act=bb.activation, se_channels=bb.se_channels(s.c_in),
                   expand_conv=s.searchable or c.expand != 1, drop_connect=drop_connect * i / len(kept), **bn)
            for i, (s, c) in enumerate(kept)])
        self.head = ConvBNAct(bb.last_channels, bb.head_channels, 1, act=bb.activation, **bn)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(bb.dropout if dropout is None else dropout)
        self.classifier = nn.Linear(bb.head_channels, num_classes)
        init_mobilenet_(self)

    def features(self, x):
        return self.head(self.blocks(self.stem(x)))

    def forward(self, x):
        return self.classifier(self.dropout(torch.flatten(self.pool(self.features(x)), 1)))


def init_mobilenet_(model: nn.Module) -> None:
    """torchvision's MobileNetV2 initialisation (also used for super-nets of this space)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def build_network(arch: MBConvArch, num_classes: int = 1000, in_channels: int = 3, resolution: int = 224,
                  **kw) -> MBConvNet:
    """The standalone network of ``arch`` for inputs of these sizes (ImageNet's by default;
    any resolution: the head pools globally); keyword arguments of :class:`MBConvNet` override."""
    return MBConvNet(arch, num_classes, in_channels, **kw)


def input_shape(in_channels: int, resolution: int) -> tuple[int, int, int]:
    """(C, H, W) at which to count: the input's channels and resolution (ImageNet: 224)."""
    return (in_channels, resolution, resolution)


def space_summary() -> dict:
    """Sizes of the shipped backbones (``nasbook space mbconv``)."""
    out = {}
    for name, bb in BACKBONES.items():
        specs = bb.layers()
        out[name] = {"architectures": count_architectures(bb), "layers": len(specs),
                     "searchable": sum(s.searchable for s in specs), "skippable": sum(s.skippable for s in specs),
                     "kernels": list(bb.kernels), "expansions": list(bb.expansions), "resolution": bb.resolution}
    return {"space": "mbconv", "backbones": out}


SPACE = SpaceInfo(name="mbconv", arch_type=MBConvArch, build=build_network, input_shape=input_shape,
                  from_dict=MBConvArch.from_dict, describe=lambda a: a.table())
