"""Few-shot NAS by counting nonlinear functions and its SPOS baseline: the split, SBS, gradient
isolation, channel reduction, the layer-wise variant, the MobileNet counts, the search, a tiny
run with kill-and-resume, and ranking against the NAS-Bench-201 table."""
import copy
import json
import math
import os
from collections import Counter

import numpy as np
import pytest
import torch
from scipy.stats import chisquare, kendalltau

from nasbook.cli import _flag_overrides, main
from nasbook.data import dataset_info
from nasbook.data.nasbench201 import load_nb201
from nasbook.engine import Trainer
from nasbook.measure import count_params
from nasbook.methods.fewshot_nl import (FewShotNLSearch, MBConvSubspaces, NB201Subspaces, SposSearch, draw,
                                        expected_updates, make_partition, nb201_supernet)
from nasbook.methods.fewshot_nl.evolution import evolve
from nasbook.methods.fewshot_nl.rank import rank_report, rank_run, stratified_cells
from nasbook.methods.fewshot_nl.supernets import SearchCell, SupernetBank
from nasbook.search import make_config, search
from nasbook.spaces.nb201 import NB201Cell, all_cells

BENCH = os.environ["NASBOOK_NB201"]
#: a few steps of the tiny preset and a very small search
QUICK = {"epochs": 2, "max_steps_per_epoch": 3, "progress": False, "log_every": 1, "population": 6,
         "generations": 1, "topk": 3, "mutation_children": 2, "crossover_children": 2, "search_batches": 1,
         "eval_batch_size": 64}


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: one thread waits less (conftest)


# -- the split ---------------------------------------------------------------------------------
def test_every_cell_falls_in_exactly_one_subspace():
    for groups, sizes in [(3, [9105, 5520, 1000]), (4, [1983, 7122, 5520, 1000]), (1, [15625]),
                          ([[0], [1, 2], [3]], [1983, 12642, 1000])]:
        sub = NB201Subspaces(groups, exclude_disconnected=False)
        assert sub.sizes() == sizes and sum(sub.sizes()) == 15625
        members = [set(m) for m in sub.members]
        assert set.union(*members) == set(all_cells())
        for c in all_cells():
            assert sum(c in m for m in members) == 1 and c in members[sub.group_of(c)]
    assert NB201Subspaces(3).sizes() == [9105 - 341, 5520, 1000]  # disconnected cells are never sampled


@pytest.mark.parametrize("groups, words", [([[0, 1], [1, 2], [3]], "two groups"), ([[0, 1], [2]], "no group"),
                                           ([[0, 1], [2], [3, 7]], "does not occur"), (5, "no named partition"),
                                           (["rest", [3]], "last group")])
def test_invalid_partitions_are_rejected(groups, words):
    with pytest.raises(ValueError, match=words):
        make_partition(groups, (0, 1, 2, 3), "nb201")


@pytest.mark.parametrize("mode", ["sbs", "uniform", "balanced_random", "balanced_roundrobin"])
def test_a_subspace_only_ever_gets_its_own_cells(mode):
    sub = NB201Subspaces(3)
    bank = SupernetBank([torch.nn.Identity() for _ in range(3)], sub)
    for step in range(300):
        pairs = draw(mode, sub, step, seed=0)
        assert len(pairs) == (3 if mode == "sbs" else 1)
        for k, cell in pairs:
            assert sub.group_of(cell) == k == bank.route(cell) and cell.connected
    assert draw(mode, sub, 7, 0) == draw(mode, sub, 7, 0)  # a function of (seed, step): resume and DDP agree


def test_update_shares_under_uniform_sampling():
    """Spec Sec. 1.6: one uniform subnet per step gives supernet k the share |S_k| / |S|."""
    full = NB201Subspaces(3, exclude_disconnected=False)
    assert [round(100 * u / 1000, 1) for u in expected_updates("uniform", full.sizes(), 1000)] == [58.3, 35.3, 6.4]
    assert [round(100 * s / 15625, 1) for s in NB201Subspaces(4, False).sizes()] == [12.7, 45.6, 35.3, 6.4]
    sub = NB201Subspaces(3)
    n = 6000
    got = Counter(k for s in range(n) for k, _ in draw("uniform", sub, s, 1))
    exp = expected_updates("uniform", sub.sizes(), n)
    assert chisquare([got[k] for k in range(3)], exp).pvalue > 1e-3


