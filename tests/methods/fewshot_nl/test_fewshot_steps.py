"""Few-shot NL and SPOS behaviour through the real code: the summed subnet losses of a step,
what ``zero_grad`` does to unsampled ops, which supernet scores a candidate, and the
evolutionary search's mutation, crossover and quotas on hand-made fitness functions."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from nasbook.data import make_loader
from nasbook.data.datasets import DatasetInfo
from nasbook.engine import EngineConfig, Trainer
from nasbook.methods.fewshot_nl import FewShotNLSearch, NB201Subspaces, SposSearch, draw
from nasbook.methods.fewshot_nl.evolution import evolve
from nasbook.methods.fewshot_nl.rank import rank_report
from nasbook.search import make_config
from nasbook.spaces.nb201 import NB201Cell

INFO = DatasetInfo("toy", 3, 1, 8)


def _task(cls=FewShotNLSearch, **over):
    base = {"C": 6, "N": 1, "batch_size": 4, "grad_clip": None}
    base.update(over)
    cfg = make_config(cls.key, "tiny", base)
    torch.manual_seed(0)
    task = cls(cfg, INFO)
    task.model.double()
    ds = TensorDataset(torch.randn(8, 1, 8, 8), torch.zeros(8, dtype=torch.long))
    tr = Trainer(task, {"train": make_loader(ds, 4, 0)}, EngineConfig(progress=False, grad_clip=None))
    return task, tr


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"train": (torch.randn(4, 1, 8, 8, generator=g, dtype=torch.float64), torch.tensor([0, 1, 2, 1]))}


def test_sbs_step_sums_the_losses_of_one_subnet_per_supernet():
    task, tr = _task()
    b = _batch()
    x, y = b["train"]
    draws = draw(task.cfg.sampling, task.subspaces, tr.ctx.step, task.cfg.seed)
    assert sorted(k for k, _ in draws) == [0, 1, 2]  # one subnet per subspace, every step
    params = [p for p in task.model.parameters()]
    total = sum(nn.functional.cross_entropy(task.model(x, arch), y) for _, arch in draws)
    ref = torch.autograd.grad(total, params, allow_unused=True)
    seen = []
    step = task._opt.step
    task._opt.step = lambda *a, **k: (seen.append([None if p.grad is None else p.grad.clone() for p in params]),
                                      step(*a, **k))[1]
    task.training_step(b, tr.ctx)
    for g, r in zip(seen[0], ref):
        if r is None:
            assert g is None or g.abs().max() == 0
        else:
            assert torch.allclose(g, r, rtol=1e-10, atol=1e-12)
    assert task.updates == [1, 1, 1]


@pytest.mark.parametrize("set_to_none", [False, True])
def test_zero_grad_choice_decides_whether_unsampled_ops_keep_moving(set_to_none):
    """SPOS, one path per step. An op trained at step 1 and not sampled at step 2 still moves at
    step 2 by momentum and weight decay with the authors' ``zero_grad()`` (zeros); with
    ``set_to_none`` it stays where step 1 left it."""
    from nasbook.methods.fewshot_nl.supernets import SearchCell
    from nasbook.ops.nb201_ops import NB201_OPS

    task, tr = _task(SposSearch, zero_grad_set_to_none=set_to_none, C=4)
    d = [draw("uniform", task.subspaces, s, task.cfg.seed)[0][1] for s in range(2)]
    # an edge whose op at step 0 is a conv and is not used at step 1
    edge = next(e for e in range(6) if d[0].ops[e].startswith("nor_conv") and d[1].ops[e] != d[0].ops[e])
    cell = next(m for m in task.model.modules() if isinstance(m, SearchCell))
    op = cell.edges[edge][NB201_OPS.index(d[0].ops[edge])]
    for s in range(2):
        tr.global_step = s
        task.training_step(_batch(s), tr.ctx)
        if s == 0:
            after1 = [p.detach().clone() for p in op.parameters()]
    moved = any(not torch.equal(a, p) for a, p in zip(after1, op.parameters()))
    assert moved != set_to_none


def test_a_candidate_is_scored_by_the_supernet_of_its_subspace():
    task, _ = _task()
    with torch.no_grad():
        for k, net in enumerate(task.model.nets):  # supernet k always answers class k
            lin = [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
            lin.weight.zero_()
            lin.bias.copy_(torch.tensor([10.0 if c == k else 0.0 for c in range(3)]))
    batches = [(torch.randn(6, 1, 8, 8, dtype=torch.float64), torch.full((6,), 1))]
    cells = {k: task.subspaces.members[k][0] for k in range(3)}
    assert [task.score(cells[k], batches) for k in range(3)] == [0.0, 100.0, 0.0]


# -- evolution on hand-made fitness --------------------------------------------------------------
class Genes:
    """A toy space: 6 genes of 5 values each; every architecture allowed; records draws."""

    def __init__(self, events):
        self.events = events

    def gene_choices(self):
        return [5] * 6

    def from_genes(self, g):
        return tuple(g)

    def allowed(self, arch):
        return True

    def random_genes(self, rng):
        self.events.append(("random", None))
        return tuple(rng.randrange(5) for _ in range(6))


def _run(fitness, **kw):
    events = []
    space = Genes(events)
    res = evolve(space, lambda a: (events.append(("eval", a)), fitness(a))[1], seed=3,
                 log=lambda msg: events.append(("gen", msg)), **kw)
    return res, events


def _per_generation(events):
    """Candidates evaluated in each generation before its first random draw (mutation, then
    crossover children), and the generation markers' positions."""
    gens, cur, started = [], None, False
    for kind, a in events:
        if kind == "gen":
            cur, started = [], True
            gens.append(cur)
        elif kind == "random" and started:
            started = False
        elif kind == "eval" and started:
            cur.append(a)
    return gens


