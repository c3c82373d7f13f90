"""The MGAS / MG-DARTS architecture space (docs/methods/mgas.md and 4): DARTS-style cells in which
every cell is different, every edge may keep any subset of the 7 ops, and every conv op has
its own filter widths; plus optional per-weight masks.

An :class:`MGASGenotype` lists, per cell, ``(op, from_node, to_node, widths)`` tuples
(the format of the official ``cifar_train/genotypes``): ``widths`` is ``[C_in, C_mid, C_out]``
for a sep_conv, ``[C_in, C_out]`` for a dil_conv and ``[C]`` otherwise. ``stem_C`` is the
retraining ``init_channels``: the stem has ``3 * stem_C`` channels and a node that no op
touches gets the nominal width ``stem_C``, ``2 stem_C`` or ``4 stem_C`` of its stage (Sec. 4.2).
:class:`MGASWeightMasks` holds a fixed boolean mask for each depthwise/pointwise conv tensor
of every kept sep_conv (4 tensors) and dil_conv (2 tensors), keyed by
``(cell, op_index, tensor_index)``; it serialises to a compressed ``.npz`` of packed booleans
(and, packed the same way, inline in the JSON so that the value is self-contained).

The standalone network (:class:`MGASNetwork`) follows the official retraining model
(docs/methods/mgas.md): pools are followed by an affine BN, skip_connect is identity or
FactorizedReduce(C, C) on stride-2 edges, sep/dil convs are masked, preprocess0 is a
FactorizedReduce after a reduction cell, reductions sit at ``L // 3`` and ``2L // 3``, an
auxiliary head (DARTS) after cell ``2L // 3``, global pooling and a linear classifier.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from ..ops.cell_ops import DilConv, FactorizedReduce, Identity, ReLUConvBN
from ..ops.masked_conv import MaskedConv2d, mask_convs, masked_convs
from .darts import AuxiliaryHeadCIFAR, AuxiliaryHeadImageNet, drop_path, setting_for

#: The 7 MGAS candidate ops in the official order (the column index of the op logits);
#: there is no ``none`` op (docs/methods/mgas.md).
PRIMITIVES: tuple[str, ...] = ("skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3",
                               "dil_conv_5x5", "avg_pool_3x3", "max_pool_3x3")
#: kernel, padding, dilation of the conv ops
CONV_GEOMETRY = {"sep_conv_3x3": (3, 1, 1), "sep_conv_5x5": (5, 2, 1),
                 "dil_conv_3x3": (3, 2, 2), "dil_conv_5x5": (5, 4, 2)}
STEPS = 4
CONCAT = (2, 3, 4, 5)

OpTuple = tuple  # (op: str, from_node: int, to_node: int, widths: tuple[int, ...])


def is_sep(op: str) -> bool:
    return op.startswith("sep_conv")


def is_dil(op: str) -> bool:
    return op.startswith("dil_conv")


def is_conv(op: str) -> bool:
    """The ops with filter and weight units (sep_conv and dil_conv)."""
    return op in CONV_GEOMETRY


def n_widths(op: str) -> int:
    return 3 if is_sep(op) else 2 if is_dil(op) else 1


def n_mask_tensors(op: str) -> int:
    """Depthwise + pointwise conv tensors of an op: 4 for sep_conv, 2 for dil_conv, else 0."""
    return 4 if is_sep(op) else 2 if is_dil(op) else 0


def reduction_cells(layers: int) -> tuple[int, int]:
    """The two reduction cells, ``floor(L/3)`` and ``floor(2L/3)`` as in DARTS (Sec. 1.8)."""
    return layers // 3, 2 * layers // 3


def nominal_width(C: int, layers: int, cell: int) -> int:
    """``C``, ``2C`` or ``4C``: the width a cell starts with (doubled at each reduction)."""
    r1, r2 = reduction_cells(layers)
    return C * (4 if cell >= r2 else 2 if cell >= r1 else 1)


def is_strided(reduction: bool, src: int) -> bool:
    """Edges from the cell inputs (nodes 0 and 1) stride in a reduction cell."""
    return reduction and src < 2


# ---------------------------------------------------------------------------------------
# Weight masks
# ---------------------------------------------------------------------------------------

MaskKey = tuple[int, int, int]


class MGASWeightMasks:
    """Boolean masks keyed by ``(cell, op_index, tensor_index)``.

    ``op_index`` is the position of the op in its cell's tuple list; ``tensor_index`` counts
    the op's depthwise/pointwise conv tensors (0..3 for sep_conv, 0..1 for dil_conv), in the
    order the op applies them. Immutable; equality and hashing compare the bits.
    """

    def __init__(self, masks: dict[MaskKey, Any]):
        items = {}
        for key, m in masks.items():
            if not (isinstance(key, tuple) and len(key) == 3 and all(isinstance(k, int) for k in key)):
                raise ValueError(f"weight mask keys are (cell, op_index, tensor_index) int triples, got {key!r}")
            a = m.detach().cpu().numpy() if isinstance(m, torch.Tensor) else np.asarray(m)
            a = a.astype(bool)
            a.setflags(write=False)
            items[key] = a
        self._masks = dict(sorted(items.items()))
        h = hashlib.sha256()
        for k, a in self._masks.items():
            h.update(repr((k, a.shape)).encode())
            h.update(np.packbits(a).tobytes())
        self._digest = h.hexdigest()

    def __getitem__(self, key: MaskKey) -> np.ndarray:
        return self._masks[key]

    def __contains__(self, key) -> bool:
        return key in self._masks

    def __len__(self) -> int:
        return len(self._masks)

    def keys(self):
        return self._masks.keys()

    def items(self):
        return self._masks.items()

    def __eq__(self, other) -> bool:
        return isinstance(other, MGASWeightMasks) and self._digest == other._digest

    def __hash__(self) -> int:
        return hash(self._digest)

    def __repr__(self) -> str:
        return f"MGASWeightMasks({len(self)} tensors, {self.zeros():,} of {self.total():,} weights masked)"

    def total(self) -> int:
        return sum(a.size for a in self._masks.values())

    def zeros(self) -> int:
        return sum(int(a.size - a.sum()) for a in self._masks.values())

    # -- serialisation -----------------------------------------------------------------
    @staticmethod
    def _name(key: MaskKey) -> str:
        return "c{}_o{}_t{}".format(*key)

    @staticmethod
    def _key(name: str) -> MaskKey:
        try:
            c, o, t = name.split("_")
            return int(c[1:]), int(o[1:]), int(t[1:])
        except ValueError:
            raise ValueError(f"bad weight-mask name {name!r} (expected c<cell>_o<op>_t<tensor>)") from None

    def save_npz(self, path) -> None:
        """A compressed ``.npz``: for each tensor, its packed bits and its shape."""
        arrays = {}
        for k, a in self._masks.items():
            arrays[self._name(k)] = np.packbits(a.ravel())
            arrays[self._name(k) + "_shape"] = np.asarray(a.shape, dtype=np.int64)
        np.savez_compressed(path, **arrays)

    @classmethod
    def load_npz(cls, path) -> "MGASWeightMasks":
        with np.load(path) as z:
            names = [n for n in z.files if not n.endswith("_shape")]
            out = {}
            for n in names:
                shape = tuple(int(s) for s in z[n + "_shape"])
                out[cls._key(n)] = np.unpackbits(z[n], count=int(np.prod(shape))).reshape(shape)
        return cls(out)

    def to_json(self) -> dict:
        """Packed bits of all tensors, zlib-compressed, base64 (a few kB for a CIFAR model)."""
        bits = np.concatenate([a.ravel() for a in self._masks.values()]) if self._masks else np.zeros(0, bool)
        data = base64.b64encode(zlib.compress(np.packbits(bits).tobytes(), 9)).decode("ascii")
        return {"encoding": "packbits-zlib-base64", "keys": [list(k) for k in self._masks],
                "shapes": [list(a.shape) for a in self._masks.values()], "data": data}

    @classmethod
    def from_json(cls, d: Any) -> "MGASWeightMasks":
        if not isinstance(d, dict) or d.get("encoding") != "packbits-zlib-base64":
            raise ValueError("weight_masks: expected an object with encoding 'packbits-zlib-base64'")
        try:
            keys = [tuple(int(x) for x in k) for k in d["keys"]]
            shapes = [tuple(int(x) for x in s) for s in d["shapes"]]
            raw = np.frombuffer(zlib.decompress(base64.b64decode(d["data"])), dtype=np.uint8)
        except (KeyError, TypeError, ValueError, zlib.error) as e:
            raise ValueError(f"weight_masks: cannot decode ({e})") from None
        sizes = [int(np.prod(s)) for s in shapes]
        bits = np.unpackbits(raw, count=sum(sizes))
        out, pos = {}, 0
        for k, s, n in zip(keys, shapes, sizes):
            out[k] = bits[pos:pos + n].reshape(s)
            pos += n
        return cls(out)


# ---------------------------------------------------------------------------------------
# The architecture value
# ---------------------------------------------------------------------------------------

def _check_cell(c: int, cell: Any) -> tuple[OpTuple, ...]:
    where = f"cell {c}"
    if not isinstance(cell, (list, tuple)) or len(cell) == 0:
        raise ValueError(f"{where}: expected a non-empty list of (op, from, to, widths) tuples, got {cell!r}")
    out, seen = [], set()
    for t in cell:
        if not isinstance(t, (list, tuple)) or len(t) != 4:
            raise ValueError(f"{where}: expected an (op, from, to, widths) tuple, got {t!r}")
        op, src, dst, widths = t
        if not isinstance(op, str) or op not in PRIMITIVES:
            raise ValueError(f"{where}: unknown op {op!r}; MGAS ops: {', '.join(PRIMITIVES)}")
        for name, v in (("from", src), ("to", dst)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"{where}: {op} {name}-node must be an int, got {v!r}")
        if not 2 <= dst <= STEPS + 1 or not 0 <= src < dst:
            raise ValueError(f"{where}: edge {src}->{dst} is not an edge of the cell (0 <= from < to, 2 <= to <= 5)")
        if not isinstance(widths, (list, tuple)) or len(widths) != n_widths(op):
            raise ValueError(f"{where}: {op} {src}->{dst} needs {n_widths(op)} widths, got {widths!r}")
        if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(f"{where}: {op} {src}->{dst}: widths must be positive ints, got {widths!r}")
        if (op, src, dst) in seen:
            raise ValueError(f"{where}: {op} {src}->{dst} listed twice")
        seen.add((op, src, dst))
        out.append((op, src, dst, tuple(widths)))
    missing = sorted(set(range(2, STEPS + 2)) - {t[2] for t in out})
    if missing:
        raise ValueError(f"{where}: node(s) {missing} have no incoming op (every node keeps at least one)")
    return tuple(out)


def cell_node_widths(cell: Sequence[OpTuple], nominal: int) -> list[int]:
    """Widths of nodes 0..5 implied by a cell's op tuples; nodes no op touches get ``nominal``.

    Raises ``ValueError`` if two ops disagree on a node's width, or a non-conv op has
    different input and output widths.
    """
    widths: list[int | None] = [None] * (STEPS + 2)

    def put(node, w, what):
        if widths[node] is not None and widths[node] != w:
            raise ValueError(f"node {node} has width {widths[node]} but {what} says {w}")
        widths[node] = w

    for op, src, dst, ws in cell:
        put(src, ws[0], f"{op} {src}->{dst}")
        put(dst, ws[-1], f"{op} {src}->{dst}")
    return [nominal if w is None else w for w in widths]


@dataclass(frozen=True)
class MGASGenotype:
    """An MGAS architecture: per cell the list of kept ``(op, from, to, widths)`` tuples.

    ``concat`` is the output nodes (2..5), ``stem_C`` the retraining ``init_channels``,
    ``weight_masks`` optional fixed masks of the sep/dil conv weights. Validated on
    construction: a bad value raises ``ValueError`` naming the cell and op.
    """

    cells: tuple[tuple[OpTuple, ...], ...]
    concat: tuple[int, ...] = CONCAT
    stem_C: int = 16
    weight_masks: MGASWeightMasks | None = None

    def __post_init__(self):
        if not isinstance(self.cells, (list, tuple)) or len(self.cells) < 3:
            raise ValueError(f"cells: expected a list of at least 3 cells (reductions at L/3, 2L/3), got {self.cells!r}")
        cells = tuple(_check_cell(c, cell) for c, cell in enumerate(self.cells))
        object.__setattr__(self, "cells", cells)
        if list(self.concat) != list(CONCAT):
            raise ValueError(f"concat: MGAS cells output nodes {list(CONCAT)}, got {self.concat!r}")
        object.__setattr__(self, "concat", tuple(self.concat))
        if isinstance(self.stem_C, bool) or not isinstance(self.stem_C, int) or self.stem_C < 1:
            raise ValueError(f"stem_C: expected a positive int, got {self.stem_C!r}")
        for c, cell in enumerate(cells):
            try:
                cell_node_widths(cell, self.nominal(c))
            except ValueError as e:
                raise ValueError(f"cell {c}: {e}") from None
        if self.weight_masks is not None:
            if not isinstance(self.weight_masks, MGASWeightMasks):
                raise ValueError("weight_masks must be an MGASWeightMasks or None")
            self._check_masks()

    def _check_masks(self):
        expected = dict(self.mask_shapes())
        got = set(self.weight_masks.keys())
        if got != set(expected):
            extra, missing = sorted(got - set(expected)), sorted(set(expected) - got)
            raise ValueError(f"weight_masks do not match the conv ops: missing {missing[:3]}, unexpected {extra[:3]}")
        for k, shape in expected.items():
            if tuple(self.weight_masks[k].shape) != shape:
                raise ValueError(f"weight mask {k} has shape {self.weight_masks[k].shape}, the op needs {shape}")

    # -- facts -------------------------------------------------------------------------
    @property
    def layers(self) -> int:
        return len(self.cells)

    def nominal(self, cell: int) -> int:
        return nominal_width(self.stem_C, self.layers, cell)

    def node_widths(self, cell: int) -> list[int]:
        return cell_node_widths(self.cells[cell], self.nominal(cell))

    def is_reduction(self, cell: int) -> bool:
        return cell in reduction_cells(self.layers)

    def n_ops(self) -> int:
        return sum(len(c) for c in self.cells)

    def mask_shapes(self) -> Iterable[tuple[MaskKey, tuple]]:
        """``((cell, op_index, tensor_index), weight shape)`` of every maskable conv tensor."""
        for c, cell in enumerate(self.cells):
            for o, (op, src, dst, ws) in enumerate(cell):
                if op not in CONV_GEOMETRY:
                    continue
                k = CONV_GEOMETRY[op][0]
                if is_sep(op):
                    cin, cmid, cout = ws
                    shapes = [(cin, 1, k, k), (cmid, cin, 1, 1), (cmid, 1, k, k), (cout, cmid, 1, 1)]
                else:
                    cin, cout = ws
                    shapes = [(cin, 1, k, k), (cout, cin, 1, 1)]
                for t, s in enumerate(shapes):
                    yield (c, o, t), s

    def with_masks(self, masks: MGASWeightMasks | None) -> "MGASGenotype":
        return MGASGenotype(self.cells, self.concat, self.stem_C, masks)

    # -- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict:
        d = {"space": "mgas", "stem_C": self.stem_C, "concat": list(self.concat),
             "cells": [[[op, s, t, list(w)] for op, s, t, w in cell] for cell in self.cells]}
        if self.weight_masks is not None:
            d["weight_masks"] = self.weight_masks.to_json()
        return d

    @classmethod
    def from_dict(cls, d: Any) -> "MGASGenotype":
        if not isinstance(d, dict):
            raise ValueError(f"an MGAS genotype must be a JSON object, got {type(d).__name__}")
        if d.get("space", "mgas") != "mgas":
            raise ValueError(f"not an MGAS genotype (space={d.get('space')!r})")
        unknown = set(d) - {"space", "cells", "concat", "stem_C", "weight_masks"}
        if unknown:
            raise ValueError(f"MGAS genotype: unknown field(s) {sorted(unknown)}")
        if "cells" not in d:
            raise ValueError("MGAS genotype is missing 'cells'")
        masks = d.get("weight_masks")
        masks = MGASWeightMasks.from_json(masks) if masks is not None else None
        return cls(d["cells"], tuple(d.get("concat", CONCAT)), d.get("stem_C", 16), masks)

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self) -> str:
        n = ", ".join(str(len(c)) for c in self.cells)
        m = f", {self.weight_masks!r}" if self.weight_masks is not None else ""
        return f"MGASGenotype({self.layers} cells, ops per cell [{n}], stem_C={self.stem_C}{m})"

    def table(self) -> str:
        """One line per cell: node widths and the kept ops by target node."""
        lines = [str(self)]
        for c, cell in enumerate(self.cells):
            w = self.node_widths(c)
            kind = "reduce" if self.is_reduction(c) else "normal"
            by_node = {j: [f"{op}<-{s}" + (f"[{ws[1]}]" if is_sep(op) else "") for op, s, t, ws in cell if t == j]
                       for j in range(2, STEPS + 2)}
            lines.append(f"cell {c:2d} {kind:6s} width {w[2]:4d}: " +
                         " | ".join(f"n{j}: " + ", ".join(v) for j, v in by_node.items()))
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Ops and the standalone network
# ---------------------------------------------------------------------------------------

def sep_conv(c_in: int, c_mid: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True) -> nn.Sequential:
    """DARTS' separable conv with its own middle width: two :class:`DilConv` blocks with
    dilation 1 (``c_in -> c_mid -> c_out``), convs masked. At ``c_mid == c_in`` it is DARTS'
    ``SepConv`` (Sec. 1.4)."""
    return mask_convs(nn.Sequential(DilConv(c_in, c_mid, kernel, stride, padding, 1, affine),
                                    DilConv(c_mid, c_out, kernel, 1, padding, 1, affine)))


def dil_conv(c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True) -> nn.Sequential:
    """DARTS' dilated conv (dilation 2), convs masked."""
    return mask_convs(nn.Sequential(DilConv(c_in, c_out, kernel, stride, padding, 2, affine)))


