"""The MGAS search super-net (docs/methods/mgas.md, 1.8, 2.2): the DARTS skeleton
(:class:`nasbook.methods.darts.CellSupernet`: stem, reductions at L/3 and 2L/3, global
pooling, classifier) whose cells are all different and carry the three unit levels, plus
one stage head per sub-net stage.

Each :class:`SearchCell` owns its architecture parameters, all ``nn.Parameter``s so that
checkpoints, DDP and optimisers treat them like weights (Sec. 1.2: cells share nothing):

* ``op_logits`` ``a`` ``[14, 7]`` (init 0) and the committed op mask ``op_mask`` (buffer);
* thresholds ``tau_op``, ``tau_filter``, ``tau_weight`` ``[14, 7]`` (one of each per op
  instance; filter and weight thresholds matter for conv ops only) and ``tau_pre`` ``[2]``;
* filter logits and masks inside the :class:`~.units.FilterGate` of every gated layer,
  weight masks inside every masked conv.

Forward of op ``(e = i -> j, o)``: ``p * g_op * o(x_i)``, with ``p = sigmoid(a)`` (not a
softmax: ops of an edge are not normalised), summed over the ops of node j whose committed
mask is 1; removed ops are not run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ...ops.cell_ops import FactorizedReduce, ReLUConvBN
from ...spaces.mgas import PRIMITIVES, STEPS, imagenet_stems, is_conv, is_strided
from ..darts import CellSupernet, num_edges
from .gated_ops import GatedConvOp, Removed, make_search_op, run_op
from .stages import FINAL, stage_cells, stage_end, stage_ends
from .units import FilterGate, PassState, live_op_gates

#: ``(source, target)`` of the 14 edges in DARTS order
EDGES: tuple[tuple[int, int], ...] = tuple((i, j) for j in range(2, STEPS + 2) for i in range(j))
#: edge indices entering each node 2..5
NODE_EDGES: tuple[tuple[int, ...], ...] = tuple(
    tuple(e for e, (_, t) in enumerate(EDGES) if t == j) for j in range(2, STEPS + 2))


class SearchCell(nn.Module):
    """A cell of the super-net with all 7 ops on all 14 edges at width ``c``.

    The unit containers of both MGAS spaces share this interface (``ops[e][o]``, the
    ``[edges, ops]`` tensors ``op_logits``, ``op_mask``, ``tau_*``, ``primitives``,
    ``node_edges``, ``conv_columns``, ``fresh_op``, ``active``), so rounds, the loss, sizes
    and regrowth are written once (the MobileNet-like layer: :mod:`.mobile`)."""

    primitives = PRIMITIVES
    node_edges = NODE_EDGES

    def __init__(self, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool):
        super().__init__()
        self.reduction, self.reduction_prev, self.nominal = reduction, reduction_prev, c
        # search-time BN is affine in MGAS (Sec. 1.4)
        self.preprocess0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0)
        self.pre_gates = nn.ModuleList([FilterGate(c), FilterGate(c)])
        self.ops = nn.ModuleList(
            nn.ModuleList(make_search_op(name, c, self.stride(e)) for name in PRIMITIVES) for e in range(len(EDGES)))
        k = (len(EDGES), len(PRIMITIVES))
        self.op_logits = nn.Parameter(torch.zeros(k))
        self.register_buffer("op_mask", torch.ones(k, dtype=torch.bool))
        self.register_buffer("logit_before_removal", torch.zeros(k))  # restored exactly by regrowth
        self.tau_op = nn.Parameter(torch.zeros(k))
        self.tau_filter = nn.Parameter(torch.zeros(k))
        self.tau_weight = nn.Parameter(torch.zeros(k))
        self.tau_pre = nn.Parameter(torch.zeros(2))
        self.pending_op_gates: torch.Tensor | None = None

    def stride(self, edge: int) -> int:
        return 2 if is_strided(self.reduction, EDGES[edge][0]) else 1

    @property
    def conv_columns(self) -> torch.Tensor:
        """Op columns with filter and weight thresholds (the sep/dil convs)."""
        return torch.tensor([is_conv(n) for n in PRIMITIVES], device=self.op_mask.device)

    def fresh_op(self, e: int, o: int) -> nn.Module:
        """A freshly initialised op ``o`` of edge ``e`` at the cell's current width (regrowth)."""
        return make_search_op(PRIMITIVES[o], self.width, self.stride(e)).to(self.op_logits.device)

    @property
    def width(self) -> int:
        """The current (compacted) node width; all nodes of a cell share it (Sec. 1.10)."""
        return self.pre_gates[1].channels

    def active(self):
        """``(edge, op_index)`` of every op with committed mask 1, in edge-then-op order."""
        return [(e, o) for e in range(len(EDGES)) for o in range(len(PRIMITIVES)) if bool(self.op_mask[e, o])]

    def forward(self, s0, s1, state: PassState):
        p = torch.sigmoid(self.op_logits)
        if state.discrete:
            gates = self.op_mask.to(p.dtype)
        else:
            gates = live_op_gates(p, self.tau_op, self.op_mask, NODE_EDGES)
            if state.record:
                self.pending_op_gates = gates.detach() > 0
        states = [self.pre_gates[0](self.preprocess0(s0), self.tau_pre[0], state),
                  self.pre_gates[1](self.preprocess1(s1), self.tau_pre[1], state)]
        mask = self.op_mask.tolist()
        for edges in NODE_EDGES:
            total = 0
            for e in edges:
                x = states[EDGES[e][0]]
                for o in range(len(PRIMITIVES)):
                    if not mask[e][o]:
                        continue
                    y = run_op(self.ops[e][o], x, self.tau_filter[e, o], self.tau_weight[e, o], state)
                    total = total + (y if state.discrete else (p[e, o] * gates[e, o]) * y)
            states.append(total)
        return torch.cat(states[2:], dim=1), p, gates


