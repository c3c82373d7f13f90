"""Exercises of ``00_quickstart.ipynb``: the DARTS derivation rule and the cost of one op."""
from __future__ import annotations

import torch

from ..measure import count_params
from ..methods.darts import derive_cell
from ..ops.cell_ops import PRIMITIVES, make_op
from .core import expect_callable, expect_equal, exercise, fail


# --- 00.derive_node: DARTS Sec. 2.4 for one node -----------------------------------------------

def _derive_node_solution():
    def derive_node(weights, primitives):
        # strength of an edge = its largest non-`none` weight; keep the two strongest edges
        none = primitives.index("none")
        best = []
        for i, row in enumerate(weights.tolist()):
            op = max((w, k) for k, w in enumerate(row) if k != none)[1]
            best.append((row[op], primitives[op], i))
        best.sort(key=lambda t: -t[0])
        return [(op, i) for _, op, i in best[:2]]
    return derive_node


def _derive_node_wrong():
    def with_none(weights, primitives):  # forgets to ignore `none`
        order = weights.max(1).values.argsort(descending=True)[:2].tolist()
        return [(primitives[int(weights[i].argmax())], i) for i in order]

    def two_best_ops(weights, primitives):  # two strongest (edge, op) pairs, maybe on one edge
        w = weights.clone()
        w[:, primitives.index("none")] = -1
        flat = w.flatten().argsort(descending=True)[:2].tolist()
        return [(primitives[k % w.shape[1]], k // w.shape[1]) for k in flat]

    def first_two_edges(weights, primitives):  # ignores edge strength
        return [(primitives[int(weights[i, 1:].argmax()) + 1], i) for i in (0, 1)]
    return [with_none, two_best_ops, first_two_edges]


def _cases():
    g = torch.Generator().manual_seed(0)
    for n_edges in (2, 3, 4, 5):
        for _ in range(20):
            w = torch.softmax(3 * torch.randn(n_edges, len(PRIMITIVES), generator=g), dim=1)
            yield w


@exercise("00.derive_node", "keep a node's two strongest edges", _derive_node_solution, _derive_node_wrong)
def check_derive_node(derive_node):
    derive_node = expect_callable(derive_node, "derive_node")
    for w in _cases():
        # derive_cell walks nodes 2, 3, ... (2, 3, ... input edges): pad the earlier nodes
        pad = torch.zeros(sum(range(2, w.shape[0])), len(PRIMITIVES))
        want = derive_cell(torch.cat([pad, w]), steps=w.shape[0] - 1, primitives=PRIMITIVES)[-1]
        answer = derive_node(w.clone(), list(PRIMITIVES))
        if answer is None:
            fail("derive_node returned None: not answered yet (fill in the `...`)")
        got = [tuple(p) for p in answer]
        if sorted(got, key=lambda p: p[1]) != sorted(want, key=lambda p: p[1]):
            row = ", ".join(f"edge {i}: {PRIMITIVES[int(r.argmax())]} {float(r.max()):.2f}" for i, r in enumerate(w))
            fail(f"for weights whose strongest ops are [{row}] you kept {got}, DARTS keeps {want} "
                 "(ignore `none`; rank edges by their best remaining weight; two different edges)")


# --- 00.sep_conv_params: what one candidate op costs -------------------------------------------

def _sep_params_solution():
    def sep_conv_params(C, k=3):
        # DARTS' sep_conv applies (ReLU, depthwise k x k, pointwise 1 x 1, BN) twice
        return 2 * (C * k * k + C * C + 2 * C)
    return sep_conv_params


def _sep_params_wrong():
    return [lambda C, k=3: C * k * k + C * C + 2 * C,          # only once
            lambda C, k=3: 2 * (C * k * k + C * C),            # forgets BN's scale and shift
            lambda C, k=3: 2 * (C * C * k * k + 2 * C)]        # a full conv, not depthwise


@exercise("00.sep_conv_params", "parameters of sep_conv", _sep_params_solution, _sep_params_wrong)
def check_sep_conv_params(sep_conv_params):
    sep_conv_params = expect_callable(sep_conv_params, "sep_conv_params")
    for C in (4, 16, 36):
        for k in (3, 5):
            want = count_params(make_op(f"sep_conv_{k}x{k}", C, 1, affine=True))
            expect_equal(sep_conv_params(C, k), want, f"sep_conv_params({C}, k={k})")
