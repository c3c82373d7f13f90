"""Exercises of ``03_cell_visualization.ipynb``: reading a cell as a graph."""
from __future__ import annotations

import torch

from ..spaces.darts import sample_genotype
from ..viz.graphs import cell_depth
from .core import expect_callable, exercise, fail

PARAMETER_FREE = ("skip_connect", "max_pool_3x3", "avg_pool_3x3", "none")


def _genotypes(n: int = 60):
    gen = torch.Generator().manual_seed(3)
    return [sample_genotype(gen) for _ in range(n)]


# --- 03.depth -----------------------------------------------------------------------------------

def _depth_solution():
    def depth(nodes):
        # longest chain of op edges ending at each node; inputs (0, 1) start at 0
        longest = [0, 0]
        for pairs in nodes:
            longest.append(1 + max(longest[i] for _, i in pairs))
        return max(longest[2:])
    return depth


def _depth_wrong():
    def plus_concat(nodes):  # counts the concat edge into c_{k} too
        return _depth_solution()(nodes) + 1

    def last_node_only(nodes):  # the depth of the last node, not the deepest one
        longest = [0, 0]
        for pairs in nodes:
            longest.append(1 + max(longest[i] for _, i in pairs))
        return longest[-1]

    def shortest(nodes):  # min instead of max over a node's inputs
        longest = [0, 0]
        for pairs in nodes:
            longest.append(1 + min(longest[i] for _, i in pairs))
        return max(longest[2:])
    return [plus_concat, last_node_only, shortest]


@exercise("03.depth", "depth of a cell", _depth_solution, _depth_wrong)
def check_depth(depth):
    depth = expect_callable(depth, "depth")
    for g in _genotypes():
        for cell in ("normal", "reduce"):
            nodes = getattr(g, cell)
            got, want = depth(nodes), cell_depth(g, cell)
            if got != want:
                fail(f"depth({[list(p) for p in nodes]}) = {got!r}, expected {'more' if got < want else 'less'}: "
                     "count op edges on the longest path from an input to any intermediate node")


# --- 03.parameter_free --------------------------------------------------------------------------

def _free_solution():
    def parameter_free_share(genotype):
        ops = [op for cell in (genotype.normal, genotype.reduce) for pairs in cell for op, _ in pairs]
        return sum(op in PARAMETER_FREE for op in ops) / len(ops)
    return parameter_free_share


def _free_wrong():
    def pools_only(genotype):  # forgets that skip_connect has no weights either
        ops = [op for cell in (genotype.normal, genotype.reduce) for pairs in cell for op, _ in pairs]
        return sum("pool" in op for op in ops) / len(ops)

    def normal_only(genotype):  # only the normal cell
        ops = [op for pairs in genotype.normal for op, _ in pairs]
        return sum(op in PARAMETER_FREE for op in ops) / len(ops)

    def a_count(genotype):  # a count, not a share
        return sum(op in PARAMETER_FREE for cell in (genotype.normal, genotype.reduce) for pairs in cell
                   for op, _ in pairs)
    return [pools_only, normal_only, a_count]


@exercise("03.parameter_free", "share of parameter-free ops", _free_solution, _free_wrong)
def check_parameter_free(share):
    share = expect_callable(share, "parameter_free_share")
    from ..ops.cell_ops import make_op
    from ..measure import count_params

    for g in _genotypes(30):
        ops = [op for cell in (g.normal, g.reduce) for pairs in cell for op, _ in pairs]
        # the truth from the modules themselves: an op is parameter-free if it has no weights
        free = sum(count_params(make_op(op, 8, 1, affine=False)) == 0 for op in ops)
        want = free / len(ops)
        got = share(g)
        if not isinstance(got, (int, float)) or abs(got - want) > 1e-9:
            fail(f"for a genotype with ops {sorted(set(ops))} you gave {got!r}: the share is over both cells' "
                 "edges, counting every op without weights (which are they?)")