class GapHead(nn.Sequential):
    """Global average pooling + linear: the stage head of the ``tiny`` and ImageNet presets
    (the official CIFAR head geometry needs 32x32 and 16x16 inputs, Sec. 2.3, 3.5)."""

    def __init__(self, c: int, num_classes: int):
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))


class CifarStageHead(nn.Sequential):
    """The official CIFAR stage heads (Sec. 1.8, no dropout): ReLU, AvgPool ``pool`` stride 3,
    1x1 conv to 128, BN, ReLU, ``k x k`` conv to 256, BN, ReLU, Linear(256, classes).
    Stage 1: pool 11, k 8 (32x32 in); stage 2: pool 7, k 4 (16x16 in)."""

    def __init__(self, c: int, num_classes: int, pool: int, k: int):
        super().__init__(
            nn.ReLU(inplace=False), nn.AvgPool2d(pool, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 256, k, bias=False), nn.BatchNorm2d(256), nn.ReLU(inplace=True),
            nn.Flatten(), nn.Linear(256, num_classes))


@dataclass
class SupernetOutput:
    logits: torch.Tensor
    p: list = field(default_factory=list)       # sigmoid(a) per executed cell
    gates: list = field(default_factory=list)   # live op gates per executed cell
    executed: int = 0                           # number of executed cells


