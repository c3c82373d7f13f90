"""NSE space: pools, plans, width rule, multi-branch layers, the architecture value, the zoo
and the FLOPs counter (docs/methods/nse.md, 3, 5.4, 7.2, 12 checks 1-4)."""
import json

import pytest
import torch

from nasbook import zoo
from nasbook.measure import count_macs
from nasbook.methods.nse.cost import op_convs
from nasbook.ops.mbconv import MBConv
from nasbook.ops.multibranch import MultiBranchLayer
from nasbook.ops.nse_blocks import DenseBottleneck, make_nse_op
from nasbook.spaces import get_space
from nasbook.spaces.nse import NSEArch, NSENet
from nasbook.spaces.nse_plans import PLANS, SEARCH_COUNTS, layer_specs, round8, scale_widths
from nasbook.spaces.nse_pools import G_72, MAC_27, MB_19, g72_index

# The spec's tables (docs/methods/nse.md-2.4), transcribed independently of the package's loops:
# (type, k, t, d) per id.
SPEC_MB19 = [("LB", 3, 1), ("LB", 3, 3), ("LB", 3, 6), ("LB", 5, 1), ("LB", 5, 3), ("LB", 5, 6), ("LB", 7, 1),
             ("LB", 7, 3), ("LB", 7, 6), ("NC", 3, 1), ("NC", 3, 2), ("DC", 3, 1), ("DC", 3, 2), ("SP", 5, 1),
             ("SP", 5, 2), ("SP", 5, 4), ("SP", 7, 1), ("SP", 7, 2), ("SP", 7, 4)]
SPEC_MAC27 = [("LB", 3, 1, 1), ("LB", 3, 1, 2), ("LB", 3, 1, 3), ("LB", 3, 3, 1), ("LB", 3, 3, 2), ("LB", 3, 3, 3),
              ("LB", 3, 6, 1), ("LB", 3, 6, 2), ("LB", 3, 6, 3), ("LB", 5, 1, 1), ("LB", 5, 3, 1), ("LB", 5, 6, 1),
              ("LB", 7, 1, 1), ("LB", 7, 3, 1), ("LB", 7, 6, 1), ("LB", 9, 1, 1), ("LB", 9, 3, 1), ("LB", 9, 6, 1),
              ("LB", 11, 1, 1), ("LB", 11, 3, 1), ("LB", 11, 6, 1), ("SP", 5, 1, 1), ("SP", 5, 2, 1),
              ("SP", 5, 4, 1), ("SP", 7, 1, 1), ("SP", 7, 2, 1), ("SP", 7, 4, 1)]


def _built(module):
    """(type, k, t, d, ge, gp) read off a built op module (cin = 8)."""
    if isinstance(module, MBConv):
        dw = module.depthwise.conv
        return ("LB", dw.kernel_size[0], module.hidden // 8, dw.dilation[0], module.expand.conv.groups,
                module.project.conv.groups)
    assert isinstance(module, DenseBottleneck)
    convs = [m.conv for m in module.spatial]
    t = module.expand.conv.out_channels // 8
    kind = {1: "NC", 2: "DC"}[len(convs)] if convs[0].kernel_size[0] == convs[0].kernel_size[1] else "SP"
    k = max(convs[0].kernel_size)
    return (kind, k, t, 1, module.expand.conv.groups, module.project.conv.groups)


def test_pool_sizes_and_spec_examples():
    assert (len(MB_19), len(MAC_27), len(G_72)) == (19, 27, 72)
    assert str(MAC_27[16]) == "LB k9 t3"
    assert (G_72[34].k, G_72[34].t, G_72[34].ge, G_72[34].gp) == (3, 6, 2, 1)
    assert (G_72[57].k, G_72[57].t, G_72[57].ge, G_72[57].gp) == (9, 3, 1, 2)
    assert (G_72[44].k, G_72[44].t, G_72[44].ge, G_72[44].gp) == (5, 6, 2, 2)
    assert (MB_19[11].type, MB_19[11].t) == ("DC", 1)