def conv_body(op: str, widths: Sequence[int], stride: int, affine: bool = True) -> nn.Sequential:
    """The masked body of a sep/dil conv op: a Sequential of ``DilConv`` blocks, each
    ``(ReLU, depthwise, pointwise, BN)``."""
    k, pad, dil = CONV_GEOMETRY[op]
    if is_sep(op):
        return sep_conv(*widths, k, stride, pad, affine)
    return dil_conv(widths[0], widths[1], k, stride, pad, affine)


def make_op(op: str, widths: Sequence[int], stride: int, pool_bn: bool = True) -> nn.Module:
    """A retraining op (Sec. 4.1): pools get an affine BN when ``pool_bn``."""
    if op in CONV_GEOMETRY:
        return conv_body(op, widths, stride)
    c = widths[0]
    if op == "skip_connect":
        return Identity() if stride == 1 else FactorizedReduce(c, c)
    pool = (nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False) if op == "avg_pool_3x3"
            else nn.MaxPool2d(3, stride=stride, padding=1))
    return nn.Sequential(pool, nn.BatchNorm2d(c)) if pool_bn else pool


def imagenet_stems(in_channels: int, C: int) -> tuple[nn.Sequential, nn.Sequential]:
    """DARTS' ImageNet stems: 3x3 stride-2 convs ``in -> C/2 -> C`` (224 -> 56 px), then
    ``C -> C`` (56 -> 28 px); the first cell reads both (our ImageNet preset, Sec. 2.3)."""
    stem0 = nn.Sequential(
        nn.Conv2d(in_channels, C // 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(C // 2),
        nn.ReLU(inplace=True), nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(C))
    stem1 = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False),
                          nn.BatchNorm2d(C))
    return stem0, stem1


