"""Channel compaction and width harmonisation (docs/methods/mgas.md, 7 items 9-10).

Pruned filters are physically removed and the modules shrink in place, keeping the
surviving weights, BN statistics, filter logits and weight masks (the parameters stay the
same ``nn.Parameter`` objects and their SGD momentum is sliced with them, so optimisers and
checkpoints stay valid).

Widths follow the official harmonisation rule per cell:

1. ``k_0``, ``k_1`` = surviving preprocess filters; ``k_j`` (j = 2..5) = the largest
   surviving out-filter count among the active conv ops entering j (copied from ``k_{j-1}``
   when there is none); all rounded up to even, at least 2;
2. cell width = ``avg`` (the mean, made even) if ``avg >= C0/2``, else ``max`` if
   ``max >= C0/2``, else ``C0/2``, with ``C0`` the cell's initial width; every node and both
   preprocess outputs get it;
3. the cell at the end of a compaction that stops at a stage boundary keeps ``C0`` (its
   stage head is not rebuilt), and the last cell always keeps ``4C`` (the classifier);
4. a sep_conv's mid width is its surviving mid filters, rounded up to even, raised to at
   least the mean of its in and out widths.

Which channels are kept (ours, Sec. 7 item 9: exact channel bookkeeping). The official code
lets every op pick its own out-channels and then sums them position by position, and picks
preprocess inputs by weight norms; both change the function. Here a cell keeps ONE set of
channel indices for all its nodes, ranked by (number of the cell's gated layers in which the
channel survives, sum of its ``sigmoid(b)``), so surviving filters come first and pruned ones
are re-added by descending ``sigmoid(b)``; preprocess inputs keep exactly the channels the
previous cells output. When the cell holds a FactorizedReduce (preprocess0 after a
reduction, or an active stride-2 skip), each half of the channels keeps ``width/2``. So a
compaction that removes only channels whose gates are 0 everywhere in the cell preserves the
network's function exactly. After compaction all kept filters have ``M = 1`` (official).

``harmonise=False`` (ours, for checks) keeps exactly the surviving channels and mid filters.
"""
from __future__ import annotations

import torch

from ...spaces.mgas import STEPS, is_sep
from .gated_ops import GatedConvOp, ScaledFactorizedReduce
from .mobile import compact_mobile
from .selection import (CompactionRecord, _even, select_bn, select_conv, select_fr, select_gate,  # noqa: F401
                        select_preprocess)
from .supernet import EDGES, MgasSupernet, SearchCell


def _conv_ops(cell: SearchCell):
    return [(e, o, cell.ops[e][o]) for e, o in cell.active() if isinstance(cell.ops[e][o], GatedConvOp)]


def has_factorized_reduce(cell: SearchCell) -> bool:
    return cell.reduction_prev or any(isinstance(cell.ops[e][o], ScaledFactorizedReduce) for e, o in cell.active())


def node_counts(cell: SearchCell) -> list[int]:
    """``k_0 .. k_5`` of the harmonisation rule (rounded up to even, at least 2)."""
    k = []
    for g in cell.pre_gates:
        n = _even(int(g.mask.sum()))
        k.append(n if n > 0 else 2)
    for j in range(2, STEPS + 2):
        best = 0
        for e, o, op in _conv_ops(cell):
            if EDGES[e][1] == j:
                best = max(best, int(op.gates[-1].mask.sum()))
        best = _even(best)
        k.append(best if best > 0 else k[-1])
    return k


def harmonised_width(cell: SearchCell, pinned: bool = False, floor: float = 0.5) -> int:
    """The official cell width (rules 1-3 of the module docstring); ``floor`` is the share of
    ``C0`` below which avg and max are not used (official 0.5: ``C0 // 2``)."""
    c0 = cell.nominal
    if pinned:
        return c0
    k = node_counts(cell)
    avg = _even(int(sum(k) / len(k)))
    mx = max(k)
    low = int(c0 * floor)
    if avg >= low:
        return min(avg, cell.width)
    if mx >= low:
        return min(mx, cell.width)
    return min(low, cell.width) if low <= cell.width else cell.width