def test_every_pool_index_builds_the_op_the_spec_names():
    for i, (typ, k, t) in enumerate(SPEC_MB19):
        assert _built(make_nse_op(MB_19[i], 8, 16, 2)) == (typ, k, t, 1, 1, 1), i
    for i, (typ, k, t, d) in enumerate(SPEC_MAC27):
        assert _built(make_nse_op(MAC_27[i], 8, 16, 1)) == (typ, k, t, d, 1, 1), i
        assert G_72[i] == MAC_27[i]
    # G-72 ids 27-71: idx = 27 + 3 (3 ki + ti) + v, v -> (ge, gp) in ((1,2), (2,1), (2,2))
    seen = set()
    for ki, k in enumerate((3, 5, 7, 9, 11)):
        for ti, t in enumerate((1, 3, 6)):
            for v, groups in enumerate(((1, 2), (2, 1), (2, 2))):
                idx = 27 + 3 * (3 * ki + ti) + v
                assert g72_index(k, t, v) == idx
                assert _built(make_nse_op(G_72[idx], 8, 16, 2)) == ("LB", k, t, 1, *groups), idx
                seen.add(idx)
    assert seen == set(range(27, 72))


def test_lb_keeps_expansion_at_t1_and_has_no_residual():
    op = make_nse_op(MAC_27[0], 16, 16, 1)  # LB k3 t1 in a 16 -> 16 stride-1 layer
    assert op.expand is not None and not op.use_residual
    x = torch.randn(2, 16, 5, 5)
    op.eval()
    assert not torch.allclose(op(x), op.project(op.depthwise(op.expand(x))) + x)


def test_width_rounding():
    base = PLANS["NER"][1]
    assert scale_widths(base, 1.045) == (16, 24, 40, 80, 104, 200, 336)
    assert scale_widths(base, 1.04) == (16, 24, 40, 80, 96, 200, 336)
    assert round8(3.0) == 8 and round8(20.0) == 24  # at least 8; never 10% below


def test_layer_plans():
    ner, nr = layer_specs("NER", SEARCH_COUNTS["NER"]), layer_specs("NR", SEARCH_COUNTS["NR"])
    assert len(ner) == 22 and len(nr) == 21
    assert "".join(s.kind for s in ner) == "NRNNNRNNNRNNNENNNRNNNE"
    assert [s.c_out for s in ner if s.kind != "N"] == [24, 40, 80, 96, 192, 320]
    assert [s.stride for s in ner if s.kind == "E"] == [1, 1]


@pytest.mark.parametrize("kind", ["N", "R"])
def test_multibranch_rule(kind):
    torch.manual_seed(0)
    c_out, stride = (6, 1) if kind == "N" else (10, 2)
    layer = MultiBranchLayer(kind, [0, 9, 21], lambda o: make_nse_op(MAC_27[o], 6, c_out, stride)).eval()
    x = torch.randn(2, 6, 6, 6)
    f = {o: layer.ops[str(o)](x) for o in (0, 9, 21)}
    if kind == "N":
        assert layer(x, []) is x  # an empty normal layer is the identity, bitwise
        torch.testing.assert_close(layer(x, [9]), (x + f[9]) / 2)
        torch.testing.assert_close(layer(x, [0, 21]), (x + f[0] + f[21]) / 3)
    else:
        torch.testing.assert_close(layer(x, [9]), f[9])
        torch.testing.assert_close(layer(x, [0, 9, 21]), (f[0] + f[9] + f[21]) / 3)
        with pytest.raises(ValueError):
            layer(x, [])


def test_drop_path_drops_the_op_sum_of_normal_layers_only():
    """The NSE recipe's drop-path (ours, Sec. 7.3): stochastic depth on a normal layer's op sum,
    so a dropped sample leaves x / (|A| + 1); never on reduction layers; off in eval."""
    torch.manual_seed(0)
    make = lambda o: make_nse_op(MAC_27[o], 6, 6, 1)  # noqa: E731
    layer = MultiBranchLayer("N", [0, 9], make, drop_path=0.5).train()
    x = torch.randn(64, 6, 5, 5)
    y = layer(x)
    per_sample = [(torch.allclose(y[i], x[i] / 3), y[i]) for i in range(64)]
    dropped = sum(d for d, _ in per_sample)
    assert 10 < dropped < 54  # about half the samples lose their op sum
    assert MultiBranchLayer("R", [0, 9], lambda o: make_nse_op(MAC_27[o], 6, 10, 2), drop_path=0.5).drop_path == 0
    with pytest.raises(ValueError, match="drop_path"):
        MultiBranchLayer("N", [0], make, drop_path=1.0)
    # NSENet: rate linear in depth, 0 at the first layer; eval output equals the net without it
    arch = zoo.get("nsenet").arch
    net = get_space("nse").build(arch, 1000, 3, 224, drop_path=0.2)   # ImageNet sizes
    n = len(net.layers)
    assert [l.drop_path for l in net.layers] == [0.2 * i / n if s.kind == "N" else 0.0
                                                 for i, s in enumerate(arch.layer_specs())]
    plain = get_space("nse").build(arch, 1000, 3, 224)
    plain.load_state_dict(net.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(x), plain.eval()(x))


