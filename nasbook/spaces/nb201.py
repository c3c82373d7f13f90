"""The NAS-Bench-201 cell space (Dong & Yang, ICLR 2020, arXiv 2001.00326, Sec. 2.1) as data.

A cell is a DAG on four nodes: node 0 is the cell input, node 3 its output, every edge
``j <- i`` (i < j) carries one of five ops and every node sums its incoming edges. Six edges,
five ops: 5^6 = 15,625 cells. The benchmark writes a cell as an *arch string*::

    |op~0|+|op~0|op~1|+|op~0|op~1|op~2|

one ``|...|`` group per node 1, 2, 3 listing the op on the edge from each earlier node.

The network of one cell (the benchmark's ``TinyNetwork``): a 3x3-conv + BN stem to C channels,
three stages of N cells at C, 2C, 4C channels with a residual reduction block between stages,
then BN, ReLU, global average pooling and a linear classifier. The benchmark uses C = 16, N = 5.

Also here, because they are properties of a cell's graph and need no training: which
input-to-output paths are live, whether a cell is connected, and the number of nonlinear
functions on its deepest live path (the few-shot method's counting rule;
docs/methods/fewshot_nl.md, "The counting rule").
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ..ops.nb201_ops import NB201_OPS, NONLINEAR_OPS, ResidualReduction, make_nb201_op
from . import SpaceInfo

OPS = NB201_OPS
#: The six edges as (to, from), in arch-string order (also the gene order of search methods).
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
#: The four input-to-output paths, as edge indices into ``EDGES`` (docs/methods/fewshot_nl.md,
#: "The counting rule").
PATHS: tuple[tuple[int, ...], ...] = ((3,), (4, 0), (5, 1), (5, 2, 0))
NUM_CELLS = len(OPS) ** len(EDGES)


def _edge_name(e: int) -> str:
    j, i = EDGES[e]
    return f"{j}<-{i}"


@dataclass(frozen=True)
class NB201Cell:
    """One NAS-Bench-201 cell: the op on each edge of ``EDGES`` (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2).

    Frozen and hashable. ``str(cell)`` is the benchmark's arch string; :meth:`parse` reads it
    back. Invalid values raise ``ValueError`` with a message naming the problem.
    """

    ops: tuple[str, ...]

    def __post_init__(self):
        ops = self.ops
        if isinstance(ops, str) or not isinstance(ops, (list, tuple)):
            raise ValueError(f"ops: expected a list of {len(EDGES)} op names, got {ops!r}")
        if len(ops) != len(EDGES):
            raise ValueError(f"ops: expected {len(EDGES)} ops (edges {', '.join(map(_edge_name, range(6)))}), "
                             f"got {len(ops)}")
        for e, op in enumerate(ops):
            if op not in OPS:
                raise ValueError(f"edge {_edge_name(e)}: unknown op {op!r}; known: {', '.join(OPS)}")
        object.__setattr__(self, "ops", tuple(ops))

    # -- the benchmark's arch string ----------------------------------------------------------
    def __str__(self) -> str:
        nodes, e = [], 0
        for j in (1, 2, 3):
            nodes.append("|" + "|".join(f"{self.ops[e + i]}~{i}" for i in range(j)) + "|")
            e += j
        return "+".join(nodes)

    @classmethod
    def parse(cls, text: str) -> "NB201Cell":
        """Read ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``; each node lists inputs 0..j-1 in order."""
        if not isinstance(text, str):
            raise ValueError(f"arch string must be a str, got {type(text).__name__}")
        groups = text.strip().split("+")
        if len(groups) != 3:
            raise ValueError(f"{text!r}: expected 3 node groups joined by '+' (nodes 1, 2, 3), got {len(groups)}")
        ops = []
        for j, group in enumerate(groups, start=1):
            if len(group) < 2 or not (group.startswith("|") and group.endswith("|")):
                raise ValueError(f"{text!r}: node {j}: a group must look like |op~0|...|, got {group!r}")
            items = group[1:-1].split("|")
            if len(items) != j:
                raise ValueError(f"{text!r}: node {j} must have {j} incoming edge(s), got {len(items)}")
            for i, item in enumerate(items):
                op, sep, src = item.partition("~")
                if not sep:
                    raise ValueError(f"{text!r}: node {j}: expected 'op~index', got {item!r}")
                if op not in OPS:
                    raise ValueError(f"{text!r}: node {j}: unknown op {op!r}; known: {', '.join(OPS)}")
                if not src.isdigit() or int(src) != i:
                    raise ValueError(f"{text!r}: node {j}: edge {i + 1} must come from node {i} "
                                     f"(inputs listed 0..{j - 1} in order), got index {src!r}")
                ops.append(op)
        return cls(tuple(ops))

    # -- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"space": "nb201", "arch": str(self)}

    @classmethod
    def from_dict(cls, d: Any) -> "NB201Cell":
        if not isinstance(d, dict):
            raise ValueError(f"an NB201 cell must be a JSON object, got {type(d).__name__}")
        if d.get("space", "nb201") != "nb201":
            raise ValueError(f"not an nb201 architecture (space={d.get('space')!r})")
        if "arch" not in d:
            raise ValueError("an nb201 architecture needs an 'arch' field holding the arch string")
        return cls.parse(d["arch"])

    # -- indices ------------------------------------------------------------------------------
    @property
    def index(self) -> int:
        """The base-5 index (codes in ``OPS`` order, edge 1<-0 most significant; the
        convention of the cvlab-yonsei tables).
        Not the benchmark file's order: the data layer's ``NB201Table`` (``data/nasbench201.py``) maps that."""
        k = 0
        for op in self.ops:
            k = k * len(OPS) + OPS.index(op)
        return k

    @classmethod
    def from_index(cls, k: int) -> "NB201Cell":
        if not 0 <= k < NUM_CELLS:
            raise ValueError(f"base-5 index must be in 0..{NUM_CELLS - 1}, got {k}")
        codes = []
        for _ in EDGES:
            k, r = divmod(k, len(OPS))
            codes.append(r)
        return cls(tuple(OPS[c] for c in reversed(codes)))

    def op(self, to: int, frm: int) -> str:
        return self.ops[EDGES.index((to, frm))]

    def replace(self, mapping: dict[str, str]) -> "NB201Cell":
        """The cell with every op renamed through ``mapping`` (others kept)."""
        return NB201Cell(tuple(mapping.get(o, o) for o in self.ops))

    # -- graph properties ---------------------------------------------------------------------
    def live_paths(self) -> tuple[int, ...]:
        """Indices into ``PATHS`` of the paths without a ``none`` edge."""
        return tuple(p for p, path in enumerate(PATHS) if all(self.ops[e] != "none" for e in path))

    def path_depths(self) -> tuple[int | None, ...]:
        """Per path: the number of nonlinear ops on it, or None when a ``none`` edge cuts it."""
        return tuple(sum(self.ops[e] in NONLINEAR_OPS for e in path) if p in self.live_paths() else None
                     for p, path in enumerate(PATHS))

    @property
    def connected(self) -> bool:
        """Whether any input-to-output path is live (341 of the 15,625 cells are not)."""
        return bool(self.live_paths())

    @property
    def nonlinearity_count(self) -> int:
        """The effective number of nonlinear functions (ENN; docs/methods/fewshot_nl.md,
        "The counting rule"): the largest number
        of ReLUs (``nor_conv`` ops) on any live input-to-output path; 0 when none is live.
        Parallel convs do not add up and dead-end branches do not count."""
        return max((d for d in self.path_depths() if d is not None), default=0)

    def __repr__(self) -> str:
        return f"NB201Cell({str(self)!r})"


@lru_cache(maxsize=1)
def all_cells() -> tuple[NB201Cell, ...]:
    """All 15,625 cells in base-5 index order."""
    return tuple(NB201Cell(ops) for ops in itertools.product(OPS, repeat=len(EDGES)))


def count_histogram(cells: Sequence[NB201Cell] | None = None) -> dict[int, int]:
    """Number of cells per nonlinearity count (all cells: 1983 / 7122 / 5520 / 1000)."""
    out: dict[int, int] = {}
    for c in all_cells() if cells is None else cells:
        out[c.nonlinearity_count] = out.get(c.nonlinearity_count, 0) + 1
    return dict(sorted(out.items()))


def sample_cell(gen: torch.Generator | None = None, connected_only: bool = False) -> NB201Cell:
    """A uniformly random cell (of the connected ones if asked)."""
    while True:
        c = NB201Cell(tuple(OPS[int(i)] for i in torch.randint(len(OPS), (len(EDGES),), generator=gen)))
        if c.connected or not connected_only:
            return c


# -- networks ----------------------------------------------------------------------------------
class InferCell(nn.Module):
    """The standalone cell of one architecture: node j = sum_i op_{j<-i}(node i)."""

    def __init__(self, cell: NB201Cell, channels: int, affine: bool = True):
        super().__init__()
        self.cell = cell
        self.edges = nn.ModuleList(make_nb201_op(op, channels, affine) for op in cell.ops)

    def forward(self, x):
        nodes, e = [x], 0
        for j in (1, 2, 3):
            nodes.append(sum(self.edges[e + i](nodes[i]) for i in range(j)))
            e += j
        return nodes[-1]


def stage_layout(C: int, N: int) -> list[tuple[int, bool]]:
    """(width, is_reduction_block) of every layer after the stem: N cells at C, a reduction
    to 2C, N cells at 2C, a reduction to 4C, N cells at 4C."""
    return [(C, False)] * N + [(2 * C, True)] + [(2 * C, False)] * N + [(4 * C, True)] + [(4 * C, False)] * N


class NB201Network(nn.Module):
    """The NAS-Bench-201 macro network around any cell module.

    ``make_cell(channels)`` builds each of the 3N cells; ``forward(x, *cell_args)`` passes
    ``cell_args`` to every cell (a supernet cell takes the architecture to run).
    """

    def __init__(self, make_cell: Callable[[int], nn.Module], C: int = 16, N: int = 5, num_classes: int = 10,
                 in_channels: int = 3, affine: bool = True):
        super().__init__()
        self.C, self.N = C, N
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C, affine=affine))
        self.cells = nn.ModuleList()
        c_prev = C
        for c, reduction in stage_layout(C, N):
            self.cells.append(ResidualReduction(c_prev, c, affine) if reduction else make_cell(c))
            c_prev = c
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev, affine=affine), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def searched_cells(self) -> list[nn.Module]:
        return [m for m in self.cells if not isinstance(m, ResidualReduction)]

    def forward(self, x, *cell_args):
        h = self.stem(x)
        for m in self.cells:
            h = m(h) if isinstance(m, ResidualReduction) else m(h, *cell_args)
        return self.classifier(torch.flatten(self.global_pooling(self.lastact(h)), 1))


#: dataset -> (classes, input shape) of the benchmark's three datasets (plus the offline digits).
DATASETS = {
    "cifar10": (10, (3, 32, 32)),
    "cifar100": (100, (3, 32, 32)),
    "imagenet16-120": (120, (3, 16, 16)),
    "digits": (10, (1, 8, 8)),
}


def _dataset(name: str):
    key = name.lower()
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r} for the nb201 space; known: {', '.join(DATASETS)}")
    return DATASETS[key]


def build_network(cell: NB201Cell, dataset: str = "cifar10", C: int = 16, N: int = 5) -> NB201Network:
    """The benchmark network of ``cell`` for one of the benchmark's :data:`DATASETS` (C = 16,
    N = 5 as in NAS-Bench-201)."""
    classes, shape = _dataset(dataset)
    return build_sized(cell, classes, shape[0], shape[1], C, N)


def input_shape(dataset: str) -> tuple:
    return _dataset(dataset)[1]


def build_sized(cell: NB201Cell, num_classes: int = 10, in_channels: int = 3, resolution: int = 32,
                C: int = 16, N: int = 5) -> NB201Network:
    """The space's ``build``: the benchmark network of ``cell`` for inputs of these sizes (any
    resolution: the network ends in a global pool)."""
    return NB201Network(lambda c: InferCell(cell, c), C, N, num_classes, in_channels)


def sized_input_shape(in_channels: int, resolution: int) -> tuple:
    return (in_channels, resolution, resolution)


def space_summary() -> dict:
    """Size of the space and cells per nonlinearity count (``nasbook space nb201``)."""
    cells = all_cells()
    return {"space": "nb201", "cells": len(cells), "ops": list(OPS), "edges": len(EDGES), "nodes": 4,
            "cells_per_nonlinearity_count": {str(k): v for k, v in count_histogram(cells).items()},
            "disconnected_cells": sum(not c.connected for c in cells)}


SPACE = SpaceInfo(name="nb201", arch_type=NB201Cell, build=build_sized, input_shape=sized_input_shape,
                  from_dict=NB201Cell.from_dict, describe=str)
