"""DARTS and EnTranNAS search steps through the real ``training_step`` on hand-made inputs.

Which batch each step sees, which parameters each optimiser moves, the second-order gradient
against an exact autograd reference (DARTS Eq. 7), architecture-gradient clipping, the weight
warm-up schedule, and the EnTranNAS knobs (temperature, threshold init, per-node
renormalisation, masked 'none') on the super-net's own weights.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from nasbook.data import make_loader
from nasbook.data.datasets import DatasetInfo
from nasbook.engine import EngineConfig, Trainer
from nasbook.methods import get_method
from nasbook.search import make_config

INFO = DatasetInfo("toy", 3, 1, 8)


def _task(method, **over):
    base = {"C": 2, "layers": 3, "steps": 2, "multiplier": 2, "batch_size": 4}
    if method == "entrannas":
        base.update(warmup_epochs=0)
    base.update(over)
    cfg = make_config(method, "tiny", base)
    torch.manual_seed(0)
    task = get_method(method)(cfg, INFO)
    task.model.double()
    return task, cfg


def _batches(seed=0):
    g = torch.Generator().manual_seed(seed)
    xt, xa = torch.randn(4, 1, 8, 8, generator=g, dtype=torch.float64), torch.randn(4, 1, 8, 8, generator=g, dtype=torch.float64)
    return {"train": (xt, torch.tensor([0, 1, 2, 0])), "arch": (xa, torch.tensor([2, 2, 1, 0]))}


def _trainer(task, **eng):
    ds = TensorDataset(torch.randn(8, 1, 8, 8), torch.zeros(8, dtype=torch.long))
    loaders = {s: make_loader(ds, 4, 0) for s in task.streams}
    return Trainer(task, loaders, EngineConfig(progress=False, **eng))


def _capture(opt, store):
    """Record the gradients an optimiser steps with (the real step still runs)."""
    step = opt.step

    def wrapped(*a, **k):
        store.append([None if p.grad is None else p.grad.detach().clone() for g in opt.param_groups for p in g["params"]])
        return step(*a, **k)
    opt.step = wrapped


def _grads(model, params, x, y):
    return torch.autograd.grad(nn.functional.cross_entropy(model(x), y), params, allow_unused=True)


@pytest.mark.parametrize("method", ["darts", "entrannas"])
def test_architecture_step_uses_the_arch_batch_and_weight_step_the_train_batch(method):
    task, _ = _task(method, **({"derive": "dst"} if method == "entrannas" else {}))
    tr = _trainer(task, grad_clip=None)
    b = _batches()
    m = task.model
    arch, weights = m.arch_parameters(), m.weight_parameters()
    # references at the initial state, on each batch (train-mode BN: the output depends on the batch only)
    ref_arch = _grads(m, arch, *b["arch"])
    ref_arch_on_train = _grads(m, arch, *b["train"])
    m.zero_grad(set_to_none=True)
    seen_a, seen_w = [], []
    _capture(task._opts["arch"], seen_a)
    # the weight step's reference must use the alphas *after* the architecture step
    orig_step = task._opts["arch"].step

    def after_arch(*a, **k):
        out = orig_step(*a, **k)
        after_arch.ref = _grads(m, weights, *b["train"])
        m.zero_grad(set_to_none=True)
        return out
    task._opts["arch"].step = after_arch
    _capture(task._opts["weights"], seen_w)
    task.training_step(b, tr.ctx)
    assert len(seen_a) == 1 and len(seen_w) == 1
    for g, r, wrong in zip(seen_a[0], ref_arch, ref_arch_on_train):
        assert torch.allclose(g, r, rtol=1e-9, atol=1e-12)
        assert not torch.allclose(g, wrong, rtol=1e-3, atol=1e-9) or g.abs().max() == 0
    for g, r in zip(seen_w[0], after_arch.ref):
        if r is None:
            assert g is None or g.abs().max() == 0  # an op outside the derived cell (Transit-cells)
        else:
            assert torch.allclose(g, r, rtol=1e-9, atol=1e-12)
    # the weight optimiser holds no architecture parameter, and vice versa
    ids_w = {id(p) for g in task._opts["weights"].param_groups for p in g["params"]}
    assert not ids_w & {id(p) for p in arch}
    assert {id(p) for g in task._opts["arch"].param_groups for p in g["params"]} == {id(p) for p in arch}


def test_second_order_gradient_equals_the_exact_unrolled_gradient_with_momentum_and_decay():
    """DARTS Eq. 7: grad_alpha L_val(w', alpha) with w' = w - xi (mu buf + grad_w L_train + wd w),
    the virtual step of the DARTS code (momentum buffer and weight decay included). The reference
    differentiates through the virtual step exactly (autograd, create_graph); the code's finite
    difference (Eq. 8) must agree to O(eps^2)."""
    task, cfg = _task("darts", order="second", weight_decay=0.05, momentum=0.9, lr=0.5, unrolled_eps=1e-4)
    tr = _trainer(task, grad_clip=None)
    m = task.model
    w_opt = task._opts["weights"]
    weights = m.weight_parameters()
    g = torch.Generator().manual_seed(7)
    for p in weights:  # a non-empty momentum buffer, as after the first weight step
        w_opt.state[p]["momentum_buffer"] = torch.randn(p.shape, generator=g, dtype=p.dtype)
    b = _batches(1)
    (xt, yt), (xa, ya) = b["train"], b["arch"]
    from torch.func import functional_call
    names = [n for n, p in m.named_parameters() if n not in ("alphas_normal", "alphas_reduce")]
    buffers = {n: x.clone() for n, x in m.named_buffers()}
    xi, mu, wd = 0.5, 0.9, 0.05

    def reference(use_momentum=True, use_decay=True):
        alphas = [m.alphas_normal.detach().clone().requires_grad_(), m.alphas_reduce.detach().clone().requires_grad_()]
        ws = [p.detach().clone().requires_grad_() for p in weights]

        def loss(wlist, x, y):
            params = {**dict(zip(names, wlist)), "alphas_normal": alphas[0], "alphas_reduce": alphas[1]}
            return nn.functional.cross_entropy(functional_call(m, (params, dict(buffers)), (x,)), y)
        gw = torch.autograd.grad(loss(ws, xt, yt), ws, create_graph=True)
        w2 = [w - xi * (gg + (wd * w if use_decay else 0) + (mu * w_opt.state[p]["momentum_buffer"] if use_momentum else 0))
              for w, gg, p in zip(ws, gw, weights)]
        return torch.autograd.grad(loss(w2, xa, ya), alphas)

    exact = reference()
    seen = []
    _capture(task._opts["arch"], seen)
    task.training_step(b, tr.ctx)
    for got, ref in zip(seen[0], exact):
        assert torch.allclose(got, ref, rtol=1e-4, atol=1e-9)
    # the test can see a dropped momentum or weight-decay term
    for wrong in (reference(use_momentum=False), reference(use_decay=False)):
        assert any(not torch.allclose(g_, r_, rtol=1e-3, atol=1e-9) for g_, r_ in zip(seen[0], wrong))


def test_architecture_gradient_clipping_bounds_the_arch_gradient():
    task, _ = _task("entrannas", arch_grad_clip=1e-3)
    tr = _trainer(task, grad_clip=None)
    seen = []
    _capture(task._opts["arch"], seen)
    task.training_step(_batches(), tr.ctx)
    norm = torch.cat([g.flatten() for g in seen[0] if g is not None]).norm().item()
    # clip_grad_norm_ scales by max_norm / (norm + 1e-6): equal to 1e-3 up to that epsilon
    assert norm == pytest.approx(1e-3, rel=1e-3)
    task2, _ = _task("entrannas")  # unclipped, the same step has a larger gradient
    tr2 = _trainer(task2, grad_clip=None)
    seen2 = []
    _capture(task2._opts["arch"], seen2)
    task2.training_step(_batches(), tr2.ctx)
    assert torch.cat([g.flatten() for g in seen2[0] if g is not None]).norm().item() > 10 * norm


def test_no_architecture_step_during_the_warm_up_epochs():
    task, _ = _task("entrannas", warmup_epochs=2)
    tr = _trainer(task)
    before = [a.detach().clone() for a in task.model.arch_parameters()]
    seen = []
    _capture(task._opts["arch"], seen)
    tr.epoch = 1
    task.training_step(_batches(), tr.ctx)
    assert seen == [] and all(torch.equal(a, b) for a, b in zip(task.model.arch_parameters(), before))
    tr.epoch = 2
    task.training_step(_batches(), tr.ctx)
    assert len(seen) == 1 and not torch.equal(task.model.alphas_normal, before[0])


def test_weight_lr_warm_up_ramps_the_base_lr_then_follows_the_cosine():
    """PC-DARTS ImageNet search: lr (e+1)/5 in the first 5 epochs, from the base lr; after it the
    cosine value of that epoch (annealed to lr_min = 0 over all epochs)."""
    task, cfg = _task("entrannas", epochs=12, lr=0.5, lr_min=0.0, lr_warmup_epochs=5)
    tr = _trainer(task)
    sched = tr.schedulers["weights"][0]
    lrs = []
    for e in range(12):
        lrs.append(task._opts["weights"].param_groups[0]["lr"])
        sched.step()
    expect = [0.5 * (e + 1) / 5 if e < 5 else 0.5 * 0.5 * (1 + math.cos(math.pi * e / 12)) for e in range(12)]
    assert lrs == pytest.approx(expect, rel=1e-12)


# -- EnTranNAS knobs on the super-net's own weights --------------------------------------------
def _set_alpha(model, rows):
    with torch.no_grad():
        model.alphas_normal.copy_(torch.tensor(rows, dtype=model.alphas_normal.dtype))


def test_temperature_divides_alpha_before_the_softmax():
    task, _ = _task("entrannas", tau=2.0)
    m = task.model
    K = len(m.primitives)
    rows = [[0.0] * K for _ in range(5)]
    rows[0][1] = 2 * math.log(3.0)  # softmax(alpha / 2): exp(log 3) = 3 against K - 1 ones
    _set_alpha(m, rows)
    p = m.cell_weights(False)
    assert p[0, 1].item() == pytest.approx(3 / (3 + K - 1))
    assert p[1].tolist() == pytest.approx([1 / K] * K)


def test_threshold_init_sets_every_node_threshold():
    task, _ = _task("entrannas", derive="dst", beta_init=0.7)
    w = task.model.dst(False)
    assert w.t.tolist() == pytest.approx([1 / (1 + math.exp(-0.7))] * 2)


def test_dst_edge_and_node_renormalisation_on_hand_made_alphas():
    """One node (node 2: edges from 0 and 1), 7 ops, softmax per edge. Edge 0: two ops at
    p = 1/1.8 (the node max m) and 0.8/1.8. Edge 1: one op at p = 0.5 = 0.9 m, its six others at
    0.5/6 = 0.15 m each. t = 0.5, so q = p/m - t: 0.5 and 0.3 on edge 0, 0.4 on edge 1, 0
    elsewhere. Per edge: qhat = 0.5/0.8, 0.3/0.8 and 1. Per node: 0.5/1.2, 0.3/1.2, 0.4/1.2."""
    for norm, expect in (("edge", (0.5 / 0.8, 0.3 / 0.8, 1.0)), ("node", (0.5 / 1.2, 0.3 / 1.2, 0.4 / 1.2))):
        task, _ = _task("entrannas", derive="dst", dst_norm=norm)
        m = task.model
        K = len(m.primitives)
        low = -30.0  # exp(-30) ~ 1e-13: these ops are below every threshold
        rows = [[low] * K for _ in range(5)]
        rows[0][3], rows[0][4] = 0.0, math.log(0.8)
        rows[1] = [math.log(0.5 / 6)] * K
        rows[1][5] = math.log(0.5)
        _set_alpha(m, rows)
        qhat = m.dst(False).qhat
        assert (qhat[0, 3].item(), qhat[0, 4].item(), qhat[1, 5].item()) == pytest.approx(expect, rel=1e-6)
        nodes = m.derived_cells()[0]
        assert sorted(nodes[0]) == sorted([(m.primitives[3], 0), (m.primitives[4], 0), (m.primitives[5], 1)])


def test_masked_none_stays_in_the_softmax_but_never_in_the_cell():
    task, _ = _task("entrannas", derive="dst", dst_none_mode="mask")
    m = task.model
    assert "none" in m.primitives
    K, none = len(m.primitives), m.primitives.index("none")
    rows = [[0.0] * K for _ in range(5)]
    for r in rows:
        r[none] = 5.0  # 'none' is the strongest op everywhere
    rows[0][3] = 1.0
    _set_alpha(m, rows)
    w = m.dst(False)
    assert w.p[0].sum().item() == pytest.approx(1.0) and w.p[0, none] > 0.9  # 'none' takes its softmax share
    assert (w.q[:, none] == 0).all()
    assert all(op != "none" for node in m.derived_cells()[0] for op, _ in node)
    # the max m_j is taken without 'none': sep_conv_3x3 on edge 0 is the node's strongest pair
    assert (m.primitives[3], 0) in m.derived_cells()[0][0]
