"""Exercises of ``fewshot_nl.ipynb``: the nonlinearity count of a NAS-Bench-201 cell, the updates
each supernet gets under uniform (SPOS) sampling, and what narrower supernets cost."""
from __future__ import annotations

import math
import re

from ..measure import count_params
from ..methods.fewshot_nl import NB201Subspaces, expected_updates, nonlinearity_count
from ..methods.fewshot_nl.supernets import SearchCell
from ..spaces.nb201 import all_cells
from .core import expect_callable, expect_equal, exercise, fail

_CONVS = ("nor_conv_1x1", "nor_conv_3x3")
#: the four input-to-output paths of the cell, as the edges (to, from) they use
_PATHS = (((3, 0),), ((1, 0), (3, 1)), ((2, 0), (3, 2)), ((1, 0), (2, 1), (3, 2)))


def _edges(arch: str) -> dict:
    """``{(to, from): op}`` read from an arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
    out = {}
    for to, node in enumerate(arch.split("+"), start=1):
        for op, src in re.findall(r"([a-z0-9_x]+)~(\d)", node):
            out[(to, int(src))] = op
    return out


# --- fewshot_nl.count: ENN from an arch string ----------------------------------------------------

def _count_solution():
    def count(arch):
        ops = _edges(arch)
        live = [path for path in _PATHS if all(ops[e] != "none" for e in path)]   # `none` cuts a path
        return max((sum(ops[e] in _CONVS for e in path) for path in live), default=0)
    return count


def _count_wrong():
    def all_convs(arch):                     # counts parallel and dead-end convs too
        return sum(op in _CONVS for op in _edges(arch).values())

    def ignores_none(arch):                  # deepest path, even when a `none` cuts it
        ops = _edges(arch)
        return max(sum(ops[e] in _CONVS for e in path) for path in _PATHS)

    def live_convs(arch):                    # convs on any live path, added up across paths
        ops = _edges(arch)
        live = {e for path in _PATHS if all(ops[e] != "none" for e in path) for e in path}
        return sum(ops[e] in _CONVS for e in live)
    return [all_convs, ignores_none, live_convs]


@exercise("fewshot_nl.count", "the nonlinearity count of a cell", _count_solution, _count_wrong)
def check_count(count_nonlinear):
    count_nonlinear = expect_callable(count_nonlinear, "count_nonlinear")
    for cell in all_cells():                 # every one of the 15,625 cells
        want = nonlinearity_count(cell)
        got = count_nonlinear(str(cell))
        if got != want:
            if got is None:
                fail("count_nonlinear returned None: not answered yet (fill in the `...`)")
            if isinstance(got, int) and got > want:
                fail(f"for {cell} your count is {got}, which is too large (is every conv you count on a path that "
                     "reaches the output, with no `none` on it? do convs on parallel paths add up?)")
            fail(f"for {cell} your count is {got!r}, which is not right (the count is the number of convs on "
                 "the deepest live path)")


# --- fewshot_nl.spos_updates: who gets trained under uniform sampling -----------------------------

def _spos_solution():
    def spos_updates(groups, steps):
        # one subnet a step, uniform over the trainable (connected) cells: subspace k's share is |S_k| / |S|
        counts = [c.nonlinearity_count for c in all_cells() if c.connected]
        sizes = [sum(c in group for c in counts) for group in groups]
        return [steps * n / sum(sizes) for n in sizes]
    return spos_updates


def _spos_wrong():
    def with_disconnected(groups, steps):    # the 341 disconnected cells are never sampled
        counts = [c.nonlinearity_count for c in all_cells()]
        sizes = [sum(c in group for c in counts) for group in groups]
        return [steps * n / sum(sizes) for n in sizes]

    def even(groups, steps):                 # what balanced sampling would give
        return [steps / len(groups)] * len(groups)

    def every_step(groups, steps):           # what SBS gives: one subnet of every supernet per step
        return [float(steps)] * len(groups)
    return [with_disconnected, even, every_step]


@exercise("fewshot_nl.spos_updates", "updates per supernet under uniform sampling", _spos_solution, _spos_wrong)
def check_spos_updates(spos_updates):
    spos_updates = expect_callable(spos_updates, "spos_updates")
    for groups, steps in (([[0, 1], [2], [3]], 100), ([[0], [1], [2], [3]], 1000), ([[0, 1, 2], [3]], 50)):
        want = expected_updates("uniform", NB201Subspaces(groups).sizes(), steps)
        got = spos_updates([list(g) for g in groups], steps)
        if got is None:
            fail("spos_updates returned None: not answered yet (fill in the `...`)")
        try:
            got = [float(v) for v in got]
        except TypeError:
            fail(f"spos_updates should return one number per group, got {got!r}")
        if len(got) != len(want):
            fail(f"spos_updates({groups}, {steps}) should give {len(want)} numbers, one per group, got {len(got)}")
        for g, v, w in zip(groups, got, want):
            expect_equal(v, w, f"spos_updates({groups}, {steps}): the updates of the count-{g} supernet", rel=1e-9)


# --- fewshot_nl.conv_cost: K narrow supernets against one wide one ---------------------------------

def _cost_solution():
    def conv_cost_ratio(K, G, C):
        # a cell conv has c x c x k x k weights (and c^2 MACs per pixel): quadratic in the width,
        # and each of the K supernets has width C // G (integer division)
        return K * (C // G) ** 2 / C ** 2
    return conv_cost_ratio


def _cost_wrong():
    return [lambda K, G, C: K / G ** 2,               # forgets that widths are whole numbers
            lambda K, G, C: K * (C // G) / C,         # linear in the width
            lambda K, G, C: (C // G) ** 2 / C ** 2]   # one supernet instead of K


@exercise("fewshot_nl.conv_cost", "the cost of K narrow supernets", _cost_solution, _cost_wrong)
def check_conv_cost(conv_cost_ratio):
    conv_cost_ratio = expect_callable(conv_cost_ratio, "conv_cost_ratio")
    for K, G, C in ((3, 3, 16), (4, 3, 16), (3, 2, 16), (3, 3, 36), (6, 4, 18), (2, 2, 10)):
        want = K * count_params(SearchCell(C // G)) / count_params(SearchCell(C))   # all cell convs
        expect_equal(conv_cost_ratio(K, G, C), want,
                     f"conv_cost_ratio(K={K}, G={G}, C={C}) (cell conv weights of {K} supernets / one)", rel=1e-9)
        assert math.isclose(want, K * (C // G) ** 2 / C ** 2)
