"""EnTranNAS and EnTranNAS-DST (issue 3; spec methods/entrannas.md, Sec. 9 checks).

Exact-equality checks run in float64 on tiny cells (batch 2, C = 4, 8x8), as Sec. 9 asks.
"""
from __future__ import annotations

import json
from collections import Counter

import pytest
import torch

from nasbook.measure import count_params
from nasbook.methods.darts import CellSupernet, SearchCell
from nasbook.methods.entrannas import (EngineCell, EnTranNASSupernet, TransitCell, derive_dst, derive_top2,
                                       dst_weights, engine_cells_at, engine_forward, node_rows, pair_indices,
                                       primitives_for, softmax_weights, transit_forward)
from nasbook.ops.cell_ops import PRIMITIVES
from nasbook.search import make_config, search
from nasbook.spaces import load_arch
from nasbook.spaces.darts import Genotype, build_network
from nasbook.zoo.darts import DARTS_V2, PC_DARTS_CIFAR

OPS7 = primitives_for("dst")  # the DST default: 7 ops, no 'none'
C = 4


def cell_of(kind, steps=4, reduction=False, primitives=PRIMITIVES, seed=0):
    torch.manual_seed(seed)
    return kind(steps, steps, C, C, C, reduction, False, primitives).double()


def inputs(seed=1, hw=8):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, C, hw, hw, generator=g, dtype=torch.float64),
            torch.randn(2, C, hw, hw, generator=g, dtype=torch.float64))


def record_calls(cell):
    """Forward hooks on every shared module: a Counter of (source, op column) calls."""
    calls, handles = Counter(), []
    for i, mixed in enumerate(cell.sources):
        for k, op in enumerate(mixed.ops):
            handles.append(op.register_forward_hook(lambda m, a, o, key=(i, k): calls.update([key])))
    return calls, handles


def random_alpha(steps=4, k=len(OPS7), seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(sum(n for _, n in node_rows(steps)), k, generator=g, dtype=torch.float64)


def polarised_alpha(steps=4, k=len(OPS7), seed=0):
    """One dominant op per edge (alpha 4), a weaker dominant (alpha 1.5) on some edges, so that
    every live edge keeps one op and fan-in varies by node once t = 0.5."""
    g = torch.Generator().manual_seed(seed)
    a = 0.05 * torch.randn(sum(n for _, n in node_rows(steps)), k, generator=g, dtype=torch.float64)
    for e in range(a.size(0)):
        a[e, int(torch.randint(k, (1,), generator=g))] = 4.0 if e % 3 != 1 else 1.5
    return a


# -- Sec. 9 check 1: shapes -------------------------------------------------------------------
@pytest.mark.parametrize("steps", [2, 3, 4])
def test_cells_and_supernet_shapes(steps):
    s0, s1 = inputs()
    for reduction in (False, True):
        e = cell_of(EngineCell, steps, reduction, OPS7)
        alpha = random_alpha(steps)
        out_e = e(s0, s1, softmax_weights(alpha))
        out_t = transit_forward(e, s0, s1, pair_indices(derive_top2(softmax_weights(alpha), steps, OPS7), OPS7))
        hw = 4 if reduction else 8
        assert out_e.shape == out_t.shape == (2, steps * C, hw, hw)
    for derive in ("top2", "dst"):
        net = EnTranNASSupernet(C, 10, 5, steps, steps, in_channels=1, derive=derive)
        assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)


# -- Sec. 9 check 2 and 12: feature sharing --------------------------------------------------
def test_feature_sharing_structure_and_one_call_per_pair():
    K = len(PRIMITIVES)
    e = cell_of(EngineCell)
    assert sum(len(m.ops) for m in e.sources) == 5 * K      # (2 + N - 1) K modules
    darts = SearchCell(4, 4, C, C, C, False, False)
    assert sum(len(m.ops) for m in darts.edges) == 14 * K    # DARTS: one per (edge, op)
    calls, _ = record_calls(e)
    e(*inputs(), softmax_weights(random_alpha(k=K)))
    # every (source, op) used by all its successors, but evaluated exactly once
    assert calls == Counter({(i, k): 1 for i in range(5) for k in range(K)})
    assert e.last_op_evals == 5 * K

    # Transit-cell: a pair used by two nodes is also computed once
    t = cell_of(TransitCell)
    sep3 = PRIMITIVES.index("sep_conv_3x3")
    skip = PRIMITIVES.index("skip_connect")
    pairs = [[(0, sep3), (1, skip)], [(0, sep3), (2, skip)], [(0, sep3), (3, sep3)], [(1, skip), (4, sep3)]]
    calls, _ = record_calls(t)
    t(*inputs(), pairs)
    assert calls == Counter({(0, sep3): 1, (1, skip): 1, (2, skip): 1, (3, sep3): 1, (4, sep3): 1})


