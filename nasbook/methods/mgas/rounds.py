"""Pruning rounds and mask commits (docs/methods/mgas.md, 1.6, 1.7).

Live gates change every step; committed masks change only in a pruning round, at the last
mini-batch of every ``prune_every``-th epoch of a phase (epochs counted after the warm-up,
from 0; rounds at 2, 4, 6, ...). The live gates of that forward pass (recorded with
``PassState(record=True)``) are written into the committed masks of every executed cell:
filters and weights at once; ops that were gated off become candidates for removal. A
removed op is replaced by a parameter-free placeholder, its logit lowered by 1e4 and its
mask set to 0; it stays off unless regrowth brings it back.

* In stages 1-3 every candidate is removed at once.
* In the final phase candidates are removed one at a time, in the code's order (cell, edge,
  op), while the size is still at or above the target; the round stops removing as soon as
  the size falls below the target, and the candidates it did not reach are not removed
  (ours [I]: the stop lands within one op of the target).
* ``official_final_commit=True`` reproduces the official code instead: its commit writes the
  live op gates into ``_masks`` before the ``prune_op(max=1)`` loop of
  ``cifar_search/train_search.py``, and both its size (``current_flops``) and the loop read
  ``_masks``, so the loop cannot move the size and removes every gated-off op; the round that
  reaches the target can undershoot it by a whole round (docs/methods/mgas.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .gated_ops import GatedOp, Removed
from .supernet import MgasSupernet

REMOVED_LOGIT_SHIFT = 1e4


def commit(model: MgasSupernet, cells) -> list[tuple[int, int, int]]:
    """Write the recorded live gates of ``cells`` into their committed filter and weight
    masks; return the ops whose live gate was 0 (removal candidates) as ``(cell, edge, op)``
    in removal order. Units not executed in the recorded pass keep their masks."""
    candidates = []
    for i in cells:
        cell = model.cells[i]
        for g in cell.pre_gates:
            if g.pending is not None:
                g.mask = g.mask & g.pending
                g.pending = None
        for e, o in cell.active():
            op = cell.ops[e][o]
            if isinstance(op, GatedOp):
                for g in op.gates:
                    if g.pending is not None:
                        g.mask = g.mask & g.pending
                        g.pending = None
                for conv in op.convs():
                    pending = getattr(conv, "pending_mask", None)
                    if pending is not None:
                        conv.weight_mask = conv.weight_mask & pending
                        conv.pending_mask = None
        if cell.pending_op_gates is not None:
            _broadcast(cell.pending_op_gates)
            off = cell.op_mask & ~cell.pending_op_gates
            candidates += [(i, e, o) for e, o in cell.active() if bool(off[e, o])]
            cell.pending_op_gates = None
    for i in cells:   # under DDP every rank takes rank 0's masks (Sec. 7 item 15)
        for name, buf in model.cells[i].named_buffers():
            if buf.dtype == torch.bool:
                _broadcast(buf)
    return candidates


def _broadcast(t: torch.Tensor) -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        x = t.to(torch.uint8)
        dist.broadcast(x, 0)
        t.copy_(x.bool())


def remove_op(model: MgasSupernet, i: int, e: int, o: int) -> None:
    """Remove op ``(cell i, edge e, op o)``: mask 0, logit lowered by 1e4 (its value is kept
    for regrowth), module replaced by a placeholder."""
    cell = model.cells[i]
    with torch.no_grad():
        cell.logit_before_removal[e, o] = cell.op_logits[e, o]
        cell.op_logits[e, o] -= REMOVED_LOGIT_SHIFT
    cell.op_mask[e, o] = False
    cell.ops[e][o] = Removed(cell.stride(e))


@dataclass
class RoundRecord:
    """What one pruning round did (logged, and read by the notebook)."""

    phase: str
    epoch: int
    size_before_commit: float
    size_after_commit: float
    candidates: int
    removed: list = field(default_factory=list)        # (cell, edge, op, size of the op)
    size_after_removal: float = 0.0
    lam: float = 0.0
    size_after_compaction: float | None = None
    last_decrement: float = 0.0    # size of the last removed op, or the commit's drop when none was removed
    finished: bool = False

    def to_dict(self) -> dict:
        return dict(self.__dict__)
