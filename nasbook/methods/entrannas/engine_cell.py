"""The Engine-cell (survey Eq. 20 [S]; docs/methods/entrannas.md,
"Cells and super-net"): the differentiable cell.

Node ``j`` is ``x_j = sum_{i<j} sum_k w[i, j, k] * y[i, k]`` over the shared features of
:mod:`.sharing`, with ``w = p = softmax(alpha / tau)`` in EnTranNAS and ``w = qhat`` in
EnTranNAS-DST. Architecture parameters receive gradient only through Engine-cells.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .relaxation import node_rows
from .sharing import SharedFeatures, SharingCell


def engine_forward(cell: SharingCell, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor,
                   active: Sequence[Sequence[tuple[int, int]]] | None = None) -> torch.Tensor:
    """The Engine-cell computation on ``cell``'s modules.

    ``weights`` is ``[edges, K]`` in the DARTS row layout. ``active[j]`` lists the (source,
    op) pairs of node ``j`` with non-zero weight; the others are skipped in forward and
    backward (DST: pruned pairs have weight exactly 0, survey Eq. 21). ``None`` computes every
    pair. Terms are added in (source, op) order, so skipping exact zeros changes no bit.
    """
    states = cell.inputs(s0, s1)
    y = SharedFeatures(cell, states)
    K = len(cell.primitives)
    for j, (start, n) in enumerate(node_rows(cell.steps)):
        wanted = None if active is None else set(active[j])
        node = None
        for i in range(n):
            w = weights[start + i]
            for k in range(K):
                if wanted is not None and (i, k) not in wanted:
                    continue
                term = w[k] * y(i, k)
                node = term if node is None else node + term
        if node is None:  # cannot happen under DST (S_j is never empty); kept for safety
            raise RuntimeError(f"Engine-cell node {j + 2} has no active input")
        states.append(node)
    cell.last_op_evals = y.evaluations
    return cell.output(states)


class EngineCell(SharingCell):
    """A feature-sharing cell that mixes every candidate pair (survey Eq. 20)."""

    def forward(self, s0, s1, weights, active=None):
        return engine_forward(self, s0, s1, weights, active)
