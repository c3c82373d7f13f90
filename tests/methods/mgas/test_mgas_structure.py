"""MGAS (docs/methods/mgas.md): compaction, stages, re-pruning, regrowth, derivation, full scale.

Checks 7, 8, 9, 10, 12 and 14 of Sec. 9.
"""
import pytest
import torch

from nasbook.measure import count_params, saved_tensor_bytes
from nasbook.methods.mgas.compaction import compact, harmonised_width, mid_width
from nasbook.methods.mgas.derive import copy_weights_to_network, derive_genotype
from nasbook.methods.mgas.gated_ops import GatedConvOp
from nasbook.methods.mgas.reevaluation import regrow, regrow_count, regrowth_distribution
from nasbook.methods.mgas.rounds import commit, remove_op
from nasbook.methods.mgas.size import maskable_conv_weights, proxy
from nasbook.methods.mgas.stages import FINAL
from nasbook.methods.mgas.supernet import MgasSupernet
from nasbook.methods.mgas.units import PassState
from nasbook.spaces import load_arch
from nasbook.spaces.mgas import PRIMITIVES, MGASNetwork, MGASWeightMasks, count_params_analytic, size_report


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: one thread waits less (conftest)


def tiny():
    return MgasSupernet(4, 10, 3, in_channels=1, heads="gap")


X = torch.randn(8, 1, 8, 8)


def settle_bn(m, steps=3):
    """A few train-mode passes so that BN running statistics are not the defaults."""
    m.train()
    with torch.no_grad():
        for _ in range(steps):
            m(torch.randn(16, 1, 8, 8))
    m.eval()


def gated_layers(cell):
    layers = list(cell.pre_gates)
    for e, o in cell.active():
        if isinstance(cell.ops[e][o], GatedConvOp):
            layers.append(cell.ops[e][o].gates[-1])
    return layers


# -- check 7 ----------------------------------------------------------------------------
def test_compaction_preserves_the_function():
    m = tiny()
    with torch.no_grad():
        for p in m.parameters():   # non-trivial filter scores and BN affine parameters
            if p.dim() == 1:
                p.uniform_(-1, 1)
    settle_bn(m)
    cell = m.cells[0]
    for g in gated_layers(cell):
        g.mask[[1, 3]] = False      # two channels off in every gated layer of cell 0
    ref = m(X)
    ref_discrete = m(X, FINAL, PassState("discrete"))
    assert harmonised_width(cell) == 2          # avg of k = 2 >= C0/2: nothing is re-added
    rec = compact(m, m.layers - 1)
    assert rec.widths[0] == (4, 2) and rec.readded[0] == 0
    assert cell.width == 2 and all(bool(g.mask.all()) for g in gated_layers(cell))
    assert torch.allclose(m(X), ref, atol=1e-5)
    assert torch.allclose(m(X, FINAL, PassState("discrete")), ref_discrete, atol=1e-5)


def test_compaction_readds_filters_to_the_harmonised_width():
    m = tiny()
    cell = m.cells[0]
    for g in gated_layers(cell):
        g.mask[[0, 1, 2]] = False   # 1 survivor: k = 2 (even) ...
    cell.pre_gates[0].mask[:] = False                     # ... and 0 -> 2
    assert harmonised_width(cell) == 2
    rec = compact(m, m.layers - 1)
    assert rec.readded[0] == 1                            # one channel no layer kept
    # by hand: width w = 2; the mid gates were not touched, so 4 mid filters survive and a
    # sep_conv's mid width is max(4, mean of in and out = 2) = 4
    seps = [cell.ops[e][o] for e, o in cell.active() if PRIMITIVES[o].startswith("sep")]
    assert len(seps) == 28 and all(op.c_mid == 4 for op in seps)
    assert mid_width(seps[0], 2) == 4
    sep = lambda k2: 2 * k2 + 2 * 4 + k2 * 4 + 4 * 2   # noqa: E731  C_in k^2 + C_in mid + k^2 mid + mid out
    dil = lambda k2: 2 * k2 + 2 * 2                     # noqa: E731  C_in k^2 + C_in out
    per_edge = sep(9) + sep(25) + dil(9) + dil(25)
    assert per_edge == 70 + 166 + 22 + 54
    assert proxy(m, [0]) == 14 * per_edge == 4368         # cell 0 is a normal cell: no skip term