def _train(mode, steps=8, **over):
    """Train the tiny preset for ``steps`` steps; per step, which supernets' weights moved.
    Gradients are set to None between steps so that a supernet moves only when it is sampled
    (with the authors' zeroed gradients, momentum moves it afterwards too: test_fewshot_steps)."""
    cfg = make_config("fewshot_nl", "tiny", {"sampling": mode, "epochs": 1, "max_steps_per_epoch": steps,
                                             "progress": False, "N": 1, "C": 4, "zero_grad_set_to_none": True,
                                             **over})
    loaders, info = FewShotNLSearch.search_loaders(cfg)
    torch.manual_seed(0)
    task = FewShotNLSearch(cfg, info)
    snap = lambda: [torch.cat([p.detach().flatten().clone() for p in n.parameters()]) for n in task.model.nets]  # noqa: E731
    moved, last = [], snap()

    def hook(event, info):
        nonlocal last
        if event == "step":
            now = snap()
            moved.append([not torch.equal(a, b) for a, b in zip(last, now)])
            last = now

    Trainer(task, loaders, cfg.engine(), None, [hook]).fit()
    return task, moved


@pytest.mark.parametrize("mode", ["sbs", "uniform", "balanced_random", "balanced_roundrobin"])
def test_each_supernet_receives_the_updates_the_sampling_rule_says(mode):
    T = 8
    task, moved = _train(mode, T)
    counts = [sum(m[k] for m in moved) for k in range(3)]
    drawn = [[k for k, _ in draw(mode, task.subspaces, s, task.cfg.seed)] for s in range(T)]
    assert counts == task.updates                        # the weights that moved = the updates counted
    assert [[k in d for k in range(3)] for d in drawn] == moved  # exactly the drawn supernets moved
    if mode == "sbs":
        assert counts == [T, T, T]                       # balanced: T updates each, whatever the sizes
    elif mode == "balanced_roundrobin":
        assert counts == expected_updates(mode, task.subspaces.sizes(), T) == [3, 3, 2]
    else:
        assert sum(counts) == T                          # one subnet per step


def test_gradients_stay_in_their_supernet():
    sub = NB201Subspaces(3)
    bank = SupernetBank([nb201_supernet(4, 1, 10, 1) for _ in range(3)], sub)
    cell = sub.members[1][5]
    bank(torch.randn(8, 1, 8, 8), cell).sum().backward()
    assert all(p.grad is not None for p in bank.nets[1].stem.parameters())
    for k in (0, 2):
        assert all(p.grad is None for p in bank.nets[k].parameters())


def test_summed_losses_equal_separate_spos_steps_and_averaging_would_not():
    """Spec check 10: one SGD step on sum_k loss_k equals K separate single-supernet steps."""
    torch.manual_seed(0)
    sub = NB201Subspaces(3)
    bank = SupernetBank([nb201_supernet(4, 1, 10, 1) for _ in range(3)], sub).double()
    x, y = torch.randn(16, 1, 8, 8, dtype=torch.float64), torch.randint(10, (16,))
    pairs = draw("sbs", sub, 3, 0)
    ce = torch.nn.functional.cross_entropy

    def run(how):
        b = copy.deepcopy(bank)
        opt = torch.optim.SGD(b.parameters(), lr=0.1, weight_decay=5e-4)
        if how == "separate":
            for _, a in pairs:
                opt.zero_grad(set_to_none=True)
                ce(b(x, a), y).backward()
                opt.step()
        else:
            opt.zero_grad(set_to_none=True)
            for _, a in pairs:
                (ce(b(x, a), y) / (len(pairs) if how == "mean" else 1)).backward()
            opt.step()
        return torch.cat([p.flatten() for p in b.parameters()])

    together, separate, mean = run("sum"), run("separate"), run("mean")
    assert torch.allclose(together, separate, atol=1e-6, rtol=0)
    assert not torch.allclose(mean, separate, atol=1e-4, rtol=0)


