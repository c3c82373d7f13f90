"""The shared MBConv chain space: block, layer tables, architecture values, reference nets."""
import json

import pytest
import torch
import torchvision

from nasbook import zoo
from nasbook.measure import count_macs, count_params
from nasbook.ops.mbconv import MBConv
from nasbook.spaces import arch_to_dict, load_arch
from nasbook.spaces.mbconv import (BACKBONES, SKIP, Choice, MBConvArch, arch_macs, build_network,
                                   count_architectures, sample_arch)


def _copy_by_order(src: torch.nn.Module, dst: torch.nn.Module):
    """Copy every tensor of ``src``'s state dict into ``dst``'s, position by position.
    Succeeds only if both hold the same tensors in the same order with the same shapes."""
    s, d = list(src.state_dict().values()), dst.state_dict()
    assert len(s) == len(d)
    for (name, t), v in zip(d.items(), s):
        assert t.shape == v.shape, name
        t.copy_(v)


@pytest.mark.parametrize("name, tv_builder, macs_m, params_m", [
    ("mobilenet_v2", torchvision.models.mobilenet_v2, 300.8, 3.50),
    ("efficientnet_b0", torchvision.models.efficientnet_b0, 385.8, 5.29),
])
def test_reference_networks_match_torchvision(name, tv_builder, macs_m, params_m):
    arch = zoo.get(name).arch
    ours, ref = build_network(arch), tv_builder()   # ImageNet sizes by default
    macs, params = count_macs(ours, (3, 224, 224)), count_params(ours)
    assert abs(macs / 1e6 - macs_m) <= 0.01 * macs_m, macs
    assert abs(params / 1e6 - params_m) <= 0.01 * params_m, params
    assert (macs, params) == (count_macs(ref, (3, 224, 224)), count_params(ref))
    assert macs == arch_macs(arch)  # the closed form agrees with the counter
    # same layers in the same order: torchvision's weights give torchvision's outputs
    _copy_by_order(ref, ours)
    ours.eval(), ref.eval()
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-5)


def test_closed_form_macs_equal_counter_on_random_archs():
    g = torch.Generator().manual_seed(1)
    for bb in ("mk-tiny", "mk-tiny", "proxyless"):
        arch = sample_arch(bb, g)
        res = BACKBONES[bb].resolution
        assert arch_macs(arch) == count_macs(build_network(arch), (3, res, res))
    arch = sample_arch("mk-tiny", g)
    assert arch_macs(arch, 10, 1, resolution=16) == count_macs(build_network(arch, 10, 1), (1, 16, 16))


def test_space_sizes():
    assert count_architectures("mk-b0") == 18 ** 6 * 19 ** 9          # docs/methods/metakernels.md
    assert count_architectures("mk-tiny") == 18 ** 4 * 19 ** 3        # Sec. 2.4
    assert count_architectures("proxyless") == 6 ** 6 * 7 ** 15       # docs/methods/fewshot_nl.md
    specs = BACKBONES["mk-b0"].layers()
    assert [s.skippable for s in specs].count(True) == 9
    assert [s.size_out for s in specs][-1] == 7


def test_json_round_trip_registry_and_table(tmp_path):
    g = torch.Generator().manual_seed(3)
    arch = sample_arch("mk-b0", g)
    d = arch_to_dict(arch)
    assert d["space"] == "mbconv"
    back = load_arch(json.loads(json.dumps(d)))  # (a long JSON *string* trips Path.is_dir: see report)
    assert back == arch and hash(back) == hash(arch)
    assert MBConvArch.from_json(arch.to_json()) == arch
    # a backbone may be named instead of spelled out
    assert MBConvArch.from_dict({"space": "mbconv", "backbone": "mk-b0", "layers": d["layers"]}) == arch
    assert zoo.resolve("efficientnet_b0") == zoo.get("efficientnet_b0").arch
    table = zoo.get("efficientnet_b0").arch.table()
    assert "k5_s22_e6_i24_o40_se0.25" in table and "(fixed)" in table
    from nasbook.viz import draw_arch

    paths = draw_arch(arch, tmp_path / "arch", formats=("svg",))
    assert paths[0].read_text().count("MB") == arch.depth


def test_skip_removes_blocks():
    bb = BACKBONES["mk-tiny"]
    layers = [SKIP if s.skippable else (Choice(*s.fixed) if s.fixed else Choice(3, 2)) for s in bb.layers()]
    arch = MBConvArch(bb, layers)
    net = build_network(arch, num_classes=10)
    assert len(net.blocks) == bb.num_layers - 3
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("layers, match", [
    (["k3_e1"] + ["k3_e6"] * 15, "has 17 layers"),                            # too few
    (["k3_e1"] + ["k3_e6"] * 17, "got 18"),                                  # too many
    (["k3_e1", "k4_e6"] + ["k3_e6"] * 15, "odd"),                            # even kernel
    (["k3_e1", "k9_e6"] + ["k3_e6"] * 15, "kernel size 9 is not a candidate"),
    (["k3_e1", "k3_e7"] + ["k3_e6"] * 15, "expansion 7"),
    (["k3_e1", "skip"] + ["k3_e6"] * 15, "cannot be skipped"),               # first block of a stage
    (["k5_e1"] + ["k3_e6"] * 16, "fixed"),
    (["k3_e1", "3x3"] + ["k3_e6"] * 15, "k<kernel>_e<expand>"),
    ("k3_e6", "list"),
])
def test_malformed_values_raise(layers, match):
    with pytest.raises(ValueError, match=match):
        MBConvArch("mk-mbv2", layers)


def test_malformed_json_raises():
    good = zoo.get("mobilenet_v2").arch.to_dict()
    with pytest.raises(ValueError, match="unknown backbone"):
        MBConvArch.from_dict({**good, "backbone": "mk-b9"})
    with pytest.raises(ValueError, match="missing"):
        MBConvArch.from_dict({"space": "mbconv", "layers": good["layers"]})
    bad = {**good["backbone"], "kernels": [3, 4]}
    with pytest.raises(ValueError, match="odd"):
        MBConvArch.from_dict({**good, "backbone": bad})
    with pytest.raises(ValueError, match="stage"):
        MBConvArch.from_dict({**good, "backbone": {**good["backbone"], "stages": [[16, 1]]}})


def test_mbconv_block_options():
    # MobileNetV2 rule: no expansion conv at t=1 unless asked; residual only when shapes allow
    assert MBConv(16, 16, 3, 1).expand is None and MBConv(16, 16, 3, 1, expand_conv=True).expand is not None
    assert MBConv(16, 16, 3, 6).use_residual and not MBConv(16, 24, 3, 6).use_residual
    assert not MBConv(16, 16, 3, 6, stride=2).use_residual
    # NSE's pool: dilated depthwise and grouped 1x1 convs keep the shapes
    b = MBConv(16, 32, 3, 6, stride=2, dilation=2, expand_groups=2, project_groups=2, se_channels=24,
               act="relu", expand_conv=True)
    assert b(torch.randn(2, 16, 15, 15)).shape == (2, 32, 8, 8)
    assert b.expand.conv.weight.shape == (96, 8, 1, 1) and b.project.conv.weight.shape == (32, 48, 1, 1)
    with pytest.raises(ValueError, match="odd"):
        MBConv(16, 16, 4, 6)
