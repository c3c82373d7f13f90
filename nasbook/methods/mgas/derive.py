"""Derivation (docs/methods/mgas.md): the kept ops of every cell with their own widths, plus the
weight masks of their convs.

Every op with committed mask 1 is kept (no top-k): ``(op, from, to, widths)`` with
``[C_in, C_mid, C_out]`` for a sep_conv, ``[C_in, C_out]`` for a dil_conv and ``[C]``
otherwise. Widths are those of a compacted super-net; a super-net that still holds gated-off
filters is compacted on a copy first (whole network, final-phase rules), so derivation never
changes the search state.

:func:`copy_weights_to_network` (ours, Sec. 9 check 12) loads the super-net's weights into
the standalone network: its logits then equal the super-net's "discrete" forward (committed
masks instead of live gates, no ``p`` or ``sigmoid(b)`` scaling). Retraining re-initialises
weights instead, as the official code does.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ...spaces.mgas import PRIMITIVES, MGASGenotype, MGASNetwork, MGASWeightMasks, is_sep
from .compaction import compact
from .gated_ops import GatedConvOp, GatedOp, ScaledFactorizedReduce
from .supernet import EDGES, MgasSupernet


def is_compacted(model: MgasSupernet) -> bool:
    """True when no kept filter of the network has ``M = 0``."""
    for cell in model.cells:
        if not all(bool(g.mask.all()) for g in cell.pre_gates):
            return False
        for e, o in cell.active():
            op = cell.ops[e][o]
            if isinstance(op, GatedOp) and not all(bool(g.mask.all()) for g in op.gates):
                return False
    return True


def derive_genotype(model: MgasSupernet, with_masks: bool = True) -> MGASGenotype:
    """The architecture value of the super-net's committed state (an
    :class:`~nasbook.spaces.mgas_mobile.MGASMobileArch` for the MobileNet-like super-net)."""
    if getattr(model, "space", "darts") != "darts":
        from .mobile import derive_mobile_arch

        return derive_mobile_arch(model, with_masks)
    if not is_compacted(model):
        model = copy.deepcopy(model)
        compact(model, model.layers - 1)
    cells, masks = [], {}
    for i, cell in enumerate(model.cells):
        tuples = []
        for e, o in cell.active():
            op, name = cell.ops[e][o], PRIMITIVES[o]
            src, dst = EDGES[e]
            if isinstance(op, GatedConvOp):
                widths = (op.c_in, op.c_mid, op.c_out) if is_sep(name) else (op.c_in, op.c_out)
                for t, conv in enumerate(op.convs()):
                    masks[(i, len(tuples), t)] = conv.weight_mask.detach().cpu().numpy()
            else:
                widths = (cell.width,)
            tuples.append((name, src, dst, widths))
        cells.append(tuples)
    g = MGASGenotype(cells, stem_C=model.C)
    return g.with_masks(MGASWeightMasks(masks)) if with_masks else g


@torch.no_grad()
def copy_weights_to_network(model: MgasSupernet, net: MGASNetwork) -> None:
    """Load a compacted super-net's weights into the standalone network of its genotype."""
    if getattr(model, "space", "darts") != "darts":
        from .mobile import copy_weights_to_mobile_network

        return copy_weights_to_mobile_network(model, net)
    if model.stem_kind == "cifar":
        net.stem.load_state_dict(model.stem.state_dict())
    else:
        net.stem0.load_state_dict(model.stem0.state_dict())
        net.stem1.load_state_dict(model.stem1.state_dict())
    for cell, m in zip(model.cells, net.cells):
        for src, dst in ((cell.preprocess0, m.preprocess0), (cell.preprocess1, m.preprocess1)):
            if all(a.shape == b.shape for a, b in zip(src.state_dict().values(), dst.state_dict().values())):
                dst.load_state_dict(src.state_dict())   # an unused input node keeps its nominal width
        for k, (e, o) in enumerate(cell.active()):
            op, target = cell.ops[e][o], m.ops[k]
            if isinstance(op, GatedConvOp):
                target.load_state_dict(op.body.state_dict())
            elif isinstance(op, ScaledFactorizedReduce):
                target.load_state_dict(op.fr.state_dict())
            elif isinstance(target, nn.Sequential):   # a pool: the search pool has no BN -> identity BN
                bn = target[1]
                bn.weight.fill_(1.0)
                bn.bias.zero_()
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
    net.classifier.load_state_dict(model.classifier.state_dict())
