"""The NSE architecture value and its standalone network (docs/methods/nse.md and 7).

An :class:`NSEArch` is a chain of multi-branch layers following a layer plan (NER or NR):
for every layer the op ids (into one of the pools of :mod:`nasbook.spaces.nse_pools`) that
it averages. Normal layers may be empty (skipped); R/E layers may not. The value also holds
what makes the final network: width multiplier, stem stride, head width, SE and activation.
Final nets default to SE + Swish ([I]/[O], docs/methods/nse.md / Sec. 10 item 5).

The network (:class:`NSENet`): stem 3x3 conv -> multi-branch layers -> 1x1 conv to
``head_width`` (no BN) -> act -> global pool -> linear (docs/methods/nse.md). Kaiming-normal
(fan_out) conv init, BN gamma = 1, beta = 0.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..ops.multibranch import MultiBranchLayer
from . import SpaceInfo
from ..ops.nse_blocks import NSEHead, NSEStem, make_nse_op
from . import nse_plans as plans
from .nse_pools import POOLS, get_pool

FINAL_ACTIVATIONS = ("relu", "swish")


def _ints(where: str, v: Any) -> tuple[int, ...]:
    if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)):
        raise ValueError(f"{where}: expected a list of integers, got {v!r}")
    if any(isinstance(i, bool) or not isinstance(i, int) for i in v):
        raise ValueError(f"{where}: expected integers, got {v!r}")
    return tuple(v)


@dataclass(frozen=True)
class NSEArch:
    """One NSE architecture (see module docstring).

    ``layers[i]`` are the op ids of the i-th layer of ``layer_specs()``; ``counts`` are the
    plan's N-layer counts; ``widths`` the base stage widths before ``width_mult`` (None: the
    plan's). The op ids of a layer are kept in the given order (it is the order of the
    published lists; the layer output does not depend on it).
    """

    pool: str
    plan: str
    counts: tuple[int, ...]
    layers: tuple[tuple[int, ...], ...]
    width_mult: float = 1.0
    widths: tuple[int, ...] | None = None
    stem_stride: int = 2
    head_width: int = 1024
    se: bool = True
    act: str = "swish"

    def __post_init__(self):
        if self.pool not in POOLS:
            raise ValueError(f"pool: unknown NSE pool {self.pool!r}; known: {', '.join(POOLS)}")
        counts = plans.check_plan(self.plan, _ints("counts", self.counts))
        object.__setattr__(self, "counts", counts)
        if self.widths is not None:
            w = _ints("widths", self.widths)
            if len(w) != len(plans.PLANS[self.plan][1]) or min(w) < 1:
                raise ValueError(f"widths: plan {self.plan} needs {len(plans.PLANS[self.plan][1])} positive widths, got {w}")
            object.__setattr__(self, "widths", w)
        if isinstance(self.width_mult, bool) or not isinstance(self.width_mult, (int, float)) or self.width_mult <= 0:
            raise ValueError(f"width_mult must be a positive number, got {self.width_mult!r}")
        object.__setattr__(self, "width_mult", float(self.width_mult))
        if self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {self.stem_stride!r}")
        if isinstance(self.head_width, bool) or not isinstance(self.head_width, int) or self.head_width < 1:
            raise ValueError(f"head_width must be a positive integer, got {self.head_width!r}")
        if not isinstance(self.se, bool):
            raise ValueError(f"se must be true or false, got {self.se!r}")
        if self.act not in FINAL_ACTIVATIONS:
            raise ValueError(f"act must be one of {FINAL_ACTIVATIONS}, got {self.act!r}")
        # the widths as built: whether a layer may be empty follows its shape (LayerSpec.role)
        specs = plans.layer_specs(self.plan, counts, self.stage_widths())
        if isinstance(self.layers, (str, bytes)) or not isinstance(self.layers, (list, tuple)):
            raise ValueError(f"layers: expected a list of per-layer op-id lists, got {self.layers!r}")
        if len(self.layers) != len(specs):
            raise ValueError(f"layers: plan {self.plan} with counts {counts} has {len(specs)} layers, "
                             f"got {len(self.layers)}")
        n_ops = len(get_pool(self.pool))
        out = []
        for i, (spec, ids) in enumerate(zip(specs, self.layers)):
            ids = _ints(f"layer {i} ({spec.kind})", ids)
            if len(set(ids)) != len(ids):
                raise ValueError(f"layer {i} ({spec.kind}): repeated op id in {list(ids)}")
            bad = [o for o in ids if not 0 <= o < n_ops]
            if bad:
                raise ValueError(f"layer {i} ({spec.kind}): op ids {bad} are outside pool {self.pool} (0..{n_ops - 1})")
            if not ids and spec.role != "N":
                raise ValueError(f"layer {i} is an {spec.kind} layer and cannot be empty")
            out.append(ids)
        object.__setattr__(self, "layers", tuple(out))

    # -- reading -------------------------------------------------------------------------
    def stage_widths(self) -> tuple[int, ...]:
        """Stage widths after the width multiplier (docs/methods/nse.md)."""
        return plans.scale_widths(self.widths or plans.PLANS[self.plan][1], self.width_mult)

    def layer_specs(self) -> list[plans.LayerSpec]:
        return plans.layer_specs(self.plan, self.counts, self.stage_widths())

    def compact(self) -> "NSEArch":
        """The same network with empty (skipped) N layers removed (docs/methods/nse.md). An empty
        R/E-position layer that behaves as a normal one (:attr:`LayerSpec.role`) is kept: it
        is the identity too, but the plan needs its place."""
        specs = plans.layer_specs(self.plan, self.counts)
        keep = [(s.kind, ids) for s, ids in zip(specs, self.layers) if ids or s.kind != "N"]
        counts = plans.counts_of(self.plan, [k for k, _ in keep])
        return self.replace(counts=counts, layers=tuple(ids for _, ids in keep))

    def replace(self, **changes) -> "NSEArch":
        d = {f: getattr(self, f) for f in self.__dataclass_fields__}
        d.update(changes)
        return NSEArch(**d)

    def describe(self) -> str:
        ops = get_pool(self.pool)
        lines = [f"NSE architecture: pool {self.pool}, plan {self.plan} {self.counts}, width x{self.width_mult:g}, "
                 f"{'SE, ' if self.se else ''}{self.act}"]
        for i, (s, ids) in enumerate(zip(self.layer_specs(), self.layers)):
            what = " + ".join(f"[{o}] {ops[o]}" for o in ids) or "(skipped)"
            lines.append(f"  {i + 1:2d} {s.kind} {s.c_in:4d}->{s.c_out:<4d} s{s.stride}  {what}")
        return "\n".join(lines)

    __str__ = describe

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"space": "nse", "pool": self.pool, "plan": self.plan, "counts": list(self.counts),
                "layers": [list(ids) for ids in self.layers], "width_mult": self.width_mult,
                "widths": list(self.widths) if self.widths else None, "stem_stride": self.stem_stride,
                "head_width": self.head_width, "se": self.se, "act": self.act}

    @classmethod
    def from_dict(cls, d: Any) -> "NSEArch":
        if not isinstance(d, dict):
            raise ValueError(f"an NSE architecture must be a JSON object, got {type(d).__name__}")
        if d.get("space", "nse") != "nse":
            raise ValueError(f"not an NSE architecture (space={d.get('space')!r})")
        kw = {k: v for k, v in d.items() if k != "space"}
        unknown = set(kw) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown NSE architecture field(s): {', '.join(sorted(unknown))}")
        missing = {"pool", "plan", "counts", "layers"} - set(kw)
        if missing:
            raise ValueError(f"NSE architecture is missing field(s): {', '.join(sorted(missing))}")
        return cls(**kw)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def init_weights(module: nn.Module) -> None:
    """Kaiming-normal (fan_out, ReLU gain) convs; BN gamma 1, beta 0 (docs/methods/nse.md).
    Linear layers keep PyTorch's default."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class NSENet(nn.Module):
    """The standalone network of one :class:`NSEArch`."""

    def __init__(self, arch: NSEArch, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.0,
                 drop_path: float = 0.0):
        super().__init__()
        self.arch = arch
        pool = get_pool(arch.pool)
        widths = arch.stage_widths()
        self.stem = NSEStem(in_channels, widths[0], arch.stem_stride, arch.act)
        self.layers = nn.ModuleList()
        n = len(arch.layers)
        for i, (spec, ids) in enumerate(zip(arch.layer_specs(), arch.layers)):
            # drop-path rate linear in depth, 0 at the first layer (ours, docs/methods/nse.md [O])
            # the layer's behaviour follows its shape (LayerSpec.role, docs/methods/nse.md §2.2)
            self.layers.append(MultiBranchLayer(spec.role, ids, lambda o, s=spec: make_nse_op(
                pool[o], s.c_in, s.c_out, s.stride, arch.act, arch.se), drop_path=drop_path * i / n))
        self.head = NSEHead(widths[-1], num_classes, arch.head_width, arch.act, dropout)
        init_weights(self)

    def forward(self, x):
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


def build_network(arch: NSEArch, num_classes: int = 1000, in_channels: int = 3, resolution: int = 224,
                  dropout: float = 0.0, drop_path: float = 0.0, **_) -> NSENet:
    """The standalone network for inputs of these sizes (ImageNet's by default; any
    resolution: the head pools globally). Layer ``i`` of ``n`` gets the stochastic-depth rate
    ``drop_path * i / n`` (ours, see :class:`MultiBranchLayer`)."""
    return NSENet(arch, num_classes, in_channels, dropout, drop_path)


def _input_shape(in_channels: int, resolution: int):
    return (in_channels, resolution, resolution)


SPACE = SpaceInfo(name="nse", arch_type=NSEArch, build=build_network, input_shape=_input_shape,
                  from_dict=NSEArch.from_dict, describe=NSEArch.describe)
