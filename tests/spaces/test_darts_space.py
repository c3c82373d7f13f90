"""The DARTS space as data: genotype validation, round trips, evaluation networks, counts."""
import json
import random

import pytest
import torch

from nasbook.ops.cell_ops import PRIMITIVES
from nasbook.spaces import load_arch
from nasbook.spaces.darts import Genotype, build_network, count_genotypes, sample_genotype
from nasbook.zoo.darts import DARTS_V1, DARTS_V2, PC_DARTS_CIFAR, PC_DARTS_IMAGENET
from nasbook.measure import count_macs, count_params

ZOO = [DARTS_V1, DARTS_V2, PC_DARTS_CIFAR, PC_DARTS_IMAGENET]


@pytest.mark.parametrize("g", ZOO)
def test_json_and_str_round_trip(g):
    assert Genotype.from_json(g.to_json()) == g
    assert Genotype.parse(str(g)) == g
    assert load_arch(json.loads(g.to_json())) == g


def test_random_genotypes_round_trip():
    gen = torch.Generator().manual_seed(0)
    for _ in range(50):
        g = sample_genotype(gen)
        assert g.is_darts_format()
        assert Genotype.from_json(g.to_json()) == g and Genotype.parse(str(g)) == g


def test_flat_format_matches_authors_layout():
    # DARTS V2 normal cell: node 0 reads (sep3, 0), (sep3, 1); node 3 reads (skip, 0), (dil3, 2)
    assert DARTS_V2.normal[0] == (("sep_conv_3x3", 0), ("sep_conv_3x3", 1))
    assert DARTS_V2.normal[3] == (("skip_connect", 0), ("dil_conv_3x3", 2))
    assert DARTS_V2.flat("reduce")[7] == ("max_pool_3x3", 1)


def _malformed(rng: random.Random):
    """200 broken genotype dicts of many kinds."""
    good = DARTS_V2.to_dict()
    kinds = []
    for i in range(200):
        d = json.loads(json.dumps(good))
        k = i % 10
        cell = rng.choice(["normal", "reduce"])
        node = rng.randrange(4)
        if k == 0:
            d[cell][node][0][0] = rng.choice(["conv_9x9", "", "SEP_CONV_3X3", "sep_conv3x3"])
        elif k == 1:
            d[cell][node][0][1] = node + 2 + rng.randrange(1, 5)  # reads itself or a later node
        elif k == 2:
            d[cell][node][0][1] = -rng.randrange(1, 4)
        elif k == 3:
            d[cell][node] = []
        elif k == 4:
            d[cell] = rng.choice([[], "sep_conv_3x3", 3, None])
        elif k == 5:
            d[cell][node][0] = rng.choice([["sep_conv_3x3"], ["sep_conv_3x3", 0, 1], "sep_conv_3x3", 7])
        elif k == 6:
            d[cell][node][0][1] = rng.choice(["0", 1.0, True, None])
        elif k == 7:
            d[f"{cell}_concat"] = rng.choice([[], [2, 2, 3], [0, 1], [2, 3, 9], "2345", [2.0]])
        elif k == 8:
            del d[rng.choice(["normal", "reduce", "normal_concat", "reduce_concat"])]
        else:
            d[cell][node][0][0] = rng.choice([3, None, ["sep_conv_3x3"]])
        kinds.append(d)
    return kinds


def test_200_malformed_genotypes_raise_value_error():
    rng = random.Random(0)
    for d in _malformed(rng):
        with pytest.raises(ValueError) as e:
            Genotype.from_dict(d)
        assert len(str(e.value)) > 10  # a message naming the problem
    with pytest.raises(ValueError, match="JSON"):
        Genotype.from_json("{not json")
    with pytest.raises(ValueError, match="even"):
        Genotype.from_flat([("sep_conv_3x3", 0)] * 3, [2], [("sep_conv_3x3", 0)] * 2, [2])


def test_darts_v2_cifar_parameter_count():
    """DARTS V2 at C=36, 20 cells: 3,349,342 params without the auxiliary head; the head adds 476,426
    (the figures the DARTS code prints; the paper rounds them to 3.3M)."""
    net = build_network(DARTS_V2, "cifar", auxiliary=True)
    main = count_params(net, exclude=("auxiliary_head",))
    assert main == 3_349_342
    assert count_params(net) - main == 476_426


