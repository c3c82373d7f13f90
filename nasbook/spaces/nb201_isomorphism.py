"""Which NAS-Bench-201 cells compute the same network: isomorphism classes of the 15,625.

Two labelled cells can be one network: a ``skip_connect`` passes its input unchanged, a
``none`` edge adds nothing, and a node's sum does not depend on the order of its terms. The
key of a cell is the symbolic expression of its output node; cells with equal keys are
*isomorphic* and count once. Both rules below assume, as the benchmark does, that every op
maps an all-zero input to zero (strictly, a conv's BatchNorm shift breaks this).

* ``"benchmark"``: the rule of the NAS-Bench-201 authors' API (the "unique string" of a cell
  structure, with zeros considered), which gives the "6.5k unique" topologies of NATS-Bench
  (Dong et al., TPAMI 2021, Table 1). The input is ``0``; an op gives ``(s)@op``; a skip
  gives ``s``; ``none``, or any op on a source whose string *is* ``#``, gives ``#``; a node
  joins its terms' strings, sorted, with ``+``. Because the terms are sorted as strings
  (a skipped-in sum ``a+b`` is sorted as one string) and zero terms stay in sums, some
  equal networks get different strings: 6,466 classes.
* ``"algebraic"`` (ours): a node is the multiset of its non-zero atoms (the input, or an op
  applied to a node), a skip contributes its source's atoms, a node with no atom is zero.
  Every equality that the zero assumption implies is used, so there are fewer classes, and
  all disconnected cells form one.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from .nb201 import NB201Cell, all_cells

RULES = ("benchmark", "algebraic")


def _benchmark_key(cell: NB201Cell) -> str:
    node, e = ["0"], 0
    for j in (1, 2, 3):
        terms = []
        for i in range(j):
            op, src = cell.ops[e + i], node[i]
            if op == "none" or src == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(src)
            else:
                terms.append(f"({src})@{op}")
        node.append("+".join(sorted(terms)))
        e += j
    return node[3]


def _algebraic_key(cell: NB201Cell) -> str:
    # a node is a sorted list of atom strings; [] is the zero node
    node, e = [["x"]], 0
    for j in (1, 2, 3):
        atoms = []
        for i in range(j):
            op, src = cell.ops[e + i], node[i]
            if op == "none" or not src:
                continue                               # zero in, zero out
            if op == "skip_connect":
                atoms += src                           # a sum skipped in is flattened
            else:
                atoms.append(f"{op}({' + '.join(src)})")
        node.append(sorted(atoms))
        e += j
    return " + ".join(node[3]) or "0"


def isomorphism_key(cell: NB201Cell, rule: str = "benchmark") -> str:
    """The expression of the cell's output node under ``rule``; isomorphic cells share it."""
    if rule == "benchmark":
        return _benchmark_key(cell)
    if rule == "algebraic":
        return _algebraic_key(cell)
    raise ValueError(f"unknown isomorphism rule {rule!r}; known: {', '.join(RULES)}")


def isomorphism_classes(cells: Iterable[NB201Cell] | None = None,
                        rule: str = "benchmark") -> dict[str, list[NB201Cell]]:
    """Cells grouped by :func:`isomorphism_key` (default: all 15,625)."""
    groups: dict[str, list[NB201Cell]] = defaultdict(list)
    for c in all_cells() if cells is None else cells:
        groups[isomorphism_key(c, rule)].append(c)
    return dict(groups)


def count_isomorphism_classes(rule: str = "benchmark") -> int:
    """Number of distinct networks among the 15,625 cells under ``rule``."""
    return len(isomorphism_classes(rule=rule))
