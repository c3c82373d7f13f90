"""The DARTS cell search space (Liu, Simonyan, Yang, ICLR 2019) as plain data.

A cell has two input nodes (the outputs of the two previous cells), ``steps`` intermediate
nodes (4 in DARTS) and outputs the channel concatenation of the intermediate nodes. A
:class:`Genotype` names, for every intermediate node, the (op, input-node) pairs it sums.
DARTS derives exactly two pairs per node; EnTranNAS-DST and MGAS allow any number, which the
same value type holds (``Genotype.from_flat`` reads the classic flat 8-pair format).

This module also builds the standalone evaluation networks of one genotype: the CIFAR
network (stem 3x3 conv, reductions at L/3 and 2L/3, auxiliary head at 2L/3, drop path) and
the ImageNet mobile-setting network (two-conv stride-2 stems), as in the DARTS code.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import torch
from torch import nn

from ..ops.cell_ops import OP_NAMES, PRIMITIVES, FactorizedReduce, Identity, ReLUConvBN, make_op

Pair = tuple[str, int]
Node = tuple[Pair, ...]


def _check_nodes(field: str, nodes: Any, ops: Sequence[str]) -> tuple[Node, ...]:
    if not isinstance(nodes, (list, tuple)) or len(nodes) == 0:
        raise ValueError(f"{field}: expected a non-empty list of nodes, got {nodes!r}")
    out = []
    for j, node in enumerate(nodes):
        if not isinstance(node, (list, tuple)) or len(node) == 0:
            raise ValueError(f"{field}: node {j + 2} must be a non-empty list of (op, input) pairs, got {node!r}")
        pairs = []
        for pair in node:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise ValueError(f"{field}: node {j + 2}: expected an (op, input) pair, got {pair!r}")
            op, src = pair
            if not isinstance(op, str) or op not in ops:
                raise ValueError(f"{field}: node {j + 2}: unknown op {op!r}; known: {', '.join(ops)}")
            if isinstance(src, bool) or not isinstance(src, int):
                raise ValueError(f"{field}: node {j + 2}: input index must be an int, got {src!r}")
            if not 0 <= src < j + 2:
                raise ValueError(
                    f"{field}: node {j + 2} may read nodes 0..{j + 1}, got input {src}")
            pairs.append((op, src))
        out.append(tuple(pairs))
    return tuple(out)


def _check_concat(field: str, concat: Any, steps: int) -> tuple[int, ...]:
    if isinstance(concat, range):
        concat = list(concat)
    if not isinstance(concat, (list, tuple)) or len(concat) == 0:
        raise ValueError(f"{field}: expected a non-empty list of node indices, got {concat!r}")
    for c in concat:
        if isinstance(c, bool) or not isinstance(c, int) or not 2 <= c < steps + 2:
            raise ValueError(f"{field}: node indices must be ints in 2..{steps + 1}, got {c!r}")
    if len(set(concat)) != len(concat):
        raise ValueError(f"{field}: repeated node index in {list(concat)!r}")
    return tuple(concat)


@dataclass(frozen=True)
class Genotype:
    """A DARTS-space architecture: per-node (op, input) lists for the normal and reduction cell.

    ``normal[j]`` lists the pairs summed by intermediate node ``j + 2``; node 0 and 1 are the
    cell inputs. Validated on construction: a bad value raises ``ValueError`` naming the field.
    """

    normal: tuple[Node, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Node, ...]
    reduce_concat: tuple[int, ...]

    def __post_init__(self):
        normal = _check_nodes("normal", self.normal, OP_NAMES)
        reduce = _check_nodes("reduce", self.reduce, OP_NAMES)
        object.__setattr__(self, "normal", normal)
        object.__setattr__(self, "reduce", reduce)
        object.__setattr__(self, "normal_concat", _check_concat("normal_concat", self.normal_concat, len(normal)))
        object.__setattr__(self, "reduce_concat", _check_concat("reduce_concat", self.reduce_concat, len(reduce)))

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_flat(cls, normal, normal_concat, reduce, reduce_concat) -> "Genotype":
        """Read the DARTS code's format: a flat list of 2 pairs per node."""

        def nest(field, flat):
            if not isinstance(flat, (list, tuple)) or len(flat) == 0 or len(flat) % 2:
                raise ValueError(f"{field}: the flat DARTS format needs an even, non-zero number of pairs, got {flat!r}")
            return [list(flat[i:i + 2]) for i in range(0, len(flat), 2)]

        return cls(nest("normal", normal), normal_concat, nest("reduce", reduce), reduce_concat)

    @classmethod
    def from_dict(cls, d: Any) -> "Genotype":
        if not isinstance(d, dict):
            raise ValueError(f"a genotype must be a JSON object, got {type(d).__name__}")
        missing = {"normal", "normal_concat", "reduce", "reduce_concat"} - set(d)
        if missing:
            raise ValueError(f"genotype is missing field(s): {', '.join(sorted(missing))}")
        fmt = d.get("format", "nodes")
        if fmt == "flat":
            return cls.from_flat(d["normal"], d["normal_concat"], d["reduce"], d["reduce_concat"])
        if fmt != "nodes":
            raise ValueError(f"unknown genotype format {fmt!r} (expected 'nodes' or 'flat')")
        return cls(d["normal"], d["normal_concat"], d["reduce"], d["reduce_concat"])

    @classmethod
    def from_json(cls, text: str) -> "Genotype":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"not valid JSON: {e}") from None
        if isinstance(d, dict) and d.get("space") not in (None, "darts"):
            raise ValueError(f"not a DARTS genotype (space={d.get('space')!r})")
        return cls.from_dict(d)

    @classmethod
    def parse(cls, text: str) -> "Genotype":
        """Inverse of ``str()``: ``Genotype(normal=[...], normal_concat=[...], ...)``."""
        import ast

        text = text.strip()
        if not (text.startswith("Genotype(") and text.endswith(")")):
            raise ValueError("expected text of the form Genotype(normal=..., normal_concat=..., reduce=..., reduce_concat=...)")
        try:
            call = ast.parse(text, mode="eval").body
            kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
        except (SyntaxError, ValueError) as e:
            raise ValueError(f"cannot parse genotype text: {e}") from None
        return cls.from_dict(kw)

    # -- export ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "space": "darts",
            "normal": [[list(p) for p in node] for node in self.normal],
            "normal_concat": list(self.normal_concat),
            "reduce": [[list(p) for p in node] for node in self.reduce],
            "reduce_concat": list(self.reduce_concat),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self) -> str:
        def fmt(nodes):
            return "[" + ", ".join("[" + ", ".join(f"({op!r}, {i})" for op, i in node) + "]" for node in nodes) + "]"

        return (f"Genotype(normal={fmt(self.normal)}, normal_concat={list(self.normal_concat)}, "
                f"reduce={fmt(self.reduce)}, reduce_concat={list(self.reduce_concat)})")

    @property
    def steps(self) -> int:
        return len(self.normal)

    def is_darts_format(self) -> bool:
        """True when every node has exactly 2 inputs (the DARTS top-2 rule)."""
        return all(len(n) == 2 for n in self.normal + self.reduce)

    def flat(self, cell: str = "normal") -> list[Pair]:
        return [p for node in getattr(self, cell) for p in node]

    def canonical(self) -> "Genotype":
        """The same cells with each node's pairs sorted by (input index, op index in
        ``OP_NAMES``): the order EnTranNAS-DST derives in ([I]; docs/methods/entrannas.md,
        "Differentiable sparsification"). The
        architecture is unchanged, since a node sums its pairs; DARTS lists pairs
        strongest first, so use this to compare cells whose orders differ."""

        def sort(nodes):
            return [sorted(node, key=lambda p: (p[1], OP_NAMES.index(p[0]))) for node in nodes]

        return Genotype(sort(self.normal), self.normal_concat, sort(self.reduce), self.reduce_concat)

    def fan_in(self, cell: str = "normal") -> list[int]:
        """Number of distinct input nodes of each intermediate node (2 everywhere for DARTS)."""
        return [len({src for _, src in node}) for node in getattr(self, cell)]


