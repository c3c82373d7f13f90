"""The MGAS loss and its adaptive lambda controller (docs/methods/mgas.md, 1.6; per official
code, the regulariser and controller inherited from GOLD-NAS).

One-level optimisation: weights, op logits, filter logits and thresholds are all updated on
the same mini-batch from::

    L = CE(head_s(N_s(x)), y) + lambda * (R_op + R_tau)

``R_op`` (the GOLD-NAS log-share term) sums, over the cells of the current phase, every node
j and every op entering j with live gate 1::

    log(1 + n_j * p / S_j) * (1 + mu * P~)

``n_j`` = ops entering j with live gate 1 in this pass, ``S_j`` = sum of ``p`` over the
node's ops that are not removed, ``P~`` the op's soft size in millions (used only when
``mu > 0``; the official default is 0). ``R_tau`` = ``exp(-tau)`` summed over every cell
executed in the pass: both preprocess thresholds, and per op with ``M = 1`` its op
threshold (plus filter and weight thresholds for sep/dil convs). Minimising ``exp(-tau)``
raises every threshold: the pressure that prunes all three levels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ...spaces.mgas import is_sep
from .gated_ops import GatedConvOp, GatedMBConv
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the super-net imports this module
    from .supernet import SearchCell


def op_regulariser(cell: SearchCell, p: torch.Tensor, gates: torch.Tensor, mu: float = 0.0,
                   official_nj_bug: bool = False) -> torch.Tensor:
    """``R_op`` of one cell (Sec. 1.5). ``official_nj_bug`` reproduces the code's count of
    nodes 4 and 5's live ops over node 3's edges (Sec. 7 item 2; off by default)."""
    live = gates.detach() > 0
    mask = cell.op_mask.to(p.dtype)
    total = p.new_zeros(())
    node_edges = cell.node_edges
    for node, edges in enumerate(node_edges):
        idx = list(edges)
        count_on = list(node_edges[1]) if official_nj_bug and node >= 2 else idx
        n = live[count_on].sum().to(p.dtype)
        if not bool(cell.op_mask[idx].any()):
            continue   # every op of the node removed (a MobileNet-like layer left to its identity)
        S = (p[idx] * mask[idx]).sum()
        terms = torch.log1p(n * p[idx] / S)
        if mu:
            terms = terms * (1 + mu * soft_sizes(cell, idx))
        total = total + terms[live[idx]].sum()
    return total


def soft_sizes(cell: SearchCell, edges: list[int]) -> torch.Tensor:
    """``P~`` (Sec. 1.5) of every op on ``edges``, in millions, from this pass's live gates
    (kept on the modules when the pass ran with ``keep_live``)."""
    rows = []
    for e in edges:
        row = []
        for o, name in enumerate(cell.primitives):
            op = cell.ops[e][o]
            if isinstance(op, GatedConvOp) and getattr(op.gates[-1], "live_gate", None) is not None:
                row.append(_conv_soft_size(op))
            elif isinstance(op, GatedMBConv) and getattr(op.gates[0], "live_gate", None) is not None:
                row.append(_mb_soft_size(op))
            elif name == "skip_connect" and cell.stride(e) == 2:
                row.append(cell.op_logits.new_tensor(1e-6 * cell.nominal ** 2))
            else:
                row.append(cell.op_logits.new_zeros(()))
        rows.append(torch.stack(row))
    return torch.stack(rows)


def _share(g: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return g * torch.log1p(g.sum() * q / q.sum())


def _conv_soft_size(op: GatedConvOp) -> torch.Tensor:
    w = [c.live_mask for c in op.convs()]
    out_gate, out_q = op.gates[-1].live_gate, op.gates[-1].scores()
    size = w[0].sum()
    if is_sep(op.name):
        mid_gate, mid_q = op.gates[0].live_gate, op.gates[0].scores()
        per_mid = w[1].flatten(1).sum(1) + w[2].flatten(1).sum(1)
        size = size + (per_mid * _share(mid_gate, mid_q)).sum() + (w[3].flatten(1).sum(1) * _share(out_gate, out_q)).sum()
    else:
        size = size + (w[1].flatten(1).sum(1) * _share(out_gate, out_q)).sum()
    return 1e-6 * size


def _mb_soft_size(op: GatedMBConv) -> torch.Tensor:
    """``P~`` of a MobileNet-like candidate (ours, the analogue of the sep_conv term): per
    hidden filter its expansion row, depthwise channel and projection column, times its share."""
    w = [c.live_mask for c in op.convs()]
    per_hidden = w[0].flatten(1).sum(1) + w[1].flatten(1).sum(1) + w[2].sum((0, 2, 3))
    g = op.gates[0]
    return 1e-6 * (per_hidden * _share(g.live_gate, g.scores())).sum()


def threshold_regulariser(cell: SearchCell, levels=("op", "filter", "weight")) -> torch.Tensor:
    """``R_tau`` of one executed cell (Sec. 1.5); thresholds of a disabled level are left out."""
    active = cell.op_mask.to(cell.tau_op.dtype)
    conv = (cell.op_mask & cell.conv_columns).to(cell.tau_op.dtype)
    total = (torch.exp(-cell.tau_op) * active).sum()
    if "filter" in levels:
        total = total + torch.exp(-cell.tau_pre).sum() + (torch.exp(-cell.tau_filter) * conv).sum()
    if "weight" in levels:
        total = total + (torch.exp(-cell.tau_weight) * conv).sum()
    return total


def regularisers(model, out, stage: int, state) -> tuple[torch.Tensor, torch.Tensor]:
    """``(R_op, R_tau)`` of a pass: R_op over the cells of ``stage`` (all cells in the final
    phase), R_tau over every executed cell (Sec. 1.5)."""
    opts = model.loss_options
    zero = out.logits.new_zeros(())
    if state.discrete:
        return zero, zero
    r_op = zero
    for i in model.stage_cells(stage):
        r_op = r_op + op_regulariser(model.cells[i], out.p[i], out.gates[i], opts["mu"], opts["official_nj_bug"])
    r_tau = zero
    for i in range(out.executed):
        r_tau = r_tau + threshold_regulariser(model.cells[i], opts["levels"])
    return r_op, r_tau


@dataclass
class LambdaController:
    """The adaptive lambda of Sec. 1.6 (GOLD-NAS's controller, per official code).

    Starts at ``lambda = 0``, ``dlambda = lambda0`` each phase. After a pruning round that
    removed ``n`` ops::

        n >= 4 n0:  dlambda <- lambda0;  lambda <- lambda / c0
        n <  2 n0:  unless frozen: dlambda <- dlambda * c0^2;  lambda <- lambda + dlambda
        lambda <- min(lambda, lambda_max)

    ``lambda_max`` is set in every round before the update: ``lambda`` itself (freeze) when
    the epoch's mean CE is below ``freeze_ratio`` times its mean ``lambda * R_op``, else
    ``cap`` (100; ``None``: no cap). Frozen means ``lambda == lambda_max``.
    """

    lambda0: float = 1e-5
    c0: float = 2.0
    n0: int = 12
    cap: float | None = 100.0
    lam: float = 0.0
    dlam: float = 0.0
    lam_max: float = math.inf

    def __post_init__(self):
        self.reset()

    def reset(self) -> None:
        self.lam, self.dlam = 0.0, self.lambda0
        self.lam_max = math.inf if self.cap is None else float(self.cap)

    def update(self, n_pruned: int, mean_ce: float | None = None, mean_lambda_rop: float | None = None,
               freeze_ratio: float = 1.0) -> float:
        if mean_ce is not None and mean_lambda_rop is not None and mean_ce < freeze_ratio * mean_lambda_rop:
            self.lam_max = self.lam
        else:
            self.lam_max = math.inf if self.cap is None else float(self.cap)
        if n_pruned >= 4 * self.n0:
            self.dlam = self.lambda0
            self.lam = self.lam / self.c0
        elif n_pruned < 2 * self.n0 and self.lam != self.lam_max:
            self.dlam = self.dlam * self.c0 ** 2
            self.lam = self.lam + self.dlam
        self.lam = min(self.lam, self.lam_max)
        return self.lam

    def state_dict(self) -> dict:
        return {"lam": self.lam, "dlam": self.dlam, "lam_max": self.lam_max}

    def load_state_dict(self, st: dict) -> None:
        self.lam, self.dlam, self.lam_max = float(st["lam"]), float(st["dlam"]), float(st["lam_max"])


__all__ = ["op_regulariser", "threshold_regulariser", "regularisers", "soft_sizes", "LambdaController"]
