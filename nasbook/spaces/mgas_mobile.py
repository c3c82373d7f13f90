"""MGAS's MobileNet-like space: OURS (docs/methods/mgas.md, decision D6), not the paper's.

A third-party summary of MG-DARTS v4 says the paper also searches a "MobileNet-like" space;
its definition was not available, so this space is our reading, named ``*_nasbook``
wherever it appears. The macro skeleton is the ProxylessNAS / MobileNetV2 chain, as data
(:class:`MobileSkeleton`)::

    stem 3x3 conv stride 2 -> 32, BN, ReLU6
    fixed inverted residual (expansion 1, 3x3) -> 16
    six searchable groups: widths (24, 40, 80, 96, 192, 320), layers (4, 4, 4, 4, 4, 1),
        first-layer strides (2, 2, 2, 1, 2, 1)
    1x1 conv -> 1280, BN, ReLU6; global average pooling; Linear(1280, classes)

Every searchable layer holds any subset of six candidate inverted-residual blocks
(:data:`CANDIDATES`: kernel 3/5/7 x expansion 3/6), summed like the ops of one DARTS edge,
plus the identity when stride is 1 and widths match. A layer that kept no candidate is the
identity (depth search); the first layer of a group always keeps one.

The architecture value :class:`MGASMobileArch` stores, per searchable layer, the kept
candidates with their hidden (expanded) widths after filter pruning, plus optional weight
masks (:class:`~nasbook.spaces.mgas.MGASWeightMasks` keyed ``(layer, op_index, tensor)``
with tensors 0 = expansion, 1 = depthwise, 2 = projection).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..ops.masked_conv import mask_convs, masked_convs
from ..ops.mbconv import ConvBNAct, MBConv
from .mgas import MGASWeightMasks

#: candidate blocks of a searchable layer, in op-index order: (kernel, expansion)
CANDIDATE_GEOMETRY: dict[str, tuple[int, int]] = {
    f"ir_k{k}_e{e}": (k, e) for k in (3, 5, 7) for e in (3, 6)}
CANDIDATES: tuple[str, ...] = tuple(CANDIDATE_GEOMETRY)
ACT = "relu6"   # MobileNetV2's activation (ours for this space)


@dataclass(frozen=True)
class MobileSkeleton:
    """The fixed macro structure (Sec. 2.3, ours). ``tiny`` scales only the sizes."""

    stem: int = 32
    first: int = 16
    widths: tuple[int, ...] = (24, 40, 80, 96, 192, 320)
    counts: tuple[int, ...] = (4, 4, 4, 4, 4, 1)
    strides: tuple[int, ...] = (2, 2, 2, 1, 2, 1)
    last: int = 1280

    def __post_init__(self):
        for name in ("widths", "counts", "strides"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        if not (len(self.widths) == len(self.counts) == len(self.strides) == 6):
            raise ValueError("MobileNet-like skeleton: widths, counts and strides need 6 groups each "
                             f"(two per stage), got {self.widths}, {self.counts}, {self.strides}")
        if min(self.counts) < 1 or min(self.widths + (self.stem, self.first, self.last)) < 1:
            raise ValueError("MobileNet-like skeleton: widths and layer counts must be positive")
        if any(s not in (1, 2) for s in self.strides):
            raise ValueError(f"MobileNet-like skeleton: strides must be 1 or 2, got {self.strides}")

    def plan(self) -> list[tuple[int, int, int, int]]:
        """``(c_in, c_out, stride, group)`` of every searchable layer."""
        out, c = [], self.first
        for g, (w, n, s) in enumerate(zip(self.widths, self.counts, self.strides)):
            for i in range(n):
                out.append((c, w, s if i == 0 else 1, g))
                c = w
        return out

    @property
    def n_layers(self) -> int:
        return sum(self.counts)

    def stage_ends(self) -> tuple[int, int, int]:
        """Last layer of groups 2, 4 and 6: stage 1 = stem + groups 1-2, stage 2 = groups 3-4,
        stage 3 = groups 5-6 + final conv and classifier (Sec. 2.3)."""
        c = np.cumsum(self.counts)
        return int(c[1]) - 1, int(c[3]) - 1, int(c[5]) - 1

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Any) -> "MobileSkeleton":
        if not isinstance(d, dict):
            raise ValueError(f"skeleton: expected an object, got {d!r}")
        unknown = set(d) - {"stem", "first", "widths", "counts", "strides", "last"}
        if unknown:
            raise ValueError(f"skeleton: unknown field(s) {sorted(unknown)}")
        return cls(**d)


def has_residual(c_in: int, c_out: int, stride: int) -> bool:
    return stride == 1 and c_in == c_out


def candidate_block(name: str, c_in: int, c_out: int, stride: int, hidden: int | None = None) -> MBConv:
    """One candidate: nasbook's one :class:`~nasbook.ops.mbconv.MBConv` with masked convs and
    no residual of its own (the layer adds the identity once, Sec. 2.3)."""
    if name not in CANDIDATE_GEOMETRY:
        raise ValueError(f"unknown candidate {name!r}; known: {', '.join(CANDIDATES)}")
    k, e = CANDIDATE_GEOMETRY[name]
    hidden = e * c_in if hidden is None else hidden
    return mask_convs(MBConv(c_in, c_out, k, e, stride, act=ACT, hidden=hidden, expand_conv=True, residual=False))


def candidate_params(name: str, c_in: int, c_out: int, hidden: int) -> int:
    """Dense parameters of one candidate (three convs, three affine BNs)."""
    k, _ = CANDIDATE_GEOMETRY[name]
    return c_in * hidden + 2 * hidden + k * k * hidden + 2 * hidden + hidden * c_out + 2 * c_out


def candidate_proxy(name: str, c_in: int, c_out: int, hidden: int) -> int:
    """Sec. 2.3's proxy of a candidate: expansion + depthwise + projection weights."""
    k, _ = CANDIDATE_GEOMETRY[name]
    return c_in * hidden + k * k * hidden + hidden * c_out