def count_genotypes(steps: int = 4, num_ops: int = len(PRIMITIVES) - 1, inputs_per_node: int = 2) -> int:
    """Number of distinct DARTS cells (one cell type) under the top-k rule.

    Node j+2 picks ``inputs_per_node`` distinct predecessors out of j+2 and one op (``none``
    excluded, as in DARTS derivation) for each: prod_j C(j+2, k) * num_ops**k. Both cells
    are chosen independently, so the space is this number squared (about 10^18 for DARTS).
    """
    from math import comb

    total = 1
    for j in range(steps):
        total *= comb(j + 2, inputs_per_node) * num_ops ** inputs_per_node
    return total


def sample_genotype(generator: torch.Generator | None = None, steps: int = 4,
                    ops: Sequence[str] = PRIMITIVES[1:]) -> Genotype:
    """A uniformly random top-2 genotype (two distinct inputs per node, ``none`` excluded)."""
    g = generator

    def cell():
        nodes = []
        for j in range(steps):
            srcs = torch.randperm(j + 2, generator=g)[:2].sort().values.tolist()
            nodes.append([(ops[int(torch.randint(len(ops), (1,), generator=g))], s) for s in srcs])
        return nodes

    concat = list(range(2, steps + 2))
    return Genotype(cell(), concat, cell(), concat)


