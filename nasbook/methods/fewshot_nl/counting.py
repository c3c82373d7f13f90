"""The counting rule: how many nonlinear functions a signal passes through
(docs/methods/fewshot_nl.md, "The counting rule").

* NAS-Bench-201: the *effective number of nonlinear functions* (ENN) of a cell is the largest
  number of ReLU-conv ops on any live input-to-output path (``NB201Cell.nonlinearity_count``);
  all 15 cells of a network share the genotype, so the network's count is 15 x ENN + constant.
* MobileNet space: every MBConv (expansion 3 or 6) has two ReLU6 and Identity none, so
  ENN = 2 x (number of searchable layers that are not Identity), even values 12..42.

The split needs no training and no gradients. Two rules that give *different* splits are
kept for the notebook's "explore other rules" panel only, never as defaults, and
so is the development code's 3-pattern "trash" filter (it misses 16 disconnected cells).
"""
from __future__ import annotations

from ...ops.nb201_ops import NONLINEAR_OPS
from ...spaces.nb201 import EDGES, PATHS, NB201Cell


def nonlinearity_count(arch) -> int:
    """ENN of an NB201 cell or of an MBConv-space architecture."""
    if isinstance(arch, NB201Cell):
        return arch.nonlinearity_count
    from ...spaces.mbconv import MBConvArch

    if isinstance(arch, MBConvArch):
        return 2 * sum(not c.is_skip for c in arch.searchable())
    raise TypeError(f"no counting rule for {type(arch).__name__}")


# -- contrast rules (notebook only) ------------------------------------------------------------
def total_conv_count(cell: NB201Cell) -> int:
    """Number of conv edges in the cell, live or not (histogram 729/2916/4860/4320/2160/576/64)."""
    return sum(op in NONLINEAR_OPS for op in cell.ops)


def live_conv_count(cell: NB201Cell) -> int:
    """Number of conv edges lying on some live path (histogram 1983/3842/4272/3288/1664/512/64)."""
    live_edges = {e for p in cell.live_paths() for e in PATHS[p]}
    return sum(cell.ops[e] in NONLINEAR_OPS for e in live_edges)


RULES = {"path_max": nonlinearity_count, "total_conv": total_conv_count, "live_conv": live_conv_count}


def trash_filter_rejects(cell: NB201Cell) -> bool:
    """The development code's disconnected-cell filter: reject when 1<-0, 2<-0, 3<-0 are all
    none, or 1<-0, 3<-0, 3<-2, or 3<-0, 3<-1, 3<-2. Rejects 325 cells; the exact test
    (``not cell.connected``) finds 341. Kept to show the difference."""
    none = {EDGES[e] for e, op in enumerate(cell.ops) if op == "none"}
    patterns = (((1, 0), (2, 0), (3, 0)), ((1, 0), (3, 0), (3, 2)), ((3, 0), (3, 1), (3, 2)))
    return any(all(e in none for e in pat) for pat in patterns)
