"""MGAS in the MobileNet-like space (ours, docs/methods/mgas.md): the full-scale super-net counted,
the skeleton checked against torchvision's MobileNetV2, the unit levels on inverted-residual
candidates, protection only where there is no identity path, compaction and derivation
preserving the function, and a real tiny search through the command line."""
import json

import pytest
import torch
import torchvision

from nasbook.methods.mgas.compaction import compact
from nasbook.methods.mgas.derive import copy_weights_to_network, derive_genotype
from nasbook.methods.mgas.gated_ops import GatedMBConv, Removed
from nasbook.methods.mgas.mobile import MobileSupernet, mobile_supernet_size
from nasbook.methods.mgas.reevaluation import regrow_op
from nasbook.methods.mgas.rounds import commit, remove_op
from nasbook.methods.mgas.search import MgasConfig
from nasbook.methods.mgas.size import model_size, nonzero_params, proxy
from nasbook.methods.mgas.units import PassState
from nasbook.spaces import load_arch
from nasbook.spaces.mgas_mobile import (CANDIDATES, MGASMobileArch, MGASMobileNet, MobileSkeleton, single_path_arch,
                                        size_report, supernet_arch)

TINY = MobileSkeleton(8, 8, (8, 12, 16, 16, 24, 32), (2, 2, 2, 2, 2, 1), (2, 2, 2, 1, 2, 1), 64)
# torchvision's MobileNetV2 (Sandler et al., Table 2) written as a skeleton of this space
MOBILENET_V2 = MobileSkeleton(32, 16, (24, 32, 64, 96, 160, 320), (2, 3, 4, 3, 3, 1), (2, 2, 2, 1, 2, 1), 1280)


pytestmark = pytest.mark.usefixtures("one_thread")


def test_skeleton_reproduces_torchvision_mobilenet_v2():
    """One ir_k3_e6 per layer on MobileNetV2's skeleton is MobileNetV2: same parameter count
    as torchvision's model, and the same output for the same weights."""
    ours = MGASMobileNet(single_path_arch("ir_k3_e6", MOBILENET_V2), 1000).eval()
    ref = torchvision.models.mobilenet_v2(weights=None).eval()
    n = sum(p.numel() for p in ref.parameters())
    assert sum(p.numel() for p in ours.parameters()) == n == 3_504_872
    assert size_report(single_path_arch("ir_k3_e6", MOBILENET_V2))["dense_params"] == n
    src = [t for k, t in ref.state_dict().items() if not k.endswith("num_batches_tracked")]
    dst = [k for k in ours.state_dict() if not k.endswith(("num_batches_tracked", "weight_mask"))]
    assert len(src) == len(dst)
    ours.load_state_dict(dict(zip(dst, src)), strict=False)
    x = torch.randn(2, 3, 64, 64)
    assert torch.allclose(ours(x), ref(x), atol=1e-5)
    from nasbook.measure import count_macs

    assert count_macs(ours, (3, 224, 224)) == count_macs(ref, (3, 224, 224))   # ~300M, MobileNetV2's 0.3 GFLOPs


def test_full_scale_supernet_construction():
    sk = MobileSkeleton()                      # the imagenet_mobilenet_like_nasbook preset
    m = MobileSupernet(sk, 1000)
    assert m.layers == 21 and m.ends == (7, 15, 20)
    assert sum(len(c.active()) for c in m.cells) == 21 * 6
    assert [c.residual for c in m.cells].count(False) == 6         # the first layer of each group
    convs = sum(w.weight.numel() for c in m.cells for op in c.ops[0] for w in op.convs())
    assert proxy(m) == convs == mobile_supernet_size(sk, "official_proxy")
    heads = sum(p.numel() for h in (m.head1, m.head2) for p in h.parameters())
    unit_params = sum(p.numel() for n, p in m.named_parameters() if n.rsplit(".", 1)[-1] in
                      ("op_logits", "tau_op", "tau_filter", "tau_weight", "tau_pre", "logits"))
    dense = sum(p.numel() for p in m.parameters()) - heads - unit_params
    assert nonzero_params(m) == dense == mobile_supernet_size(sk, "nonzero_params")
    assert size_report(supernet_arch(sk))["dense_params"] == dense
    # the provisional preset's target: the proxy of the all-ir_k3_e6 path in this skeleton
    cfg = MgasConfig(space="mobilenet_like", dataset="imagenet", target_params=2943840)
    assert size_report(single_path_arch("ir_k3_e6", sk))["proxy"] == cfg.resolved_target()