def test_op_evaluations_per_forward_darts_896_entrannas_80_plus_transit():
    x = torch.randn(2, 3, 8, 8)
    torch.manual_seed(0)
    darts = CellSupernet(16, 10, 8)
    n = [0]
    for cell in darts.cells:
        for edge in cell.edges:
            for op in edge.ops:
                op.register_forward_hook(lambda *a: n.__setitem__(0, n[0] + 1))
    darts(x)
    assert n[0] == 8 * 14 * 8 == 896

    net = EnTranNASSupernet(16, 10, 8)
    assert net.engine_cells == [0, 2]
    hooks = {i: record_calls(c)[0] for i, c in enumerate(net.cells)}
    net(x)
    normal, reduce = net.derived_cells()
    distinct = {False: len({p for node in normal for p in node}), True: len({p for node in reduce for p in node})}
    transit = sum(distinct[c.reduction] for i, c in enumerate(net.cells) if i not in (0, 2))
    assert net.last_op_evals == 80 + transit == sum(sum(h.values()) for h in hooks.values())
    assert net.last_op_evals <= 128
    assert all(v == 1 for h in hooks.values() for v in h.values())


# -- Sec. 9 check 3: the Engine-cell formula --------------------------------------------------
@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_engine_cell_equals_hand_computation(tau):
    e = cell_of(EngineCell, primitives=PRIMITIVES)
    s0, s1 = inputs()
    alpha = random_alpha(k=len(PRIMITIVES))
    p = torch.exp(alpha / tau) / torch.exp(alpha / tau).sum(1, keepdim=True)
    states = [e.preprocess0(s0), e.preprocess1(s1)]
    for start, n in node_rows(4):
        states.append(sum(p[start + i, k] * e.op(i, k)(states[i]) for i in range(n) for k in range(len(PRIMITIVES))))
    expected = torch.cat(states[2:], 1)
    assert torch.allclose(e(s0, s1, softmax_weights(alpha, tau)), expected, atol=1e-10, rtol=0)


# -- Sec. 9 check 4: the Transit-cell ----------------------------------------------------------
def test_transit_cell_runs_and_trains_only_the_derived_pairs():
    t = cell_of(TransitCell)
    s0, s1 = inputs()
    nodes = DARTS_V2.normal
    pairs = pair_indices(nodes, PRIMITIVES)
    calls, _ = record_calls(t)
    out = t(s0, s1, pairs)
    used = {p for node in pairs for p in node}
    assert set(calls) == used
    out.square().sum().backward()
    for i, mixed in enumerate(t.sources):
        for k, op in enumerate(mixed.ops):
            grads = [p.grad for p in op.parameters()]
            if (i, k) in used:
                continue
            assert all(g is None or not g.any() for g in grads), (i, k)
    assert any(p.grad is not None and p.grad.any() for i, k in used for p in t.op(i, k).parameters())
    with torch.no_grad():
        states = [t.preprocess0(s0), t.preprocess1(s1)]
        for node in pairs:
            states.append(sum(t.op(i, k)(states[i]) for i, k in node))
        assert torch.allclose(t(s0, s1, pairs), torch.cat(states[2:], 1), atol=1e-12, rtol=0)


