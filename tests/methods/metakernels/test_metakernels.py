"""Meta Kernels: the CPU checks of docs/methods/metakernels.md (float64 where exactness is claimed)."""
import json

import pytest
import torch
import torch.nn.functional as F

from nasbook.config import preset_values
from nasbook.measure import count_macs, saved_tensor_bytes
from nasbook.methods.metakernels import (ChainSupernet, MetaKernelConv, MetaKernelMBConv,
                                         architecture_loss, centre_masks, derive_arch, inherit_block,
                                         inherited_network, meta_kernel, ring_weights)
from nasbook.ops.mbconv import ConvBNAct
from nasbook.search import make_config, search
from nasbook.spaces import load_arch
from nasbook.spaces.mbconv import BACKBONES, SKIP, Choice, MBConvArch, arch_macs, build_network, sample_arch

KS = (3, 5, 7)
F64 = torch.float64


def _one_hot(n, i, dtype=F64):
    return F.one_hot(torch.tensor(i), n).to(dtype)


# -- Sec. 10 checks 1-3: the meta kernel itself --------------------------------------------

@pytest.mark.parametrize("groups", ["depthwise", "dense"])
@pytest.mark.parametrize("size", [15, 16])
@pytest.mark.parametrize("stride", [1, 2])
def test_additivity(stride, size, groups):
    C = 4
    g = C if groups == "depthwise" else 1
    x = torch.randn(2, C, size, size, dtype=F64)
    ws = [torch.randn(C, C // g, k, k, dtype=F64) for k in KS]
    cand = [F.conv2d(x, w, None, stride, k // 2, 1, g) for w, k in zip(ws, KS)]
    for i in range(len(KS)):  # one-hot meta kernel = the candidate
        out = F.conv2d(x, meta_kernel(ws, _one_hot(3, i)), None, stride, 3, 1, g)
        torch.testing.assert_close(out, cand[i], rtol=0, atol=1e-12)
    p = torch.softmax(torch.randn(3, dtype=F64), 0)  # weighted kernel = weighted sum of outputs (★)
    meta = F.conv2d(x, meta_kernel(ws, p), None, stride, 3, 1, g)
    torch.testing.assert_close(meta, sum(pi * c for pi, c in zip(p, cand)), rtol=0, atol=1e-12)
    # ... but not once BN + activation follow each candidate (Sec. 1.2)
    bn_act = lambda t: F.relu6(F.batch_norm(t, None, None, training=True))  # noqa: E731
    gap = (bn_act(meta) - sum(pi * bn_act(c) for pi, c in zip(p, cand))).abs().max()
    assert gap > 1e-3


def test_meta_kernel_conv_module_and_shared_rings():
    x = torch.randn(2, 4, 11, 11, dtype=F64)
    p = torch.softmax(torch.randn(3, dtype=F64), 0)
    ind = MetaKernelConv(4, 4, KS, stride=2, groups=4).double()
    ref = sum(pi * F.conv2d(x, ind.weight_of(k), None, 2, k // 2, 1, 4) for pi, k in zip(p, KS))
    torch.testing.assert_close(ind(x, p), ref, rtol=0, atol=1e-12)
    # shared: one 7x7 kernel, candidates are its centre crops; M = W ⊙ R(p)
    sh = MetaKernelConv(4, 4, KS, groups=4, kernel_weights="shared").double()
    r = ring_weights(p, centre_masks(KS, dtype=F64))
    torch.testing.assert_close(r[3, 3], torch.tensor(1.0, dtype=F64))        # centre 3x3: 1
    torch.testing.assert_close(r[1, 1], 1 - p[0])                            # 5x5 ring: p5 + p7
    torch.testing.assert_close(r[0, 0], p[2])                                # 7x7 ring: p7
    torch.testing.assert_close(sh.compose(p), sh.weight * r, rtol=0, atol=1e-14)
    crop = lambda k: sh.weight[..., (7 - k) // 2:(7 + k) // 2, (7 - k) // 2:(7 + k) // 2]  # noqa: E731
    ref = sum(pi * F.conv2d(x, crop(k), None, 1, k // 2, 1, 4) for pi, k in zip(p, KS))
    torch.testing.assert_close(sh(x, p), ref, rtol=0, atol=1e-12)


def test_gradcheck_meta_kernel_conv():
    x = torch.randn(1, 2, 7, 7, dtype=F64)
    ws = [torch.randn(2, 1, k, k, dtype=F64, requires_grad=True) for k in KS]
    alpha = torch.randn(3, dtype=F64, requires_grad=True)

    def f(a, w3, w5, w7):
        return F.conv2d(x, meta_kernel([w3, w5, w7], torch.softmax(a, 0)), None, 1, 3, 1, 2)

    assert torch.autograd.gradcheck(f, (alpha, *ws))


# -- checks 4-6: the searchable block --------------------------------------------------------

def _block(skippable: bool, kernel_weights="independent", se=True, per_unit=False):
    bb = BACKBONES["mk-tiny"]
    spec = [s for s in bb.layers() if s.searchable and s.skippable == skippable][0]
    blk = MetaKernelMBConv(spec, bb.kernels, bb.expansions, "swish", bb.se_channels(spec.c_in) if se else 0,
                           kernel_weights, per_unit).double()
    with torch.no_grad():  # non-trivial BN affine and statistics
        for m in blk.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5), m.bias.normal_(), m.running_mean.normal_(), m.running_var.uniform_(0.5, 2)
    return blk, spec


@pytest.mark.parametrize("kernel_weights", ["independent", "shared"])
@pytest.mark.parametrize("skippable", [True, False])
def test_one_hot_block_equals_derived_block(skippable, kernel_weights):
    blk, spec = _block(skippable, kernel_weights)
    x = torch.randn(4, spec.c_in, spec.size_in, spec.size_in, dtype=F64)
    for k, e in [(3, 1), (7, 6), (5, 4)]:
        p = _one_hot(3, KS.index(k))
        q = _one_hot(6 + skippable, e - 1 + skippable)
        derived = inherit_block(blk, Choice(k, e))
        assert derived.hidden == e * spec.c_in and derived.kernel == k
        blk.train(), derived.train()
        torch.testing.assert_close(blk(x, p, q), derived(x), rtol=0, atol=1e-10)
        blk.eval(), derived.eval()  # both BNs saw the same batch statistics on the kept channels
        torch.testing.assert_close(blk(x, p, q), derived(x), rtol=0, atol=1e-10)
    if skippable:  # a one-hot skip is exactly the identity, no NaN from the 0/0 renormalisation
        blk.train()
        beta = torch.tensor([60.0] + [0.0] * 6, dtype=F64, requires_grad=True)
        out = blk(x, torch.softmax(torch.zeros(3, dtype=F64), 0), torch.softmax(beta, 0))
        assert torch.equal(out, x)
        out.sum().backward()
        assert torch.isfinite(beta.grad).all()


def test_width_placements_agree():
    blk, spec = _block(True)
    x = torch.randn(3, spec.c_in, spec.size_in, spec.size_in, dtype=F64)
    p, q = torch.softmax(torch.randn(3, dtype=F64), 0), torch.softmax(torch.randn(7, dtype=F64), 0)
    a = blk(x, p, q)
    blk.width_placement = "activation"
    torch.testing.assert_close(a, blk(x, p, q), rtol=0, atol=1e-12)


def test_bn_trap_is_avoided():
    torch.manual_seed(0)
    net = ChainSupernet(BACKBONES["mk-tiny"], 10, 3, 16)
    F.cross_entropy(net(torch.randn(8, 3, 16, 16)), torch.randint(0, 10, (8,))).backward()
    for a in net.arch_parameters():
        assert torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
    # demonstration: the same width scale put before the (train-mode) expansion BN
    blk, spec = _block(False, se=False)
    blk.train()
    x = torch.randn(8, spec.c_in, spec.size_in, spec.size_in, dtype=F64)
    target = torch.randn(8, spec.c_out, spec.size_out, spec.size_out, dtype=F64)
    p = torch.softmax(torch.zeros(3, dtype=F64), 0)

    def grad_norm(before_bn: bool):
        beta = torch.zeros(6, dtype=F64, requires_grad=True)
        q = torch.softmax(beta, 0)
        if before_bn:
            s = blk.staircase(q)
            h = blk.expand.act(blk.expand.bn(blk.expand.conv(x) * s.view(1, -1, 1, 1)))
            y = blk.project(blk.depthwise(h, p))
        else:
            y = blk(x, p, q)
        ((y * target).sum()).backward()
        return beta.grad.norm()

    assert grad_norm(before_bn=False) > 100 * grad_norm(before_bn=True)


# -- check 8: the FLOPs term ---------------------------------------------------------------

def test_expected_macs_exact_at_one_hot_and_linear():
    bb = BACKBONES["mk-b0"]
    net = ChainSupernet(bb, 1000, 3, 224)
    g = torch.Generator().manual_seed(5)
    for _ in range(3):
        arch = sample_arch(bb, g)
        probs = []
        for s, c in zip(net.specs, arch.layers):
            if s.fixed is None:
                q = 0 if c.is_skip else bb.expansions.index(c.expand) + s.skippable
                p = _one_hot(3, bb.kernels.index(c.kernel) if not c.is_skip else 0)
                probs.append((p, _one_hot(6 + s.skippable, q)))
        exact = count_macs(build_network(arch), (3, 224, 224))   # ImageNet sizes by default
        assert float(net.expected_macs(probs)) == exact == arch_macs(arch)
    # linear in q̃ for fixed p (a mixture of two width choices costs the mixture of their costs)
    probs_a = [(torch.softmax(torch.randn(3, dtype=F64), 0), _one_hot(len(b), 0)) for b in net.betas]
    probs_b = [(p, _one_hot(len(q), len(q) - 1)) for p, q in probs_a]
    mix = [(p, 0.3 * qa + 0.7 * qb) for (p, qa), (_, qb) in zip(probs_a, probs_b)]
    torch.testing.assert_close(net.expected_macs(mix),
                               0.3 * net.expected_macs(probs_a) + 0.7 * net.expected_macs(probs_b))


def test_per_unit_kernels_cost_matches_block_level_when_units_agree():
    bb = BACKBONES["mk-tiny"]
    per_unit, block = ChainSupernet(bb, 10, 3, 32, kernel_groups="per_unit"), ChainSupernet(bb, 10, 3, 32)
    probs = [(torch.softmax(torch.randn(3, dtype=F64), 0), torch.softmax(torch.randn(len(b), dtype=F64), 0))
             for b in block.betas]
    probs_u = [(p.expand(6, 3), q) for p, q in probs]
    torch.testing.assert_close(per_unit.expected_macs(probs_u), block.expected_macs(probs))
    assert per_unit(torch.randn(2, 3, 32, 32)).shape == (2, 10)


# -- checks 10-11: shapes and memory ---------------------------------------------------------

def test_shapes():
    with torch.no_grad():
        assert ChainSupernet(BACKBONES["mk-b0"])(torch.randn(2, 3, 224, 224)).shape == (2, 1000)
    net = ChainSupernet(BACKBONES["mk-tiny"], 10, 3, 32)
    out = net(torch.randn(16, 3, 32, 32))
    assert out.shape == (16, 10)
    out.sum().backward()
    ws = ChainSupernet(BACKBONES["mk-tiny"], 10, 3, 16, block="weighted_sum")
    assert ws(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_memory_scaling_of_one_edge():
    B, C, S = 8, 32, 28
    x = torch.randn(B, C, S, S)

    def meta_edge(kernels):
        conv, bn = MetaKernelConv(C, C, kernels, groups=C), torch.nn.BatchNorm2d(C)
        p = torch.softmax(torch.zeros(len(kernels), requires_grad=True), 0)
        return saved_tensor_bytes(lambda: F.relu6(bn(conv(x, p))).sum())

    def multi_path_edge(kernels):
        ops = [ConvBNAct(C, C, k, groups=C, act="relu6") for k in kernels]
        p = torch.softmax(torch.zeros(len(kernels), requires_grad=True), 0)
        return saved_tensor_bytes(lambda: sum(pi * op(x) for pi, op in zip(p, ops)).sum())

    m2, m3 = meta_edge((3, 7)), meta_edge((3, 5, 7))
    w2, w3 = multi_path_edge((3, 7)), multi_path_edge((3, 5, 7))
    assert abs(m3 - m2) < 0.01 * m2
    assert w3 > 1.3 * w2
    assert w3 >= 2.5 * m3


# -- check 12: derivation ------------------------------------------------------------------

def test_derivation_rules_and_round_trip():
    torch.manual_seed(0)
    net = ChainSupernet(BACKBONES["mk-tiny"], 10, 3, 32)
    # all-zero logits: ties break to the cheapest option (skip where allowed, else k3 e1)
    arch = derive_arch(net)
    for s, c in zip(net.specs, arch.layers):
        if s.searchable:
            assert c == (SKIP if s.skippable else Choice(3, 1))
    with torch.no_grad():  # hand-set logits
        for i, (a, b) in enumerate(zip(net.alphas, net.betas)):
            a.zero_(), b.zero_()
            a[i % 3] = 1.0
            b[0] = 5.0                 # skip where skippable, else expansion 1
            b[-1] = 4.0                # runner-up: the largest expansion
    arch = derive_arch(net)
    it = 0
    for s, c in zip(net.specs, arch.layers):
        if s.searchable:
            assert c == (SKIP if s.skippable else Choice(KS[it % 3], 1))  # skip never derived where not allowed
            it += 1
    assert load_arch(json.loads(json.dumps(arch.to_dict()))) == arch
    # weights inherited by slicing: the derived network computes what the one-hot super-net computes
    net = net.double().eval()
    probs = []
    for s, c in zip(net.specs, arch.layers):
        if s.searchable:
            probs.append((_one_hot(3, KS.index(c.kernel) if not c.is_skip else 0),
                          _one_hot(6 + s.skippable, 0 if c.is_skip else c.expand - 1 + s.skippable)))
    x = torch.randn(2, 3, 32, 32, dtype=F64)
    torch.testing.assert_close(inherited_network(net, arch).eval()(x), net(x, probs), rtol=0, atol=1e-9)


def test_malformed_architecture_values_raise():
    with pytest.raises(ValueError, match="odd"):
        MBConvArch("mk-tiny", ["k3_e1", "k4_e6", "k3_e6", "k3_e6", "k3_e6", "k3_e6", "k3_e6", "k3_e6"])
    with pytest.raises(ValueError, match="8 layers"):
        MBConvArch("mk-tiny", ["k3_e1", "k3_e6"])
    with pytest.raises(ValueError, match="kernel_weights"):
        make_config("metakernels", "tiny", {"kernel_weights": "nested"})
    with pytest.raises(ValueError, match="kernel size 9 is not a candidate"):
        MBConvArch("mk-tiny", ["k3_e1", "k9_e6"] + ["k3_e6"] * 6)
    with pytest.raises(ValueError, match="odd"):
        make_config("metakernels", "tiny", {"kernels": [3, 4]})


# -- presets, search and resume --------------------------------------------------------------

def test_presets():
    paper = preset_values("metakernels", "paper")
    assert paper["target_mflops"] == 357.0 and paper["backbone"] == "mk-b0" and paper["dataset"] == "imagenet"
    cfg = make_config("metakernels", "paper", {"target_mflops": 300.0})  # the FLOPs target is a flag
    assert cfg.target_mflops == 300.0 and cfg.make_backbone().kernels == (3, 5, 7)
    retrain = preset_values("metakernels_retrain", "paper")
    assert retrain["epochs"] == 350 and retrain["optimizer"] == "rmsproptf"


def test_tiny_preset_mac_range_comment_is_the_real_range():
    """The tiny preset's comment on target_mflops names mk-tiny's smallest and largest MACs:
    recompute both over the whole space at the preset's input (digits: 1 channel, 10 classes,
    its resolution) and check the printed numbers, and that the target lies between them."""
    import re
    from pathlib import Path

    from nasbook.data import dataset_info
    from nasbook.methods import presets
    from nasbook.spaces.mbconv import fixed_macs, layer_macs

    cfg = make_config("metakernels", "tiny")
    info = dataset_info(cfg.dataset, cfg.resolution)
    bb = cfg.make_backbone()
    assert bb.name == "mk-tiny" and info.resolution == cfg.resolution == 32
    specs = bb.layers(info.resolution)
    # layers are independent (a skip keeps the widths), so the extremes are per-layer extremes
    per_layer = [[layer_macs(bb, s, c) for c in bb.choices(s)] for s in specs]
    fixed = fixed_macs(bb, info.num_classes, info.in_channels, info.resolution)
    lo, hi = fixed + sum(map(min, per_layer)), fixed + sum(map(max, per_layer))
    smallest = MBConvArch(bb, [min(bb.choices(s), key=lambda c: layer_macs(bb, s, c)) for s in specs])
    largest = MBConvArch(bb, [max(bb.choices(s), key=lambda c: layer_macs(bb, s, c)) for s in specs])
    for arch, want in ((smallest, lo), (largest, hi)):  # the independent torch counter agrees
        net = build_network(arch, info.num_classes, info.in_channels)
        assert count_macs(net, (info.in_channels, info.resolution, info.resolution)) == want
    text = (Path(presets.__file__).parent / "metakernels.yaml").read_text()
    m = re.search(r"smallest \(([\d.]+)M\) and largest \(([\d.]+)M\)", text)
    assert m, "the tiny preset's MAC range comment is missing"
    for printed, real in zip(m.groups(), (lo, hi)):
        decimals = len(printed.split(".")[1]) if "." in printed else 0
        assert printed == f"{real / 1e6:.{decimals}f}", (printed, real)
    assert lo / 1e6 < cfg.target_mflops < hi / 1e6


def _tiny(**kw):
    return {"resolution": 16, "batch_size": 8, "epochs": 2, "warmup_epochs": 1, "max_steps_per_epoch": 8,
            "train_portion": 0.97, "progress": False, "log_every": 1, **kw}


def test_search_smoke_and_cost_pressure(tmp_path):
    from nasbook.viz import draw_arch

    res = search("metakernels", "tiny", tmp_path / "run", _tiny(), draw=draw_arch)
    task = res.method
    assert all(torch.isfinite(p).all() for p in task.model.parameters())
    assert all(a.abs().sum() > 0 for a in task.model.arch_parameters())  # logits moved
    assert isinstance(load_arch(tmp_path / "run"), MBConvArch)
    assert (tmp_path / "run" / "cells.svg").exists()
    ep = [h for h in res.history if h.get("event") == "epoch"]
    assert len(ep) == 2 and "arch_mflops" in ep[-1]
    # a huge λ with a target below E[MACs]: one architecture step lowers E[MACs]
    model = task.model
    opt = task.optimizers()["arch"]
    e0 = model.expected_macs().item()
    x, y = torch.randn(8, 1, 16, 16), torch.randint(0, 10, (8,))
    ce = F.cross_entropy(model(x), y)
    architecture_loss(ce, model.expected_macs(model.last_probs), e0 / 2, "target", lam=1e3).backward()
    opt.step()
    assert model.expected_macs().item() < e0


def test_resume_with_cycled_arch_split_is_exact(tmp_path):
    # D_a = 3% of the digits = 44 images = 6 batches: it cycles inside each 8-step epoch
    full = search("metakernels", "tiny", tmp_path / "a", _tiny())
    assert full.trainer.global_step == 16  # the epoch follows D_w (8 steps), not the 6 batches of D_a
    search("metakernels", "tiny", tmp_path / "b", _tiny(stop_after_steps=15, checkpoint_every=1))
    part = search("metakernels", "tiny", tmp_path / "b", _tiny(), resume=True)
    for a, b in zip(full.method.model.state_dict().values(), part.method.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_gumbel_relaxation_and_temperature_schedule():
    cfg = make_config("metakernels", "paper-gumbel")
    assert cfg.relaxation == "gumbel" and cfg.temperature(0) == 5.0
    assert abs(cfg.temperature(10) - 5.0 * torch.exp(torch.tensor(-0.45)).item()) < 1e-6
    net = ChainSupernet(BACKBONES["mk-tiny"], 10, 3, 16, relaxation="gumbel")
    x = torch.randn(2, 3, 16, 16)
    net(x)
    first = [p.clone() for p, _ in net.last_probs]
    net(x)  # fresh noise every training forward
    assert any(not torch.equal(a, p) for a, (p, _) in zip(first, net.last_probs))
    net.eval()
    net(x)  # no noise in eval mode: the plain softmax
    torch.testing.assert_close(net.last_probs[0][0], torch.full((3,), 1 / 3))
