"""Model size during search, the target, and the stop rules (docs/methods/mgas.md, 7 item 4).

Two size functions (``size_fn``, decision D3):

* ``official_proxy`` (Pi, per official code): depthwise + pointwise weights of the active
  sep/dil convs after filter pruning, ``C_in k^2 + C_in n_mid + k^2 n_mid + C_mid n_out`` per
  sep_conv and ``C_in k^2 + C_in n_out`` per dil_conv (``n_*`` = filters with ``M = 1``), plus
  ``c^2`` per skip on a stride-2 edge of a reduction cell (``c`` its nominal width). Weight
  zeros are not subtracted. We put the ``c^2`` term on the true reduction cells;
  ``official_reduction_index=True`` reproduces the code's one-index-early cells with ``c``
  doubled one cell early (Sec. 7 item 3).
* ``nonzero_params`` (ours [I], for teaching): parameters of stem, cells and classifier
  (stage heads excluded) that no mask sets to zero, counted with the proxy's conventions:
  a filter with ``M = 0`` takes its own conv row and BN pair with it (for a sep_conv's mid
  filter also its second depthwise channel), masked weights count zero, pools count the
  affine BN a derived pool gets. After compaction it equals the standalone network's
  non-zero count exactly.

Sizes are counts (weights or parameters), not millions. The target ``target_params`` is in
the unit of ``size_fn``: a number, ``"N%"`` of the super-net's size, or ``"released"`` (the
released model of the same ``(layers, C)`` under the same ``size_fn`` and, for the proxy, the
same reduction-index convention as the search, decision D4).
"""
from __future__ import annotations

import math
import re

from torch import nn

from ...spaces.mgas import PRIMITIVES, STEPS, is_conv, is_sep, op_params
from .gated_ops import GatedConvOp, GatedMBConv, ScaledFactorizedReduce
from .supernet import EDGES, MgasSupernet, SearchCell

SIZE_FNS = ("official_proxy", "nonzero_params")


# ---------------------------------------------------------------------------------------
# live sizes of a super-net
# ---------------------------------------------------------------------------------------

def op_proxy(cell: SearchCell, e: int, o: int, skip_c: int | None = None) -> int:
    """Pi of one op (Sec. 1.7). ``skip_c``: the ``c`` of the skip term (``None``: no term)."""
    op = cell.ops[e][o]
    if isinstance(op, GatedMBConv):   # MobileNet-like space (ours, Sec. 2.3)
        n = int(op.gates[0].mask.sum())
        return op.c_in * n + op.kernel ** 2 * n + n * op.c_out
    if isinstance(op, GatedConvOp):
        k2 = op.kernel ** 2
        n_out = int(op.gates[-1].mask.sum())
        if is_sep(op.name):
            n_mid = int(op.gates[0].mask.sum())
            return op.c_in * k2 + op.c_in * n_mid + k2 * n_mid + op.c_mid * n_out
        return op.c_in * k2 + op.c_in * n_out
    if PRIMITIVES[o] == "skip_connect" and skip_c is not None and EDGES[e][0] < 2:
        return skip_c * skip_c
    return 0


def _skip_c(model: MgasSupernet, i: int, official_reduction_index: bool) -> int | None:
    """The ``c`` of the skip term of cell i, or None when the cell has no skip term."""
    if getattr(model, "space", "darts") != "darts":
        return None
    if not official_reduction_index:
        cell = model.cells[i]
        return cell.nominal if cell.reduction else None
    L, C = model.layers, model.C
    end1, end2 = L // 3 - 1, 2 * L // 3 - 1
    return {end1: 2 * C, end2: 4 * C}.get(i)


def proxy(model: MgasSupernet, cells=None, official_reduction_index: bool = False) -> int:
    """Pi summed over ``cells`` (default all) and their ops with committed mask 1."""
    cells = range(model.layers) if cells is None else cells
    return sum(op_proxy(model.cells[i], e, o, _skip_c(model, i, official_reduction_index))
               for i in cells for e, o in model.cells[i].active())