# -- check 8 ----------------------------------------------------------------------------
def test_stage_isolation():
    m = tiny()
    calls = {i: 0 for i in range(3)}
    for i, cell in enumerate(m.cells):
        cell.register_forward_hook(lambda mod, inp, out, i=i: calls.__setitem__(i, calls[i] + 1))
    logits, r_op, r_tau = m(X, 1, PassState(), True)
    (logits.sum() + r_op + r_tau).backward()
    assert calls == {0: 1, 1: 0, 2: 0}
    assert all(p.grad is None for c in m.cells[1:] for p in c.parameters())
    assert m.cells[0].op_logits.grad is not None and m.head2[2].weight.grad is None
    m.zero_grad(set_to_none=True)
    logits, r_op, r_tau = m(X, 2, PassState(), True)
    (logits.sum() + r_op + r_tau).backward()
    assert m.cells[0].op_logits.grad.abs().sum() > 0 and m.cells[0].tau_op.grad.abs().sum() > 0  # re-evaluation
    assert m.cells[0].ops[0][1].body[0][1].weight.grad is not None
    assert all(p.grad is None for p in m.cells[2].parameters())

    def step(stage):
        def run():
            out = m(X, stage, PassState(), True)
            (out[0].sum() + out[1] + out[2]).backward()
        return run

    assert saved_tensor_bytes(step(1)) < saved_tensor_bytes(step(FINAL))


# -- check 9 ----------------------------------------------------------------------------
def test_repruning_in_stage_two():
    m = tiny()
    e, o = 3, PRIMITIVES.index("dil_conv_3x3")       # node 3 of cell 0 (stage 1) has other ops
    with torch.no_grad():
        m.cells[0].op_logits[e, o] = -5.0
        m.cells[0].tau_op[e, o] = 0.5
    m(X, 2, PassState(record=True))
    candidates = commit(m, range(2))
    assert (0, e, o) in candidates
    for c in candidates:
        remove_op(m, *c)
    assert not m.cells[0].op_mask[e, o] and type(m.cells[0].ops[e][o]).__name__ == "Removed"


# -- check 10 ---------------------------------------------------------------------------
def test_regrowth_brings_back_a_pruned_op():
    m = tiny()
    cell = m.cells[0]
    t = PRIMITIVES.index("sep_conv_5x5")
    e = 4
    with torch.no_grad():
        cell.op_logits.uniform_(-1, 1)
    logit = cell.op_logits[e, t].item()
    old = [p.detach().clone() for p in cell.ops[e][t].parameters()]
    remove_op(m, 0, e, t)                                 # pruned in stage 1
    for g in cell.pre_gates:                              # compaction narrows cell 0 to width 2
        g.mask[[0, 2]] = False
    for e2, o2 in cell.active():
        if isinstance(cell.ops[e2][o2], GatedConvOp):
            cell.ops[e2][o2].gates[-1].mask[[0, 2]] = False
    compact(m, 1, pin_end=True)
    assert cell.width == 2
    # momentum for the op logits, as after an epoch of stage 2
    opt = torch.optim.SGD([c.op_logits for c in m.cells[:2]], lr=1.0, momentum=0.9)
    logits, r_op, r_tau = m(X, 2, PassState(), True)
    (logits.logsumexp(1).mean() + r_op + r_tau).backward()
    opt.step()
    plan = regrowth_distribution(m, range(2), opt)
    assert (plan.prob >= 0).all() and float(plan.prob.sum()) == pytest.approx(1.0, abs=1e-6)
    flat = plan.prob.flatten()
    lo = float(flat[:t].sum())                            # cell 0 is first: its types come first
    u = torch.tensor([lo + 0.5 * float(flat[t])], dtype=torch.float64)
    plan = regrow(m, range(2), 1, opt, uniforms=u)
    assert plan.regrown == [(0, e, t)]
    op = cell.ops[e][t]
    assert cell.op_mask[e, t] and cell.op_logits[e, t].item() == pytest.approx(logit, abs=1e-4)
    assert isinstance(op, GatedConvOp) and op.c_in == op.c_out == op.c_mid == 2
    assert all(bool(g.mask.all()) and not g.logits.any() for g in op.gates)
    assert all(bool(c.weight_mask.all()) for c in op.convs())
    assert all(a.shape != b.shape or not torch.equal(a, b) for a, b in zip(old, op.parameters()))
    calls = []
    op.register_forward_hook(lambda *a: calls.append(1))
    m(X, 2)
    assert calls == [1]
    assert regrow_count(84, 0.2) == 16 and regrow_count(4, 0.2) == 0