def mask_shapes_of(name: str, c_in: int, c_out: int, hidden: int) -> list[tuple]:
    k, _ = CANDIDATE_GEOMETRY[name]
    return [(hidden, c_in, 1, 1), (hidden, 1, k, k), (c_out, hidden, 1, 1)]


OpEntry = tuple[str, int]   # (candidate, hidden width)


def _check_layer(i: int, layer: Any, first: bool) -> tuple[OpEntry, ...]:
    if not isinstance(layer, (list, tuple)):
        raise ValueError(f"layer {i}: expected a list of [candidate, hidden] pairs, got {layer!r}")
    out = []
    for entry in layer:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2):
            raise ValueError(f"layer {i}: expected [candidate, hidden], got {entry!r}")
        name, hidden = entry
        if name not in CANDIDATE_GEOMETRY:
            raise ValueError(f"layer {i}: unknown candidate {name!r}; known: {', '.join(CANDIDATES)}")
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"layer {i}: hidden width of {name} must be a positive int, got {hidden!r}")
        out.append((name, hidden))
    if len({n for n, _ in out}) != len(out):
        raise ValueError(f"layer {i}: a candidate appears twice")
    if first and not out:
        raise ValueError(f"layer {i}: the first layer of a group has no identity path and needs a candidate")
    return tuple(out)