def test_space_build_takes_sizes_not_dataset_names():
    """The space's ``build`` takes (classes, channels, resolution): CIFAR-10's give the CIFAR
    setting, ImageNet's the mobile setting; zoo names resolve in the zoo, not in ``load_arch``."""
    from nasbook import zoo
    from nasbook.spaces import get_space

    s = get_space("darts")
    assert count_params(s.build(DARTS_V2, 10, 3, 32), exclude=("auxiliary_head",)) == 3_349_342
    net = s.build(PC_DARTS_IMAGENET, 1000, 3, 224)
    assert net.stem_kind == "imagenet" and round(count_params(net) / 1e6, 2) == 5.34
    assert s.input_shape(3, 224) == (3, 224, 224) and s.input_shape(1, 8) == (1, 32, 32)
    assert build_network(DARTS_V2, "cifar", num_classes=100).classifier.out_features == 100
    with pytest.raises(ValueError, match="setting"):
        build_network(DARTS_V2, "cifar10")
    with pytest.raises(ValueError, match="zoo.resolve"):
        load_arch("darts_v2")
    assert zoo.resolve("darts_v2") == DARTS_V2 and zoo.resolve(DARTS_V2) is DARTS_V2


def test_imagenet_network_counts():
    """PC-DARTS ImageNet: 5.3M params in the paper (our count 5.34M, docs/methods/entrannas.md 5.2);
    mobile setting (< 600M MACs)."""
    net = build_network(PC_DARTS_IMAGENET, "imagenet")
    assert round(count_params(net) / 1e6, 2) == 5.34
    assert 500e6 < count_macs(net, (3, 224, 224)) < 600e6


def test_mobilenet_v2_counts_through_measure():
    """Our counter (torch.utils.flop_counter) reproduces MobileNetV2 1.0: 300.8M MACs, 3.50M params."""
    import torchvision

    m = torchvision.models.mobilenet_v2()
    assert abs(count_macs(m, (3, 224, 224)) - 300.8e6) / 300.8e6 < 0.01
    assert abs(count_params(m) - 3.50e6) / 3.50e6 < 0.01


def test_evaluation_network_forward_and_aux():
    net = build_network(DARTS_V1, "cifar", C=8, layers=5, auxiliary=True, drop_path_prob=0.2)
    x = torch.randn(2, 3, 32, 32)
    net.train()
    logits, aux = net(x)
    assert logits.shape == aux.shape == (2, 10)
    net.eval()
    assert net(x).shape == (2, 10)


def test_drop_path_only_in_training():
    net = build_network(DARTS_V2, "cifar", C=8, layers=5, drop_path_prob=0.5).eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(net(x), net(x))


def test_space_size():
    # per cell: prod_j C(j+2, 2) * 7^2 = 180 * 7^8; DARTS Sec. 2.4 quotes ~10^18 for both cells
    assert count_genotypes() == 180 * 7 ** 8
    assert 1e18 < count_genotypes() ** 2 < 1.1e18


def test_genotype_with_variable_fan_in_builds():
    g = Genotype([[("sep_conv_3x3", 0)], [("skip_connect", 0), ("max_pool_3x3", 1), ("sep_conv_5x5", 2)],
                  [("dil_conv_3x3", 3)], [("sep_conv_3x3", 1), ("skip_connect", 4)]], [2, 3, 4, 5],
                 DARTS_V2.reduce, [2, 3, 4, 5])
    assert not g.is_darts_format()
    net = build_network(g, "cifar", C=8, layers=5)
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    assert Genotype.from_json(g.to_json()) == g


def test_ista_nas_genotypes_are_in_the_zoo_as_the_authors_published_them():
    """ISTA-NAS (the EnTranNAS authors' earlier method) ships in the zoo: cells of its 7-op
    primitives (no 'none'), two inputs per node from earlier nodes, and the two-stage cell
    counts the 3.32M parameters of a C=36, 20-cell CIFAR network."""
    from nasbook import zoo
    from nasbook.zoo.darts import ISTA_IMAGENET, ISTA_ONESTAGE, ISTA_TWOSTAGE

    ista_ops = {"max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
                "dil_conv_3x3", "dil_conv_5x5"}
    for name, g in [("ista_nas_twostage", ISTA_TWOSTAGE), ("ista_nas_onestage", ISTA_ONESTAGE),
                    ("ista_nas_imagenet", ISTA_IMAGENET)]:
        assert zoo.get(name).arch == g
        for cell in (g.normal, g.reduce):
            assert len(cell) == 4 and all(len(node) == 2 for node in cell)
            assert {op for node in cell for op, _ in node} <= ista_ops
    # first and last edges of the published two-stage normal cell, in the authors' flat order
    assert ISTA_TWOSTAGE.normal[0][0] == ("skip_connect", 0) and ISTA_TWOSTAGE.normal[3][1] == ("skip_connect", 0)
    assert ISTA_IMAGENET.reduce[3] == (("sep_conv_3x3", 2), ("skip_connect", 3))
    net = build_network(ISTA_TWOSTAGE, "cifar", auxiliary=True)
    assert count_params(net, exclude=("auxiliary_head",)) == 3_316_726