def test_regrowth_importance_by_hand():
    """Sec. 1.9 steps 3-5 on hand-made momentum and logits (per official code's regrow())."""
    m = tiny()
    cells = range(2)
    for e in range(14):                                   # cell 0: no max_pool_3x3 (type 6) left
        remove_op(m, 0, e, 6)
    with torch.no_grad():
        for c in m.cells:
            c.op_logits.zero_()                           # sigmoid = 0.5 for every active op
    opt = torch.optim.SGD([c.op_logits for c in m.cells[:2]], lr=1.0, momentum=0.9)
    buf0 = torch.arange(1.0, 8.0).repeat(14, 1)           # |momentum| = t + 1 for type t
    buf0[:, 0] *= -1                                      # the sign does not matter
    opt.state[m.cells[0].op_logits]["momentum_buffer"] = buf0
    opt.state[m.cells[1].op_logits]["momentum_buffer"] = torch.full((14, 7), 2.0)
    plan = regrowth_distribution(m, cells, opt)
    # cell 0: G = 1..6 and, for the missing type, half the smallest: 0.5 (sum 21.5);
    # A = 0.5 six times and 0.25 (sum 3.25); I_0t = (G / 21.5 + A / 3.25) / 2
    G0 = torch.tensor([1, 2, 3, 4, 5, 6, 0.5], dtype=torch.float64)
    A0 = torch.tensor([2, 2, 2, 2, 2, 2, 1], dtype=torch.float64) / 13
    I0t = 0.5 * G0 / 21.5 + 0.5 * A0
    assert torch.allclose(plan.type_importance[0], I0t, atol=1e-12)
    assert torch.allclose(plan.type_importance[1], torch.full((7,), 1 / 7, dtype=torch.float64), atol=1e-12)
    # cells: Gc = (21.5 / 84, 14 / 98) = (43, 24) / 168, Ac = (3.25 / 84, 3.5 / 98) = (13, 12) / 336
    Ic = torch.tensor([0.5 * 43 / 67 + 0.5 * 13 / 25, 0.5 * 24 / 67 + 0.5 * 12 / 25], dtype=torch.float64)
    assert torch.allclose(plan.cell_importance, Ic, atol=1e-12)
    assert torch.allclose(plan.prob, Ic[:, None] * torch.stack([I0t, torch.full((7,), 1 / 7, dtype=torch.float64)]),
                          atol=1e-12)
    # a draw inside (cell 0, type 6) at 3/4 of its interval picks the edge 3/4 along the 14 pruned ones
    lo = float(plan.prob[0, :6].sum())
    u = torch.tensor([lo + 0.75 * float(plan.prob[0, 6])], dtype=torch.float64)
    assert regrow(m, cells, 1, opt, uniforms=u).regrown == [(0, 10, 6)]   # int(0.75 * 14) = 10


# -- check 12 ---------------------------------------------------------------------------
def test_derivation_round_trip(tmp_path):
    m = tiny()
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() == 1:
                p.uniform_(-1, 1)
        for cell in m.cells:
            cell.tau_op.fill_(0.45)
            cell.tau_weight.fill_(0.2)
            cell.op_logits.uniform_(-0.3, 0.3)
    settle_bn(m)
    m.train()
    m(X, FINAL, PassState(record=True))                  # a round: ops, filters and weights pruned
    for c in commit(m, range(3)):
        remove_op(m, *c)
    compact(m, 2)
    settle_bn(m)
    g = derive_genotype(m)
    assert g.weight_masks is not None and g.weight_masks.zeros() > 0
    (tmp_path / "arch.json").write_text(g.to_json())
    g.weight_masks.save_npz(tmp_path / "masks.npz")
    loaded = load_arch(tmp_path / "arch.json")
    assert loaded == g and MGASWeightMasks.load_npz(tmp_path / "masks.npz") == g.weight_masks
    net = MGASNetwork(loaded, num_classes=10, in_channels=1)
    dense = count_params(net)
    assert dense == count_params_analytic(loaded, 10, in_channels=1)
    zeros = sum(int((~c.weight_mask).sum()) for c in net.modules() if hasattr(c, "weight_mask"))
    assert zeros == g.weight_masks.zeros()
    copy_weights_to_network(m, net)
    # the non-zero count, counted on the built network (every parameter, but in a masked conv
    # only the entries of the copied weights that its mask leaves non-zero), against the
    # derivation's own report of dense - masked zeros
    live = sum(int(((p * c.weight_mask) != 0).sum()) if n == "weight" and hasattr(c, "weight_mask") else p.numel()
               for c in net.modules() for n, p in c.named_parameters(recurse=False))
    assert live == size_report(loaded, 10, in_channels=1)["nonzero_params"] < dense
    net.eval()
    assert torch.allclose(net(X), m(X, FINAL, PassState("discrete")), atol=1e-5)


# -- check 14 ---------------------------------------------------------------------------
def test_full_scale_supernet_construction():
    for (L, C), weights, units in [((14, 44), 19_049_184, 1372), ((8, 16), 1_790_208, 784)]:
        m = MgasSupernet(C, 10, L)
        assert maskable_conv_weights(m) == weights and m.n_op_units() == units
        per_edge = sum(maskable_conv_weights_of(cell, e) for cell in m.cells[:1] for e in range(1))
        assert per_edge == 6 * C * C + 102 * C
        del m


def maskable_conv_weights_of(cell, e):
    return sum(c.weight.numel() for op in cell.ops[e] if isinstance(op, GatedConvOp) for c in op.convs())