class UnitSupernet:
    """What both MGAS super-nets share on top of their own ``run(x, stage, state)``: the
    forward with the regularisers, and ``load_state_dict`` for a structure that changes during
    search (ops removed or regrown, channels compacted)."""

    def forward(self, x, stage: int | None = None, state: PassState | None = None, regularise: bool = False):
        """Logits of ``stage``'s sub-net (default ``default_stage``: the phase the search is in, so
        that the engine's evaluation measures the sub-net being trained); with ``regularise``
        also ``(R_op, R_tau)`` of the pass (inside forward, so DDP sees every parameter in use)."""
        stage = self.default_stage if stage is None else stage
        out = self.run(x, stage, state)
        if not regularise:
            return out.logits
        from .loss import regularisers

        r_op, r_tau = regularisers(self, out, stage, state or PassState())
        return out.logits, r_op, r_tau

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load a state saved at any point of a search: ops removed or regrown since are
        removed or rebuilt from the saved op masks, and every tensor whose shape changed by
        compaction is resized (with its module's channel attributes) before loading."""
        self.restructure(state_dict)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def restructure(self, state_dict) -> None:
        for i, cell in enumerate(self.cells):
            mask = state_dict[f"cells.{i}.op_mask"]
            for e in range(mask.shape[0]):
                for o in range(len(cell.primitives)):
                    present = not isinstance(cell.ops[e][o], Removed)
                    if bool(mask[e, o]) and not present:
                        cell.ops[e][o] = cell.fresh_op(e, o)
                    elif not bool(mask[e, o]) and present:
                        cell.ops[e][o] = Removed(cell.stride(e))
        own = dict(self.named_parameters())
        own_buffers = dict(self.named_buffers())
        for key, value in state_dict.items():
            if key in own and own[key].shape != value.shape:
                own[key].data = torch.empty(value.shape, dtype=own[key].dtype, device=own[key].device)
            elif key in own_buffers and own_buffers[key].shape != value.shape:
                mod_name, _, attr = key.rpartition(".")
                mod = self.get_submodule(mod_name)
                setattr(mod, attr, torch.empty(value.shape, dtype=own_buffers[key].dtype, device=own_buffers[key].device))
        for mod in self.modules():   # channel attributes follow the tensors
            if isinstance(mod, nn.Conv2d):
                depthwise = mod.groups > 1
                mod.out_channels = mod.weight.shape[0]
                if depthwise:
                    mod.in_channels = mod.groups = mod.weight.shape[0]
                else:
                    mod.in_channels = mod.weight.shape[1]
            elif isinstance(mod, nn.BatchNorm2d):
                mod.num_features = mod.running_mean.shape[0]


class MgasSupernet(UnitSupernet, CellSupernet):
    """The MGAS super-net: ``layers`` :class:`SearchCell` s of widths C, 2C, 4C, stage heads
    after cells ``end_1`` and ``end_2``, global pooling and a classifier.

    ``heads``: ``"cifar"`` (official) or ``"gap"``; ``stem``: ``"cifar"`` (3x3 conv to 3C) or
    ``"imagenet"`` (DARTS' two stride-2 stems to 28x28; our provisional ImageNet preset).
    ``forward(x, stage, state)`` runs stem + cells ``0..end_stage`` + that stage's head.
    """

    def __init__(self, C: int, num_classes: int, layers: int, in_channels: int = 3, stem: str = "cifar",
                 heads: str = "cifar", stem_multiplier: int = 3):
        if stem not in ("cifar", "imagenet"):
            raise ValueError(f"stem must be 'cifar' or 'imagenet', got {stem!r}")
        if heads not in ("cifar", "gap"):
            raise ValueError(f"heads must be 'cifar' or 'gap', got {heads!r}")
        stage_ends(layers)  # validates layers
        index = iter(range(layers))

        def factory(c_pp, c_p, c, reduction, reduction_prev):
            if next(index) == 0 and stem == "imagenet":
                reduction_prev = True  # the ImageNet stems hand cell 0 inputs at 56 and 28 pixels
            return SearchCell(c_pp, c_p, c, reduction, reduction_prev)

        super().__init__(C, num_classes, layers, STEPS, 4, stem_multiplier if stem == "cifar" else 1,
                         in_channels, PRIMITIVES, cell_factory=factory)
        del self.alphas_normal, self.alphas_reduce  # MGAS: per-cell sigmoid logits instead (Sec. 1.3)
        self.stem_kind, self.head_kind = stem, heads
        self.space = "darts"
        if stem == "imagenet":
            del self.stem
            self.stem0, self.stem1 = imagenet_stems(in_channels, C)
        #: loss options the task sets (Sec. 1.5): mu, the official n_j bug switch, unit levels
        self.loss_options = dict(mu=0.0, official_nj_bug=False, levels=("op", "filter", "weight"))
        self.default_stage = FINAL
        self.end1, self.end2, _ = stage_ends(layers)
        c1, c2 = 4 * C, 8 * C
        if heads == "cifar":
            self.head1 = CifarStageHead(c1, num_classes, pool=11, k=8)
            self.head2 = CifarStageHead(c2, num_classes, pool=7, k=4)
        else:
            self.head1, self.head2 = GapHead(c1, num_classes), GapHead(c2, num_classes)
        assert num_edges(STEPS) == len(EDGES)

    # -- structure ---------------------------------------------------------------------
    def stage_end(self, stage: int) -> int:
        return stage_end(self.layers, stage)

    def stage_cells(self, stage: int) -> range:
        return stage_cells(self.layers, stage)

    def head(self, stage: int) -> nn.Module:
        return {1: self.head1, 2: self.head2}.get(stage, None)

    def fixed_modules(self, stage: int) -> list[nn.Module]:
        """The modules without units that ``stage`` trains: stems and its head (or the classifier)."""
        stems = [self.stem] if self.stem_kind == "cifar" else [self.stem0, self.stem1]
        return stems + [self.head(stage) or self.classifier]

    def n_op_units(self) -> int:
        return sum(c.op_mask.numel() for c in self.cells)

    # -- forward -----------------------------------------------------------------------
    def run(self, x, stage: int = FINAL, state: PassState | None = None) -> SupernetOutput:
        state = state or PassState()
        if self.stem_kind == "cifar":
            s0 = s1 = self.stem(x)
        else:
            s0 = self.stem0(x)
            s1 = self.stem1(s0)
        out = SupernetOutput(logits=None)
        last = self.stage_end(stage)
        for cell in self.cells[:last + 1]:
            h, p, g = cell(s0, s1, state)
            s0, s1 = s1, h
            out.p.append(p)
            out.gates.append(g)
        out.executed = last + 1
        head = self.head(stage)
        out.logits = head(s1) if head is not None else self.classifier(torch.flatten(self.global_pooling(s1), 1))
        return out


def is_gated_conv(op: nn.Module) -> bool:
    return isinstance(op, GatedConvOp)


__all__ = ["UnitSupernet", "SearchCell", "MgasSupernet", "SupernetOutput", "EDGES", "NODE_EDGES", "GapHead", "CifarStageHead",
           "is_gated_conv"]