def _dense(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _conv_rows(conv, rows_alive) -> int:
    """Weights of a (masked or plain) conv in the rows of live filters (weight mask applied)."""
    w = getattr(conv, "weight_mask", None)
    per_row = w.flatten(1).sum(1) if w is not None else conv.weight.new_full((conv.weight.shape[0],), conv.weight[0].numel())
    return int(per_row[rows_alive].sum())


def _preprocess_nonzero(pre: nn.Module, gate) -> int:
    alive = gate.mask
    n = int(alive.sum())
    if hasattr(pre, "conv_1"):   # FactorizedReduce: rows of conv_1 then conv_2
        h = pre.conv_1.weight.shape[0]
        return _conv_rows(pre.conv_1, alive[:h]) + _conv_rows(pre.conv_2, alive[h:]) + 2 * n
    return _conv_rows(pre[1], alive) + 2 * n


def op_nonzero(cell: SearchCell, e: int, o: int) -> int:
    """``nonzero_params`` of one active op (see the module docstring)."""
    op = cell.ops[e][o]
    if isinstance(op, GatedMBConv):
        alive = op.gates[0].mask
        expand, dw, proj = op.convs()
        n = int(alive.sum())
        return (_conv_rows(expand, alive) + 2 * n + _conv_rows(dw, alive) + 2 * n
                + int(proj.weight_mask[:, alive].sum()) + 2 * op.c_out)
    if isinstance(op, GatedConvOp):
        total = 0
        prev_alive = None
        for block, gate in zip(op.body, op.gates):
            dw, pw = block[1], block[2]
            dw_rows = dw.weight_mask.flatten(1).sum(1)
            total += int(dw_rows.sum() if prev_alive is None else dw_rows[prev_alive].sum())
            total += _conv_rows(pw, gate.mask) + 2 * int(gate.mask.sum())
            prev_alive = gate.mask
        return total
    if isinstance(op, ScaledFactorizedReduce):
        return _dense(op.fr)
    name = PRIMITIVES[o]
    return op_params(name, (cell.width,), cell.stride(e) == 2)


def nonzero_params(model: MgasSupernet, cells=None) -> int:
    """``nonzero_params`` of stem + ``cells`` (default all) + classifier."""
    cells = range(model.layers) if cells is None else cells
    if model.stem_kind == "mobile":
        total = sum(_dense(m) for m in (model.stem, model.first, model.last, model.classifier))
    else:
        stem = _dense(model.stem) if model.stem_kind == "cifar" else _dense(model.stem0) + _dense(model.stem1)
        total = stem + _dense(model.classifier)
    for i in cells:
        c = model.cells[i]
        for pre, gate in zip((getattr(c, "preprocess0", None), getattr(c, "preprocess1", None)), c.pre_gates):
            total += _preprocess_nonzero(pre, gate)
        total += sum(op_nonzero(c, e, o) for e, o in c.active())
    return total


def op_size(model: MgasSupernet, i: int, e: int, o: int, size_fn: str, official_reduction_index: bool = False) -> int:
    if size_fn == "official_proxy":
        return op_proxy(model.cells[i], e, o, _skip_c(model, i, official_reduction_index))
    return op_nonzero(model.cells[i], e, o)


def model_size(model: MgasSupernet, size_fn: str, cells=None, official_reduction_index: bool = False) -> int:
    if size_fn == "official_proxy":
        return proxy(model, cells, official_reduction_index)
    if size_fn == "nonzero_params":
        return nonzero_params(model, cells)
    raise ValueError(f"size_fn must be one of {SIZE_FNS}, got {size_fn!r}")


# ---------------------------------------------------------------------------------------
# the full super-net, analytically (for target checks before anything is built)
# ---------------------------------------------------------------------------------------

def supernet_size(C: int, layers: int, size_fn: str, num_classes: int = 10, in_channels: int = 3,
                  stem: str = "cifar", official_reduction_index: bool = False) -> int:
    """``model_size`` of a fresh super-net, by arithmetic (Sec. 2.2: a width-c edge holds
    ``6c^2 + 102c`` maskable conv weights; the proxy adds ``c^2`` per skip on the 8 stride-2
    edges of a reduction cell)."""
    r1, r2 = layers // 3, 2 * layers // 3
    end1, end2 = r1 - 1, r2 - 1
    n_edges = len(EDGES)
    strided = sum(1 for s, _ in EDGES if s < 2)
    if stem == "cifar":
        c_pp = c_p = 3 * C
        total = in_channels * 3 * C * 9 + 2 * 3 * C if size_fn == "nonzero_params" else 0
    else:
        c_pp = c_p = C
        total = (in_channels * (C // 2) * 9 + C + (C // 2) * C * 9 + 2 * C + C * C * 9 + 2 * C
                 if size_fn == "nonzero_params" else 0)
    for i in range(layers):
        c = C * (4 if i >= r2 else 2 if i >= r1 else 1)
        red = i in (r1, r2)
        if size_fn == "official_proxy":
            total += n_edges * (6 * c * c + 102 * c)
            if official_reduction_index:
                total += strided * ({end1: 2 * C, end2: 4 * C}[i] ** 2 if i in (end1, end2) else 0)
            elif red:
                total += strided * c * c
        elif size_fn == "nonzero_params":
            total += c_pp * c + 2 * c + c_p * c + 2 * c
            for s, _ in EDGES:
                st = red and s < 2
                total += sum(op_params(name, (c, c, c) if is_sep(name) else (c, c) if is_conv(name) else (c,), st)
                             for name in PRIMITIVES)
            c_pp, c_p = c_p, STEPS * c
        else:
            raise ValueError(f"size_fn must be one of {SIZE_FNS}, got {size_fn!r}")
    if size_fn == "nonzero_params":
        total += c_p * num_classes + num_classes
    return total


def maskable_conv_weights(model: MgasSupernet) -> int:
    """All depthwise/pointwise weights of the super-net's sep/dil convs (Sec. 2.2)."""
    return sum(m.weight.numel() for c in model.cells for e in c.ops for op in e
               if isinstance(op, GatedConvOp) for m in op.convs())


# ---------------------------------------------------------------------------------------
# the target
# ---------------------------------------------------------------------------------------

#: ``(layers, C)`` of the released models (Sec. 2.2) -> zoo name
RELEASED = {(14, 44): "mg_darts", (8, 24): "mg_darts_small"}


def released_size(layers: int, C: int, size_fn: str, official_reduction_index: bool = False) -> int:
    """The released model's own size under ``size_fn`` (the ``paper`` presets' target, D4),
    in the proxy convention the search measures itself in: with ``official_reduction_index``
    the code's ``current_flops`` (the ``c^2`` skip term on the one-index-early cells,
    convention ``official_legacy``), else our true-reduction proxy (``nasbook``). A search
    and its target must use the same convention (docs/methods/mgas.md, "The target")."""
    from ...spaces.mgas import proxy_size, size_report
    from ... import zoo

    if (layers, C) not in RELEASED:
        raise ValueError(f"target_params 'released' needs the (layers, C) of a released model "
                         f"({', '.join(f'{k}: {v}' for k, v in RELEASED.items())}), got ({layers}, {C})")
    g = zoo.get(RELEASED[(layers, C)]).arch
    if size_fn == "official_proxy":
        return proxy_size(g, "official_legacy" if official_reduction_index else "nasbook")
    return size_report(g)["nonzero_params"]


def parse_target(value, supernet: int, layers: int | None = None, C: int | None = None,
                 size_fn: str = "official_proxy", official_reduction_index: bool = False) -> float:
    """Resolve ``target_params`` to a size in ``size_fn`` units, with a clear error for a bad
    target (not a number, not positive, larger than the super-net)."""
    what = f"target_params ({size_fn})"
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected a number, 'N%' or 'released', got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if text == "released":
            if layers is None or C is None:
                raise ValueError(f"{what}: 'released' needs layers and C")
            t = float(released_size(layers, C, size_fn, official_reduction_index))
        elif text.endswith("%"):
            try:
                pct = float(text[:-1])
            except ValueError:
                raise ValueError(f"{what}: {value!r} is not a percentage") from None
            t = pct / 100 * supernet
        elif re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            t = float(text)
        else:
            raise ValueError(f"{what}: expected a number (e.g. 1.5e6), 'N%' of the super-net or 'released', "
                             f"got {value!r}")
    elif isinstance(value, (int, float)):
        t = float(value)
    else:
        raise ValueError(f"{what}: expected a number, 'N%' or 'released', got {value!r}")
    if math.isnan(t) or math.isinf(t):
        raise ValueError(f"{what}: must be a finite number, got {value!r}")
    if t <= 0:
        raise ValueError(f"{what}: must be positive, got {value!r}")
    if t > supernet:
        raise ValueError(f"{what}: {t:,.0f} is larger than the super-net itself ({supernet:,}); "
                         f"the search would stop before pruning anything")
    return t
