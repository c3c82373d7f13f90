"""NSE fidelity checks added after review (docs/methods/nse.md): synchronised BN under DDP, the
width-multiplier helper, the identity path of equal-width stride-1 layers, one MACs
convention for `nasbook info` and the search, and the released layer lists op by op. (The
real training step's penalty is checked in test_nse_estimator.py, the K bound through the
real end of a round in test_nse_state.py.)"""
import pytest
import torch
from torch import nn

from nasbook import zoo
from nasbook.cli import arch_info
from nasbook.data import dataset_info
from nasbook.methods.nse import NSESearch
from nasbook.methods.nse import method as nse_method
from nasbook.methods.nse.cost import CostModel, arch_macs
from nasbook.methods.nse.width import fit_width_mult, width_grid
from nasbook.search import make_config
from nasbook.spaces.nse import NSEArch, NSENet
from nasbook.spaces.nse_plans import layer_specs, round8
from nasbook.spaces.nse_pools import get_pool

DIGITS = dataset_info("digits")


def _task(**over):
    return NSESearch(make_config("nse", "tiny", {"progress": False, **over}), DIGITS)


def _bn_types(model):
    return {type(m) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}


# -- 1. synchronised BN in the search under DDP -------------------------------------------------

def test_supernet_uses_sync_batchnorm_when_the_world_is_larger_than_one(monkeypatch):
    assert _bn_types(_task().model) == {nn.BatchNorm2d}  # one process: plain BN
    monkeypatch.setattr(nse_method.D, "world", lambda: (0, 2))  # a faked 2-process world
    task = _task()
    assert _bn_types(task.model) == {nn.SyncBatchNorm}
    assert not any(type(m) is nn.BatchNorm2d for m in task.model.modules())
    state = task.state.copy()
    state.round = 1
    task.start_round(state, None)  # every round's fresh super-net too
    assert _bn_types(task.model) == {nn.SyncBatchNorm}
    assert _bn_types(_task(sync_bn=False).model) == {nn.BatchNorm2d}  # the switch keeps per-GPU BN


# -- 2. the width multiplier of the derived net --------------------------------------------------

# 4 R layers of LB k3 t1 (MB-19 op 0) on 8x8 inputs, 1 channel, 10 classes, stem stride 1, head 16
TOY = NSEArch("MB-19", "NR", (0, 0, 0, 0, 0), ([0], [0], [0], [0]), widths=(8, 8, 8, 8, 8),
              stem_stride=1, head_width=16, se=False, act="relu")


def _toy_macs_by_hand(c):
    """MACs of TOY with stages 1-4 of width ``c`` (the stem stays 8): LB k3 t1 = 1x1 expand,
    3x3 depthwise (stride 2), 1x1 project; feature maps 8 -> 4 -> 2 -> 1 -> 1."""
    stem = 8 * 8 * 8 * 1 * 9
    r1 = 64 * 8 * 8 + 16 * 8 * 9 + 16 * 8 * c
    rest = sum(s * s * c * c + o * o * c * 9 + o * o * c * c for s, o in ((4, 2), (2, 1), (1, 1)))
    head = 1 * c * 16 + 16 + 16 * 10  # 1x1 conv, global pool (16 outputs), classifier
    return stem + r1 + rest + head


def test_width_multiplier_helper_with_hand_checked_numbers():
    assert width_grid(1.0, 1.02) == [1.0, 1.005, 1.01, 1.015, 1.02]
    # round8: 8w stays 8 while 8 >= 0.9 * 8w, i.e. w <= 1.111..; at 1.115 it becomes 16
    assert (round8(8 * 1.11), round8(8 * 1.115)) == (8, 16)
    m8, m16 = _toy_macs_by_hand(8), _toy_macs_by_hand(16)
    assert (m8, m16) == (13344, 20112)
    assert arch_macs(TOY, 8, 1, 10) == m8 and arch_macs(TOY.replace(width_mult=1.2), 8, 1, 10) == m16
    kw = dict(resolution=8, in_channels=1, num_classes=10)
    assert fit_width_mult(TOY, m8, **kw).width_mult == 1.11          # the last grid point before 16
    assert fit_width_mult(TOY, m16 - 1, **kw).width_mult == 1.11
    assert fit_width_mult(TOY, m16, **kw).width_mult == 2.0          # still 16 at the grid's top
    # 16 -> 24 once 16 < 0.9 * 8w, i.e. w > 2.222..: 2.22 is the last grid point with 16
    got = fit_width_mult(TOY, m16, high=2.5, **kw)
    assert got.width_mult == 2.22 and got.stage_widths() == (8, 16, 16, 16, 16)
    assert TOY.replace(width_mult=2.225).stage_widths() == (8, 24, 24, 24, 24)
    with pytest.raises(ValueError, match="no width multiplier"):
        fit_width_mult(TOY, m8 - 1, low=0.9, high=1.2, **kw)
    # the released multipliers are the largest grid points with their nets' widths
    for name, w in (("nsenet_27", 1.04), ("nsenet", 1.045)):
        arch = zoo.get(name).arch
        assert fit_width_mult(arch.replace(width_mult=1.0), arch_macs(arch, 224)).width_mult == w


