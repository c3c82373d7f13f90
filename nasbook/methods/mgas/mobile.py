"""MGAS in the MobileNet-like space: OURS (docs/methods/mgas.md, preset
``imagenet_mobilenet_like_nasbook``; decision D6). The paper's MobileNet-like space was not
available; this is our reading, and the notebook says so.

The unit levels map onto a chain of searchable layers (:mod:`nasbook.spaces.mgas_mobile`
holds the skeleton as data):

* operation: each candidate block of each layer (one "edge" with six ops: op logits, sigmoid
  weights and op thresholds exactly as Sec. 1.3); ``y = sum_o p_o g_o o(x)`` plus ``x`` when
  stride is 1 and widths match;
* filter: the hidden channels of each candidate, gated after its expansion BN; removing one
  removes a row of the expansion conv, a depthwise channel and a column of the projection;
* weight: every weight of the expansion, depthwise and projection convs;
* the block output width is fixed by its group (residual adds need it) and is not gated.

Last-op protection (Sec. 1.3) applies only to layers without an identity path (the first
layer of each group); in the others every candidate may be pruned, which removes the layer
(depth search). Stages: 1 = stem + groups 1-2, 2 = groups 3-4, 3 = groups 5-6 + final conv
and classifier; stage heads are global average pooling + Linear. The size proxy counts the
expansion, depthwise and projection weights of active candidates after filter pruning.

:class:`MobileSearchLayer` has the interface of :class:`~.supernet.SearchCell` (``ops[0][o]``,
``[1, 6]`` logits, masks and thresholds, ``primitives``, ``node_edges``, ``fresh_op``), so the
rounds, the loss, the lambda controller, regrowth and the sizes are the ones of the DARTS-like
space; compaction and derivation, which depend on the structure, are here.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ...ops.mbconv import ConvBNAct, MBConv
from ...spaces.mgas import MGASWeightMasks
from ...spaces.mgas_mobile import (ACT, CANDIDATE_GEOMETRY, CANDIDATES, MGASMobileArch, MGASMobileNet, MobileSkeleton,
                                   candidate_params, candidate_proxy, fixed_params, has_residual)
from .selection import CompactionRecord, _even, select_bn, select_conv, select_gate
from .gated_ops import GatedMBConv, Removed
from .stages import FINAL, stage_cells
from .supernet import GapHead, SupernetOutput, UnitSupernet
from .units import PassState, discretize, live_op_gates


class MobileSearchLayer(nn.Module):
    """One searchable layer: all six candidates (one edge, six ops) and their units."""

    primitives = CANDIDATES
    node_edges = ((0,),)

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.c_in, self.c_out, self._stride = c_in, c_out, stride
        self.residual = has_residual(c_in, c_out, stride)
        self.reduction = False
        self.ops = nn.ModuleList([nn.ModuleList(GatedMBConv(n, c_in, c_out, stride) for n in CANDIDATES)])
        k = (1, len(CANDIDATES))
        self.op_logits = nn.Parameter(torch.zeros(k))
        self.register_buffer("op_mask", torch.ones(k, dtype=torch.bool))
        self.register_buffer("logit_before_removal", torch.zeros(k))
        self.tau_op = nn.Parameter(torch.zeros(k))
        self.tau_filter = nn.Parameter(torch.zeros(k))
        self.tau_weight = nn.Parameter(torch.zeros(k))
        self.tau_pre = nn.Parameter(torch.zeros(0))   # no preprocessing layers in this space
        self.pre_gates = nn.ModuleList()
        self.pending_op_gates: torch.Tensor | None = None

    def stride(self, edge: int = 0) -> int:
        return self._stride

    @property
    def width(self) -> int:
        return self.c_out

    @property
    def nominal(self) -> int:
        return self.c_out

    @property
    def conv_columns(self) -> torch.Tensor:
        return torch.ones(len(CANDIDATES), dtype=torch.bool, device=self.op_mask.device)

    def fresh_op(self, e: int, o: int) -> nn.Module:
        """A freshly initialised candidate at full hidden width (regrowth)."""
        return GatedMBConv(CANDIDATES[o], self.c_in, self.c_out, self._stride).to(self.op_logits.device)

    def active(self):
        return [(0, o) for o in range(len(CANDIDATES)) if bool(self.op_mask[0, o])]

    def forward(self, x, state: PassState):
        p = torch.sigmoid(self.op_logits)
        if state.discrete:
            gates = self.op_mask.to(p.dtype)
        else:
            if self.residual:   # the identity keeps the layer alive: no protection (depth search)
                gates = self.op_mask * discretize(p, self.tau_op)
            else:
                gates = live_op_gates(p, self.tau_op, self.op_mask, self.node_edges)
            if state.record:
                self.pending_op_gates = gates.detach() > 0
        total = x if self.residual else 0
        for _, o in self.active():
            y = self.ops[0][o](x, self.tau_filter[0, o], self.tau_weight[0, o], state)
            total = total + (y if state.discrete else (p[0, o] * gates[0, o]) * y)
        return total, p, gates


class MobileSupernet(UnitSupernet, nn.Module):
    """The MobileNet-like MGAS super-net (ours, Sec. 2.3): stem, fixed first block, the
    searchable layers (``cells``, so that rounds and sizes index them like DARTS cells), stage
    heads after groups 2 and 4, final 1x1 conv, global pooling and classifier."""

    space = "mobilenet_like"
    stem_kind = "mobile"
    head_kind = "gap"

    def __init__(self, skeleton: MobileSkeleton, num_classes: int, in_channels: int = 3):
        super().__init__()
        sk = self.skeleton = skeleton
        self.num_classes = num_classes
        self.stem = ConvBNAct(in_channels, sk.stem, 3, 2, act=ACT)
        self.first = MBConv(sk.stem, sk.first, 3, expand=1, act=ACT)
        self.cells = nn.ModuleList(MobileSearchLayer(c_in, c_out, s) for c_in, c_out, s, _ in sk.plan())
        self.layers = len(self.cells)
        self.last = ConvBNAct(sk.widths[-1], sk.last, 1, act=ACT)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(sk.last, num_classes)
        self.ends = sk.stage_ends()
        self.head1 = GapHead(sk.widths[1], num_classes)
        self.head2 = GapHead(sk.widths[3], num_classes)
        self.loss_options = dict(mu=0.0, official_nj_bug=False, levels=("op", "filter", "weight"))
        self.default_stage = FINAL

    # -- structure ---------------------------------------------------------------------
    def stage_end(self, stage: int) -> int:
        return self.ends[stage - 1] if stage in (1, 2, 3) else self.layers - 1

    def stage_cells(self, stage: int) -> range:
        return stage_cells(self.layers, stage, self.ends)

    def head(self, stage: int) -> nn.Module | None:
        return {1: self.head1, 2: self.head2}.get(stage, None)

    def fixed_modules(self, stage: int) -> list[nn.Module]:
        head = self.head(stage)
        return [self.stem, self.first] + ([head] if head is not None else [self.last, self.classifier])

    def n_op_units(self) -> int:
        return sum(c.op_mask.numel() for c in self.cells)

    # -- forward -----------------------------------------------------------------------
    def run(self, x, stage: int = FINAL, state: PassState | None = None) -> SupernetOutput:
        state = state or PassState()
        x = self.first(self.stem(x))
        out = SupernetOutput(logits=None)
        last = self.stage_end(stage)
        for layer in self.cells[:last + 1]:
            x, p, g = layer(x, state)
            out.p.append(p)
            out.gates.append(g)
        out.executed = last + 1
        head = self.head(stage)
        out.logits = head(x) if head is not None else self.classifier(torch.flatten(self.global_pooling(self.last(x)), 1))
        return out


# ---------------------------------------------------------------------------------------
# sizes of the fresh super-net (target checks before anything is built)
# ---------------------------------------------------------------------------------------

def mobile_supernet_size(sk: MobileSkeleton, size_fn: str, num_classes: int = 1000, in_channels: int = 3) -> int:
    """``official_proxy`` (Sec. 2.3 proxy) or ``nonzero_params`` of a fresh super-net."""
    plan = sk.plan()
    if size_fn == "official_proxy":
        return sum(candidate_proxy(n, c_in, c_out, CANDIDATE_GEOMETRY[n][1] * c_in)
                   for c_in, c_out, _, _ in plan for n in CANDIDATES)
    if size_fn == "nonzero_params":
        return fixed_params(sk, num_classes, in_channels) + sum(
            candidate_params(n, c_in, c_out, CANDIDATE_GEOMETRY[n][1] * c_in) for c_in, c_out, _, _ in plan
            for n in CANDIDATES)
    raise ValueError(f"unknown size_fn {size_fn!r}")


def mobile_fixed_params(model: MobileSupernet) -> int:
    """Dense parameters of stem, first block, final conv and classifier (no stage heads)."""
    return sum(p.numel() for m in (model.stem, model.first, model.last, model.classifier) for p in m.parameters())


# ---------------------------------------------------------------------------------------
# compaction (ours: the layer width is fixed, only hidden channels shrink)
# ---------------------------------------------------------------------------------------

def hidden_keep(op: GatedMBConv, harmonise: bool = True) -> torch.Tensor:
    """Hidden channels a candidate keeps: those with ``M = 1``; with ``harmonise`` rounded up
    to even (Sec. 1.10 rule 1's rounding), and at least 2 in either case (a depthwise conv of
    one channel is not grouped), re-adding pruned ones by descending ``sigmoid(b)`` (rule 5)."""
    g = op.gates[0]
    alive = g.mask.to(torch.float64)
    n = int(alive.sum())
    n = max(_even(n) if harmonise else n, 2)
    n = min(n, g.channels)
    score = g.scores().detach().to(torch.float64)
    order = sorted(range(g.channels), key=lambda f: (-alive[f].item(), -score[f].item(), f))
    return torch.tensor(sorted(order[:n]))


def compact_mobile(model: MobileSupernet, end: int, harmonise: bool = True, optimizers=()) -> CompactionRecord:
    """Physically remove the pruned hidden channels of the active candidates of layers
    ``0..end``, keeping the surviving weights, BN statistics, logits and masks (and the SGD
    momentum, as :func:`~.compaction.compact` does). Block widths never change, so no other
    layer is touched and the function is preserved when only ``M = 0`` channels go."""
    rec = CompactionRecord(end)
    with torch.no_grad():
        for i in range(min(end, model.layers - 1) + 1):
            layer = model.cells[i]
            widths = []
            for _, o in layer.active():
                op = layer.ops[0][o]
                keep = hidden_keep(op, harmonise)
                before = op.hidden
                b = op.block
                select_conv(b.expand.conv, rows=keep, optimizers=optimizers)
                select_bn(b.expand.bn, keep, optimizers)
                select_gate(op.gates[0], keep, optimizers)
                select_conv(b.depthwise.conv, rows=keep, optimizers=optimizers)
                select_bn(b.depthwise.bn, keep, optimizers)
                select_conv(b.project.conv, cols=keep, optimizers=optimizers)
                b.hidden = len(keep)
                widths.append((CANDIDATES[o], before, len(keep)))
            rec.widths[i] = widths
    return rec


def is_compacted_mobile(model: MobileSupernet) -> bool:
    return all(bool(layer.ops[0][o].gates[0].mask.all()) for layer in model.cells for _, o in layer.active())


# ---------------------------------------------------------------------------------------
# derivation
# ---------------------------------------------------------------------------------------

def derive_mobile_arch(model: MobileSupernet, with_masks: bool = True) -> MGASMobileArch:
    """The architecture value of the super-net's committed state (Sec. 4.1 in this space):
    every candidate with ``M^op = 1`` and its hidden width; a super-net still holding gated-off
    hidden channels is compacted on a copy first."""
    if not is_compacted_mobile(model):
        model = copy.deepcopy(model)
        compact_mobile(model, model.layers - 1)
    layers, masks = [], {}
    for i, layer in enumerate(model.cells):
        kept = []
        for _, o in layer.active():
            op = layer.ops[0][o]
            for t, conv in enumerate(op.convs()):
                masks[(i, len(kept), t)] = conv.weight_mask.detach().cpu().numpy()
            kept.append((CANDIDATES[o], op.hidden))
        layers.append(tuple(kept))
    arch = MGASMobileArch(tuple(layers), model.skeleton)
    return arch.with_masks(MGASWeightMasks(masks)) if with_masks else arch


@torch.no_grad()
def copy_weights_to_mobile_network(model: MobileSupernet, net: MGASMobileNet) -> None:
    """Load a compacted super-net's weights into the standalone network of its architecture;
    its logits then equal the super-net's ``discrete`` forward."""
    for name in ("stem", "first", "last", "classifier"):
        getattr(net, name).load_state_dict(getattr(model, name).state_dict())
    for layer, target in zip(model.cells, net.cells):
        for k, (_, o) in enumerate(layer.active()):
            target.ops[k].load_state_dict(layer.ops[0][o].block.state_dict())


__all__ = ["MobileSearchLayer", "MobileSupernet", "mobile_supernet_size", "compact_mobile", "derive_mobile_arch",
           "copy_weights_to_mobile_network", "Removed"]