class MGASCell(nn.Module):
    """A derived cell: node j sums every kept op whose target is j; output = concat(2..5)."""

    def __init__(self, cell: Sequence[OpTuple], node_widths: Sequence[int], c_pp: int, c_p: int,
                 reduction: bool, reduction_prev: bool):
        super().__init__()
        w = list(node_widths)
        self.reduction = reduction
        self.preprocess0 = FactorizedReduce(c_pp, w[0]) if reduction_prev else ReLUConvBN(c_pp, w[0], 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_p, w[1], 1, 1, 0)
        self.edges = [(src, dst) for _, src, dst, _ in cell]
        self.ops = nn.ModuleList(make_op(op, ws, 2 if is_strided(reduction, src) else 1) for op, src, dst, ws in cell)
        self.out_channels = sum(w[j] for j in CONCAT)

    def forward(self, s0, s1, drop_prob: float = 0.0):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for j in range(2, STEPS + 2):
            total = 0
            for (src, dst), op in zip(self.edges, self.ops):
                if dst != j:
                    continue
                h = op(states[src])
                if self.training and drop_prob > 0 and not isinstance(op, Identity):
                    h = drop_path(h, drop_prob)
                total = total + h
            states.append(total)
        return torch.cat([states[j] for j in CONCAT], dim=1)


