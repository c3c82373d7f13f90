"""The DARTS method on the engine: derivation rule, second-order gradient, reproducibility,
kill-and-resume."""
import pytest
import torch
from torch import nn

from nasbook.data import dataset_info
from nasbook.methods.darts import CellSupernet, DartsSearch, derive_cell
from nasbook.ops.cell_ops import PRIMITIVES
from nasbook.search import make_config, search


def test_derive_cell_keeps_two_strongest_non_none_edges():
    w = torch.full((14, 8), 0.01)
    # node 0 (edges 0,1): edge 1 strongest via sep_conv_5x5; edge 0 via max_pool
    w[0, 1], w[1, 5] = 0.5, 0.9
    # node 1 (edges 2,3,4): 'none' is largest on edge 2 but must be ignored
    w[2, 0], w[2, 3], w[3, 4], w[4, 6] = 0.99, 0.2, 0.6, 0.7
    nodes = derive_cell(w)
    assert nodes[0] == [("sep_conv_5x5", 1), ("max_pool_3x3", 0)]
    assert nodes[1] == [("dil_conv_3x3", 2), ("sep_conv_3x3", 1)]
    assert all(len(n) == 2 and len({s for _, s in n}) == 2 for n in nodes)
    assert all(op != "none" for n in nodes for op, _ in n)


def test_supernet_counts_and_alphas_are_parameters():
    net = CellSupernet(16, 10, 8)
    names = dict(net.named_parameters())
    assert names["alphas_normal"].shape == (14, 8) and names["alphas_reduce"].shape == (14, 8)
    # DARTS CIFAR search super-net (C=16, 8 cells): 1,930,618 weights (docs/methods/entrannas.md)
    assert sum(p.numel() for p in net.weight_parameters()) == 1_930_618


def _tiny_task(order):
    cfg = make_config("darts", "tiny", {"order": order, "C": 2, "layers": 3})
    return DartsSearch(cfg, dataset_info("digits")), cfg


def test_second_order_gradient_matches_exact_hessian_vector_product():
    """DARTS Eq. 8's finite difference equals the exact mixed second derivative (double backward)."""
    torch.manual_seed(0)
    task, cfg = _tiny_task("second")
    model = task.model.double()
    for m in model.modules():  # BN in eval: a deterministic function of the weights
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    opt = task.optimizers()["weights"]
    x_t, y_t = torch.randn(8, 1, 8, 8, dtype=torch.float64), torch.randint(10, (8,))
    x_v, y_v = torch.randn(8, 1, 8, 8, dtype=torch.float64), torch.randint(10, (8,))

    class Ctx:
        model = None

    task.cfg.unrolled_eps = 1e-4
    task._unrolled_arch_grad(x_t, y_t, x_v, y_v, opt, Ctx())
    fd = [a.grad.clone() for a in model.arch_parameters()]

    # exact: d/dalpha L_val(w - xi * g(w, alpha), alpha), differentiating through g
    from torch.func import functional_call

    xi, wd = opt.param_groups[0]["lr"], opt.param_groups[0]["weight_decay"]
    names = [n for n, _ in model.named_parameters() if not n.startswith("alphas")]
    params = dict(model.named_parameters())
    ws = [params[n] for n in names]
    crit = nn.functional.cross_entropy
    lt = crit(functional_call(model, params, (x_t,)), y_t)
    g = torch.autograd.grad(lt, ws, create_graph=True)
    w_prime = {n: w - xi * (gw + wd * w) for n, w, gw in zip(names, ws, g)}
    lv = crit(functional_call(model, {**params, **w_prime}, (x_v,)), y_v)
    exact = torch.autograd.grad(lv, model.arch_parameters())
    first = torch.autograd.grad(crit(model(x_v), y_v), model.arch_parameters())
    for a, b, f in zip(fd, exact, first):
        err = (a - b).abs().max()
        assert err < 1e-3 * b.abs().max(), err  # finite difference within 0.1% of the scale
        # the second-order term is far larger than that error: it is really computed
        assert (f - b).abs().max() > 10 * err


def test_fixed_seed_fixes_genotype(tmp_path, tiny_overrides):
    a = search("darts", "tiny", tmp_path / "a", tiny_overrides)
    b = search("darts", "tiny", tmp_path / "b", tiny_overrides)
    assert a.arch == b.arch
    assert torch.equal(a.method.model.alphas_normal, b.method.model.alphas_normal)
    c = search("darts", "tiny", tmp_path / "c", {**tiny_overrides, "seed": 7})
    assert not torch.equal(a.method.model.alphas_normal, c.method.model.alphas_normal)


def _state(res):
    return {k: v.clone() for k, v in res.method.model.state_dict().items()}