def test_derive_applies_the_width_budget():
    task = _task()
    base = task.derive()
    assert base.width_mult == 1.0
    macs = arch_macs(base, 8, 1, 10)
    task.cfg.width_budget = 2 * macs / task.cfg.cost_unit
    scaled = task.derive()
    assert scaled.width_mult > 1.0 and arch_macs(scaled, 8, 1, 10) <= 2 * macs
    assert arch_macs(scaled.replace(width_mult=scaled.width_mult + 0.005), 8, 1, 10) > 2 * macs
    assert scaled.replace(width_mult=1.0) == base


# -- 3. the identity path follows the layer's shape ---------------------------------------------

def test_equal_width_stride1_e_layer_has_the_identity_path():
    task = _task()
    kinds = [s.kind for s in task.specs]
    e_same = next(i for i, s in enumerate(task.specs) if s.kind == "E" and s.c_in == s.c_out)
    e_wider = next(i for i, s in enumerate(task.specs) if s.kind == "E" and s.c_in != s.c_out)
    r_same = next(i for i, s in enumerate(task.specs) if s.kind == "R" and s.c_in == s.c_out)  # stride 2
    assert (kinds[e_same], task.specs[e_same].c_in) == ("E", 16) and task.kinds[e_same] == "N"
    assert task.kinds[e_wider] == "E" and task.kinds[r_same] == "R"
    torch.manual_seed(0)
    model = task.model.eval()
    for l, residual in ((e_same, True), (e_wider, False), (r_same, False)):
        layer, s = model.layers[l], task.specs[l]
        o = layer.op_ids[0]
        x = torch.randn(2, s.c_in, 4, 4)
        with torch.no_grad():
            branch = layer.ops[str(o)](x)
            out = layer(x, (o,))
        torch.testing.assert_close(out, (branch + x) / 2 if residual else branch)
    # the standalone net follows the same rule, and the layer may be skipped like an N layer
    specs = layer_specs("NER", (1,) * 6, task.widths)
    arch = NSEArch("MAC-27", "NER", (1,) * 6, tuple(() if i == e_same else (0,) for i in range(len(specs))),
                   widths=task.widths, stem_stride=1, head_width=64, se=False, act="relu")
    assert arch.compact().layers == arch.layers  # kept: the plan needs its place
    net = NSENet(arch, 10, 1).eval()
    x = torch.randn(1, 16, 2, 2)
    assert net.layers[e_same](x) is x
    with pytest.raises(ValueError, match="cannot be empty"):  # a width-changing E layer cannot
        NSEArch("MAC-27", "NER", (1,) * 6, tuple(() if i == e_wider else (0,) for i in range(len(specs))),
                widths=task.widths)


# -- 4. one MACs convention ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nsenet_27", "nsenet", "nsenet_gpu"])
def test_info_and_the_cost_model_agree_on_zoo_nets(name):
    arch = zoo.get(name).arch
    info = arch_info(name)
    assert info["input_shape"] == [3, 224, 224]
    assert info["macs"] == arch_macs(arch, 224)
    plain = arch.replace(se=False)  # the search's cost model itself (no SE, as in search)
    model = CostModel(get_pool(arch.pool), arch.layer_specs(), 224, 3, 2, 1024, 1000, "flops", unit=1.0)
    assert model.arch_cost(plain.layers) == arch_macs(plain, 224)


def test_info_and_the_search_cost_agree_on_a_searched_arch(tmp_path):
    task = _task()
    layers = tuple(tuple(s[:1]) for s in task.state.subsets)
    arch = NSEArch("MAC-27", "NER", tuple(task.cfg.counts), layers, widths=task.widths, stem_stride=1,
                   head_width=task.cfg.head_width, se=False, act="relu")
    path = tmp_path / "arch.json"
    path.write_text(arch.to_json())
    info = arch_info(str(path), "digits")
    assert info["input_shape"] == [1, 8, 8]
    assert info["macs"] == round(task.cost.arch_cost(layers) * task.cfg.cost_unit)


# -- 6. the released layer lists, op by op (docs/methods/nse.md) -----------------------------------------

