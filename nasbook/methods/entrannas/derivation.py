"""Derivation: architecture parameters -> the sub-graph the Transit-cells run.

EnTranNAS redoes it on every iteration (survey Eq. 20, [S] "end of each iteration"; section
names below are headings of docs/methods/entrannas.md):

* ``top2`` (EnTranNAS, "Relaxation and derivation"): the DARTS parse on
  ``p = softmax(alpha / tau)``: each node keeps its two sources with the largest non-'none' weight, each with its arg-max op. This is
  :func:`nasbook.methods.darts.derive_cell`, reused unchanged.
* ``dst`` (EnTranNAS-DST, "Differentiable sparsification"): every (source, op) pair with
  ``q > 0`` survives, so a node may keep one input, three inputs, or two ops on one edge. Pairs are listed in
  canonical order, sorted by (source index, op index) ([I]).

A derived cell is a list, per intermediate node, of (op name, source) pairs: the node lists
of :class:`nasbook.spaces.darts.Genotype`.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..darts import derive_cell
from .relaxation import node_rows

NodePairs = list[list[tuple[str, int]]]


def derive_top2(p: torch.Tensor, steps: int, primitives: Sequence[str]) -> NodePairs:
    """The DARTS top-2 rule (DARTS Sec. 2.4) on softmax weights ``p``; strongest edge first.
    Ties go to the lowest (source, op) index ([I]; stable sort and first arg-max)."""
    return derive_cell(p, steps, tuple(primitives))


def derive_dst(q: torch.Tensor, steps: int, primitives: Sequence[str]) -> NodePairs:
    """``S_j = {(i, k) : q[i, j, k] > 0}`` (survey Eq. 21-22), in canonical (source, op) order."""
    q = q.detach().cpu()
    nodes = []
    for start, n in node_rows(steps):
        alive = (q[start:start + n] > 0).nonzero().tolist()   # row-major: sorted by (i, k)
        nodes.append([(primitives[k], i) for i, k in alive])
    return nodes


def pair_indices(nodes: NodePairs, primitives: Sequence[str]) -> list[list[tuple[int, int]]]:
    """Op names -> ``(source, op column)`` pairs, the form the cells index their modules by."""
    return [[(i, primitives.index(op)) for op, i in node] for node in nodes]