def test_channel_reduction_scales_cell_convs_by_one_over_g_squared():
    assert count_params(SearchCell(8)) * 4 == count_params(SearchCell(16))
    cfg = make_config("fewshot_nl", "paper", {"dataset": "digits"})
    task = FewShotNLSearch(cfg, dataset_info("digits"))
    assert task.divisor == 3 and len(task.model.nets) == 3          # G = K by default (spec [O])
    assert [n.stem[0].out_channels for n in task.model.nets] == [5, 5, 5]  # C = 16 // 3
    spos = SposSearch(make_config("spos", "paper", {"dataset": "digits"}), dataset_info("digits"))
    assert len(spos.model.nets) == 1 and spos.model.nets[0].stem[0].out_channels == 16
    # K narrow supernets hold about K / G^2 of one full-width supernet's parameters (Sec. 6)
    ratio = count_params(task.model) / count_params(spos.model)
    assert 0.25 < ratio < 3 / 9 * 1.05


# Spec Sec. 1.8: copy index per searched cell (1..15) for each count, "-" = shared cell.
COPY_TABLE = {
    ((25,), (2, 3)): {0: "----- 00000 00000", 1: "----- 00000 00000", 2: "----- 00000 00111", 3: "----- 00011 11111"},
    ((15, 20), (2, 3)): {0: "----- 00000 00000", 1: "----- 00000 00000", 2: "----- 00111 22222", 3: "----- 12222 22222"},
    ((10, 20, 30), (1, 2, 3)): {0: "00000 00000 00000", 1: "00000 00000 11111", 2: "00000 11111 22222",
                                3: "00011 12222 33333"},
}


@pytest.mark.parametrize("variant", list(COPY_TABLE))
def test_layerwise_copy_rule_matches_the_development_code(variant):
    thresholds, stages = variant
    net = nb201_supernet(2, 5, 10, 1, thresholds, stages)
    cells = net.searched_cells()
    example = {e: next(c for c in all_cells() if c.nonlinearity_count == e) for e in range(4)}
    for e, row in COPY_TABLE[variant].items():
        got = "".join(str(c.copy_for(example[e])) if hasattr(c, "copies") else "-" for c in cells)
        assert got == row.replace(" ", "")
    net(torch.randn(2, 1, 8, 8), example[3])  # runs


def test_mobilenet_counts_class_sizes_and_the_exact_sampler():
    sub = MBConvSubspaces(6)
    assert sub.counts == tuple(range(12, 43, 2)) and len(sub.searchable) == 21 and len(sub.skippable) == 15
    assert sum(sub.sizes()) == 6 ** 6 * 7 ** 15 == 221_502_229_807_900_608
    assert sub.class_size(38) == 63_982_772_701_102_080 and round(sub.sizes()[-1] / sum(sub.sizes()), 5) == 0.05158
    g = torch.Generator().manual_seed(0)
    for _ in range(30):
        a = sub.sample_uniform(g)
        assert sub.count(a) == 2 * (21 - sum(c.is_skip for c in a.searchable()))
    # the remainder supernet draws counts in proportion to their class sizes (spec check 16)
    n = 4000
    got = Counter(sub.count(sub.sample(5, g)) for _ in range(n))
    assert all(c <= 32 for c in got)
    expected = np.array([sub.class_size(c) for c in (32, 30, 28)], float)
    expected = expected / sum(sub.class_size(c) for c in sub.groups[5])
    assert [round(x, 3) for x in expected] == [0.741, 0.206, 0.044]
    obs = [got[32], got[30], n - got[32] - got[30]]
    assert chisquare(obs, [n * expected[0], n * expected[1], n * (1 - expected[:2].sum())]).pvalue > 1e-3


