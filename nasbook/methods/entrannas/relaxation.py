"""How EnTranNAS turns architecture parameters into the weights an Engine-cell mixes with.

* EnTranNAS (survey Eq. 20; docs/methods/entrannas.md): ``p = softmax(alpha / tau)`` over
  the ops of each edge.
* EnTranNAS-DST ([S] Eq. 21-22; docs/methods/entrannas.md, "Differentiable sparsification"):
  per node ``j`` a learnable threshold
  ``t_j = sigmoid(beta_j)``; ``m_j`` is the largest ``p`` over every (source, op) pair of the
  node; ``q = ReLU(p / m_j - t_j)``; ``qhat`` renormalises ``q`` over the surviving ops of
  each edge (``dst_norm='edge'``, the literal reading of Eq. 22) or of the whole node
  (``'node'``, kept for ablations). Pairs with ``q = 0`` are pruned exactly.

Alpha rows follow the DARTS layout: node ``j`` (0-based among intermediate nodes) owns rows
``offset_j .. offset_j + j + 1``, one per source node ``0 .. j + 1``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

NORMS = ("edge", "node")


def node_rows(steps: int) -> list[tuple[int, int]]:
    """``(first alpha row, number of sources)`` of each intermediate node."""
    out, start = [], 0
    for j in range(steps):
        out.append((start, j + 2))
        start += j + 2
    return out


def softmax_weights(alpha: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """``p[e, k] = softmax_k(alpha[e, k] / tau)`` (survey Eq. 20); tau = 1 is the DARTS softmax."""
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    return torch.softmax(alpha / tau, dim=-1)


@dataclass
class DSTWeights:
    """The intermediate quantities of survey Eq. 21-22, all ``[edges, ops]`` except ``t`` (``[steps]``)."""

    p: torch.Tensor      # softmax(alpha / tau)
    t: torch.Tensor      # thresholds sigmoid(beta)
    q: torch.Tensor      # ReLU(p / m_j - t_j); zero on pruned pairs (and on a masked 'none')
    qhat: torch.Tensor   # q renormalised per live edge (or per node); what the Engine-cell mixes with


def dst_weights(alpha: torch.Tensor, beta: torch.Tensor, tau: float = 1.0, norm: str = "edge",
                exclude: int | None = None) -> DSTWeights:
    """Differentiable sparsification of one cell type (survey Eq. 21-22; docs/methods/entrannas.md,
    "Differentiable sparsification (EnTranNAS-DST)").

    ``exclude`` is an op column kept in the softmax but masked out of ``m_j``, ``q`` and the
    derived set (``dst_none_mode='mask'`` for 'none'); the default 7-op set has no 'none'.
    """
    if norm not in NORMS:
        raise ValueError(f"dst_norm must be one of {NORMS}, got {norm!r}")
    steps = beta.numel()
    if alpha.size(0) != sum(n for _, n in node_rows(steps)):
        raise ValueError(f"alpha has {alpha.size(0)} edges, but beta has {steps} nodes")
    p = softmax_weights(alpha, tau)
    valid = torch.ones(p.size(1), dtype=torch.bool, device=p.device)
    if exclude is not None:
        valid[exclude] = False
    t = torch.sigmoid(beta)
    # ``p/m - t`` written as ``(p/m - 1) + sigmoid(-beta)``: the same number, but the arg-max
    # pair keeps q = sigmoid(-beta) > 0 exactly (x / x == 1 in floating point) even where
    # sigmoid(beta) rounds to 1, so S_j is never empty (docs/methods/entrannas.md,
    # "Differentiable sparsification").
    one_minus_t = torch.sigmoid(-beta)
    qs, qhats = [], []
    for j, (start, n) in enumerate(node_rows(steps)):
        pj = p[start:start + n]
        m = pj.masked_fill(~valid, float("-inf")).amax()       # one max per node over all (i, k)
        qj = torch.relu(pj / m - 1 + one_minus_t[j]) * valid   # masked column: exactly 0
        total = qj.sum(dim=1, keepdim=True) if norm == "edge" else qj.sum().expand(n, 1)
        # a dead edge (all q = 0) gets qhat = 0; the safe denominator keeps its gradient finite
        qhats.append(qj / torch.where(total > 0, total, torch.ones_like(total)))
        qs.append(qj)
    return DSTWeights(p, t, torch.cat(qs), torch.cat(qhats))
