"""Exercises of ``mgas.ipynb``: the surrogate gradient of the step, the scale a filter gate
applies, and the size proxy of a conv op after filter pruning."""
from __future__ import annotations

import torch

from ..methods.mgas.gated_ops import GatedConvOp
from ..methods.mgas.size import op_proxy
from ..methods.mgas.supernet import MgasSupernet
from ..methods.mgas.units import FilterGate, PassState, discretize
from .core import expect_callable, expect_equal, exercise, fail


def _tensor_like(value, x: torch.Tensor, what: str) -> torch.Tensor:
    if value is None or value is Ellipsis:
        fail(f"{what} returned None: not answered yet (fill in the `...`)")
    value = torch.as_tensor(value, dtype=x.dtype)
    if value.shape != x.shape:
        fail(f"{what} should return one value per input ({tuple(x.shape)}), got shape {tuple(value.shape)}")
    return value


def _first_mismatch(got: torch.Tensor, want: torch.Tensor, x: torch.Tensor, label: str, what: str):
    bad = ~torch.isclose(got, want, rtol=1e-6, atol=1e-9)
    if bad.any():
        i = int(bad.nonzero()[0])
        fail(f"at {label} = {float(x[i]):.3f} your {what} = {float(got[i]):.4g} is "
             f"{'too large' if got[i] > want[i] else 'too small'}")


# --- mgas.surrogate: DST's long-tailed derivative of the step ------------------------------------

def _surrogate_solution():
    def surrogate(x):
        a = x.abs()
        return torch.where(a <= 0.4, 2 - 4 * a, torch.where(a <= 1, torch.full_like(a, 0.4), torch.zeros_like(a)))
    return surrogate


def _surrogate_wrong():
    def triangle(x):     # no long tail: a unit's gradient vanishes once |s - tau| > 0.5
        return torch.clamp(2 - 4 * x.abs(), min=0)

    def box(x):          # the plain straight-through box
        return (x.abs() <= 1).to(x.dtype)

    def endless_tail(x):  # the tail never ends
        a = x.abs()
        return torch.where(a <= 0.4, 2 - 4 * a, torch.full_like(a, 0.4))
    return [triangle, box, endless_tail]


@exercise("mgas.surrogate", "the surrogate gradient of the step", _surrogate_solution, _surrogate_wrong)
def check_surrogate(surrogate):
    surrogate = expect_callable(surrogate, "surrogate")
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.linspace(-1.5, 1.5, 61, dtype=torch.float64)[1::2],
                   3 * torch.rand(200, generator=g, dtype=torch.float64) - 1.5])
    x = x[(x.abs() - 1).abs() > 1e-9]   # not exactly on the jump at |x| = 1
    # the truth is what autograd does: D(s; tau) = H(s - tau), differentiated w.r.t. s and tau
    s = x.clone().requires_grad_(True)
    tau = torch.zeros_like(x, requires_grad=True)
    discretize(s, tau).sum().backward()
    got = _tensor_like(surrogate(x.clone()), x, "surrogate(x)")
    _first_mismatch(got, s.grad, x, "x = s - τ", "H'(x)")
    assert torch.equal(tau.grad, -s.grad)  # the threshold gets the opposite gradient


# --- mgas.filter_scale: what a filter gate multiplies a channel by -------------------------------

def _scale_solution():
    def filter_scale(b, tau, mask):
        q = torch.sigmoid(b)                          # the filter's score
        live = mask & (q > tau)                       # committed mask x step D(q; tau)
        return q * live                               # live channels are also scaled by their score
    return filter_scale


def _scale_wrong():
    def gate_only(b, tau, mask):          # forgets that a live channel is scaled by sigmoid(b)
        return (mask & (torch.sigmoid(b) > tau)).to(b.dtype)

    def threshold_on_logit(b, tau, mask):  # compares the logit b, not the score sigmoid(b), with tau
        return torch.sigmoid(b) * (mask & (b > tau))

    def ignores_mask(b, tau, mask):       # a committed 0 is permanent; the step alone is not enough
        return torch.sigmoid(b) * (torch.sigmoid(b) > tau)
    return [gate_only, threshold_on_logit, ignores_mask]