def test_bad_targets_for_the_mobile_space():
    with pytest.raises(ValueError, match="no MGAS model was released in the MobileNet-like space"):
        MgasConfig(space="mobilenet_like", dataset="imagenet", target_params="released")
    with pytest.raises(ValueError, match="larger than the super-net"):
        MgasConfig(space="mobilenet_like", dataset="imagenet", target_params=2e7)
    with pytest.raises(ValueError, match="6 groups"):
        MgasConfig(space="mobilenet_like", mobile_counts=(4, 4))
    with pytest.raises(ValueError, match="space must be one of"):
        MgasConfig(space="resnet")


def _supernet(seed=0):
    torch.manual_seed(seed)
    m = MobileSupernet(TINY, 10, 1)
    for mod in m.modules():   # non-trivial BN statistics, so a wrong channel slice shows
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    return m.eval()


def test_protection_only_where_there_is_no_identity_path():
    m = _supernet()
    with torch.no_grad():
        for c in m.cells:
            c.tau_op.fill_(0.9)            # every sigmoid(a) = 0.5 is below its threshold
    m.run(torch.randn(2, 1, 32, 32), state=PassState(record=True))
    candidates = commit(m, range(m.layers))
    for i, c in enumerate(m.cells):
        off = [o for (j, _, o) in candidates if j == i]
        # a layer with an identity path may lose all six (depth search); the first layer of a
        # group keeps its last op, the one whose p equals the node's remaining live mass
        assert off == (list(range(6)) if c.residual else list(range(5))), i


def _prune_some(m):
    """Remove ops (all six of layer 1, which has an identity path), and commit hidden and
    weight masks by hand."""
    g = torch.Generator().manual_seed(1)
    for o in range(6):
        remove_op(m, 1, 0, o)
    remove_op(m, 0, 0, 2)
    remove_op(m, 3, 0, 5)
    for c in m.cells:
        for _, o in c.active():
            op = c.ops[0][o]
            gate = op.gates[0]
            keep = torch.rand(gate.channels, generator=g) < 0.5
            keep[:2] = True
            gate.mask = keep
            for conv in op.convs():
                conv.weight_mask = conv.weight_mask & (torch.rand(conv.weight.shape, generator=g) < 0.8)


def test_compaction_and_derivation_preserve_the_function(tmp_path):
    m = _supernet()
    _prune_some(m)
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        before = m(x, state=PassState(mode="discrete"))
        size = model_size(m, "nonzero_params")
        compact(m, m.layers - 1, harmonise=False)
        after = m(x, state=PassState(mode="discrete"))
    assert torch.allclose(before, after, atol=1e-5)
    assert model_size(m, "nonzero_params") == size          # removed channels were already zero
    arch = derive_genotype(m)
    assert isinstance(arch, MGASMobileArch) and arch.layers[1] == () and arch.depth() == TINY.n_layers - 1
    assert [n for n, _ in arch.layers[0]] == [n for i, n in enumerate(CANDIDATES) if i != 2]
    # JSON round trip, then the standalone network computes the super-net's discrete forward
    p = tmp_path / "arch.json"
    p.write_text(arch.to_json())
    again = load_arch(p)
    assert again == arch and again.weight_masks == arch.weight_masks
    net = MGASMobileNet(again, 10, 1).eval()
    copy_weights_to_network(m, net)
    with torch.no_grad():
        assert torch.allclose(net(x), after, atol=1e-5)
    rep = size_report(arch, 10, 1)
    assert rep["dense_params"] == sum(p.numel() for p in net.parameters())
    assert rep["nonzero_params"] == rep["dense_params"] - arch.weight_masks.zeros() == size
    assert rep["proxy"] == proxy(m)


def test_harmonised_compaction_keeps_an_even_hidden_width_and_readds_by_score():
    m = _supernet()
    op = m.cells[0].ops[0][0]
    with torch.no_grad():
        op.gates[0].logits.copy_(0.1 * torch.arange(op.gates[0].channels, dtype=torch.float))
    op.gates[0].mask = torch.zeros(op.gates[0].channels, dtype=torch.bool)
    op.gates[0].mask[[0, 3, 5]] = True                      # 3 survive: rounded up to 4
    compact(m, 0)
    assert op.hidden == 4 and op.block.depthwise.conv.groups == 4 and op.block.project.conv.in_channels == 4
    # the re-added filter is the pruned one with the largest sigmoid(b): the last channel, 23
    assert op.gates[0].logits.detach().tolist() == pytest.approx([0.0, 0.3, 0.5, 2.3]) and bool(op.gates[0].mask.all())