def test_a_mutation_shortfall_is_not_made_up_by_crossover():
    # mutation_prob 0: every mutation child is a copy of an evaluated parent, so none is legal
    res, events = _run(lambda a: sum(a), mutation_prob=0.0, generations=5)
    children = _per_generation(events)
    assert all(len(c) <= 25 for c in children)  # crossover's own quota, however few mutations there were
    assert max(len(c) for c in children) == 25


def test_mutation_children_stay_near_their_top_k_parents():
    res, events = _run(lambda a: sum(a), mutation_prob=0.1, generations=6, crossover_children=0)
    tops = [[tuple(int(v) for v in t.strip("()").split(", ")) for t in h["top"]] for h in res.history]
    dist = []
    for top, kids in zip(tops, _per_generation(events)):
        for kid in kids:
            dist.append(min(sum(x != y for x, y in zip(kid, p)) for p in top))
    # redrawing each gene with probability 0.1: ~0.5 genes changed on average, never 0
    # (a copy is a duplicate); random children would be ~3 genes from the nearest parent
    assert len(dist) >= 100 and min(dist) >= 1 and np.mean(dist) < 1.5


def test_crossover_children_take_every_gene_from_one_of_two_parents():
    rugged = lambda a: random.Random(sum(v * 7 ** i for i, v in enumerate(a))).random()  # noqa: E731
    res, events = _run(rugged, mutation_children=0, generations=6)
    tops = [[tuple(int(v) for v in t.strip("()").split(", ")) for t in h["top"]] for h in res.history]
    per_gen = _per_generation(events)
    assert sum(map(len, per_gen)) >= 60
    for top, kids in zip(tops, per_gen):
        for kid in kids:
            assert any(all(k in (a[i], b[i]) for i, k in enumerate(kid)) for a in top for b in top)


def test_evolution_climbs_to_the_best_and_keeps_the_top_k_of_all_seen():
    target = (4, 0, 3, 1, 2, 4)
    fit = lambda a: -sum(abs(x - t) for x, t in zip(a, target))  # noqa: E731
    res, _ = _run(fit, generations=15)
    assert res.best == target and res.best_fitness == 0
    best = [h["best"] for h in res.history]
    assert best == sorted(best)  # the top-k of everything seen never loses its best
    assert res.evaluated <= 50 + 15 * 50


# -- the ranking report ---------------------------------------------------------------------------
def test_rank_report_tau_on_the_true_top_one_percent():
    """200 cells; the predictions order the true top 2 (the top 1%) backwards and everything
    else perfectly: tau over the top 1% is -1, over the bottom half +1."""
    cells = [NB201Cell(("nor_conv_3x3",) * 6)] * 200
    gt = np.arange(200, dtype=float)
    pred = gt.copy()
    pred[198], pred[199] = 199.0, 198.0
    rep = rank_report(pred, cells, gt)
    assert rep["tau_top1pct"] == pytest.approx(-1.0)
    assert rep["tau_bottom50pct"] == pytest.approx(1.0)
    assert rep["top_predicted"]["regret"] == 1.0


def test_uniform_sampling_shares_follow_the_trainable_subspace_sizes():
    """SPOS's uniform draw gives subspace k the share |S_k| / |S|: 57.3 / 36.1 / 6.5 % of the
    15,284 connected cells (the 341 disconnected ones are never trained)."""
    sub = NB201Subspaces(3)
    assert sub.sizes() == [8764, 5520, 1000]
    assert all(c.connected for c in sub.all_members)
    assert [round(100 * s / sum(sub.sizes()), 1) for s in sub.sizes()] == [57.3, 36.1, 6.5]
    assert NB201Subspaces(3, exclude_disconnected=False).sizes() == [9105, 5520, 1000]


def test_evolution_defaults_are_the_spos_settings():
    import inspect

    d = {k: v.default for k, v in inspect.signature(evolve).parameters.items() if v.default is not inspect._empty}
    assert (d["population"], d["generations"], d["topk"], d["mutation_children"], d["crossover_children"],
            d["mutation_prob"]) == (50, 20, 10, 25, 25, 0.1)


def test_evolution_never_evaluates_what_the_space_or_the_constraint_refuses():
    class Picky(Genes):
        def allowed(self, arch):
            return arch[0] != 0  # the space refuses gene 0 = 0

    seen = []
    res = evolve(Picky([]), lambda a: (seen.append(a), sum(a))[1], seed=1, generations=4,
                 constraint=lambda a: a[1] != 4)  # and the constraint refuses gene 1 = 4
    assert seen and all(a[0] != 0 and a[1] != 4 for a in seen)
    assert len(seen) == len(set(seen)) == res.evaluated  # each candidate evaluated once


def test_evolution_is_a_function_of_its_seed_and_reports_the_best_so_far():
    rugged = lambda a: random.Random(sum(v * 7 ** i for i, v in enumerate(a))).random()  # noqa: E731
    a, _ = _run(rugged, generations=4)
    b, _ = _run(rugged, generations=4)
    c = evolve(Genes([]), rugged, seed=4, generations=4)
    assert a.best == b.best and a.fitness == b.fitness and a.fitness != c.fitness
    for h in a.history:  # each generation reports the best fitness among everything evaluated before it
        assert h["best"] == max(a.fitness[tuple(int(v) for v in t.strip("()").split(", "))] for t in h["top"])
    assert a.best_fitness == max(a.fitness.values())
