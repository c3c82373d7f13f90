"""The NAS-Bench-201 space as data: arch strings, enumeration, counting, the benchmark network,
and the benchmark table (read from ../shared/data/nasbench201 or $NASBOOK_NB201)."""
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from nasbook.cli import main
from nasbook.data.nasbench201 import BenchmarkNotFound, load_nb201
from nasbook.measure import count_macs, count_params, kendall_tau
from nasbook.methods.fewshot_nl.counting import live_conv_count, total_conv_count, trash_filter_rejects
from nasbook.spaces import load_arch
from nasbook.spaces.nb201 import EDGES, OPS, NB201Cell, all_cells, build_network, count_histogram

BENCH = os.environ["NASBOOK_NB201"]  # set by conftest.py to ../shared/data/nasbench201
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: one thread waits less (conftest)


@pytest.fixture(scope="module")
def table():
    return load_nb201(BENCH)


def test_every_cell_prints_and_parses_back_to_itself():
    cells = all_cells()
    assert len(cells) == 15625 == len(set(cells)) == len({str(c) for c in cells})
    for i, c in enumerate(cells):
        s = str(c)
        assert NB201Cell.parse(s) == c
        assert NB201Cell.from_dict(json.loads(json.dumps(c.to_dict()))) == c
        assert c.index == i and NB201Cell.from_index(i) == c
    assert load_arch({"space": "nb201", "arch": BEST}) == NB201Cell.parse(BEST)


@pytest.mark.parametrize("bad, words", [
    ("|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op"),
    ("|skip_connect~1|+|none~0|none~1|+|none~0|none~1|none~2|", "must come from node 0"),
    ("|skip_connect~0|+|none~0|none~0|+|none~0|none~1|none~2|", "must come from node 1"),
    ("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~x|", "index"),
    ("|skip_connect~0|+|none~0|none~1|", "3 node groups"),
    ("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|", "3 node groups"),
    ("|skip_connect~0|+|none~0|+|none~0|none~1|none~2|", "node 2 must have 2"),
    ("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|none~3|", "node 3 must have 3"),
    ("|skip_connect|+|none~0|none~1|+|none~0|none~1|none~2|", "op~index"),
    ("skip_connect~0+|none~0|none~1|+|none~0|none~1|none~2|", "|op~0|"),
    ("", "3 node groups"),
])
def test_malformed_arch_strings_raise_value_error_with_message(bad, words):
    with pytest.raises(ValueError, match=words.replace("|", r"\|")):
        NB201Cell.parse(bad)


def test_malformed_values_raise_value_error():
    for ops, words in [(("none",) * 5, "expected 6 ops"), (("none",) * 5 + ("sep_conv_3x3",), "unknown op"),
                       ("none", "expected a list")]:
        with pytest.raises(ValueError, match=words):
            NB201Cell(ops)
    for d, words in [({"space": "darts", "arch": BEST}, "not an nb201"), ({"space": "nb201"}, "'arch' field"),
                     ([BEST], "JSON object")]:
        with pytest.raises(ValueError, match=words):
            NB201Cell.from_dict(d)
    with pytest.raises(ValueError, match="must be a str"):
        NB201Cell.parse(3)


def test_index_conventions(table):
    # spec Sec. 2.1 / check 13: the base-5 index of the example, and the official index 0
    assert NB201Cell.parse(BEST).index == 11663
    assert str(table.cells[0]) == ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|"
                                   "skip_connect~1|skip_connect~2|")
    assert set(table.cells) == set(all_cells())  # the table lists exactly our 15,625 cells


def test_count_histogram_disconnected_cells_and_the_wrong_rules():
    cells = all_cells()
    assert count_histogram() == {0: 1983, 1: 7122, 2: 5520, 3: 1000}
    disconnected = [c for c in cells if not c.connected]
    assert len(disconnected) == 341 and {c.nonlinearity_count for c in disconnected} == {0}
    # Guard against the rules that give different splits (spec check 6)
    assert [v for _, v in sorted(Counter(map(total_conv_count, cells)).items())] == [729, 2916, 4860, 4320, 2160, 576, 64]
    assert [v for _, v in sorted(Counter(map(live_conv_count, cells)).items())] == [1983, 3842, 4272, 3288, 1664, 512, 64]
    # the development code's 3-pattern filter rejects 325 cells, all of them disconnected
    rejected = [c for c in cells if trash_filter_rejects(c)]
    assert len(rejected) == 325 and not any(c.connected for c in rejected)


@pytest.mark.parametrize("arch, enn", [
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|", 3),
    ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|", 1),
    ("|none~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|nor_conv_3x3~2|", 2),
    ("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|", 0),  # dead branch
    ("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|", 0),  # dead end (Sec. 1.2)
    ("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|", 0),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", 0),
    ("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|", 2),  # parallel convs
])
def test_known_counts(arch, enn):
    assert NB201Cell.parse(arch).nonlinearity_count == enn


def test_count_invariances_over_all_cells():
    swap_conv = {"nor_conv_1x1": "nor_conv_3x3", "nor_conv_3x3": "nor_conv_1x1"}
    swap_linear = {"skip_connect": "avg_pool_3x3", "avg_pool_3x3": "skip_connect"}
    for c in all_cells():
        n = c.nonlinearity_count
        assert c.replace(swap_conv).nonlinearity_count == n
        assert c.replace(swap_linear).nonlinearity_count == n
        for e, op in enumerate(c.ops):
            if op.startswith("nor_conv"):
                assert NB201Cell(c.ops[:e] + ("none",) + c.ops[e + 1:]).nonlinearity_count <= n