# (kind, c_in, c_out, stride, input size, op ids, op names) as the published tables list them
NSENET_27_TABLE = [
    ("N", 16, 16, 1, 112, [0], ["LB k3 t1 d1"]),
    ("R", 16, 24, 2, 112, [6], ["LB k3 t6"]),
    ("N", 24, 24, 1, 56, [3], ["LB k3 t3"]),
    ("N", 24, 24, 1, 56, [0], ["LB k3 t1"]),
    ("R", 24, 40, 2, 56, [16], ["LB k9 t3"]),
    ("N", 40, 40, 1, 28, [3], ["LB k3 t3"]),
    ("N", 40, 40, 1, 28, [9], ["LB k5 t1"]),
    ("R", 40, 80, 2, 28, [11, 17], ["LB k5 t6", "LB k9 t6"]),
    ("N", 80, 80, 1, 14, [9, 2], ["LB k5 t1", "LB k3 t1 d3"]),
    ("N", 80, 80, 1, 14, [12], ["LB k7 t1"]),
    ("E", 80, 96, 1, 14, [1, 6], ["LB k3 t1 d2", "LB k3 t6"]),
    ("N", 96, 96, 1, 14, [9, 12], ["LB k5 t1", "LB k7 t1"]),
    ("N", 96, 96, 1, 14, [9], ["LB k5 t1"]),
    ("R", 96, 200, 2, 14, [17, 14], ["LB k9 t6", "LB k7 t6"]),
    ("N", 200, 200, 1, 7, [21], ["SP k5 t1"]),
    ("N", 200, 200, 1, 7, [3], ["LB k3 t3"]),
    ("N", 200, 200, 1, 7, [13], ["LB k7 t3"]),
    ("E", 200, 336, 1, 7, [19, 3, 14], ["LB k11 t3", "LB k3 t3", "LB k7 t6"]),
]
NSENET_GPU_TABLE = [
    ("R", 16, 32, 2, 112, [15], ["SP k5 t4"]),
    ("N", 32, 32, 1, 56, [11], ["DC t1"]),
    ("R", 32, 64, 2, 56, [1, 17], ["LB k3 t3", "SP k7 t2"]),
    ("N", 64, 64, 1, 28, [16, 1], ["SP k7 t1", "LB k3 t3"]),
    ("N", 64, 64, 1, 28, [11], ["DC t1"]),
    ("N", 64, 64, 1, 28, [11], ["DC t1"]),
    ("R", 64, 128, 2, 28, [2, 7], ["LB k3 t6", "LB k7 t3"]),
    ("N", 128, 128, 1, 14, [3], ["LB k5 t1"]),
    ("N", 128, 128, 1, 14, [1, 6], ["LB k3 t3", "LB k7 t1"]),
    ("N", 128, 128, 1, 14, [11], ["DC t1"]),
    ("N", 128, 128, 1, 14, [11, 6], ["DC t1", "LB k7 t1"]),
    ("R", 128, 256, 2, 14, [8, 2], ["LB k7 t6", "LB k3 t6"]),
    ("N", 256, 256, 1, 7, [0, 1, 8, 11], ["LB k3 t1", "LB k3 t3", "LB k7 t6", "DC t1"]),
    ("N", 256, 256, 1, 7, [2, 6, 8, 12, 14], ["LB k3 t6", "LB k7 t1", "LB k7 t6", "DC t2", "SP k5 t2"]),
]


def _published_name(spec) -> str:
    """Our op name as the tables write it: d1 shown for dilated-capable k3 LBs is dropped by us,
    and the dense ops' fixed k3 is not written."""
    s = str(spec)
    return s.replace("DC k3 ", "DC ").replace("NC k3 ", "NC ")


@pytest.mark.parametrize("name,table", [("nsenet_27", NSENET_27_TABLE), ("nsenet_gpu", NSENET_GPU_TABLE)])
def test_released_layer_lists_op_by_op(name, table):
    arch = zoo.get(name).arch
    pool = get_pool(arch.pool)
    specs = arch.layer_specs()
    sizes = CostModel(pool, specs, 224, 3, arch.stem_stride, arch.head_width).sizes
    assert len(specs) == len(table)
    for i, (spec, size, ids, row) in enumerate(zip(specs, sizes, arch.layers, table)):
        kind, c_in, c_out, stride, in_size, want_ids, want_names = row
        assert (spec.kind, spec.c_in, spec.c_out, spec.stride, size) == (kind, c_in, c_out, stride, in_size), i + 1
        assert list(ids) == want_ids, i + 1
        assert [_published_name(pool[o]) for o in ids] == [n.replace(" d1", "") for n in want_names], i + 1
    # and the built network holds exactly those ops, in every layer
    net = NSENet(arch, 1000)
    assert [layer.op_ids for layer in net.layers] == [row[5] for row in table]
