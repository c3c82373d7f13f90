"""Exercises of ``01_search_spaces.ipynb``: computing the sizes of the three spaces."""
from __future__ import annotations

import itertools
import math

from ..spaces.darts import count_genotypes
from ..spaces.mbconv import BACKBONES, count_architectures
from ..spaces.nb201 import all_cells
from .core import expect_callable, expect_equal, exercise, fail


# --- 01.nb201_size ------------------------------------------------------------------------------

def _nb201_solution():
    def nb201_size(num_nodes, num_ops):
        edges = num_nodes * (num_nodes - 1) // 2   # every earlier node feeds every later node
        return num_ops ** edges
    return nb201_size


def _nb201_wrong():
    return [lambda n, o: o ** n,                       # one op per node, not per edge
            lambda n, o: o ** (n * (n + 1) // 2),      # counts self-loops as edges
            lambda n, o: o * n * (n - 1) // 2]         # a sum over edges, not a product


@exercise("01.nb201_size", "size of a NAS-Bench-201-like space", _nb201_solution, _nb201_wrong)
def check_nb201_size(nb201_size):
    nb201_size = expect_callable(nb201_size, "nb201_size")
    expect_equal(nb201_size(4, 5), len(all_cells()), "nb201_size(4, 5) (the real space: count all_cells())")
    for n in range(2, 7):
        for o in range(1, 6):
            # brute force: one op per (i < j) pair of nodes
            want = sum(1 for _ in itertools.product(range(o), repeat=math.comb(n, 2))) if o ** math.comb(n, 2) < 2e5 \
                else o ** math.comb(n, 2)
            expect_equal(nb201_size(n, o), want, f"nb201_size({n}, {o})")


# --- 01.darts_cells -----------------------------------------------------------------------------

def _darts_solution():
    def darts_cells(steps, num_ops):
        total = 1
        for j in range(steps):                   # node j has j + 2 possible inputs
            total *= math.comb(j + 2, 2) * num_ops ** 2
        return total
    return darts_cells


def _darts_wrong():
    def ordered_inputs(steps, num_ops):          # (a, b) and (b, a) counted twice
        return math.prod(math.perm(j + 2, 2) * num_ops ** 2 for j in range(steps))

    def every_edge(steps, num_ops):              # an op on every edge: the super-net, not a derived cell
        return num_ops ** sum(j + 2 for j in range(steps))

    def ops_only(steps, num_ops):                # forgets to choose the inputs
        return num_ops ** (2 * steps)
    return [ordered_inputs, every_edge, ops_only]


def _brute_force_darts(steps: int, num_ops: int) -> int:
    per_node = [len(list(itertools.combinations(range(j + 2), 2))) * num_ops ** 2 for j in range(steps)]
    return len(list(itertools.product(*[range(k) for k in per_node])))


@exercise("01.darts_cells", "number of DARTS cells", _darts_solution, _darts_wrong)
def check_darts_cells(darts_cells):
    darts_cells = expect_callable(darts_cells, "darts_cells")
    for steps, ops in ((1, 2), (2, 2), (2, 3), (3, 2)):
        expect_equal(darts_cells(steps, ops), _brute_force_darts(steps, ops), f"darts_cells({steps}, {ops})")
    expect_equal(darts_cells(4, 7), count_genotypes(4, 7), "darts_cells(4, 7) (the DARTS space)")


# --- 01.mbconv_size -----------------------------------------------------------------------------

def _mbconv_solution():
    def mbconv_size(backbone):
        total = 1
        for layer in backbone.layers():
            if layer.searchable:
                total *= len(backbone.kernels) * len(backbone.expansions) + layer.skippable
        return total
    return mbconv_size


def _mbconv_wrong():
    def no_skip(bb):                              # forgets that a skippable layer may be dropped
        return math.prod(len(bb.kernels) * len(bb.expansions) for s in bb.layers() if s.searchable)

    def fixed_too(bb):                            # also multiplies the fixed layers' candidates
        return math.prod(len(bb.kernels) * len(bb.expansions) + s.skippable for s in bb.layers())

    def a_sum(bb):                                # adds choices instead of multiplying
        return sum(len(bb.kernels) * len(bb.expansions) + s.skippable for s in bb.layers() if s.searchable)
    return [no_skip, fixed_too, a_sum]


@exercise("01.mbconv_size", "size of an MBConv chain space", _mbconv_solution, _mbconv_wrong)
def check_mbconv_size(mbconv_size):
    mbconv_size = expect_callable(mbconv_size, "mbconv_size")
    for name, bb in BACKBONES.items():
        got = mbconv_size(bb)
        want = count_architectures(bb)
        if got != want:
            fail(f"mbconv_size(BACKBONES[{name!r}]) = {got!r} is {'too large' if got > want else 'too small'}: "
                 "which layers are searched, and what extra choice does a skippable layer have?")
