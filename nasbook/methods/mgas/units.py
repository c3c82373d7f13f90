"""The three unit levels of MGAS and their learned discretization function (docs/methods/mgas.md).

| level     | unit                               | score           | threshold                      |
|-----------|------------------------------------|-----------------|--------------------------------|
| operation | one candidate op of one edge       | p = sigmoid(a)  | tau_op, one per op instance    |
| filter    | one output channel of a gated layer| q = sigmoid(b)  | tau_f, one per conv op (shared |
|           |                                    |                 | by its gated layers) and one   |
|           |                                    |                 | per preprocess layer           |
| weight    | one depthwise/pointwise conv weight| abs(w)          | tau_w, one per conv op         |

Every level uses the same discretization ``D(s; tau) = H(s - tau)`` (strict step) whose
backward is DST's long-tailed surrogate (Liu et al., ICLR 2020, as in the official code)::

    H'(x) = 2 - 4|x|  for |x| <= 0.4,   0.4  for 0.4 < |x| <= 1,   0  for |x| > 1

so ``dD/ds = H'`` and ``dD/dtau = -H'``. A unit's live gate is ``g = M * D(s; tau)`` with
``M`` its committed mask (1 until a pruning round writes a 0, Sec. 1.6).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from ...ops.masked_conv import MaskedConv2d


def surrogate_derivative(x: torch.Tensor) -> torch.Tensor:
    """DST's long-tailed estimate of the step's derivative (Sec. 1.3)."""
    a = x.abs()
    return torch.where(a <= 0.4, 2 - 4 * a, torch.where(a <= 1, torch.full_like(a, 0.4), torch.zeros_like(a)))


class BinaryStep(torch.autograd.Function):
    """``H(x) = 1 if x > 0 else 0`` forward, :func:`surrogate_derivative` backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * surrogate_derivative(x)


def discretize(score: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """The learned discretization function ``D(s; tau) = H(s - tau)``."""
    return BinaryStep.apply(score - tau)


@dataclass
class PassState:
    """How a forward pass treats the units.

    ``mode='search'``: live gates ``M * D(s; tau)``, op outputs scaled by ``p``, filters by
    ``sigmoid(b)``. ``mode='discrete'`` (Sec. 9 check 12, ours): committed masks replace the
    live gates and both scalings are off, which is what the standalone network computes.
    ``record``: keep this pass's live gates so that a pruning round can commit them.
    ``keep_live``: keep them with their autograd graph (the soft size ``P~`` when ``mu > 0``).
    """

    mode: str = "search"
    record: bool = False
    keep_live: bool = False  # keep the live gates (with their graph) for the soft size of mu > 0
    levels: tuple = ("op", "filter", "weight")  # unit levels searched; a level left out keeps its gates at 1

    @property
    def discrete(self) -> bool:
        return self.mode == "discrete"


class FilterGate(nn.Module):
    """Filter level for one layer: logits ``b`` (init 0) and committed mask ``M``.

    ``forward(x, tau)`` multiplies channel f by ``sigmoid(b_f) * M_f * D(sigmoid(b_f); tau)``.
    ``thresholded=False`` (the skip op's FactorizedReduce, Sec. 1.3) scales by
    ``sigmoid(b) * M`` without a threshold, so no filter of it is ever gated off.
    """

    def __init__(self, channels: int, thresholded: bool = True):
        super().__init__()
        self.thresholded = thresholded
        self.logits = nn.Parameter(torch.zeros(channels))
        self.register_buffer("mask", torch.ones(channels, dtype=torch.bool))
        self.pending: torch.Tensor | None = None  # live gates of the last recorded pass

    @property
    def channels(self) -> int:
        return self.logits.numel()

    def scores(self) -> torch.Tensor:
        return torch.sigmoid(self.logits)

    def live(self, tau: torch.Tensor | None) -> torch.Tensor:
        if not self.thresholded or tau is None:
            return self.mask.to(self.logits.dtype)
        return self.mask * discretize(self.scores(), tau)

    def scale(self, tau: torch.Tensor | None, state: PassState) -> torch.Tensor:
        if state.discrete or "filter" not in state.levels:
            return self.mask.to(self.logits.dtype)
        g = self.live(tau)
        if state.record:
            self.pending = g.detach() > 0
        if state.keep_live:
            self.live_gate = g
        return self.scores() * g

    def forward(self, x: torch.Tensor, tau: torch.Tensor | None, state: PassState) -> torch.Tensor:
        return x * self.scale(tau, state).view(1, -1, 1, 1).to(x.dtype)


def weight_gate(conv: MaskedConv2d, tau: torch.Tensor, state: PassState) -> torch.Tensor | None:
    """Weight level: ``M^w * D(|w|; tau_w)`` for one conv tensor (``None`` in discrete mode,
    where the conv applies its committed mask)."""
    if state.discrete or "weight" not in state.levels:
        return None
    g = conv.weight_mask * discretize(conv.weight.abs(), tau)
    if state.record:
        conv.pending_mask = g.detach() > 0
    if state.keep_live:
        conv.live_mask = g
    return g


def live_op_gates(p: torch.Tensor, tau: torch.Tensor, mask: torch.Tensor,
                  node_edges: Sequence[Sequence[int]], tol: float = 1e-5) -> torch.Tensor:
    """Operation level with last-op protection (Sec. 1.3), for one cell.

    ``p``, ``tau``: ``[edges, ops]``; ``mask``: committed op mask. Inside a node, ops are
    visited in edge order then op order; the remaining live mass is the sum of ``p`` over
    the node's ops with ``M = 1`` not yet gated off in this pass. An op whose ``p`` equals
    the remaining mass (within ``tol``) is never gated off: its gate is its committed mask
    (no gradient). So every intermediate node keeps at least one op.
    """
    raw = mask * discretize(p, tau)
    pv, rv, mv = p.detach().tolist(), raw.detach().tolist(), mask.tolist()
    protect = torch.zeros_like(mask)
    for edges in node_edges:
        remaining = sum(pv[e][o] for e in edges for o in range(len(pv[e])) if mv[e][o])
        for e in edges:
            for o in range(len(pv[e])):
                if not mv[e][o]:
                    continue
                if abs(remaining - pv[e][o]) > tol:
                    if rv[e][o] == 0:
                        remaining -= pv[e][o]
                else:
                    protect[e, o] = True
    return torch.where(protect, mask.to(raw.dtype), raw)