def test_mobilenet_half_width_costs_about_030_of_full_width():
    """Spec Sec. 1.5 / check 11: depthwise convs scale with 1/G, so half width is ~0.30 of the MACs
    (126.8M vs 422.1M averaged over uniform random subnets), not 1/4."""
    from nasbook.methods.fewshot_nl.supernets import narrow_backbone
    from nasbook.spaces.mbconv import BACKBONES, MBConvArch, arch_macs, sample_arch

    bb = BACKBONES["proxyless"]
    half_bb = narrow_backbone(bb, 2)
    assert half_bb.stem_channels == 16 and [s.out_channels for s in half_bb.stages] == [8, 16, 20, 40, 48, 96, 160]
    assert half_bb.head_channels == 640
    g = torch.Generator().manual_seed(0)
    archs = [sample_arch(bb, g) for _ in range(300)]
    full = np.mean([arch_macs(a) for a in archs])
    half = np.mean([arch_macs(MBConvArch(half_bb, a.layers)) for a in archs])
    assert full / 1e6 == pytest.approx(422.1, rel=0.02) and half / 1e6 == pytest.approx(126.8, rel=0.02)
    assert half / full == pytest.approx(0.30, abs=0.01)


def test_mobilenet_variant_trains_and_scores_with_bn_recalibration():
    cfg = make_config("fewshot_nl", "mobilenet-tiny", {"progress": False, "max_steps_per_epoch": 1})
    loaders, info = FewShotNLSearch.search_loaders(cfg)
    task = FewShotNLSearch(cfg, info)
    assert len(task.model.nets) == 6 and task.model.nets[0].stem.conv.out_channels == 32 // 8
    Trainer(task, loaders, cfg.engine(), None).fit()
    assert task.updates == [1] * 6
    x = torch.randn(16, 1, 8, 8)
    arch = task.subspaces.sample(2, torch.Generator().manual_seed(1))
    s = task.score(arch, [(x, torch.zeros(16, dtype=torch.long))], calibration=[(x, None)])
    assert 0 <= s <= 100
    bn = next(m for m in task.model.nets[2].modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert bn.running_mean is None and not bn.affine  # back to batch statistics after scoring


# -- the search --------------------------------------------------------------------------------
def test_evolution_finds_a_top_cell_when_fitness_is_the_benchmark():
    table = load_nb201(BENCH)
    sub = NB201Subspaces(1)
    calls = []

    def fitness(cell):
        calls.append(cell)
        return table.acc(cell)

    res = evolve(sub, fitness, seed=0)
    assert res.evaluated == len(calls) == len(set(calls)) <= 50 + 20 * 50
    assert all(c.connected for c in calls)
    assert res.best_fitness == max(table.acc(c) for c in calls) >= 94.0  # table optimum 94.41
    assert evolve(sub, table.acc, seed=0).best == res.best


def test_evolution_respects_a_flops_limit():
    from nasbook.spaces.mbconv import arch_macs

    sub = MBConvSubspaces(6)
    seen = []
    limit = 400e6
    res = evolve(sub, lambda a: seen.append(a) or float(len(seen)), seed=0, population=8, generations=2, topk=3,
                 mutation_children=3, crossover_children=3, constraint=lambda a: arch_macs(a) <= limit)
    assert seen and all(arch_macs(a) <= limit for a in seen) and arch_macs(res.best) <= limit


def test_tiny_search_is_reproducible_and_resumes_exactly(tmp_path):
    a = search("fewshot_nl", "tiny", tmp_path / "a", QUICK)
    b = search("fewshot_nl", "tiny", tmp_path / "b", QUICK)
    assert a.arch == b.arch and isinstance(a.arch, NB201Cell)
    search("fewshot_nl", "tiny", tmp_path / "c", {**QUICK, "stop_after_steps": 4})
    c = search("fewshot_nl", "tiny", tmp_path / "c", {"stop_after_steps": None}, resume=True)
    assert c.arch == a.arch and c.method.updates == a.method.updates == [6, 6, 6]
    for p, q in zip(a.method.model.parameters(), c.method.model.parameters()):
        assert torch.equal(p, q)
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["groups"] == [[0, 1], [2], [3]] and summary["supernet_width"] == 4
    assert summary["search"]["evaluated"] <= 6 + 6
    epochs = [json.loads(l) for l in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [e["updates"] for e in epochs if e["event"] == "epoch"] == [[3, 3, 3], [6, 6, 6]]

    # ranking against the benchmark, and the found cell's accuracy looked up
    with pytest.raises(ValueError, match="searched on 'digits'.*--gt cifar10"):
        rank_run(tmp_path / "a", BENCH, sample=40, progress=False)  # digits vs the CIFAR-10 column: refused
    report = rank_run(tmp_path / "a", BENCH, sample=40, gt_dataset="cifar10", progress=False)
    assert report["n"] == 40 and report["transfer"] == "cifar10"
    assert report["found"]["benchmark_accuracy"] == load_nb201(BENCH).lookup(a.arch)
    assert (tmp_path / "a" / "rank_scatter.png").exists()
    saved = json.loads((tmp_path / "a" / "rank.json").read_text())
    assert len(saved["predicted"]) == 40 and saved["ground_truth"].startswith("transfer to cifar10")


def test_rank_command_prints_one_json_object(tmp_path, capsys):
    search("spos", "tiny", tmp_path / "s", QUICK)
    assert main(["rank", str(tmp_path / "s"), "--benchmark", BENCH, "--sample", "12", "--json", "--no-plot"]) == 2
    assert "--gt cifar10" in capsys.readouterr().err  # a digits run is not ranked against CIFAR-10 silently
    assert main(["rank", str(tmp_path / "s"), "--benchmark", BENCH, "--sample", "12", "--json", "--no-plot",
                 "--gt", "cifar10"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "spos" and out["n"] == 12 and set(out["tau_within_subspace"]) == {"{0,1,2,3}"}


def test_rank_report_and_stratified_subset():
    cells = stratified_cells(320, seed=0)
    assert Counter(c.nonlinearity_count for c in cells) == {0: 41, 1: 146, 2: 113, 3: 20}
    assert stratified_cells(320, seed=0) == cells and len(set(cells)) == 320
    gt = load_nb201(BENCH).accs(cells)
    assert rank_report(gt, cells, gt)["kendall_tau"] == pytest.approx(1.0)
    assert rank_report(-gt, cells, gt)["kendall_tau"] == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 5, len(cells)).astype(float)  # many ties
    rep = rank_report(pred, cells, gt, NB201Subspaces(3))
    assert rep["kendall_tau"] == pytest.approx(kendalltau(pred, gt).statistic)  # scipy's tau-b
    assert set(rep["tau_within_subspace"]) == {"{0,1}", "{2}", "{3}"}


def test_config_fields_are_flags_with_the_spec_defaults():
    over = _flag_overrides(["--groups", "[[0], [1], [2], [3]]", "--width-divisor", "4", "--sampling", "balanced_random"])
    cfg = make_config("fewshot-nl", "tiny", over)
    task = FewShotNLSearch(cfg, dataset_info("digits"))
    assert len(task.model.nets) == 4 and task.model.nets[0].stem[0].out_channels == 8 // 4
    assert make_config("fewshot-nl", "tiny", {"groups": 4}).groups == 4
    paper = make_config("fewshot-nl", "paper")
    assert (paper.groups, paper.width_divisor, paper.sampling, paper.sharing) == (3, None, "sbs", "independent")
    assert (paper.epochs, paper.batch_size, paper.lr, paper.weight_decay, paper.nesterov) == (250, 64, 0.025, 5e-4, True)
    with pytest.raises(ValueError, match="sampling"):
        make_config("fewshot-nl", "tiny", {"sampling": "random"})
    with pytest.raises(ValueError, match="groups"):
        make_config("fewshot-nl", "tiny", {"groups": "three"})
    spos = make_config("spos", "paper")
    assert (spos.groups, spos.width_divisor, spos.sampling, spos.sharing) == (1, 1, "uniform", "single")


def test_cosine_schedule_per_epoch_ends_at_lr_min():
    cfg = make_config("fewshot_nl", "tiny", {"epochs": 4})
    task = FewShotNLSearch(cfg, dataset_info("digits"))
    opt = task.optimizers()["weights"]
    sched, interval = task.schedulers()["weights"]
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradients: changes nothing, keeps the optimiser-then-scheduler order
        sched.step()
    assert interval == "epoch" and lrs[0] == 0.025
    assert lrs[2] == pytest.approx(0.001 + 0.024 * 0.5 * (1 + math.cos(math.pi * 2 / 4)))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.001)
