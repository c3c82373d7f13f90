"""The Transit-cell (survey Eq. 20 [S]; docs/methods/entrannas.md,
"Cells and super-net"): the derived sub-graph, unweighted.

Node ``j`` is ``x_j = sum_{(i, k) in S_j} y[i, k]``, exactly as in the evaluation network,
but with the super-net's shared modules (a pair used by two nodes is computed once:
sharing in Transit-cells is our choice [I]). It holds modules for every candidate because ``S``
changes as the search proceeds; only the derived ones run and train on a step. No weight
multiplies anything, so the Transit-cell adds no autograd path to the architecture
parameters: they reach it only through the derivation, which is not differentiable.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .sharing import SharedFeatures, SharingCell


def transit_forward(cell: SharingCell, s0: torch.Tensor, s1: torch.Tensor,
                    pairs: Sequence[Sequence[tuple[int, int]]]) -> torch.Tensor:
    """The Transit-cell computation on ``cell``'s modules; ``pairs[j]`` is ``S_j`` as
    (source, op column) pairs, summed in the order given."""
    if len(pairs) != cell.steps:
        raise ValueError(f"expected derived pairs for {cell.steps} nodes, got {len(pairs)}")
    states = cell.inputs(s0, s1)
    y = SharedFeatures(cell, states)
    for j, node in enumerate(pairs):
        if not node:
            raise ValueError(f"Transit-cell node {j + 2} has no input")
        total = None
        for i, k in node:
            total = y(i, k) if total is None else total + y(i, k)
        states.append(total)
    cell.last_op_evals = y.evaluations
    return cell.output(states)


class TransitCell(SharingCell):
    """A feature-sharing cell that runs only the currently derived architecture."""

    def forward(self, s0, s1, pairs):
        return transit_forward(self, s0, s1, pairs)