# ---------------------------------------------------------------------------------------
# Standalone evaluation networks
# ---------------------------------------------------------------------------------------

def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples of a branch with probability ``drop_prob`` (FractalNet/NASNet)."""
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.empty(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x.div(keep) * mask


class EvalCell(nn.Module):
    """A derived cell: node j sums its listed ops (any number of inputs)."""

    def __init__(self, nodes: Sequence[Node], concat: Sequence[int], c_pp: int, c_p: int, c: int,
                 reduction: bool, reduction_prev: bool):
        super().__init__()
        self.preprocess0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0)
        self.reduction = reduction
        self.concat = list(concat)
        self.multiplier = len(self.concat)
        self.sources = [[src for _, src in node] for node in nodes]
        self.ops = nn.ModuleList(
            nn.ModuleList(make_op(op, c, 2 if reduction and src < 2 else 1, affine=True) for op, src in node)
            for node in nodes
        )

    def forward(self, s0, s1, drop_prob: float = 0.0):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for srcs, ops in zip(self.sources, self.ops):
            total = 0
            for src, op in zip(srcs, ops):
                h = op(states[src])
                if self.training and drop_prob > 0 and not isinstance(op, Identity):
                    h = drop_path(h, drop_prob)
                total = total + h
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHeadCIFAR(nn.Sequential):
    """Auxiliary classifier for 8x8 feature maps (DARTS / NASNet)."""

    def __init__(self, c: int, num_classes: int):
        super().__init__(
            nn.ReLU(inplace=True),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),  # 8x8 -> 2x2
            nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=True),
            nn.Flatten(), nn.Linear(768, num_classes),
        )


class AuxiliaryHeadImageNet(nn.Sequential):
    """Auxiliary classifier for 14x14 feature maps (DARTS ImageNet; no BN after the 2x2 conv,
    as in the authors' code, which comments that BN there hurts)."""

    def __init__(self, c: int, num_classes: int):
        super().__init__(
            nn.ReLU(inplace=True),
            nn.AvgPool2d(5, stride=2, padding=0, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(768, num_classes),
        )


class DartsNetwork(nn.Module):
    """Evaluation network of a genotype: stem, ``layers`` cells (reductions at L/3 and 2L/3),
    optional auxiliary head after cell 2L/3, global pool, classifier.

    ``stem='cifar'``: 3x3 conv to 3C + BN. ``stem='imagenet'``: two stride-2 stems as in the
    DARTS ImageNet code (224 -> 56 before the first cell, the first cell's input already
    reduced). ``forward`` returns logits, or ``(logits, aux_logits)`` when training with an
    auxiliary head.
    """

    def __init__(self, genotype: Genotype, C: int = 36, num_classes: int = 10, layers: int = 20,
                 auxiliary: bool = False, stem: str = "cifar", in_channels: int = 3,
                 drop_path_prob: float = 0.0, stem_multiplier: int = 3):
        super().__init__()
        if not isinstance(genotype, Genotype):
            raise TypeError(f"genotype must be a Genotype, got {type(genotype).__name__}")
        if stem not in ("cifar", "imagenet"):
            raise ValueError(f"stem must be 'cifar' or 'imagenet', got {stem!r}")
        self.layers, self.auxiliary, self.drop_path_prob = layers, auxiliary, drop_path_prob
        self.stem_kind = stem
        if stem == "cifar":
            c_curr = stem_multiplier * C
            self.stem = nn.Sequential(nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
            c_pp, c_p, c_curr = c_curr, c_curr, C
            reduction_prev = False
        else:
            self.stem0 = nn.Sequential(
                nn.Conv2d(in_channels, C // 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(C // 2),
                nn.ReLU(inplace=True),
                nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(C))
            self.stem1 = nn.Sequential(
                nn.ReLU(inplace=True), nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(C))
            c_pp, c_p, c_curr = C, C, C
            reduction_prev = True
        self.cells = nn.ModuleList()
        self.aux_position = 2 * layers // 3
        c_aux = None
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            nodes, concat = (genotype.reduce, genotype.reduce_concat) if reduction else (genotype.normal, genotype.normal_concat)
            cell = EvalCell(nodes, concat, c_pp, c_p, c_curr, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, cell.multiplier * c_curr
            if i == self.aux_position:
                c_aux = c_p
        if auxiliary:
            head = AuxiliaryHeadCIFAR if stem == "cifar" else AuxiliaryHeadImageNet
            self.auxiliary_head = head(c_aux, num_classes)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

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


#: The papers' two evaluation settings (DARTS Sec. 3.3 / A.2): CIFAR (C=36, 20 cells) and the
#: ImageNet mobile setting (C=48, 14 cells, the stride-2 stems).
SETTINGS = {
    "cifar": dict(C=36, layers=20, num_classes=10, stem="cifar"),
    "imagenet": dict(C=48, layers=14, num_classes=1000, stem="imagenet"),
}


def setting_for(resolution: int) -> str:
    """The evaluation setting for inputs ``resolution`` px wide: ImageNet's above 32 px (its
    stems down-sample 8x before the first cell), CIFAR's at 32 px and below."""
    return "imagenet" if resolution > 32 else "cifar"


def build_network(genotype: Genotype, setting: str = "cifar", **kw) -> DartsNetwork:
    """The standard evaluation network of ``setting`` (see :data:`SETTINGS`: ``"cifar"``,
    10 classes, or ``"imagenet"``, 1000 classes). Keyword arguments override, e.g.
    ``num_classes=100`` for CIFAR-100."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {', '.join(map(repr, SETTINGS))}, got {setting!r} "
                         f"(a dataset's sizes go in as num_classes=, in_channels=)")
    defaults = dict(SETTINGS[setting])
    defaults.update(kw)
    return DartsNetwork(genotype, **defaults)


def build_sized(genotype: Genotype, num_classes: int = 10, in_channels: int = 3, resolution: int = 32,
                setting: str | None = None, **kw) -> DartsNetwork:
    """The space's ``build``: the evaluation network for inputs of these sizes, in ``setting``
    (default: :func:`setting_for` ``(resolution)``); keyword arguments override as in
    :func:`build_network`."""
    return build_network(genotype, setting or setting_for(resolution), num_classes=num_classes,
                         in_channels=in_channels, **kw)


def sized_input_shape(in_channels: int, resolution: int) -> tuple[int, int, int]:
    """Where the space counts: the input's channels at ``resolution`` px, 32 px at least (the
    CIFAR setting's standard size)."""
    r = max(resolution, 32)
    return (in_channels, r, r)


def edges_of(nodes: Iterable[Node]):
    """Yield (src, dst, op) for every pair of a cell (dst counts input nodes, so starts at 2)."""
    for j, node in enumerate(nodes):
        for op, src in node:
            yield src, j + 2, op