def test_kill_and_resume_reproduces_uninterrupted_run(tmp_path, tiny_overrides):
    """Killed after its first epoch (and, separately, mid-epoch), a resumed run ends with the same
    genotype and bit-identical weights as an uninterrupted one."""
    full = search("darts", "tiny", tmp_path / "full", tiny_overrides)
    ref = _state(full)
    for stop, extra in ((3, {}), (2, {"checkpoint_every": 1})):  # epoch boundary; mid-epoch
        run = tmp_path / f"killed{stop}"
        search("darts", "tiny", run, {**tiny_overrides, **extra, "stop_after_steps": stop})
        res = search("darts", "tiny", run, {"stop_after_steps": None}, resume=True)
        assert res.arch == full.arch
        st = _state(res)
        assert all(torch.equal(ref[k], st[k]) for k in ref), [k for k in ref if not torch.equal(ref[k], st[k])]
        lines = (run / "metrics.jsonl").read_text().splitlines()
        assert len(lines) == len((tmp_path / "full" / "metrics.jsonl").read_text().splitlines())


def test_run_folder_contents(tmp_path, tiny_overrides):
    from nasbook.viz import draw_arch  # search() draws only with a drawer passed in

    res = search("darts", "tiny", tmp_path / "r", {**tiny_overrides, "epochs": 1}, draw=draw_arch)
    for f in ("arch.json", "summary.json", "config.yaml", "metrics.jsonl", "checkpoint.pt",
              "cells_normal.svg", "cells_normal.png", "cells_reduce.svg"):
        assert (tmp_path / "r" / f).exists(), f
    epoch = [h for h in res.history if h["event"] == "epoch"][0]
    assert 0.0 <= epoch["val_top1"] <= 1.0 and len(epoch["alphas_normal"]) == 14


def test_derive_cell_orders_by_strength_and_breaks_ties_like_the_darts_code():
    """DARTS code ``genotype()``: edges sorted by their strongest non-'none' weight (a stable
    sort, so of equal edges the lower index wins), listed strongest first; on each edge the first
    op of the largest weight (strict '>'), never 'none'."""
    w = torch.full((14, 8), 0.01)
    # node 0 (edges 0, 1): equal strength 0.5 -> edge 0 first; on edge 1 two ops tie -> the first
    w[0, 4], w[1, 3], w[1, 4] = 0.5, 0.5, 0.5
    # node 1 (edges 2, 3, 4): strengths 0.2, 0.3 (under a 'none' of 0.9), 0.25 -> edges 3 then 4
    w[2, 7], w[3, 0], w[3, 6], w[4, 2] = 0.2, 0.9, 0.3, 0.25
    # node 3 (edges 9..13, sources 0..4): the strongest are sources 4 and 1, listed in that order
    w[10, 5], w[13, 1], w[12, 2] = 0.6, 0.8, 0.4
    nodes = derive_cell(w)
    assert nodes[0] == [("sep_conv_3x3", 0), ("skip_connect", 1)]  # skip_connect (3) before sep_conv_3x3 (4)
    assert nodes[1] == [("dil_conv_3x3", 1), ("avg_pool_3x3", 2)]
    assert nodes[3] == [("max_pool_3x3", 4), ("sep_conv_5x5", 1)]
    # node 2: every weight equal -> edges 0 and 1, each with the first non-'none' op
    assert nodes[2] == [("max_pool_3x3", 0), ("max_pool_3x3", 1)]


def test_derive_genotype_reads_each_cell_type_from_its_own_alphas():
    task, _ = _tiny_task("first")
    m = task.model
    with torch.no_grad():
        m.alphas_normal.zero_(), m.alphas_reduce.zero_()
        m.alphas_normal[:, PRIMITIVES.index("sep_conv_3x3")] = 5.0
        m.alphas_reduce[:, PRIMITIVES.index("max_pool_3x3")] = 5.0
    g = task.derive()
    assert {op for node in g.normal for op, _ in node} == {"sep_conv_3x3"}
    assert {op for node in g.reduce for op, _ in node} == {"max_pool_3x3"}
    assert list(g.normal_concat) == list(g.reduce_concat) == [2, 3, 4, 5]  # the last `multiplier` nodes


def test_weight_lr_follows_the_cosine_to_lr_min_per_epoch():
    import math

    from nasbook.engine import EngineConfig, Trainer
    from nasbook.data import make_loader
    from torch.utils.data import TensorDataset

    task, cfg = _tiny_task("first")
    ds = TensorDataset(torch.randn(4, 1, 8, 8), torch.zeros(4, dtype=torch.long))
    tr = Trainer(task, {s: make_loader(ds, 2, 0) for s in task.streams}, EngineConfig(progress=False))
    sched, interval = tr.schedulers["weights"]
    assert interval == "epoch"
    lrs = []
    for _ in range(cfg.epochs + 1):
        lrs.append(task._opts["weights"].param_groups[0]["lr"])
        sched.step()
    E, lo, hi = cfg.epochs, cfg.lr_min, cfg.lr
    assert lrs == [pytest.approx(lo + (hi - lo) * (1 + math.cos(math.pi * e / E)) / 2) for e in range(E + 1)]
    assert lrs[-1] == pytest.approx(0.001)  # the code's learning_rate_min
