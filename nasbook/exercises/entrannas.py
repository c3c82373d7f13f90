"""Exercises of ``entrannas.ipynb``: which pairs DST keeps, and what feature sharing saves in
parameters and in op evaluations."""
from __future__ import annotations

import torch

from ..measure import count_params
from ..methods.darts import MixedOp
from ..methods.entrannas import EngineCell, dst_weights, engine_forward, node_rows, primitives_for, transit_forward
from ..ops.cell_ops import PRIMITIVES
from .core import expect_callable, expect_equal, exercise, fail

OPS7 = primitives_for("dst")


# --- entrannas.dst_pairs: the derived pairs of one node -----------------------------------------

def _dst_solution():
    def dst_pairs(p_node, t):
        m = p_node.max()                     # one maximum over every (source, op) pair of the node
        keep = (p_node / m > t).nonzero().tolist()
        return {(i, k) for i, k in keep}
    return dst_pairs


def _dst_wrong():
    def per_edge_max(p_node, t):             # normalises by each edge's own maximum
        r = p_node / p_node.max(dim=1, keepdim=True).values
        return {(i, k) for i, k in (r > t).nonzero().tolist()}

    def absolute(p_node, t):                 # compares p itself with t
        return {(i, k) for i, k in (p_node > t).nonzero().tolist()}

    def top2(p_node, t):                     # the DARTS rule: best op of the two strongest edges
        best, op = p_node.max(dim=1)
        edges = best.argsort(descending=True)[:2].tolist()
        return {(i, int(op[i])) for i in edges}
    return [per_edge_max, absolute, top2]


def _pairs(answer, what: str) -> set:
    if answer is None or answer is Ellipsis:
        fail(f"{what} returned None: not answered yet (fill in the `...`)")
    try:
        return {(int(i), int(k)) for i, k in answer}
    except (TypeError, ValueError):
        fail(f"{what} should return (source, op column) pairs, e.g. {{(0, 3), (2, 1)}}, got {answer!r}")


@exercise("entrannas.dst_pairs", "the pairs a DST node keeps", _dst_solution, _dst_wrong)
def check_dst_pairs(dst_pairs):
    dst_pairs = expect_callable(dst_pairs, "dst_pairs")
    g = torch.Generator().manual_seed(0)
    for trial in range(12):
        alpha = (0.5 + trial / 3) * torch.randn(14, len(OPS7), generator=g, dtype=torch.float64)
        beta = 2 * torch.randn(4, generator=g, dtype=torch.float64)
        w = dst_weights(alpha, beta)
        for j, (start, n) in enumerate(node_rows(4)):
            t = float(w.t[j])
            want = {(i, k) for i, k in (w.q[start:start + n] > 0).nonzero().tolist()}
            got = _pairs(dst_pairs(w.p[start:start + n].clone(), t), "dst_pairs")
            if got != want:
                fail(f"node {j + 2} ({n} sources x {len(OPS7)} ops, t = {t:.2f}): you keep {len(got)} pairs, DST "
                     f"keeps {len(want)}; {len(got - want)} of yours should go, {len(want - got)} are missing "
                     "(what is p divided by before it meets the threshold?)")


# --- entrannas.cell_op_params: parameters of a feature-sharing cell's ops -------------------------

def _params_solution():
    def cell_op_params(C, steps, reduction, primitives):
        # one candidate set per source node: the two inputs and every intermediate node but the last
        total = 0
        for i in range(steps + 1):
            stride = 2 if reduction and i < 2 else 1      # only the cell inputs are strided
            total += count_params(MixedOp(C, stride, primitives))
        return total
    return cell_op_params


def _params_wrong():
    def per_edge(C, steps, reduction, primitives):     # DARTS: a candidate set per edge
        return sum(count_params(MixedOp(C, 2 if reduction and i < 2 else 1, primitives))
                   for j in range(steps) for i in range(j + 2))

    def every_node(C, steps, reduction, primitives):   # the last node feeds nothing inside the cell
        return sum(count_params(MixedOp(C, 2 if reduction and i < 2 else 1, primitives)) for i in range(steps + 2))

    def never_strided(C, steps, reduction, primitives):  # forgets the reduction cell's strided inputs
        return (steps + 1) * count_params(MixedOp(C, 1, primitives))
    return [per_edge, every_node, never_strided]


@exercise("entrannas.cell_op_params", "parameters of a feature-sharing cell", _params_solution, _params_wrong)
def check_cell_op_params(cell_op_params):
    cell_op_params = expect_callable(cell_op_params, "cell_op_params")
    for primitives, label in ((PRIMITIVES, "DARTS' 8 ops"), (OPS7, "DST's 7 ops")):
        for C, steps in ((16, 4), (4, 3), (8, 2)):
            for reduction in (False, True):
                cell = EngineCell(steps, steps, C, C, C, reduction, False, primitives)
                kind = "reduction" if reduction else "normal"
                expect_equal(cell_op_params(C, steps, reduction, tuple(primitives)), count_params(cell.sources),
                             f"cell_op_params(C={C}, steps={steps}, {kind} cell, {label})")


# --- entrannas.op_evals: op evaluations of an Engine- and a Transit-cell ----------------------------

def _evals_solution():
    def op_evals(pairs, K, engine):
        if engine:   # every (source, op) feature, each computed once: sources 0 .. steps
            return (len(pairs) + 1) * K
        return len({pair for node in pairs for pair in node})   # a pair used by two nodes runs once
    return op_evals


def _evals_wrong():
    def no_sharing(pairs, K, engine):      # as in DARTS: every edge runs its own ops
        if engine:
            return sum(j + 2 for j in range(len(pairs))) * K
        return sum(len(node) for node in pairs)

    def engine_every_node(pairs, K, engine):
        return (len(pairs) + 2) * K if engine else len({pair for node in pairs for pair in node})

    def distinct_sources(pairs, K, engine):
        return (len(pairs) + 1) * K if engine else len({i for node in pairs for i, _ in node})
    return [no_sharing, engine_every_node, distinct_sources]


@exercise("entrannas.op_evals", "op evaluations with feature sharing", _evals_solution, _evals_wrong)
def check_op_evals(op_evals):
    op_evals = expect_callable(op_evals, "op_evals")
    g = torch.Generator().manual_seed(4)
    for steps in (4, 3):
        cell = EngineCell(steps, steps, 2, 2, 2, False, False, OPS7).double().eval()
        s0, s1 = torch.randn(2, 1, 2, 4, 4, generator=g, dtype=torch.float64)
        K = len(OPS7)
        with torch.no_grad():
            engine_forward(cell, s0, s1, torch.ones(sum(n for _, n in node_rows(steps)), K, dtype=torch.float64))
        expect_equal(op_evals([[(0, 0)]] * steps, K, True), cell.last_op_evals,
                     f"op_evals for an Engine-cell with {steps} nodes and K={K} ops")
        for _ in range(15):
            pairs = []
            for j in range(steps):
                n = int(torch.randint(1, 4, (1,), generator=g))
                pairs.append([(int(torch.randint(j + 2, (1,), generator=g)), int(torch.randint(K, (1,), generator=g)))
                              for _ in range(n)])
                pairs[-1] = list(dict.fromkeys(pairs[-1]))  # a node lists a pair at most once
            with torch.no_grad():
                transit_forward(cell, s0, s1, pairs)
            expect_equal(op_evals([list(n) for n in pairs], K, False), cell.last_op_evals,
                         f"op_evals for a Transit-cell with derived pairs {pairs}")