# -- Sec. 9 check 5: architecture gradients -----------------------------------------------------
@pytest.mark.parametrize("derive", ["top2", "dst"])
def test_architecture_gradient_only_through_engine_cells(derive):
    x, y = torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])
    torch.manual_seed(0)
    none = EnTranNASSupernet(C, 10, 5, in_channels=1, derive=derive, engine_cells=[], allow_no_engine=True)
    torch.nn.functional.cross_entropy(none(x), y).backward()
    assert all(a.grad is None for a in none.arch_parameters())
    assert any(p.grad is not None for p in none.weight_parameters())

    torch.manual_seed(0)
    net = EnTranNASSupernet(C, 10, 5, in_channels=1, derive=derive)
    torch.nn.functional.cross_entropy(net(x), y).backward()
    assert len(net.arch_parameters()) == (4 if derive == "dst" else 2)
    for a in net.arch_parameters():
        assert a.grad is not None and a.grad.abs().sum() > 0

    # a Transit-cell's output has no autograd path to alpha, even when alpha picks its pairs
    alpha = random_alpha(k=len(PRIMITIVES)).requires_grad_()
    t = cell_of(TransitCell)
    out = t(*inputs(), pair_indices(derive_top2(softmax_weights(alpha), 4, PRIMITIVES), PRIMITIVES))
    assert torch.autograd.grad(out.sum(), alpha, allow_unused=True) == (None,)

    with pytest.raises(ValueError, match="at least one normal and one reduction"):
        EnTranNASSupernet(C, 10, 5, derive=derive, engine_cells=[0])
    with pytest.raises(ValueError, match="at least one normal and one reduction"):
        EnTranNASSupernet(C, 10, 5, derive=derive, engine_cells=[])


# -- Sec. 9 check 6: top-2 derivation -----------------------------------------------------------
@pytest.mark.parametrize("geno", [DARTS_V2, PC_DARTS_CIFAR], ids=["darts_v2", "pc_darts"])
def test_top2_derivation_recovers_published_genotypes(geno):
    net = EnTranNASSupernet(C, 10, 5, in_channels=1)
    with torch.no_grad():
        for alpha, nodes in ((net.alphas_normal, geno.normal), (net.alphas_reduce, geno.reduce)):
            alpha.zero_()
            for (start, _), node in zip(node_rows(4), nodes):
                for value, (op, i) in zip((5.0, 4.0), node):
                    alpha[start + i, PRIMITIVES.index(op)] = value
    normal, reduce = net.derived_cells()
    assert Genotype(normal, [2, 3, 4, 5], reduce, [2, 3, 4, 5]) == geno   # pair order included
    with torch.no_grad():
        net.alphas_normal[:, PRIMITIVES.index("none")] = 10.0
    assert all(op != "none" for node in net.derived_cells()[0] for op, _ in node)


# -- Sec. 9 check 7: DST algebra -----------------------------------------------------------------
def test_dst_algebra():
    alpha = random_alpha(scale=2.0)
    beta = torch.tensor([-0.5, 0.0, 0.3, 1.0], dtype=torch.float64)
    w = dst_weights(alpha, beta)
    assert (w.q >= 0).all() and ((w.t > 0) & (w.t < 1)).all()
    nodes = derive_dst(w.q, 4, OPS7)
    dead_seen = False
    for j, (start, n) in enumerate(node_rows(4)):
        q, qhat, p = w.q[start:start + n], w.qhat[start:start + n], w.p[start:start + n]
        live = q.sum(1) > 0
        assert torch.allclose(qhat[live].sum(1), torch.ones(int(live.sum()), dtype=torch.float64))
        assert (qhat[~live] == 0).all()
        assert torch.allclose(p.sum(1), torch.ones(n, dtype=torch.float64))
        for i in range(n):  # an edge whose best op is below t_j m_j is dead
            assert bool(live[i]) == bool(p[i].max() > w.t[j] * p.max())
            dead_seen |= not bool(live[i])
        i_max, k_max = divmod(int(p.argmax()), p.size(1))
        assert (OPS7[k_max], i_max) in nodes[j] and len(nodes[j]) >= 1
    assert dead_seen, "the fixture should kill at least one edge"

    wn = dst_weights(alpha, beta, norm="node")
    for start, n in node_rows(4):
        assert torch.isclose(wn.qhat[start:start + n].sum(), torch.tensor(1.0, dtype=torch.float64))

    full = derive_dst(dst_weights(alpha, torch.full((4,), -40.0, dtype=torch.float64)).q, 4, OPS7)
    assert [len(n) for n in full] == [n * len(OPS7) for _, n in node_rows(4)]
    sparse = derive_dst(dst_weights(alpha, torch.full((4,), 40.0, dtype=torch.float64)).q, 4, OPS7)
    assert [len(n) for n in sparse] == [1, 1, 1, 1]        # only the arg-max pair, even where t rounds to 1
    sizes = [[len(n) for n in derive_dst(dst_weights(alpha, torch.full((4,), b, dtype=torch.float64)).q, 4, OPS7)]
             for b in torch.linspace(-4, 4, 17).tolist()]
    assert all(a >= b for s, s2 in zip(sizes, sizes[1:]) for a, b in zip(s, s2))   # non-increasing in t

    # 'none' kept but masked: never the max, never derived, even when its alpha is huge
    a8 = random_alpha(k=8)
    a8[:, 0] = 10.0
    wm = dst_weights(a8, torch.zeros(4, dtype=torch.float64), exclude=0)
    assert (wm.q[:, 0] == 0).all() and all(op != "none" for n in derive_dst(wm.q, 4, PRIMITIVES) for op, _ in n)