def _first_principles(cell: NB201Cell, C=16, N=5, classes=10, hw=32):
    """Params and conv/linear MACs of the benchmark network, counted by hand."""
    conv = lambda cin, cout, k, out_hw: (cin * cout * k * k, cin * cout * k * k * out_hw * out_hw)  # noqa: E731
    params, macs = 0, 0

    def add(pm):
        nonlocal params, macs
        params, macs = params + pm[0], macs + pm[1]

    add(conv(3, C, 3, hw)); params += 2 * C                             # stem conv + BN
    k_of = {"nor_conv_3x3": 3, "nor_conv_1x1": 1}
    for s, c in enumerate((C, 2 * C, 4 * C)):
        r = hw >> s
        if s:                                                             # residual reduction block
            add(conv(c // 2, c, 3, r)); add(conv(c, c, 3, r)); add(conv(c // 2, c, 1, r)); params += 4 * c
        for _ in range(N):
            for op in cell.ops:
                if op in k_of:
                    add(conv(c, c, k_of[op], r)); params += 2 * c
    params += 2 * 4 * C + 4 * C * classes + classes                       # last BN, classifier
    return params, macs + 4 * C * classes


def test_benchmark_network_params_and_macs_from_first_principles():
    all3x3 = NB201Cell(("nor_conv_3x3",) * 6)
    net = build_network(all3x3, "cifar10")
    assert count_params(net) == _first_principles(all3x3)[0] == 1_531_546  # the benchmark's largest, 1.5315 MB
    assert count_macs(net, (3, 32, 32)) == _first_principles(all3x3)[1]      # 220.1M, the benchmark's 220.11 MFLOPs
    for arch in (BEST, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"):
        cell = NB201Cell.parse(arch)
        assert count_params(build_network(cell, "cifar10")) == _first_principles(cell)[0]
    assert count_params(build_network(NB201Cell(("none",) * 6), "cifar10")) == 73_306  # the benchmark's smallest
    small = build_network(NB201Cell.parse(BEST), "imagenet16-120", C=4, N=1)
    assert small(torch.randn(2, 3, 16, 16)).shape == (2, 120)


def test_drawing_marks_the_deepest_path(tmp_path):
    from nasbook.viz.nb201 import cell_dot, deepest_path, draw_cell

    cell = NB201Cell.parse(BEST)
    assert [EDGES[e] for e in deepest_path(cell)] == [(3, 2), (2, 1), (1, 0)]
    src = cell_dot(cell).source
    assert src.count("penwidth=3.5") == 3 and "nonlinearity count = 3" in src
    paths = draw_cell(cell, tmp_path / "cell", formats=("svg",))
    assert paths[0].read_text().lstrip().startswith("<?xml")


def test_space_command(capsys):
    assert main(["space", "nb201", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["cells"] == 15625 and info["ops"] == list(OPS)
    assert info["cells_per_nonlinearity_count"] == {"0": 1983, "1": 7122, "2": 5520, "3": 1000}


def test_benchmark_table_missing_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("NASBOOK_NB201")
    with pytest.raises(BenchmarkNotFound, match="NASBOOK_NB201"):
        load_nb201()
    with pytest.raises(BenchmarkNotFound, match="configs.txt"):
        load_nb201(tmp_path)
    assert main(["rank", str(tmp_path), "--benchmark", str(tmp_path / "nowhere")]) == 2


def test_count_alone_kendall_tau_matches_the_spec(table):
    """Spec Sec. 5.2 / check 12: ENN as a zero-cost predictor on the MIT single-run table."""
    cells = all_cells()
    enn = [c.nonlinearity_count for c in cells]
    taus = [round(kendall_tau(enn, table.accs(cells, d)), 3) for d in ("cifar10", "cifar100", "ImageNet16-120")]
    assert taus == [0.563, 0.569, 0.560]
    connected = [c for c in cells if c.connected]
    assert round(kendall_tau([c.nonlinearity_count for c in connected], table.accs(connected)), 3) == 0.543
    assert table.best("cifar10")[1] == pytest.approx(94.41)


def test_per_count_statistics_agree_with_the_raw_files(table):
    """Check 15: the table, the index order and the counter are wired together correctly."""
    root = Path(BENCH)
    raw = np.load(root / "cifar10_test_accs.npy")
    enn = np.array([NB201Cell.parse(s).nonlinearity_count for s in (root / "configs.txt").read_text().split()])
    by_cell = table.accs(all_cells())
    enn_cells = np.array([c.nonlinearity_count for c in all_cells()])
    for k in range(4):
        assert raw[enn == k].max() == by_cell[enn_cells == k].max()
        assert raw[enn == k].mean() == pytest.approx(by_cell[enn_cells == k].mean(), abs=1e-9)
    # mean accuracy rises with the count (spec Sec. 8: 65.0, 89.0, 91.5, 92.5)
    assert [round(raw[enn == k].mean(), 1) for k in range(4)] == [65.0, 89.0, 91.5, 92.5]
