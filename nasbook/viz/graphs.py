"""Shape of a DARTS-space cell as a graph: depth, width and the ops it uses.

Built on :func:`nasbook.viz.cells.genotype_to_networkx`. Definitions (ours, for teaching):

* **depth**: the most op edges on any path from an input (``c_{k-2}``, ``c_{k-1}``) to an
  intermediate node: a chain ``c_{k-1} -> 0 -> 1 -> 2 -> 3`` has depth 4, a cell whose nodes
  all read only the inputs has depth 1 (the concat into ``c_{k}`` is not counted);
* **width**: the number of intermediate nodes that read at least one cell input directly;
* **op histogram**: how often each op is used (two ops on one pair of nodes count twice).

Shu, Wang & Cai (ICLR 2020) use depth and width of this kind to show that searched cells are
shallow and wide; the exact counting here (op edges, nodes, concat left out) is our choice.
"""
from __future__ import annotations

from collections import Counter

import networkx as nx

from ..spaces.darts import Genotype, edges_of
from .cells import genotype_to_networkx

INPUTS = ("c_{k-2}", "c_{k-1}")


def cell_depth(genotype: Genotype, cell: str = "normal") -> int:
    """Longest path, in op edges, from a cell input to an intermediate node."""
    g = genotype_to_networkx(genotype, cell)
    g.remove_node("c_{k}")
    return nx.dag_longest_path_length(g)


def cell_width(genotype: Genotype, cell: str = "normal") -> int:
    """Intermediate nodes fed directly by ``c_{k-2}`` or ``c_{k-1}``."""
    g = genotype_to_networkx(genotype, cell)
    return sum(1 for n, kind in g.nodes(data="kind") if kind == "intermediate"
               and any(p in INPUTS for p in g.predecessors(n)))


def op_histogram(genotype: Genotype, cell: str = "normal") -> Counter:
    """``Counter`` of op names over the cell's edges."""
    return Counter(op for _, _, op in edges_of(getattr(genotype, cell)))


def cell_summary(genotype: Genotype, cell: str = "normal") -> dict:
    """``{"depth", "width", "ops"}`` of one cell (ops as a plain dict, most used first)."""
    return {"depth": cell_depth(genotype, cell), "width": cell_width(genotype, cell),
            "ops": dict(op_histogram(genotype, cell).most_common())}
