"""Isomorphism classes of NAS-Bench-201 cells: the authors' count, and what our stricter
algebraic rule merges on top of it."""
import pytest

from nasbook.spaces.nb201 import NB201Cell, all_cells
from nasbook.spaces.nb201_isomorphism import count_isomorphism_classes, isomorphism_classes, isomorphism_key

RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def cell(s):
    return NB201Cell.parse(s)


def test_benchmark_rule_gives_the_published_count():
    # NATS-Bench (Dong et al., TPAMI 2021) Table 1: "6.5k" unique topologies among 15,625;
    # the authors' API counts 6,466
    assert count_isomorphism_classes("benchmark") == 6466


def test_algebraic_rule_refines_nothing_and_merges_all_dead_cells():
    bench = isomorphism_classes(rule="benchmark")
    alg = isomorphism_classes(rule="algebraic")
    # every benchmark class lies inside one algebraic class (the algebraic rule only merges)
    for members in bench.values():
        assert len({isomorphism_key(c, "algebraic") for c in members}) == 1
    assert len(alg) < len(bench)
    # the zero network: exactly the cells with no live input-to-output path (an independent count)
    zero = alg["0"]
    assert set(zero) == {c for c in all_cells() if not c.connected} and len(zero) == 341
    assert sum(map(len, alg.values())) == 15625


@pytest.mark.parametrize("rule", ["benchmark", "algebraic"])
def test_what_is_and_is_not_the_same_network(rule):
    # output = conv3x3(x) + conv1x1(x): which conv sits on 3<-0 and which reaches 3 through
    # node 1 and a skip does not matter
    a = cell("|nor_conv_1x1~0|+|none~0|none~1|+|nor_conv_3x3~0|skip_connect~1|none~2|")
    b = cell("|nor_conv_3x3~0|+|none~0|none~1|+|nor_conv_1x1~0|skip_connect~1|none~2|")
    assert isomorphism_key(a, rule) == isomorphism_key(b, rule)
    # the op on a dead-end edge (node 1 feeds nothing) does not matter
    c = cell("|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    d = cell("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    assert isomorphism_key(c, rule) == isomorphism_key(d, rule)
    # but the op on a live edge does, and so does the wiring
    assert isomorphism_key(cell(RESNET), rule) != isomorphism_key(cell(RESNET.replace("3x3~1", "1x1~1")), rule)
    chain = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|"   # ResNet without its skip
    assert isomorphism_key(cell(RESNET), rule) != isomorphism_key(cell(chain), rule)


def test_rules_differ_where_the_benchmark_string_misses_an_equality():
    # x + 0 is x: node 3 = skip(x) (+ zeros) either directly or through node 2 = skip(x) + 0
    direct = cell("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    via_2 = cell("|none~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|")
    assert isomorphism_key(direct, "algebraic") == isomorphism_key(via_2, "algebraic") == "x"
    assert isomorphism_key(direct, "benchmark") != isomorphism_key(via_2, "benchmark")
    # nodes 1 and 2 swap roles (2 does not read 1): node 2's string carries its "#" term, so
    # the benchmark's sorted strings differ although the sums are equal
    a = cell("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|skip_connect~1|skip_connect~2|")
    b = cell("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|")
    assert isomorphism_key(a, "algebraic") == isomorphism_key(b, "algebraic")
    assert isomorphism_key(a, "benchmark") != isomorphism_key(b, "benchmark")
    with pytest.raises(ValueError, match="unknown isomorphism rule"):
        isomorphism_key(direct, "graph")


def test_space_command_reports_both_counts(capsys):
    import json

    from nasbook.cli import main

    assert main(["space", "nb201", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["cells"] == 15625
    assert info["isomorphism_classes"] == {r: count_isomorphism_classes(r) for r in ("benchmark", "algebraic")}