@dataclass(frozen=True)
class MGASMobileArch:
    """An MGAS architecture in the MobileNet-like space (ours): per searchable layer the kept
    ``(candidate, hidden width)`` pairs, the skeleton, and optional weight masks."""

    layers: tuple[tuple[OpEntry, ...], ...]
    skeleton: MobileSkeleton = MobileSkeleton()
    weight_masks: MGASWeightMasks | None = None

    def __post_init__(self):
        if not isinstance(self.skeleton, MobileSkeleton):
            raise ValueError("skeleton must be a MobileSkeleton")
        plan = self.skeleton.plan()
        if not isinstance(self.layers, (list, tuple)) or len(self.layers) != len(plan):
            raise ValueError(f"layers: the skeleton has {len(plan)} searchable layers, got "
                             f"{len(self.layers) if isinstance(self.layers, (list, tuple)) else self.layers!r}")
        layers = tuple(_check_layer(i, layer, not has_residual(*plan[i][:3])) for i, layer in enumerate(self.layers))
        object.__setattr__(self, "layers", layers)
        if self.weight_masks is not None:
            if not isinstance(self.weight_masks, MGASWeightMasks):
                raise ValueError("weight_masks must be an MGASWeightMasks or None")
            expected = dict(self.mask_shapes())
            if set(expected) != set(self.weight_masks.keys()):
                raise ValueError("weight_masks do not match the kept candidates")
            for k, s in expected.items():
                if tuple(self.weight_masks[k].shape) != s:
                    raise ValueError(f"weight mask {k} has shape {self.weight_masks[k].shape}, the op needs {s}")

    def mask_shapes(self):
        plan = self.skeleton.plan()
        for i, layer in enumerate(self.layers):
            c_in, c_out, _, _ = plan[i]
            for o, (name, hidden) in enumerate(layer):
                for t, s in enumerate(mask_shapes_of(name, c_in, c_out, hidden)):
                    yield (i, o, t), s

    def with_masks(self, masks: MGASWeightMasks | None) -> "MGASMobileArch":
        return MGASMobileArch(self.layers, self.skeleton, masks)

    def depth(self) -> int:
        """Searchable layers that kept at least one candidate."""
        return sum(1 for layer in self.layers if layer)

    def n_ops(self) -> int:
        return sum(len(layer) for layer in self.layers)

    def to_dict(self) -> dict:
        d = {"space": "mgas_mobile", "skeleton": self.skeleton.to_dict(),
             "layers": [[[n, h] for n, h in layer] for layer in self.layers]}
        if self.weight_masks is not None:
            d["weight_masks"] = self.weight_masks.to_json()
        return d

    @classmethod
    def from_dict(cls, d: Any) -> "MGASMobileArch":
        if not isinstance(d, dict):
            raise ValueError(f"an MGAS MobileNet-like architecture must be a JSON object, got {type(d).__name__}")
        if d.get("space", "mgas_mobile") != "mgas_mobile":
            raise ValueError(f"not an MGAS MobileNet-like architecture (space={d.get('space')!r})")
        unknown = set(d) - {"space", "skeleton", "layers", "weight_masks"}
        if unknown:
            raise ValueError(f"MGAS MobileNet-like architecture: unknown field(s) {sorted(unknown)}")
        if "layers" not in d:
            raise ValueError("MGAS MobileNet-like architecture is missing 'layers'")
        masks = d.get("weight_masks")
        masks = MGASWeightMasks.from_json(masks) if masks is not None else None
        sk = MobileSkeleton.from_dict(d["skeleton"]) if "skeleton" in d else MobileSkeleton()
        return cls(d["layers"], sk, masks)

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self) -> str:
        m = f", {self.weight_masks!r}" if self.weight_masks is not None else ""
        return (f"MGASMobileArch({len(self.layers)} searchable layers, depth {self.depth()}, "
                f"{self.n_ops()} candidates kept{m})")

    def table(self) -> str:
        """One line per searchable layer: widths, stride and the kept candidates[hidden]."""
        lines = [str(self)]
        for i, ((c_in, c_out, s, g), layer) in enumerate(zip(self.skeleton.plan(), self.layers)):
            res = "+id" if has_residual(c_in, c_out, s) else "   "
            ops = ", ".join(f"{n}[{h}]" for n, h in layer) or "(identity)"
            lines.append(f"layer {i:2d} group {g + 1} {c_in:4d}->{c_out:4d} s{s} {res}: {ops}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# The standalone network
# ---------------------------------------------------------------------------------------

class MobileLayer(nn.Module):
    """A derived searchable layer: the sum of its kept candidates (+ identity when shapes allow)."""

    def __init__(self, layer: Sequence[OpEntry], c_in: int, c_out: int, stride: int):
        super().__init__()
        self.residual = has_residual(c_in, c_out, stride)
        self.ops = nn.ModuleList(candidate_block(n, c_in, c_out, stride, h) for n, h in layer)

    def forward(self, x):
        total = x if self.residual else 0
        for op in self.ops:
            total = total + op(x)
        return total


class MGASMobileNet(nn.Module):
    """The network of an :class:`MGASMobileArch` (Sec. 2.3 skeleton, ours); the weight masks,
    if any, multiply the candidates' conv weights in every forward."""

    def __init__(self, arch: MGASMobileArch, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.0):
        super().__init__()
        sk = arch.skeleton
        self.arch = arch
        self.stem = ConvBNAct(in_channels, sk.stem, 3, 2, act=ACT)
        self.first = MBConv(sk.stem, sk.first, 3, expand=1, act=ACT)
        self.cells = nn.ModuleList(MobileLayer(layer, c_in, c_out, s)
                                   for layer, (c_in, c_out, s, _) in zip(arch.layers, sk.plan()))
        self.last = ConvBNAct(sk.widths[-1], sk.last, 1, act=ACT)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.classifier = nn.Linear(sk.last, num_classes)
        if arch.weight_masks is not None:
            for (i, o, t), m in arch.weight_masks.items():
                masked_convs(self.cells[i].ops[o])[t].set_mask(torch.from_numpy(np.array(m)))

    def features(self, x):
        x = self.first(self.stem(x))
        for cell in self.cells:
            x = cell(x)
        return self.last(x)

    def forward(self, x):
        return self.classifier(self.dropout(torch.flatten(self.global_pooling(self.features(x)), 1)))


def build_network(arch: MGASMobileArch, num_classes: int = 1000, in_channels: int = 3, resolution: int = 224,
                  **kw) -> MGASMobileNet:
    """The standalone network for inputs of these sizes (ImageNet's by default; any resolution
    the skeleton's strides fit, see :func:`_input_shape`)."""
    return MGASMobileNet(arch, num_classes, in_channels, **kw)


# ---------------------------------------------------------------------------------------
# Sizes (Sec. 1.7, 2.3, 4.5) from the architecture value alone
# ---------------------------------------------------------------------------------------

def fixed_params(sk: MobileSkeleton, num_classes: int = 1000, in_channels: int = 3) -> int:
    """Stem, the fixed first block, the final 1x1 conv and the classifier."""
    stem = in_channels * sk.stem * 9 + 2 * sk.stem
    first = sk.stem * 9 + 2 * sk.stem + sk.stem * sk.first + 2 * sk.first
    last = sk.widths[-1] * sk.last + 2 * sk.last
    return stem + first + last + sk.last * num_classes + num_classes


def count_params_analytic(arch: MGASMobileArch, num_classes: int = 1000, in_channels: int = 3) -> int:
    total = fixed_params(arch.skeleton, num_classes, in_channels)
    for layer, (c_in, c_out, _, _) in zip(arch.layers, arch.skeleton.plan()):
        total += sum(candidate_params(n, c_in, c_out, h) for n, h in layer)
    return total


def proxy_size(arch: MGASMobileArch) -> int:
    """Sec. 2.3's size proxy: expansion + depthwise + projection weights of kept candidates."""
    return sum(candidate_proxy(n, c_in, c_out, h)
               for layer, (c_in, c_out, _, _) in zip(arch.layers, arch.skeleton.plan()) for n, h in layer)


def supernet_arch(sk: MobileSkeleton = MobileSkeleton()) -> MGASMobileArch:
    """Every candidate in every layer at full hidden width: the super-net as an architecture."""
    return MGASMobileArch(tuple(tuple((n, CANDIDATE_GEOMETRY[n][1] * c_in) for n in CANDIDATES)
                                for c_in, _, _, _ in sk.plan()), sk)


def single_path_arch(name: str, sk: MobileSkeleton = MobileSkeleton()) -> MGASMobileArch:
    """One candidate in every layer at full width (``ir_k3_e6``: MobileNetV2's block choice)."""
    e = CANDIDATE_GEOMETRY[name][1]
    return MGASMobileArch(tuple(((name, e * c_in),) for c_in, _, _, _ in sk.plan()), sk)


def size_report(arch: MGASMobileArch, num_classes: int = 1000, in_channels: int = 3) -> dict:
    """Sec. 4.5's numbers that need no forward pass: dense and non-zero parameters, masked
    weights and the proxy."""
    dense = count_params_analytic(arch, num_classes, in_channels)
    zeros = arch.weight_masks.zeros() if arch.weight_masks is not None else 0
    return {"dense_params": dense, "nonzero_params": dense - zeros, "masked_weights": zeros,
            "maskable_weights": sum(int(np.prod(s)) for _, s in arch.mask_shapes()), "proxy": proxy_size(arch),
            "depth": arch.depth(), "candidates_kept": arch.n_ops()}


def space_summary(sk: MobileSkeleton = MobileSkeleton()) -> dict:
    """``nasbook space mgas_mobile``: the searchable layers, the number of architectures at the
    op level (any non-empty subset of the six candidates, or also none where the layer has an
    identity path; hidden widths and weight masks not counted) and the super-net's sizes."""
    plan = sk.plan()
    residual = sum(has_residual(c_in, c_out, s) for c_in, c_out, s, _ in plan)
    n = len(CANDIDATES)
    full = supernet_arch(sk)
    return {"space": "mgas_mobile", "ours": "docs/methods/mgas.md (decision D6): not the paper's space",
            "skeleton": sk.to_dict(), "searchable_layers": len(plan), "layers_with_identity": residual,
            "candidates": list(CANDIDATES), "stage_ends": list(sk.stage_ends()),
            "architectures": (2 ** n - 1) ** (len(plan) - residual) * (2 ** n) ** residual,
            "supernet_params": count_params_analytic(full), "supernet_proxy": proxy_size(full)}


def _input_shape(in_channels: int, resolution: int):
    """At the input's resolution, 32 px at least (the stride-32 skeleton needs that): ImageNet
    at 224, CIFAR and the digits at 32."""
    r = max(resolution, 32)
    return (in_channels, r, r)


def _sizes(arch: MGASMobileArch, net: MGASMobileNet) -> dict:
    """``nasbook info`` extras (``info`` itself adds the MACs with the weight masks applied)."""
    return size_report(arch, net.classifier.out_features, net.stem.conv.in_channels)


def _space():
    from . import SpaceInfo

    return SpaceInfo(name="mgas_mobile", arch_type=MGASMobileArch, build=build_network, input_shape=_input_shape,
                     from_dict=MGASMobileArch.from_dict, describe=lambda a: a.table(), sizes=_sizes)


SPACE = _space()