@pytest.mark.parametrize("op_id,se", [(1, False), (34, True), (57, False), (23, True), (26, False)])
def test_analytic_macs_match_the_torch_counter(op_id, se):
    """Sec. 12 check 3: the formula of Sec. 5.4 equals a hook-based count of the same module."""
    for c_in, c_out, stride in ((8, 8, 1), (8, 16, 2)):
        op = make_nse_op(G_72[op_id], c_in, c_out, stride, se=se)
        assert sum(c.macs for c in op_convs(G_72[op_id], c_in, c_out, stride, 9, se)) == count_macs(op, (c_in, 9, 9))
    for op_id in (9, 10, 11, 12):  # NC and DC of MB-19
        op = make_nse_op(MB_19[op_id], 8, 16, 2, se=se)
        assert sum(c.macs for c in op_convs(MB_19[op_id], 8, 16, 2, 9, se)) == count_macs(op, (8, 9, 9))


def test_nsenet_counts_333m_flops():
    """NSENet (with SE, as the published 333M implies; Sec. 8.3) within +-1% at 224."""
    e = zoo.get("nsenet")
    assert e.meta["reported"]["macs_m"] == 333
    net = get_space("nse").build(e.arch, 1000, 3, 224)
    macs = count_macs(net, (3, 224, 224))
    assert abs(macs / 333e6 - 1) < 0.01, macs
    assert [sum(1 for _ in l.ops) for l in net.layers][6] == 3  # layer 7: three branches


def test_zoo_entries_build_and_forward():
    for name, classes in (("nsenet_27", 1000), ("nsenet_gpu", 1000)):
        arch = zoo.get(name).arch
        assert arch.stage_widths() == {"nsenet_27": (16, 24, 40, 80, 96, 200, 336),
                                       "nsenet_gpu": (16, 32, 64, 128, 256)}[name]
        net = NSENet(arch, classes).eval()
        with torch.no_grad():
            assert net(torch.randn(1, 3, 64, 64)).shape == (1, classes)
    assert zoo.resolve("nsenet_gpu") == zoo.get("nsenet_gpu").arch


def test_arch_value_json_validation_and_compact():
    a = zoo.get("nsenet").arch
    assert NSEArch.from_dict(json.loads(a.to_json())) == a
    d, layers = a.to_dict(), [list(x) for x in a.layers]
    with pytest.raises(ValueError, match="cannot be empty"):  # layer 2 is an R layer
        NSEArch.from_dict({**d, "layers": layers[:1] + [[]] + layers[2:]})
    with pytest.raises(ValueError, match="outside pool"):
        NSEArch.from_dict({**d, "layers": [[72]] + layers[1:]})
    with pytest.raises(ValueError, match="layers"):
        NSEArch.from_dict({**d, "layers": layers[:-1]})
    # an empty N layer is legal (skipped) and compacts away without changing the function
    full = NSEArch("MAC-27", "NER", (1, 2, 0, 0, 0, 0), ([0], [6], [], [3], [9], [1], [2], [10], [11]))
    small = full.compact()
    assert small.counts == (1, 1, 0, 0, 0, 0)
    assert small.layers == ((0,), (6,), (3,), (9,), (1,), (2,), (10,), (11,))
    torch.manual_seed(0)
    n1, n2 = NSENet(full, 10).eval(), NSENet(small, 10).eval()

    def shift(k):  # layers.i of the full net is layers.i-1 of the compact one for i >= 3
        if k.startswith("layers."):
            i = int(k.split(".")[1])
            return k.replace(f"layers.{i}.", f"layers.{i - 1 if i >= 3 else i}.", 1)
        return k

    n2.load_state_dict({shift(k): v for k, v in n1.state_dict().items()})
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(n1(x), n2(x))
