"""The EnTranNAS super-net: a DARTS skeleton whose cells are Engine- or Transit-cells.

A few Engine-cells (mixed, differentiable) and Transit-cells (the currently derived
sub-graph; docs/methods/entrannas.md, "Cells and super-net") share the DARTS layout (stem,
reductions at L/3 and 2L/3, classifier; :class:`nasbook.methods.darts.CellSupernet`). All
cells of one type share one set of architecture parameters: ``alphas_normal``/``alphas_reduce`` ``[edges, K]`` and, for
EnTranNAS-DST, the thresholds' ``betas_normal``/``betas_reduce`` ``[steps]``.

Every forward derives ``S`` from the current parameters (without gradient) before it runs
the cells. Architecture parameters change only in the architecture step, so this is our
"re-derive after every architecture step and before the weight step" [I]
(docs/methods/entrannas.md, "Search procedure"), and a derived set can never be stale after a
resume.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from ...ops.cell_ops import PRIMITIVES
from ..darts import CellSupernet
from .derivation import NodePairs, derive_dst, derive_top2, pair_indices
from .engine_cell import EngineCell
from .relaxation import dst_weights, softmax_weights
from .transit_cell import TransitCell

DERIVES = ("top2", "dst")
DST_NONE_MODES = ("drop", "mask")


def reduction_cells(layers: int) -> list[int]:
    """Indices of the reduction cells (L/3 and 2L/3, the DARTS layout)."""
    return sorted({layers // 3, 2 * layers // 3})


def engine_cells_at(layers: int, position: str = "first") -> list[int]:
    """One Engine-cell per cell type at its ``first`` (default, [I]) or ``last`` cell
    (docs/methods/entrannas.md, "Cells and super-net"): ``[0, 2]`` and ``[7, 5]`` for 8
    cells. Returned normal cell first."""
    red = reduction_cells(layers)
    normal = [i for i in range(layers) if i not in red]
    if position == "first":
        return [normal[0], red[0]]
    if position == "last":
        return [normal[-1], red[-1]]
    raise ValueError(f"engine_position must be 'first' or 'last', got {position!r}")


def check_engine_cells(layers: int, cells: Sequence[int], allow_none: bool = False) -> list[int]:
    """Validate Engine-cell indices: in range, and at least one per cell type ([I],
    "Cells and super-net") unless ``allow_none`` (a testing flag: no Engine-cell, no arch gradient)."""
    cells = list(cells)
    bad = [c for c in cells if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < layers]
    if bad:
        raise ValueError(f"engine_cells: indices must be in 0..{layers - 1}, got {bad}")
    if len(set(cells)) != len(cells):
        raise ValueError(f"engine_cells: repeated index in {cells}")
    if allow_none and not cells:
        return cells
    red = set(reduction_cells(layers))
    if not any(c in red for c in cells) or not any(c not in red for c in cells):
        raise ValueError(f"engine_cells {cells}: need at least one normal and one reduction cell "
                         f"(reduction cells are {sorted(red)}); an empty list needs allow_no_engine")
    return cells


def primitives_for(derive: str, dst_none_mode: str = "drop") -> tuple[str, ...]:
    """Candidate ops: the 8 DARTS ops for top-2; for DST the 7 without 'none' unless
    'none' is kept and masked ([I]; docs/methods/entrannas.md, "Differentiable
    sparsification")."""
    if derive not in DERIVES:
        raise ValueError(f"derive must be one of {DERIVES}, got {derive!r}")
    if dst_none_mode not in DST_NONE_MODES:
        raise ValueError(f"dst_none_mode must be one of {DST_NONE_MODES}, got {dst_none_mode!r}")
    if derive == "dst" and dst_none_mode == "drop":
        return tuple(p for p in PRIMITIVES if p != "none")
    return PRIMITIVES


class ImageNetSearchStem(nn.Module):
    """Three stride-2 3x3 convolutions, 224 -> 28 (PC-DARTS ``model_search_imagenet.py``;
    docs/methods/entrannas.md, "Cells and super-net"). Returns ``(s0, s1)`` at 56 and 28
    pixels."""

    def __init__(self, in_channels: int, c: int):
        super().__init__()
        self.stem0 = nn.Sequential(
            nn.Conv2d(in_channels, c // 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(c // 2, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c))
        self.stem1 = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False),
                                   nn.BatchNorm2d(c))

    def forward(self, x):
        s0 = self.stem0(x)
        return s0, self.stem1(s0)


@dataclass
class CellArch:
    """What one cell type runs with on this forward pass."""

    weights: torch.Tensor | None          # p (top-2) or qhat (DST), differentiable; None: no Engine-cell
    nodes: NodePairs                       # the derived cell, (op name, source) per node
    pairs: list[list[tuple[int, int]]]     # the same as (source, op column): S_j
    active: list[list[tuple[int, int]]] | None  # pairs with non-zero weight (DST) or None (all)


class EnTranNASSupernet(CellSupernet):
    """The super-net of docs/methods/entrannas.md, "Cells and super-net". ``derive`` is
    ``'top2'`` (EnTranNAS) or ``'dst'``."""

    def __init__(self, C: int, num_classes: int, layers: int, steps: int = 4, multiplier: int = 4,
                 stem_multiplier: int = 3, in_channels: int = 3, derive: str = "top2",
                 engine_cells: Sequence[int] | None = None, tau: float = 1.0, beta_init: float = 0.0,
                 dst_norm: str = "edge", dst_none_mode: str = "drop", stem: str = "cifar",
                 allow_no_engine: bool = False):
        primitives = primitives_for(derive, dst_none_mode)
        if engine_cells is None:
            engine_cells = engine_cells_at(layers, "first")
        engine = set(check_engine_cells(layers, engine_cells, allow_no_engine))
        if stem not in ("cifar", "imagenet"):
            raise ValueError(f"stem must be 'cifar' or 'imagenet', got {stem!r}")
        if tau <= 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        if dst_norm not in ("edge", "node"):
            raise ValueError(f"dst_norm must be 'edge' or 'node', got {dst_norm!r}")
        index = iter(range(layers))

        def factory(c_pp, c_p, c, reduction, reduction_prev):
            i = next(index)
            if i == 0 and stem == "imagenet":
                reduction_prev = True  # the ImageNet stem hands cell 0 inputs at 56 and 28 pixels
            kind = EngineCell if i in engine else TransitCell
            return kind(steps, multiplier, c_pp, c_p, c, reduction, reduction_prev, primitives)

        super().__init__(C, num_classes, layers, steps, multiplier, stem_multiplier, in_channels, primitives,
                         cell_factory=factory)
        if stem == "imagenet":
            self.stem = ImageNetSearchStem(in_channels, stem_multiplier * C)
        self.derive_mode, self.tau, self.dst_norm = derive, float(tau), dst_norm
        self.engine_cells = sorted(engine)
        self.none_column = primitives.index("none") if "none" in primitives else None
        if derive == "dst":
            # [I] (docs/methods/entrannas.md, "Provenance"): beta_j = 0 (t_j = 0.5) unless configured
            self.betas_normal = nn.Parameter(torch.full((steps,), float(beta_init)))
            self.betas_reduce = nn.Parameter(torch.full((steps,), float(beta_init)))
        self.last_op_evals = 0

    # -- parameters ------------------------------------------------------------------------
    def arch_parameters(self) -> list[nn.Parameter]:
        arch = [self.alphas_normal, self.alphas_reduce]
        if self.derive_mode == "dst":
            arch += [self.betas_normal, self.betas_reduce]
        return arch

    def cell_weights(self, reduction: bool) -> torch.Tensor:
        """``p = softmax(alpha / tau)`` of one cell type (survey Eq. 20)."""
        return softmax_weights(self.alphas_reduce if reduction else self.alphas_normal, self.tau)

    def dst(self, reduction: bool):
        """:class:`~.relaxation.DSTWeights` of one cell type (DST only)."""
        if self.derive_mode != "dst":
            raise ValueError("dst weights exist only with derive='dst'")
        alpha, beta = (self.alphas_reduce, self.betas_reduce) if reduction else (self.alphas_normal, self.betas_normal)
        return dst_weights(alpha, beta, self.tau, self.dst_norm, self.none_column)

    # -- derivation ------------------------------------------------------------------------
    def cell_arch(self, reduction: bool) -> CellArch:
        """Engine weights and the derived set of one cell type, from the current parameters."""
        if self.derive_mode == "dst":
            w = self.dst(reduction)
            nodes = derive_dst(w.q, self.steps, self.primitives)
            pairs = pair_indices(nodes, self.primitives)
            return CellArch(w.qhat, nodes, pairs, pairs)
        p = self.cell_weights(reduction)
        nodes = derive_top2(p, self.steps, self.primitives)
        return CellArch(p, nodes, pair_indices(nodes, self.primitives), None)

    def derived_cells(self) -> tuple[NodePairs, NodePairs]:
        """(normal, reduce) node lists of the current derivation."""
        with torch.no_grad():
            return self.cell_arch(False).nodes, self.cell_arch(True).nodes

    def is_engine(self, i: int) -> bool:
        return isinstance(self.cells[i], EngineCell)

    # -- forward ---------------------------------------------------------------------------
    def forward(self, x):
        s = self.stem(x)
        s0, s1 = s if isinstance(s, tuple) else (s, s)
        arch = {}
        for red in (False, True):
            if any(self.is_engine(i) and c.reduction == red for i, c in enumerate(self.cells)):
                arch[red] = self.cell_arch(red)
            else:  # no Engine-cell of this type: derive only, no differentiable weights
                with torch.no_grad():
                    arch[red] = self.cell_arch(red)
                arch[red].weights = None
        evals = 0
        for cell in self.cells:
            a = arch[cell.reduction]
            out = cell(s0, s1, a.weights, a.active) if isinstance(cell, EngineCell) else cell(s0, s1, a.pairs)
            s0, s1 = s1, out
            evals += cell.last_op_evals
        self.last_op_evals = evals
        return self.classifier(torch.flatten(self.global_pooling(s1), 1))