def test_regrowth_brings_back_a_fresh_full_width_candidate():
    m = _supernet()
    layer = m.cells[4]
    with torch.no_grad():
        layer.op_logits[0, 3] = 0.7
    remove_op(m, 4, 0, 3)
    assert isinstance(layer.ops[0][3], Removed) and layer.op_logits[0, 3] < -1000
    regrow_op(m, 4, 0, 3)
    op = layer.ops[0][3]
    assert isinstance(op, GatedMBConv) and op.hidden == 6 * layer.c_in and bool(layer.op_mask[0, 3])
    assert layer.op_logits[0, 3].item() == pytest.approx(0.7)


def test_stage_isolation_and_heads():
    m = _supernet().train()
    x = torch.randn(2, 1, 32, 32)
    out = m.run(x, stage=1)
    assert out.executed == m.ends[0] + 1 and out.logits.shape == (2, 10)
    out.logits.sum().backward()
    later = [p for c in m.cells[m.ends[0] + 1:] for p in c.parameters()]
    assert all(p.grad is None for p in later + list(m.last.parameters()) + list(m.classifier.parameters()))
    assert all(p.grad is not None for p in m.head1.parameters())


def test_tiny_search_on_the_command_line(tmp_path, capsys):
    """A real search (stages, regrowth, final phase) in the MobileNet-like space; the result
    builds, and ``nasbook info`` reports dense and non-zero parameters separately."""
    from nasbook.cli import main

    run = tmp_path / "run"
    assert main(["search", "mgas", "--preset", "tiny_mobilenet_like_nasbook", "--out", str(run), "--set", "progress=false",
                 "--set", "monitor_fraction=0.0", "--batch-size", "16"]) == 0
    arch = load_arch(run / "arch.json")
    assert isinstance(arch, MGASMobileArch) and arch.weight_masks is not None
    assert (run / "masks.npz").exists() and (run / "cells.svg").exists()    # the drawn network
    rounds = json.loads((run / "rounds.json").read_text())
    assert {r["phase"] for r in rounds["rounds"]} >= {"stage1", "final"}
    last = rounds["rounds"][-1]   # the target stop (Sec. 1.7), checked after removal and after compaction
    target = json.loads((run / "summary.json").read_text())["target"]
    assert last["phase"] == "final" and last["finished"]
    assert min(last["size_after_removal"], last["size_after_compaction"]) < target
    capsys.readouterr()
    assert main(["info", str(run / "arch.json"), "--dataset", "digits", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)["sizes"]
    assert s["nonzero_params"] == s["dense_params"] - s["masked_weights"] and s["masked_weights"] > 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["space"] == "mobilenet_like" and summary["sizes"]["dense_params"] == s["dense_params"]


@pytest.mark.parametrize("preset", ["imagenet_mobilenet_like_nasbook", "imagenet_darts"])
def test_full_scale_imagenet_presets_run_on_an_imagenet_tree(tmp_path, preset):
    """Both provisional ImageNet presets at full scale (224 px, 1000 classes; the mobile one 21
    layers x 6 candidates, the DARTS one 14 cells at C = 48) take real steps through the engine
    on an ImageFolder tree; only the batch and the number of steps are cut."""
    from PIL import Image

    from nasbook.search import search

    for c in ("n01", "n02"):
        d = tmp_path / "imagenet" / "train" / c
        d.mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (250 + i, 240), (i * 40, 100, 200)).save(d / f"{i}.png")
    res = search("mgas", preset, tmp_path / "run",
                 {"data": str(tmp_path / "imagenet"), "batch_size": 2, "stop_after_steps": 2, "progress": False,
                  "workers": 0, "search_fraction": 1.0, "checkpoint_every": 1})
    task = res.method
    assert task.cfg.resolution in (None, 224) and task.model.classifier.out_features == 1000
    assert task.phase.name == "stage1" and not task.ps.done
    from nasbook.engine.checkpoint import load

    st = load(tmp_path / "run" / "phases" / "0-stage1" / "checkpoint.pt")
    assert st["position"]["global_step"] == 2
    if preset == "imagenet_darts":
        assert task.model.layers == 14 and task.model.C == 48 and task.model.stem_kind == "imagenet"
    else:
        weights = [k for k in st["model"] if k.endswith("expand.conv.weight")]
        assert task.model.layers == 21 and len(weights) == 21 * 6
        assert st["model"]["cells.0.ops.0.0.block.expand.conv.weight"].shape == (48, 16, 1, 1)


