"""Progressive re-evaluation: re-pruning and regrowth (docs/methods/mgas.md, per official code).

Re-pruning needs no code of its own: in stages 2 and 3 (and the final phase) every cell from
0 to the current end is executed, trained and committed in every pruning round, with fresh
thresholds, so the earlier stages' ops, filters and weights keep competing.

Regrowth (op level only, decision D8) runs at the end of stages 2 and 3, after one more
epoch with frozen masks that refreshes the optimiser's momentum:

1. ``K = floor(regrow_ratio * ops pruned during the stage)``;
2. per cell c and op type t over the active ops of that type: ``G`` = mean |momentum of a|,
   ``A`` = mean ``sigmoid(a)``; a type with no active op gets half the cell's smallest value;
   normalised over t, ``I_ct = (G^ + A^) / 2``;
3. per cell: ``Gc = sum_t G / active ops`` (un-normalised), ``Ac`` likewise, normalised over
   cells, ``I_c = (Gc^ + Ac^) / 2``; ``P(c, t) = I_c I_ct`` sums to 1;
4. K uniforms are mapped through the cumulative distribution (cells, then types) to pairs
   (c, t); within the pair's interval the position picks uniformly among the pruned edges of
   type t in cell c; a pair with none is skipped;
5. a regrown op gets its pre-removal logit back (the code adds 1e4; we restore the stored
   value, which float32 cannot do to 1e-4 by arithmetic), mask 1, a freshly initialised
   module at the cell's current width (filter logits 0, all-ones masks) and its current
   thresholds.

The rule resembles momentum-guided regrowth in sparse training (Sparse Networks from
Scratch, RigL); that link is ours [I], the code does not cite them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .gated_ops import Removed
from .supernet import MgasSupernet


def regrow_count(pruned_in_stage: int, ratio: float) -> int:
    return int(math.floor(ratio * pruned_in_stage))


def _fill_missing(values: list[float | None]) -> list[float]:
    present = [v for v in values if v is not None]
    low = min(present) / 2 if present else 0.0
    return [low if v is None else v for v in values]


def _normalise(x: torch.Tensor) -> torch.Tensor:
    s = x.sum()
    return x / s if s > 0 else torch.full_like(x, 1.0 / x.numel())


@dataclass
class RegrowthPlan:
    prob: torch.Tensor                   # [cells, types] P(c, t), sums to 1
    type_importance: torch.Tensor        # I_ct
    cell_importance: torch.Tensor        # I_c
    draws: list = field(default_factory=list)
    regrown: list = field(default_factory=list)   # (cell, edge, op)


def regrowth_distribution(model: MgasSupernet, cells, optimizer: torch.optim.Optimizer | None) -> RegrowthPlan:
    """``P(c, t)`` of step 2-3 from the op logits' momentum buffers in ``optimizer``."""
    n_types = len(model.cells[next(iter(cells))].primitives)
    type_imp, g_cell, a_cell = [], [], []
    for i in cells:
        cell = model.cells[i]
        a = cell.op_logits.detach()
        buf = optimizer.state.get(cell.op_logits, {}).get("momentum_buffer") if optimizer is not None else None
        buf = torch.zeros_like(a) if buf is None else buf.detach()
        G, A = [], []
        for t in range(n_types):
            act = cell.op_mask[:, t]
            if bool(act.any()):
                G.append(float(buf[act, t].abs().mean()))
                A.append(float(torch.sigmoid(a[act, t]).mean()))
            else:
                G.append(None)
                A.append(None)
        G, A = torch.tensor(_fill_missing(G), dtype=torch.float64), torch.tensor(_fill_missing(A), dtype=torch.float64)
        n_active = int(cell.op_mask.sum())
        # ours: a MobileNet-like layer left with no candidate has no importance to measure, so
        # nothing regrows into it (the DARTS cells always keep an op per node)
        g_cell.append(float(G.sum()) / n_active if n_active else 0.0)
        a_cell.append(float(A.sum()) / n_active if n_active else 0.0)
        type_imp.append(0.5 * _normalise(G) + 0.5 * _normalise(A))
    type_imp = torch.stack(type_imp)
    cell_imp = 0.5 * _normalise(torch.tensor(g_cell, dtype=torch.float64)) + 0.5 * _normalise(
        torch.tensor(a_cell, dtype=torch.float64))
    return RegrowthPlan(cell_imp[:, None] * type_imp, type_imp, cell_imp)


def regrow_op(model: MgasSupernet, i: int, e: int, o: int) -> None:
    """Bring back op ``(i, e, o)`` (step 5)."""
    cell = model.cells[i]
    if not isinstance(cell.ops[e][o], Removed):
        raise ValueError(f"op (cell {i}, edge {e}, op {o}) is not removed")
    cell.ops[e][o] = cell.fresh_op(e, o)
    with torch.no_grad():
        cell.op_logits[e, o] = cell.logit_before_removal[e, o]
    cell.op_mask[e, o] = True


def regrow(model: MgasSupernet, cells, k: int, optimizer: torch.optim.Optimizer | None,
           generator: torch.Generator | None = None, uniforms: torch.Tensor | None = None) -> RegrowthPlan:
    """Regrow up to ``k`` pruned ops among ``cells`` (steps 2-5). ``uniforms`` replaces the
    ``k`` draws (tests)."""
    cells = list(cells)
    plan = regrowth_distribution(model, cells, optimizer)
    u = uniforms if uniforms is not None else torch.rand(k, generator=generator, dtype=torch.float64)
    plan.draws = [float(x) for x in u]
    flat = plan.prob.flatten()
    hi = torch.cumsum(flat, 0)
    lo = hi - flat
    n_types = plan.prob.shape[1]
    # the code walks the (cell, type) intervals in order and, inside one, the draws in order
    for idx in range(flat.numel()):
        inside = [x for x in plan.draws if lo[idx] <= x < hi[idx]]
        ci, t = cells[idx // n_types], idx % n_types
        for x in inside:
            empty = [e for e in range(model.cells[ci].op_mask.shape[0]) if not bool(model.cells[ci].op_mask[e, t])]
            if not empty:
                break
            pos = (x - float(lo[idx])) / float(hi[idx] - lo[idx])
            e = empty[min(int(pos * len(empty)), len(empty) - 1)]
            regrow_op(model, ci, e, t)
            plan.regrown.append((ci, e, t))
    return plan