class MGASNetwork(nn.Module):
    """The standalone network of an :class:`MGASGenotype` (the official retraining model).

    ``stem='cifar'``: 3x3 conv to ``3 stem_C`` + BN. ``stem='imagenet'``: the DARTS ImageNet
    stems (our provisional ImageNet recipe, Sec. 4.4). The weight masks of the genotype (if
    any) are stored in the masked convs and applied in every forward. ``forward`` returns the
    logits, or ``(logits, aux_logits)`` when training with the auxiliary head.
    """

    def __init__(self, genotype: MGASGenotype, num_classes: int = 10, auxiliary: bool = False,
                 in_channels: int = 3, stem: str = "cifar", drop_path_prob: float = 0.0,
                 stem_multiplier: int = 3):
        super().__init__()
        if not isinstance(genotype, MGASGenotype):
            raise TypeError(f"genotype must be an MGASGenotype, got {type(genotype).__name__}")
        if stem not in ("cifar", "imagenet"):
            raise ValueError(f"stem must be 'cifar' or 'imagenet', got {stem!r}")
        C, L = genotype.stem_C, genotype.layers
        self.stem_kind, self.auxiliary, self.drop_path_prob = stem, auxiliary, drop_path_prob
        if stem == "cifar":
            c = stem_multiplier * C
            self.stem = nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
            c_pp = c_p = c
            reduction_prev = False
        else:
            self.stem0, self.stem1 = imagenet_stems(in_channels, C)
            c_pp = c_p = C
            reduction_prev = True
        self.cells = nn.ModuleList()
        self.aux_position = 2 * L // 3
        c_aux = None
        for i, cell in enumerate(genotype.cells):
            reduction = genotype.is_reduction(i)
            m = MGASCell(cell, genotype.node_widths(i), c_pp, c_p, reduction, reduction_prev)
            self.cells.append(m)
            reduction_prev = reduction
            c_pp, c_p = c_p, m.out_channels
            if i == self.aux_position:
                c_aux = c_p
        if auxiliary:
            self.auxiliary_head = (AuxiliaryHeadCIFAR if stem == "cifar" else AuxiliaryHeadImageNet)(c_aux, num_classes)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)
        if genotype.weight_masks is not None:
            apply_weight_masks(self, genotype.weight_masks)

    def forward(self, x):
        if self.stem_kind == "cifar":
            s0 = s1 = self.stem(x)
        else:
            s0 = self.stem0(x)
            s1 = self.stem1(s0)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.aux_position and self.auxiliary and self.training:
                aux = self.auxiliary_head(s1)
        logits = self.classifier(torch.flatten(self.global_pooling(s1), 1))
        return (logits, aux) if aux is not None else logits


