"""NSE's learnable multi-branch layer: several ops at once, outputs averaged (docs/methods/nse.md).

Given the active ops A of a layer and its input x:

- normal layer (stride 1, same width): ``y = (x + sum_{o in A} f_o(x)) / (|A| + 1)``; with
  A empty the layer *is* the identity (``y`` is ``x`` itself), which is how depth is searched;
- reduction / expansion layer: ``y = mean_{o in A} f_o(x)``, A never empty.

In training, ``drop_path`` > 0 applies stochastic depth to the op sum of a normal layer (the
identity share ``x`` is kept, as in a residual block); reduction and expansion layers have no
identity path and are never dropped. This is ours (docs/methods/nse.md: the recipe's "drop-path
0.2, linear in depth" is [O]; the released code only holds an unused helper).

The same module serves the search supernet (all ops of the current subset built, the active
set chosen per step) and the standalone network (exactly the derived ops built, all active).
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import torch
from torch import nn
from torchvision.ops import stochastic_depth

KINDS = ("N", "R", "E")


class MultiBranchLayer(nn.Module):
    """The candidate ops of one layer, keyed by op id; ``forward(x, active)`` applies the rule.

    Args:
        kind: ``"N"``, ``"R"`` or ``"E"``.
        op_ids: the pool ids to build.
        make_op: ``make_op(op_id) -> nn.Module`` (the caller knows widths, stride, pool).
    """

    def __init__(self, kind: str, op_ids: Iterable[int], make_op: Callable[[int], nn.Module],
                 drop_path: float = 0.0):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"layer kind must be one of {KINDS}, got {kind!r}")
        if not 0.0 <= drop_path < 1.0:
            raise ValueError(f"drop_path must be in [0, 1), got {drop_path!r}")
        self.kind = kind
        self.drop_path = drop_path if kind == "N" else 0.0
        self.ops = nn.ModuleDict({str(int(o)): make_op(int(o)) for o in op_ids})

    @property
    def op_ids(self) -> list[int]:
        return [int(k) for k in self.ops]

    def forward(self, x: torch.Tensor, active: Sequence[int] | None = None) -> torch.Tensor:
        """Apply the rule over ``active`` op ids (default: every op built)."""
        ids = self.op_ids if active is None else list(active)
        if not ids:
            if self.kind == "N":
                return x  # an empty normal layer is skipped
            raise ValueError(f"an {self.kind} layer needs at least one active op")
        out = None
        for o in ids:
            y = self.ops[str(int(o))](x)
            out = y if out is None else out + y
        if self.kind == "N":
            out = stochastic_depth(out, self.drop_path, "row", self.training)
            return (x + out) / (len(ids) + 1)
        return out / len(ids)