# -- Sec. 9 checks 8 and 9: DST equivalence and the top-2 gap ---------------------------------
def test_dst_engine_active_graph_is_the_derived_cell():
    e = cell_of(EngineCell, primitives=OPS7)
    s0, s1 = inputs()
    alpha, beta = random_alpha(scale=2.0), torch.tensor([0.2, -0.3, 0.8, 0.0], dtype=torch.float64)
    w = dst_weights(alpha, beta)
    S = pair_indices(derive_dst(w.q, 4, OPS7), OPS7)
    assert sum(map(len, S)) < sum(n for _, n in node_rows(4)) * len(OPS7)  # some pairs pruned
    dense = engine_forward(e, s0, s1, w.qhat, None)
    calls, handles = record_calls(e)
    sparse = engine_forward(e, s0, s1, w.qhat, S)
    for h in handles:
        h.remove()
    assert torch.equal(dense, sparse)                         # same accumulation order: bit-identical
    assert set(calls) == {p for node in S for p in node}      # the op calls are exactly S
    states = [e.preprocess0(s0), e.preprocess1(s1)]           # the weighted derived cell
    for (start, _), node in zip(node_rows(4), S):
        states.append(sum(w.qhat[start + i, k] * e.op(i, k)(states[i]) for i, k in node))
    assert torch.allclose(dense, torch.cat(states[2:], 1), atol=1e-12, rtol=0)


def test_dst_engine_equals_transit_once_every_live_edge_keeps_one_op():
    e = cell_of(EngineCell, primitives=OPS7)
    s0, s1 = inputs()
    alpha, beta = polarised_alpha(), torch.zeros(4, dtype=torch.float64)
    w = dst_weights(alpha, beta)
    nodes = derive_dst(w.q, 4, OPS7)
    for node in nodes:  # the fixture: one op per live edge, fan-in varying by node
        assert len({i for _, i in node}) == len(node)
    assert len({len(n) for n in nodes}) > 1
    S = pair_indices(nodes, OPS7)
    engine = engine_forward(e, s0, s1, w.qhat, S)
    transit = transit_forward(e, s0, s1, S)
    assert torch.equal(engine, transit)
    assert torch.equal(engine_forward(e, s0, s1, w.qhat, None), transit)
    # under dst_norm='node' the Engine-cell is a convex mix: it differs wherever |S_j| >= 2
    wn = dst_weights(alpha, beta, norm="node")
    assert not torch.allclose(engine_forward(e, s0, s1, wn.qhat, S), transit)


def test_top2_gap_is_nonzero_dst_gap_is_zero():
    e = cell_of(EngineCell, primitives=PRIMITIVES)
    s0, s1 = inputs()
    alpha = random_alpha(k=len(PRIMITIVES))  # not polarised: a dense softmax
    p = softmax_weights(alpha)
    engine = engine_forward(e, s0, s1, p)
    derived = transit_forward(e, s0, s1, pair_indices(derive_top2(p, 4, PRIMITIVES), PRIMITIVES))
    gap = (engine - derived).norm() / engine.norm()
    assert gap > 0.1