def op_mask_convs(op: nn.Module) -> list[MaskedConv2d]:
    """The depthwise/pointwise convs of a sep/dil op body, in tensor-index order."""
    return masked_convs(op)


def apply_weight_masks(net: MGASNetwork, masks: MGASWeightMasks) -> None:
    for (c, o, t), m in masks.items():
        op_mask_convs(net.cells[c].ops[o])[t].set_mask(torch.from_numpy(np.array(m)))


def build_network(genotype: MGASGenotype, num_classes: int = 10, in_channels: int = 3, resolution: int = 32,
                  **kw) -> MGASNetwork:
    """The standalone network for inputs of these sizes: the CIFAR stem, or the DARTS ImageNet
    stems above 32 px (:func:`nasbook.spaces.darts.setting_for`); ``stem=`` and the other
    keyword arguments of :class:`MGASNetwork` override."""
    defaults = dict(num_classes=num_classes, in_channels=in_channels, stem=setting_for(resolution))
    defaults.update(kw)
    return MGASNetwork(genotype, **defaults)


# ---------------------------------------------------------------------------------------
# Sizes (Sec. 1.7, 4.5), computed from the genotype alone
# ---------------------------------------------------------------------------------------

def op_params(op: str, widths: Sequence[int], strided: bool) -> int:
    """Parameters of one retraining op (BN affine: 2 per channel)."""
    if is_sep(op):
        k = CONV_GEOMETRY[op][0]
        cin, cmid, cout = widths
        return cin * k * k + cin * cmid + 2 * cmid + cmid * k * k + cmid * cout + 2 * cout
    if is_dil(op):
        k = CONV_GEOMETRY[op][0]
        cin, cout = widths
        return cin * k * k + cin * cout + 2 * cout
    c = widths[0]
    if op == "skip_connect":
        return c * c + 2 * c if strided else 0
    return 2 * c  # pool + BN