def mid_width(op: GatedConvOp, width: int, harmonise: bool = True) -> int:
    n = int(op.gates[0].mask.sum())
    if not harmonise:
        return max(n, 1)
    n = _even(n) if n > 0 else 2
    return max(n, _even((width + width) // 2))


def channel_ranking(cell: SearchCell) -> tuple[torch.Tensor, torch.Tensor]:
    """Per channel of the cell: how many gated layers keep it, and the sum of ``sigmoid(b)``."""
    layers = list(cell.pre_gates) + [op.gates[-1] for _, _, op in _conv_ops(cell)]
    count = torch.stack([g.mask.to(torch.float64) for g in layers]).sum(0)
    score = torch.stack([g.scores().detach().to(torch.float64) for g in layers]).sum(0)
    for e, o in cell.active():
        if isinstance(cell.ops[e][o], ScaledFactorizedReduce):
            score = score + cell.ops[e][o].gate.scores().detach().to(torch.float64)
    return count, score


def _top(count, score, candidates, n) -> list[int]:
    order = sorted(candidates, key=lambda f: (-count[f].item(), -score[f].item(), f))
    return sorted(order[:n])


def choose_channels(cell: SearchCell, width: int, harmonise: bool = True) -> torch.Tensor:
    """The cell's kept channel indices (sorted), ``width`` of them (ours, see module doc)."""
    count, score = channel_ranking(cell)
    current = cell.width
    if not harmonise:
        alive = [f for f in range(current) if count[f] > 0] or [int(torch.argmax(score))]
        if not has_factorized_reduce(cell):
            return torch.tensor(sorted(alive))
        h = current // 2
        n = max(sum(1 for f in alive if f < h), sum(1 for f in alive if f >= h), 1)
        width = 2 * n
    if has_factorized_reduce(cell):
        h = current // 2
        keep = _top(count, score, range(h), width // 2) + _top(count, score, range(h, current), width // 2)
    else:
        keep = _top(count, score, range(current), width)
    return torch.tensor(keep)


# ---------------------------------------------------------------------------------------
# the compaction
# ---------------------------------------------------------------------------------------

def compact_cell(cell: SearchCell, width: int, harmonise: bool, optimizers=()) -> tuple[torch.Tensor, int]:
    """Shrink one cell (its inputs already fixed) to ``width`` channels; returns the kept
    channel indices and how many of them no gated layer had kept (re-added)."""
    keep = choose_channels(cell, width, harmonise)
    count, _ = channel_ranking(cell)
    readded = int((count[keep] == 0).sum())
    for pre, gate in zip((cell.preprocess0, cell.preprocess1), cell.pre_gates):
        select_preprocess(pre, rows=keep, optimizers=optimizers)
        select_gate(gate, keep, optimizers)
    for e, o in cell.active():
        op = cell.ops[e][o]
        if isinstance(op, GatedConvOp):
            blocks = list(op.body)
            outs = [keep]
            if is_sep(op.name):
                g = op.gates[0]
                n = mid_width(op, len(keep), harmonise)
                mids = _top(g.mask.to(torch.float64), g.scores().detach().to(torch.float64), range(g.channels), n)
                outs = [torch.tensor(mids), keep]
            cols = keep
            for block, gate, rows in zip(blocks, op.gates, outs):
                select_conv(block[1], rows=cols, optimizers=optimizers)   # depthwise on the inputs
                select_conv(block[2], rows=rows, cols=cols, optimizers=optimizers)
                select_bn(block[3], rows, optimizers)
                select_gate(gate, rows, optimizers)
                cols = rows
        elif isinstance(op, ScaledFactorizedReduce):
            select_fr(op.fr, keep, keep, optimizers)
            select_gate(op.gate, keep, optimizers)
    return keep, readded


def _output_index(keep: torch.Tensor, width: int) -> torch.Tensor:
    """Channel indices of the cell output (concat of nodes 2..5) that survive."""
    return torch.cat([n * width + keep for n in range(STEPS)])


def compact(model: MgasSupernet, end: int, pin_end: bool = False, harmonise: bool = True,
            floor: float = 0.5, optimizers=()) -> CompactionRecord:
    """Compact cells ``0..end`` (Sec. 1.10). ``pin_end``: cell ``end`` keeps its initial width
    (compaction stops at a stage boundary); the last cell is always pinned. Later cells that
    read a compacted cell get their preprocess inputs sliced. The MobileNet-like super-net
    shrinks only hidden channels (:func:`.mobile.compact_mobile`)."""
    if getattr(model, "space", "darts") != "darts":
        return compact_mobile(model, end, harmonise, optimizers)
    rec = CompactionRecord(end)
    outputs: dict[int, torch.Tensor] = {}
    L = model.layers
    with torch.no_grad():
        for i in range(L):
            cell = model.cells[i]
            cols0 = outputs.get(i - 2)
            cols1 = outputs.get(i - 1)
            if cols0 is not None:
                select_preprocess(cell.preprocess0, cols=cols0, optimizers=optimizers)
            if cols1 is not None:
                select_preprocess(cell.preprocess1, cols=cols1, optimizers=optimizers)
            if i > end:
                if i > end + 2:
                    break
                continue
            before = cell.width
            pinned = (pin_end and i == end) or i == L - 1
            width = harmonised_width(cell, pinned, floor) if harmonise else (cell.nominal if pinned else None)
            if width is None:
                width = before
                keep, readded = compact_cell(cell, width, False, optimizers)
            else:
                keep, readded = compact_cell(cell, width, True, optimizers)
            rec.widths[i] = (before, len(keep))
            rec.readded[i] = readded
            outputs[i] = _output_index(keep, before)
    return rec