FAST = {"progress": False, "monitor_fraction": 0.0, "batch_size": 16, "max_steps_per_epoch": 2}


def test_mobile_search_resumes_to_the_same_end(tmp_path):
    """Killed mid-phase (after removals and compactions changed the structure) and resumed from
    its checkpoint, the search ends with the same architecture and weights as an uninterrupted one."""
    from nasbook.search import search

    full = search("mgas", "tiny_mobilenet_like_nasbook", tmp_path / "a", FAST)
    assert full.method.events and any(r["removed"] for r in full.method.rounds)
    part = search("mgas", "tiny_mobilenet_like_nasbook", tmp_path / "b", {**FAST, "stop_after_steps": 19})
    assert not part.method.ps.done and part.method.ps.index == 1      # stopped in stage 2 (the limit counts per phase)
    res = search("mgas", "tiny_mobilenet_like_nasbook", tmp_path / "b", {"stop_after_steps": None}, resume=True)
    assert res.arch == full.arch and res.arch.weight_masks == full.arch.weight_masks
    a, b = full.method.model.state_dict(), res.method.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_size_aware_term_mu_on_mobile_candidates():
    """With mu > 0, R_op weights each candidate by its soft size P~ (Sec. 1.5, our analogue for
    an inverted-residual block); the term is differentiable in the filter logits."""
    from nasbook.methods.mgas.loss import soft_sizes

    m = _supernet().train()
    m.loss_options = dict(mu=1.0, official_nj_bug=False, levels=("op", "filter", "weight"))
    x = torch.randn(2, 1, 32, 32)
    _, r_mu, _ = m(x, 0, PassState(keep_live=True), True)
    sizes = soft_sizes(m.cells[0], [0])
    op = m.cells[0].ops[0][1]                              # ir_k3_e6, all units live: P~ = weights x log 2
    full = sum(c.weight.numel() for c in op.convs())
    assert sizes[0, 1].item() == pytest.approx(1e-6 * full * torch.log(torch.tensor(2.0)).item(), rel=1e-5)
    r_mu.backward()
    assert m.cells[0].ops[0][1].gates[0].logits.grad.abs().sum() > 0
    m.zero_grad()
    m.loss_options["mu"] = 0.0
    _, r0, _ = m(x, 0, PassState(keep_live=True), True)
    assert r_mu.item() > r0.item() > 0


def test_space_size_agrees_with_the_architecture_value(capsys):
    """`nasbook space mgas_mobile`: per layer, the subsets of the six candidates that make a valid
    architecture value are counted by construction (a first layer needs one; a layer with an
    identity path may be empty), and the space size is their product."""
    from itertools import combinations

    from nasbook.cli import main
    from nasbook.spaces.mgas_mobile import space_summary

    base = [list(layer) for layer in single_path_arch("ir_k3_e3", TINY).layers]
    valid = []
    for i in (0, 1):                      # layer 0 has no identity path, layer 1 has one
        n = 0
        for k in range(7):
            for subset in combinations(CANDIDATES, k):
                layers = [list(layer) for layer in base]
                layers[i] = [(c, 8) for c in subset]
                try:
                    MGASMobileArch(layers, TINY)
                    n += 1
                except ValueError:
                    pass
        valid.append(n)
    assert valid == [63, 64]
    plan = TINY.plan()
    first = sum(1 for c_in, c_out, s, _ in plan if not (s == 1 and c_in == c_out))
    assert space_summary(TINY)["architectures"] == valid[0] ** first * valid[1] ** (len(plan) - first)
    assert main(["space", "mgas_mobile", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["supernet_proxy"] == mobile_supernet_size(MobileSkeleton(), "official_proxy")
    assert info["searchable_layers"] == 21 and info["layers_with_identity"] == 15
