"""Feature sharing ([S]; docs/methods/entrannas.md, "Cells and super-net").

Within a cell, op ``k`` applied to node ``i`` is one feature ``y[i, k] = o[i, k](x_i)``
shared by every later node ``j > i``. A cell therefore owns one module per (source, op):
``(steps + 1) * K`` of them (5K for 4 nodes; the last node feeds nothing inside the cell)
instead of DARTS's one per (edge, op), 14K. Each ``y[i, k]`` is computed at most once per
forward pass, on first use.

:class:`SharingCell` holds the modules; the Engine-cell and the Transit-cell differ only in
how a node combines the shared features (``engine_cell.py``, ``transit_cell.py``).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ...ops.cell_ops import PRIMITIVES, FactorizedReduce, ReLUConvBN
from ..darts import MixedOp


class SharingCell(nn.Module):
    """Preprocessing as in the DARTS search cell, plus ``sources[i].ops[k]`` = ``o[i, k]``.

    The candidate ops of one source are exactly those of a DARTS :class:`MixedOp` (search
    BN without affine, pooling followed by BN); sources 0 and 1 stride 2 in a reduction cell.
    """

    def __init__(self, steps: int, multiplier: int, c_pp: int, c_p: int, c: int, reduction: bool,
                 reduction_prev: bool, primitives: Sequence[str] = PRIMITIVES):
        super().__init__()
        self.reduction, self.steps, self.multiplier = reduction, steps, multiplier
        self.primitives = tuple(primitives)
        self.preprocess0 = FactorizedReduce(c_pp, c, affine=False) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0, affine=False)
        self.sources = nn.ModuleList(MixedOp(c, 2 if reduction and i < 2 else 1, self.primitives)
                                     for i in range(steps + 1))
        #: number of shared features computed by the last forward (op evaluations;
        #: docs/methods/entrannas.md, "Cells and super-net", cost accounting)
        self.last_op_evals = 0

    def op(self, i: int, k: int) -> nn.Module:
        """The module ``o[i, k]`` used on every edge ``i -> j``, ``j > i``."""
        return self.sources[i].ops[k]

    def inputs(self, s0: torch.Tensor, s1: torch.Tensor) -> list[torch.Tensor]:
        return [self.preprocess0(s0), self.preprocess1(s1)]

    def output(self, states: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(states[-self.multiplier:], dim=1)


class SharedFeatures:
    """``y(i, k)``: ``o[i, k](x_i)`` computed on first use and returned again afterwards.

    ``states`` is the cell's node list, which grows as nodes are computed; a feature of
    node ``i`` is only asked for once ``x_i`` exists.
    """

    def __init__(self, cell: SharingCell, states: list[torch.Tensor]):
        self.cell, self.states, self.cache = cell, states, {}

    def __call__(self, i: int, k: int) -> torch.Tensor:
        if (i, k) not in self.cache:
            self.cache[(i, k)] = self.cell.op(i, k)(self.states[i])
        return self.cache[(i, k)]

    @property
    def evaluations(self) -> int:
        return len(self.cache)
