"""Exercises of ``02_supernet_training.ipynb``: the mixed edge and what a super-net step costs."""
from __future__ import annotations

import torch
from torch import nn

from ..measure import count_macs
from ..methods.darts import MixedOp
from .core import expect_callable, exercise, fail


# --- 02.mixed_edge: DARTS Eq. 2 -----------------------------------------------------------------

def _edge_solution():
    def edge_output(x, alphas, ops):
        weights = torch.softmax(alphas, dim=-1)          # a distribution over the candidates
        return sum(w * op(x) for w, op in zip(weights, ops))
    return edge_output


def _edge_wrong():
    def raw_alphas(x, alphas, ops):                      # forgets the softmax
        return sum(a * op(x) for a, op in zip(alphas, ops))

    def strongest_only(x, alphas, ops):                  # the derived edge, not the relaxed one
        return ops[int(alphas.argmax())](x)

    def plain_mean(x, alphas, ops):                      # ignores the architecture weights
        return sum(op(x) for op in ops) / len(ops)
    return [raw_alphas, strongest_only, plain_mean]


@exercise("02.mixed_edge", "output of a mixed edge", _edge_solution, _edge_wrong)
def check_mixed_edge(edge_output):
    edge_output = expect_callable(edge_output, "edge_output")
    torch.manual_seed(0)
    for stride in (1, 2):
        edge = MixedOp(4, stride).eval()
        x = torch.randn(2, 4, 8, 8)
        for scale in (0.0, 1.0, 3.0):
            alphas = scale * torch.randn(len(edge.ops))
            with torch.no_grad():
                want = edge(x, torch.softmax(alphas, -1))
                got = edge_output(x, alphas.clone(), list(edge.ops))
            if not isinstance(got, torch.Tensor) or got.shape != want.shape:
                fail(f"edge_output should return a tensor of shape {tuple(want.shape)}, got "
                     f"{getattr(got, 'shape', type(got).__name__)}")
            if not torch.allclose(got, want, atol=1e-5):
                fail(f"wrong output for alphas {[round(a, 2) for a in alphas.tolist()]} (stride {stride}): every "
                     "candidate contributes, weighted by the softmax of the alphas")


# --- 02.dw_macs: why one meta kernel is cheaper than a weighted sum -----------------------------

def _dw_solution():
    def dw_macs(C, H, kernels, mode):
        per = {k: C * k * k * H * H for k in kernels}    # a depthwise k x k conv, stride 1, same padding
        return sum(per.values()) if mode == "weighted_sum" else per[max(kernels)]
    return dw_macs


def _dw_wrong():
    return [lambda C, H, ks, mode: sum(C * k * k * H * H for k in ks),               # meta kernel = sum too
            lambda C, H, ks, mode: C * C * (sum(k * k for k in ks) if mode == "weighted_sum" else max(ks) ** 2) * H * H,  # a full conv
            lambda C, H, ks, mode: C * max(ks) ** 2 * H * H * (len(ks) if mode == "weighted_sum" else 1)]  # every candidate as the largest


@exercise("02.dw_macs", "MACs of weighted-sum vs meta-kernel depthwise convs", _dw_solution, _dw_wrong)
def check_dw_macs(dw_macs):
    dw_macs = expect_callable(dw_macs, "dw_macs")
    for C, H, kernels in ((8, 16, (3, 5, 7)), (4, 7, (3, 5)), (16, 14, (3, 5, 7, 9))):
        convs = {k: nn.Conv2d(C, C, k, padding=k // 2, groups=C, bias=False) for k in kernels}
        truth = {"weighted_sum": sum(count_macs(c, (C, H, H)) for c in convs.values()),
                 "meta_kernel": count_macs(convs[max(kernels)], (C, H, H))}  # one conv with the merged kernel
        for mode, want in truth.items():
            got = dw_macs(C, H, kernels, mode)
            if got != want:
                fail(f"dw_macs({C}, {H}, {kernels}, {mode!r}) = {got!r} is {'too large' if got > want else 'too small'}"
                     " (a depthwise conv has one k x k filter per channel; which convs does each super-net run?)")