def count_params_analytic(genotype: MGASGenotype, num_classes: int = 10, in_channels: int = 3,
                          auxiliary: bool = False, stem: str = "cifar", stem_multiplier: int = 3) -> int:
    """Dense parameter count of :class:`MGASNetwork`, by arithmetic on the genotype."""
    C, L = genotype.stem_C, genotype.layers
    if stem == "cifar":
        c = stem_multiplier * C
        total = in_channels * c * 9 + 2 * c
        c_pp = c_p = c
        reduction_prev = False
    else:
        total = in_channels * (C // 2) * 9 + 2 * (C // 2) + (C // 2) * C * 9 + 2 * C + C * C * 9 + 2 * C
        c_pp = c_p = C
        reduction_prev = True
    c_aux = None
    for i, cell in enumerate(genotype.cells):
        w = genotype.node_widths(i)
        red = genotype.is_reduction(i)
        total += c_pp * w[0] + 2 * w[0]          # preprocess0: 1x1 conv or FactorizedReduce, + BN
        total += c_p * w[1] + 2 * w[1]           # preprocess1
        total += sum(op_params(op, ws, is_strided(red, s)) for op, s, _, ws in cell)
        reduction_prev = red
        c_pp, c_p = c_p, sum(w[j] for j in CONCAT)
        if i == 2 * L // 3:
            c_aux = c_p
    total += c_p * num_classes + num_classes
    if auxiliary:
        if stem == "cifar":
            total += c_aux * 128 + 2 * 128 + 128 * 768 * 4 + 2 * 768 + 768 * num_classes + num_classes
        else:
            total += c_aux * 128 + 2 * 128 + 128 * 768 * 4 + 768 * num_classes + num_classes
    return total


def conv_weights(op: str, widths: Sequence[int]) -> int:
    """Depthwise + pointwise weights of a sep/dil op with all filters kept (Sec. 1.7)."""
    k = CONV_GEOMETRY[op][0]
    if is_sep(op):
        cin, cmid, cout = widths
        return cin * k * k + cin * cmid + k * k * cmid + cmid * cout
    cin, cout = widths
    return cin * k * k + cin * cout


#: Proxy conventions of Sec. 1.7 (the table of the released models' sizes).
PROXY_CONVENTIONS = ("conv_only", "official_legacy", "nasbook")


def proxy_size(genotype: MGASGenotype, convention: str = "nasbook") -> int:
    """The size proxy Pi of a derived network, in weights (Sec. 1.7):

    * ``conv_only``: depthwise + pointwise weights of the kept sep/dil convs;
    * ``nasbook``: plus ``c^2`` per skip_connect on a stride-2 edge of a true reduction cell,
      ``c`` the cell's nominal width (our fixed proxy, Sec. 7 item 3);
    * ``official_legacy``: the code's ``current_flops``: the ``c^2`` term on skip ops from
      nodes 0/1 of the mis-flagged cells ``end_1``, ``end_2`` (one index early), with ``c``
      doubled one cell early as the code tracks it.

    Weight masks are not subtracted (the proxy counts filters, not single weights).
    """
    if convention not in PROXY_CONVENTIONS:
        raise ValueError(f"unknown proxy convention {convention!r}; known: {', '.join(PROXY_CONVENTIONS)}")
    L, C = genotype.layers, genotype.stem_C
    end1, end2 = L // 3 - 1, 2 * L // 3 - 1
    total = 0
    for i, cell in enumerate(genotype.cells):
        total += sum(conv_weights(op, ws) for op, _, _, ws in cell if op in CONV_GEOMETRY)
        if convention == "nasbook" and genotype.is_reduction(i):
            c = genotype.nominal(i)
            total += sum(c * c for op, s, _, _ in cell if op == "skip_connect" and s < 2)
        elif convention == "official_legacy" and i in (end1, end2):
            c = C * (2 if i == end1 else 4)
            total += sum(c * c for op, s, _, _ in cell if op == "skip_connect" and s < 2)
    return total


def maskable_weights(genotype: MGASGenotype) -> int:
    return sum(int(np.prod(s)) for _, s in genotype.mask_shapes())


def size_report(genotype: MGASGenotype, num_classes: int = 10, in_channels: int = 3, stem: str = "cifar") -> dict:
    """The size numbers of Sec. 4.5 that need no forward pass: dense and non-zero parameters
    (auxiliary head excluded), masked zeros, and the proxy under each convention."""
    dense = count_params_analytic(genotype, num_classes, in_channels, False, stem)
    zeros = genotype.weight_masks.zeros() if genotype.weight_masks is not None else 0
    out = {"dense_params": dense, "nonzero_params": dense - zeros, "masked_weights": zeros,
           "maskable_weights": maskable_weights(genotype)}
    out.update({f"proxy_{c}": proxy_size(genotype, c) for c in PROXY_CONVENTIONS})
    return out


# ---------------------------------------------------------------------------------------
# ``nasbook space mgas``
# ---------------------------------------------------------------------------------------

def space_summary(layers: int = 14, C: int = 44) -> dict:
    """``nasbook space mgas``: the DARTS-like MGAS space at the ``paper`` preset's size
    (Sec. 2.1-2.2; docs/methods/mgas.md). Op level only: a cell keeps any subset of the 7 ops
    on each of its 14 edges as long as every intermediate node keeps one op (the architecture
    value's rule, and the search's last-op protection), so node j with ``j`` input edges has
    ``2^(7 j) - 1`` choices; the ``layers`` cells are searched separately (filter widths and
    weight masks not counted). The super-net sizes: maskable sep/dil conv weights (every edge
    of width ``c`` holds ``6c^2 + 102c``) and the size proxy Pi with our skip term on the
    true reduction cells."""
    n_ops = len(PRIMITIVES)
    per_cell = 1
    for j in range(2, STEPS + 2):
        per_cell *= 2 ** (n_ops * j) - 1
    edges = [(i, j) for j in range(2, STEPS + 2) for i in range(j)]
    reductions = reduction_cells(layers)
    maskable = proxy = 0
    for cell in range(layers):
        c = nominal_width(C, layers, cell)
        w = sum(conv_weights(op, (c, c, c) if is_sep(op) else (c, c)) for op in CONV_GEOMETRY) * len(edges)
        maskable += w
        proxy += w + (sum(c * c for i, _ in edges if i < 2) if cell in reductions else 0)
    return {"space": "mgas", "ops": list(PRIMITIVES), "edges_per_cell": len(edges), "intermediate_nodes": STEPS,
            "layers": layers, "C": C, "reduction_cells": list(reductions),
            "architectures_per_cell": per_cell, "architectures_log10": round(layers * math.log10(per_cell), 1),
            "op_units": layers * len(edges) * n_ops,
            "supernet_maskable_weights": maskable, "supernet_proxy": proxy}