def _engine_and_transit(alpha, beta):
    """The Engine-cell's output and that of a separate Transit-cell of the derived genotype
    holding the same weights (Sec. 1.7: the DST gap)."""
    e7 = cell_of(EngineCell, primitives=OPS7)
    t7 = cell_of(TransitCell, primitives=OPS7, seed=123)
    t7.load_state_dict(e7.state_dict())
    s0, s1 = inputs()
    w = dst_weights(alpha, beta)
    S = pair_indices(derive_dst(w.q, 4, OPS7), OPS7)
    return engine_forward(e7, s0, s1, w.qhat, None), t7(s0, s1, S), S


def test_dst_gap_between_engine_and_transit_cell_is_zero_with_one_op_per_edge():
    engine, transit, S = _engine_and_transit(polarised_alpha(), torch.zeros(4, dtype=torch.float64))
    assert all(len({i for i, _ in node}) == len(node) for node in S)
    assert torch.allclose(engine, transit, atol=1e-12, rtol=0)


def test_dst_gap_is_nonzero_when_an_edge_keeps_two_ops():
    alpha = polarised_alpha()
    alpha[0, :] = 0.0
    alpha[0, 3], alpha[0, 4] = 3.0, 3.0  # edge 2<-0 keeps sep_conv_3x3 and sep_conv_5x5 at equal weight
    engine, transit, S = _engine_and_transit(alpha, torch.zeros(4, dtype=torch.float64))
    assert sorted(k for i, k in S[0] if i == 0) == [3, 4]
    gap = ((engine - transit).norm() / engine.norm()).item()
    assert gap > 0.05


# -- Sec. 9 check 10: DST gradients ---------------------------------------------------------------
def _arch_grads(alpha, beta, norm, seed=0):
    alpha, beta = alpha.clone().requires_grad_(), beta.clone().requires_grad_()
    e = cell_of(EngineCell, primitives=OPS7, seed=seed)
    w = dst_weights(alpha, beta, norm=norm)
    S = pair_indices(derive_dst(w.q, 4, OPS7), OPS7)
    engine_forward(e, *inputs(), w.qhat, S).sin().sum().backward()
    return alpha.grad, beta.grad, S


def test_dst_nodes_freeze_when_every_live_edge_keeps_one_op():
    g_alpha, g_beta, S = _arch_grads(random_alpha(scale=0.3), torch.zeros(4, dtype=torch.float64), "edge")
    assert all(any(len([p for p in node if p[0] == i]) >= 2 for i in range(j + 2)) for j, node in enumerate(S))
    assert (g_beta.abs() > 1e-8).all()        # edges keep >= 2 ops: every node still learns its threshold
    g_alpha, g_beta, S = _arch_grads(polarised_alpha(), torch.zeros(4, dtype=torch.float64), "edge")
    assert g_alpha.abs().max() <= 1e-12 and g_beta.abs().max() <= 1e-12
    # under dst_norm='node' a node freezes exactly when |S_j| = 1
    g_alpha, g_beta, S = _arch_grads(polarised_alpha(), torch.zeros(4, dtype=torch.float64), "node")
    for j, (start, n) in enumerate(node_rows(4)):
        frozen = g_alpha[start:start + n].abs().max() <= 1e-12 and abs(g_beta[j]) <= 1e-12
        assert frozen == (len(S[j]) == 1), (j, S[j])


# -- Sec. 9 check 11 / 15 and issue: parameter counts and genotypes ------------------------------
def _op_params(op, c, stride):
    """Parameters of one evaluation-network op (affine BN), from its definition in DARTS."""
    if op in ("none", "max_pool_3x3", "avg_pool_3x3"):
        return 0
    if op == "skip_connect":  # identity, or FactorizedReduce: two 1x1 convs c -> c/2 and BN(c)
        return 0 if stride == 1 else c * c + 2 * c
    k = int(op[-1])
    dil = c * k * k + c * c + 2 * c  # depthwise k x k, pointwise 1x1, BN
    return 2 * dil if op.startswith("sep") else dil


