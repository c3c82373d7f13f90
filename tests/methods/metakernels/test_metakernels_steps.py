"""Meta Kernels against a plain reference and through the real ``training_step``.

The reference block is written here from the method's equations (a meta kernel
M(p) = sum_k p_k pad(W_k), one depthwise convolution with it, the nested-width staircase
s_c = sum_{j: c < e_j C_in} q_j scaling the projection's input, y gated by 1 - q_skip, then
the residual), with plain ``torch.nn.functional`` calls on the block's own weights.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from nasbook.data import make_loader
from nasbook.data.datasets import DatasetInfo
from nasbook.engine import EngineConfig, Trainer
from nasbook.methods.metakernels import MetaKernelMBConv, MetaKernelsSearch, inherit_block
from nasbook.search import make_config
from nasbook.spaces.mbconv import BACKBONES, Choice

F64 = torch.float64
ACT = {"swish": F.silu, "relu6": F.relu6, "relu": F.relu}


def _bn(h, bn):
    return F.batch_norm(h, None, None, bn.weight, bn.bias, True, 0.0, bn.eps)  # train mode: batch statistics


def reference_block(blk: MetaKernelMBConv, x, p, q_tilde, act="swish"):
    """MBConv with a meta kernel and nested widths, from the equations (no SE)."""
    a = ACT[act]
    c_in, K = blk.spec.c_in, max(blk.kernels)
    if blk.skippable:
        g, q = 1 - q_tilde[0], q_tilde[1:] / (1 - q_tilde[0])
    else:
        g, q = None, q_tilde
    hidden = max(blk.expansions) * c_in
    s = torch.stack([sum(q[j] for j, e in enumerate(blk.expansions) if c < e * c_in) for c in range(hidden)])
    h = a(_bn(F.conv2d(x, blk.expand.conv.weight), blk.expand.bn))
    meta = sum(p[i] * F.pad(w, [(K - k) // 2] * 4) for i, (k, w) in enumerate(zip(blk.kernels, blk.depthwise.conv.candidates)))
    h = a(_bn(F.conv2d(h, meta, stride=blk.spec.stride, padding=K // 2, groups=hidden), blk.depthwise.bn))
    y = _bn(F.conv2d(h * s.view(1, -1, 1, 1), blk.project.conv.weight), blk.project.bn)
    if g is not None:
        y = g * y
    return x + y if blk.spec.stride == 1 and blk.spec.c_in == blk.spec.c_out else y


def _block(skippable):
    bb = BACKBONES["mk-tiny"]
    spec = [s for s in bb.layers() if s.searchable and s.skippable == skippable][0]
    torch.manual_seed(0)
    blk = MetaKernelMBConv(spec, bb.kernels, bb.expansions, "swish", 0).double()
    with torch.no_grad():
        for m in blk.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5), m.bias.normal_()
    return blk, spec


@pytest.mark.parametrize("skippable", [True, False])
def test_meta_kernel_block_equals_the_reference_for_soft_choices(skippable):
    blk, spec = _block(skippable)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, spec.c_in, spec.size_in, spec.size_in, dtype=F64, generator=g)
    n_q = len(blk.expansions) + skippable
    for _ in range(3):
        p = torch.softmax(torch.randn(len(blk.kernels), dtype=F64, generator=g), 0)
        q = torch.softmax(torch.randn(n_q, dtype=F64, generator=g), 0)
        torch.testing.assert_close(blk(x, p, q), reference_block(blk, x, p, q), rtol=0, atol=1e-10)


def test_derived_block_equals_the_reference_at_its_one_hot_choice():
    """The standalone block of a derived (k, e) equals the reference with one-hot p and q."""
    blk, spec = _block(True)
    x = torch.randn(3, spec.c_in, spec.size_in, spec.size_in, dtype=F64)
    for k, e in [(5, 3), (7, 6), (3, 1)]:
        p = F.one_hot(torch.tensor(blk.kernels.index(k)), len(blk.kernels)).to(F64)
        q = F.one_hot(torch.tensor(blk.expansions.index(e) + 1), len(blk.expansions) + 1).to(F64)
        derived = inherit_block(blk, Choice(k, e)).train()
        torch.testing.assert_close(derived(x), reference_block(blk, x, p, q), rtol=0, atol=1e-10)


# -- the search step -------------------------------------------------------------------------------
def _task(**over):
    base = {"backbone": "mk-tiny", "batch_size": 4, "warmup_epochs": 0, "grad_clip": None}
    base.update(over)
    cfg = make_config("metakernels", "tiny", base)
    torch.manual_seed(0)
    task = MetaKernelsSearch(cfg, DatasetInfo("toy", 3, 1, 16))
    task.model.double()
    ds = TensorDataset(torch.randn(8, 1, 16, 16), torch.zeros(8, dtype=torch.long))
    tr = Trainer(task, {s: make_loader(ds, 4, 0) for s in task.streams}, EngineConfig(progress=False, grad_clip=None))
    return task, tr, cfg


def _batches(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"train": (torch.randn(4, 1, 16, 16, dtype=F64, generator=g), torch.tensor([0, 1, 2, 0])),
            "arch": (torch.randn(4, 1, 16, 16, dtype=F64, generator=g), torch.tensor([2, 2, 1, 0]))}


def test_weight_step_on_the_weight_batch_then_architecture_step_on_ce_plus_the_target_cost():
    task, tr, cfg = _task(cost_lambda=0.7, target_mflops=0.5)
    m = task.model
    b = _batches()
    seen = {}
    for name in ("weights", "arch"):
        opt = task._opts[name]
        orig = opt.step

        def step(*a, _orig=orig, _name=name, _opt=opt, **k):
            params = [p for grp in _opt.param_groups for p in grp["params"]]
            seen[_name] = [None if p.grad is None else p.grad.clone() for p in params]
            if _name == "weights":  # the architecture step's reference, at the weights after this step
                out = _orig(*a, **k)
                xa, ya = b["arch"]
                arch = m.arch_parameters()
                with torch.random.fork_rng():  # the same dropout masks as the step's own forward
                    ce = F.cross_entropy(m(xa), ya)
                e = m.expected_macs(m.last_probs)
                cost = 0.7 * (e / 0.5e6 - 1).abs()  # lambda |E[MACs] / T - 1|
                seen["ref_arch"] = torch.autograd.grad(ce + cost, arch, retain_graph=True)
                seen["ref_cost"] = torch.autograd.grad(cost, arch, allow_unused=True, materialize_grads=True)
                m.zero_grad(set_to_none=True)
                return out
            return _orig(*a, **k)
        opt.step = step
    xw, yw = b["train"]
    with torch.random.fork_rng():
        ref_w = torch.autograd.grad(F.cross_entropy(m(xw), yw), [p for grp in task._opts["weights"].param_groups
                                                                  for p in grp["params"]], allow_unused=True)
    m.zero_grad(set_to_none=True)
    task.training_step(b, tr.ctx)
    for g, r in zip(seen["weights"], ref_w):
        assert (g is None and r is None) or torch.allclose(g, r, rtol=1e-9, atol=1e-12)
    for g, r in zip(seen["arch"], seen["ref_arch"]):
        # the step takes the cross-entropy of float32 logits (AMP-safe): float32 precision here
        assert torch.allclose(g, r, rtol=1e-5, atol=1e-9)
    assert any(c.abs().max() > 0 for c in seen["ref_cost"])  # the cost term is really in the loss


@pytest.mark.parametrize("side", ["below", "above"])
def test_the_cost_term_pulls_expected_macs_toward_the_target_from_both_sides(side):
    """With the cost weight large, one architecture step moves E[MACs] toward T: up when the
    network is below the target, down when it is above (|E/T - 1| is two-sided)."""
    moved = {}
    for lam in (0.0, 50.0):
        task, tr, cfg = _task()
        e0 = task.model.expected_macs().item()
        task.cfg.target_mflops = (3.0 if side == "below" else 0.3) * e0 / 1e6
        task.cfg.cost_lambda = lam
        task.training_step(_batches(), tr.ctx)
        moved[lam] = task.model.expected_macs().item() - e0
    if side == "below":
        assert moved[50.0] > moved[0.0] and moved[50.0] > 0
    else:
        assert moved[50.0] < moved[0.0] and moved[50.0] < 0


def test_no_architecture_step_in_the_warm_up_epochs():
    task, tr, _ = _task(warmup_epochs=1)
    before = [a.detach().clone() for a in task.model.arch_parameters()]
    task.training_step(_batches(), tr.ctx)
    assert all(torch.equal(a, b) for a, b in zip(task.model.arch_parameters(), before))
    tr.epoch = 1
    task.training_step(_batches(), tr.ctx)
    assert any(not torch.equal(a, b) for a, b in zip(task.model.arch_parameters(), before))


def test_weight_lr_is_scaled_by_the_global_batch_and_warmed_up():
    task, tr, cfg = _task(batch_size=64, lr_per_256=0.2, lr_warmup_epochs=2, epochs=10, lr_min=0.0)
    base = 0.2 * 64 / 256
    spe = 5
    assert task.learning_rate(0, spe) == pytest.approx(base * 1 / 10)
    assert task.learning_rate(9, spe) == pytest.approx(base)          # the last warm-up step reaches the base
    assert task.learning_rate(10, spe) == pytest.approx(base)         # cosine starts at the base lr
    assert task.learning_rate(30, spe) == pytest.approx(base * 0.5)   # half-way through the cosine
    assert task.learning_rate(10, spe, world=4) == pytest.approx(4 * base)  # 4 ranks: 4x the global batch