@exercise("mgas.filter_scale", "the scale of a filter gate", _scale_solution, _scale_wrong)
def check_filter_scale(filter_scale):
    filter_scale = expect_callable(filter_scale, "filter_scale")
    g = torch.Generator().manual_seed(1)
    for tau in (0.5, 0.2, 0.7, 0.0):
        gate = FilterGate(64)
        with torch.no_grad():
            gate.logits.copy_(2 * torch.randn(64, generator=g))
            gate.mask.copy_(torch.rand(64, generator=g) < 0.8)
        want = gate.scale(torch.tensor(tau), PassState()).detach()
        b, mask = gate.logits.detach().clone(), gate.mask.clone()
        got = _tensor_like(filter_scale(b, torch.tensor(tau), mask), want, "filter_scale(b, tau, mask)")
        bad = ~torch.isclose(got, want, rtol=1e-6, atol=1e-7)
        if bad.any():
            i = int(bad.nonzero()[0])
            fail(f"τ = {tau}: the filter with logit b = {float(b[i]):.2f} (σ(b) = {float(torch.sigmoid(b[i])):.2f}) "
                 f"and committed mask {bool(mask[i])} gets scale {float(got[i]):.3g}, which is "
                 f"{'too large' if got[i] > want[i] else 'too small'}")


# --- mgas.conv_proxy: the size of one conv op after filter pruning --------------------------------

def _proxy_solution():
    def conv_proxy(op):
        k2 = op.kernel ** 2
        n_out = int(op.gates[-1].mask.sum())              # filters of the last BN still kept
        if op.name.startswith("sep_conv"):
            n_mid = int(op.gates[0].mask.sum())           # filters of the middle BN still kept
            return op.c_in * k2 + op.c_in * n_mid + k2 * n_mid + op.c_mid * n_out
        return op.c_in * k2 + op.c_in * n_out             # dil_conv: one (depthwise, pointwise) block
    return conv_proxy


def _proxy_wrong():
    def dense(op):                        # ignores the pruned filters
        k2 = op.kernel ** 2
        if op.name.startswith("sep_conv"):
            return op.c_in * k2 + op.c_in * op.c_mid + k2 * op.c_mid + op.c_mid * op.c_out
        return op.c_in * k2 + op.c_in * op.c_out

    def pruned_columns_too(op):           # removes the pruned mid filters from the 2nd pointwise conv already
        k2, n_out = op.kernel ** 2, int(op.gates[-1].mask.sum())
        if op.name.startswith("sep_conv"):
            n_mid = int(op.gates[0].mask.sum())
            return op.c_in * k2 + op.c_in * n_mid + k2 * n_mid + n_mid * n_out
        return op.c_in * k2 + op.c_in * n_out

    def one_block(op):                    # treats a sep_conv like a dil_conv
        return op.c_in * op.kernel ** 2 + op.c_in * int(op.gates[-1].mask.sum())
    return [dense, pruned_columns_too, one_block]


@exercise("mgas.conv_proxy", "the size proxy of a pruned conv op", _proxy_solution, _proxy_wrong)
def check_conv_proxy(conv_proxy):
    conv_proxy = expect_callable(conv_proxy, "conv_proxy")
    net = MgasSupernet(4, 10, 3, in_channels=1, heads="gap")
    g = torch.Generator().manual_seed(2)
    for i, cell in enumerate(net.cells):
        for e in (0, 5, 13):
            for o, op in enumerate(cell.ops[e]):
                if not isinstance(op, GatedConvOp):
                    continue
                for gate in op.gates:   # prune some filters (at least one kept, as a round would)
                    keep = torch.rand(gate.channels, generator=g) < 0.6
                    keep[int(torch.randint(gate.channels, (1,), generator=g))] = True
                    gate.mask.copy_(keep)
                n = [int(gt.mask.sum()) for gt in op.gates]
                expect_equal(conv_proxy(op), op_proxy(cell, e, o),
                             f"conv_proxy of the {op.name} on edge {e} of cell {i} (c_in {op.c_in}, "
                             f"filters kept per BN {n} of {[gt.channels for gt in op.gates]})")