def eval_params(g, C, layers, classes=10, in_ch=3):
    """First-principles count of the CIFAR evaluation network of ``g`` (no auxiliary head)."""
    c_stem = 3 * C
    total = in_ch * c_stem * 9 + 2 * c_stem
    c_pp, c_p, c = c_stem, c_stem, C
    for i in range(layers):
        red = i in (layers // 3, 2 * layers // 3)
        c = 2 * c if red else c
        nodes, concat = (g.reduce, g.reduce_concat) if red else (g.normal, g.normal_concat)
        total += (c_pp * c + 2 * c) + (c_p * c + 2 * c)  # preprocess0 (ReLUConvBN or FactorizedReduce), 1
        total += sum(_op_params(op, c, 2 if red and src < 2 else 1) for node in nodes for op, src in node)
        c_pp, c_p = c_p, len(concat) * c
    return total + c_p * classes + classes


def test_supernet_parameter_counts_at_the_cifar_setting():
    arch = ("alphas", "betas")
    assert count_params(CellSupernet(16, 10, 8), arch) == 1_930_618
    for derive in ("top2", "dst"):
        for engine in ([0, 2], [7, 5]):
            net = EnTranNASSupernet(16, 10, 8, derive=derive, engine_cells=engine)
            assert count_params(net, arch) == 749_050
    # the counter these reference figures rely on (spec: DARTS_V2, C = 36, 20 cells)
    assert eval_params(DARTS_V2, 36, 20) == count_params(build_network(DARTS_V2), ("auxiliary_head",)) == 3_349_342


def dst_genotype_with_fan_in_1_and_3():
    """A genotype derived by DST from a designed alpha: node 2 keeps one input, node 4 three
    (one of them with two ops on the same edge)."""
    a = torch.full((14, len(OPS7)), -3.0, dtype=torch.float64)
    sep3, skip, dil5, maxp = (OPS7.index(o) for o in ("sep_conv_3x3", "skip_connect", "dil_conv_5x5", "max_pool_3x3"))
    rows = node_rows(4)
    a[rows[0][0] + 1, sep3] = 3.0                     # node 2: one input
    a[rows[1][0] + 0, skip] = a[rows[1][0] + 2, dil5] = 3.0
    a[rows[2][0] + 0, sep3] = a[rows[2][0] + 1, maxp] = a[rows[2][0] + 3, dil5] = 3.0
    a[rows[2][0] + 3, sep3] = 2.8                     # node 4: 3 inputs, 2 ops on edge 3 -> 4
    a[rows[3][0] + 4, sep3] = a[rows[3][0] + 2, skip] = 3.0
    nodes = derive_dst(dst_weights(a, torch.full((4,), -1.0, dtype=torch.float64)).q, 4, OPS7)  # t = 0.27
    return Genotype(nodes, [2, 3, 4, 5], nodes, [2, 3, 4, 5])


def test_dst_genotype_round_trip_draw_build(tmp_path):
    g = dst_genotype_with_fan_in_1_and_3()
    assert g.fan_in() == [1, 2, 3, 2] and [len(n) for n in g.normal] == [1, 2, 4, 2]
    assert not g.is_darts_format() and g == g.canonical()
    assert Genotype.from_json(g.to_json()) == g
    assert load_arch(json.loads(g.to_json())) == g
    from nasbook.viz.cells import draw_genotype

    paths = draw_genotype(g, tmp_path / "dst", formats=("svg",))
    svg = paths[0].read_text()
    assert svg.count("class=\"edge\"") == sum(len(n) for n in g.normal) + 4  # 9 pairs + 4 concat edges
    for C_, layers in ((8, 5), (36, 20)):
        net = build_network(g, C=C_, layers=layers)
        assert count_params(net, ("auxiliary_head",)) == eval_params(g, C_, layers)
    net = build_network(g, C=8, layers=5)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # Sec. 9 check 15: a 2-per-node genotype in canonical (DST) order builds the same network size
    assert count_params(build_network(DARTS_V2.canonical())) == count_params(build_network(DARTS_V2))


# -- presets and configuration ---------------------------------------------------------------------
def test_presets_and_open_choices_are_config_fields():
    paper = make_config("entrannas", "paper")
    assert (paper.C, paper.layers, paper.batch_size, paper.lr, paper.arch_lr, paper.warmup_epochs, paper.epochs) == \
        (16, 8, 256, 0.1, 6e-4, 15, 50)
    assert (paper.derive, paper.tau, paper.beta_init, paper.dst_norm, paper.resolved_engine_cells()) == \
        ("top2", 1.0, 0.0, "edge", [0, 2])
    assert make_config("entrannas", "paper-dst").derive == "dst"
    assert make_config("entrannas", "paper-last").resolved_engine_cells() == [7, 5] == engine_cells_at(8, "last")
    img = make_config("entrannas", "imagenet")
    assert (img.derive, img.stem, img.lr, img.arch_lr, img.batch_size, img.warmup_epochs, img.lr_warmup_epochs) == \
        ("dst", "imagenet", 0.5, 6e-3, 128, 35, 5)
    assert img.class_fractions == (0.1, 0.025)
    tiny = make_config("entrannas", "tiny", {"derive": "dst", "tau": 0.5, "engine_position": "last"})
    assert (tiny.derive, tiny.tau, tiny.resolved_engine_cells()) == ("dst", 0.5, [4, 3])
    for bad in ({"derive": "top3"}, {"dst_norm": "cell"}, {"engine_cells": [0]}, {"tau": 0.0}):
        with pytest.raises(ValueError):
            make_config("entrannas", "tiny", bad)
    # the ImageNet search super-net: three stride-2 stem convs, 8 cells, C = 16
    net = EnTranNASSupernet(16, 1000, 8, derive="dst", stem="imagenet")
    assert net(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


# -- Sec. 9 checks 13 and 14: search determinism, resume, smoke ------------------------------------
TINY = {"epochs": 2, "max_steps_per_epoch": 3, "warmup_epochs": 1, "batch_size": 16, "progress": False, "train_portion": 0.9,
        "log_every": 1, "derive": "dst"}


def _arch_state(res):
    return {k: v.clone() for k, v in res.method.model.state_dict().items() if k.startswith(("alphas", "betas"))}


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("entrannas")
    a = search("entrannas", "tiny", base / "a", TINY)
    b = search("entrannas", "tiny", base / "b", TINY)
    search("entrannas", "tiny", base / "c", {**TINY, "stop_after_steps": 5, "checkpoint_every": 2})
    c = search("entrannas", "tiny", base / "c", {"stop_after_steps": None}, resume=True)
    return a, b, c


def test_seed_fixes_the_derived_genotype(tiny_runs):
    a, b, _ = tiny_runs
    assert a.arch == b.arch
    sa, sb = _arch_state(a), _arch_state(b)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # the architecture really trained: 3 arch steps after a 1-epoch warm-up moved beta from 0
    assert (sa["betas_normal"] != 0).all() and (sa["betas_reduce"] != 0).all()
    arch_losses = [h["arch_loss"] for h in a.history if h.get("event") == "step"]
    assert all(x != x for x in arch_losses[:3]) and all(x == x for x in arch_losses[3:])  # NaN = no arch step


def test_kill_and_resume_reproduces_the_search(tiny_runs):
    a, _, c = tiny_runs
    assert c.arch == a.arch
    sa, sc = _arch_state(a), _arch_state(c)
    assert all(torch.equal(sa[k], sc[k]) for k in sa)


def test_smoke_dst_search_gives_a_valid_genotype(tiny_runs):
    a, _, _ = tiny_runs
    g = a.arch
    for nodes in (g.normal, g.reduce):
        for j, node in enumerate(nodes):
            assert len(node) >= 1 and all(src < j + 2 and op != "none" for op, src in node)
    epochs = [h for h in a.history if h.get("event") == "epoch"]
    assert len(epochs) == 2 and "thresholds_normal" in epochs[-1] and "pairs_per_node_normal" in epochs[-1]
    assert Genotype.from_dict(epochs[-1]["genotype"]) == g


def test_per_class_split_samples_each_class():
    from nasbook.data import get_dataset
    from nasbook.data.subsets import dataset_targets, per_class_split

    ds, _ = get_dataset("digits", "train")
    targets = dataset_targets(ds)
    w, a = per_class_split(targets, (0.1, 0.025), seed=2)
    assert not set(w) & set(a) and per_class_split(targets, (0.1, 0.025), seed=2) == [w, a]
    for c in range(10):
        n = targets.count(c)
        assert [targets[i] for i in w].count(c) == round(0.1 * n)
        assert [targets[i] for i in a].count(c) == round(0.025 * n)
