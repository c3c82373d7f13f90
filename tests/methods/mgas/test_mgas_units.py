"""MGAS (docs/methods/mgas.md): unit levels, loss, controller, rounds, sizes, targets.

Checks 1, 2, 3, 5, 6 and 16 of Sec. 9, and the bad-target errors. All on the ``tiny``
super-net (L = 3, C = 4, 7 ops) with ``torch.manual_seed(0)`` (conftest).
"""
import pytest
import torch

from nasbook.config import make_config
from nasbook.methods.mgas.compaction import compact
from nasbook.methods.mgas.gated_ops import GatedConvOp, Removed
from nasbook.methods.mgas.loss import LambdaController, threshold_regulariser
from nasbook.methods.mgas.rounds import commit, remove_op
from nasbook.methods.mgas.search import MgasConfig
from nasbook.methods.mgas.size import nonzero_params, op_nonzero, op_proxy, proxy
from nasbook.methods.mgas.stages import FINAL, expected_peak_ratio, stage_activation_sums
from nasbook.methods.mgas.supernet import NODE_EDGES, MgasSupernet
from nasbook.methods.mgas.units import BinaryStep, PassState, discretize
from nasbook.spaces.mgas import PRIMITIVES


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: one thread waits less (conftest)


def tiny(layers=3, C=4):
    return MgasSupernet(C, 10, layers, in_channels=1, heads="gap")


X = torch.randn(8, 1, 8, 8)


# -- check 1 ----------------------------------------------------------------------------
def test_step_and_surrogate_gradient():
    assert BinaryStep.apply(torch.tensor(0.0)).item() == 0.0
    assert BinaryStep.apply(torch.tensor(1e-6)).item() == 1.0
    for x, want in [(0.0, 2.0), (0.2, 1.2), (0.4, 0.4), (0.5, 0.4), (1.0, 0.4), (1.5, 0.0)]:
        for sign in (1, -1):
            s = torch.tensor(0.3 + sign * x, dtype=torch.float64, requires_grad=True)
            tau = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
            discretize(s, tau).backward()
            assert s.grad.item() == pytest.approx(want, abs=1e-7)
            assert tau.grad.item() == pytest.approx(-s.grad.item(), abs=1e-12)


# -- check 2 ----------------------------------------------------------------------------
def test_thresholds_rise_under_pure_regularisation():
    m = tiny()
    cell = m.cells[0]
    remove_op(m, 0, 3, 1)          # a removed op's thresholds get no pressure
    with torch.no_grad():
        for t in (cell.tau_op, cell.tau_filter, cell.tau_weight, cell.tau_pre):
            t.uniform_(-0.5, 0.5)
    taus = {"tau_op": 0.1, "tau_filter": 0.1, "tau_pre": 0.1, "tau_weight": 0.001}
    before = {k: getattr(cell, k).detach().clone() for k in taus}
    lam = 0.7
    opt = torch.optim.SGD([{"params": [getattr(cell, k)], "lr": lr} for k, lr in taus.items()], lr=0.1, momentum=0.0)
    (lam * threshold_regulariser(cell)).backward()   # the task gradient is zero
    opt.step()
    conv = torch.tensor([n.startswith(("sep", "dil")) for n in PRIMITIVES])
    active = cell.op_mask
    expect_mask = {"tau_op": active, "tau_filter": active & conv, "tau_weight": active & conv,
                   "tau_pre": torch.ones(2, dtype=torch.bool)}
    for k, lr in taus.items():
        want = before[k] + lr * lam * torch.exp(-before[k]) * expect_mask[k]
        assert torch.allclose(getattr(cell, k).detach(), want, atol=1e-6), k
    assert cell.tau_op[3, 1] == before["tau_op"][3, 1]


# -- check 3 ----------------------------------------------------------------------------
def test_lambda_controller_sequence_and_freeze():
    c = LambdaController(1e-5, 2.0, 12, cap=None)
    got = [c.update(n) for n in [0, 0, 0, 50, 30, 10]]
    for g, w in zip(got, [4e-5, 2e-4, 8.4e-4, 4.2e-4, 4.2e-4, 4.6e-4]):
        assert g == pytest.approx(w, rel=1e-9)
    # freeze: mean CE below mean(lambda R_op) -> a slow round must not raise lambda
    c = LambdaController(1e-5, 2.0, 12, cap=100.0)
    c.update(0)
    c.update(0)
    lam = c.lam
    assert c.update(0, mean_ce=0.5, mean_lambda_rop=0.6) == lam
    assert c.update(0, mean_ce=0.7, mean_lambda_rop=0.6) > lam      # unfrozen again
    # the final phase compares with half of lambda R_op
    lam = c.lam
    assert c.update(0, mean_ce=0.5, mean_lambda_rop=0.6, freeze_ratio=0.5) > lam


# -- R_op (Sec. 1.5) ---------------------------------------------------------------------
def test_op_regulariser_formula_by_hand():
    """``log(1 + n_j p / S_j)`` summed over the live ops of each node, on hand-made values."""
    import math

    from nasbook.methods.mgas.loss import op_regulariser

    m = tiny()
    cell = m.cells[0]
    remove_op(m, 0, 0, 6)                      # edge 0 op 6 removed: it leaves S of node 2
    p = torch.full((14, 7), 0.5, dtype=torch.float64)
    p[1] = 0.25                                # node 2: edge 0 at 0.5, edge 1 at 0.25
    gates = torch.zeros(14, 7, dtype=torch.float64)
    gates[0, 0] = gates[0, 1] = gates[1, 0] = 1.0   # node 2: 3 live ops
    gates[2, 0] = gates[4, 3] = 1.0                 # node 3 (edges 2-4): 2 live ops
    gates[5, 1] = 1.0                               # node 4 (edges 5-8): 1 live op; node 5: none
    # node 2: S = 6 * 0.5 + 7 * 0.25 = 4.75, n = 3 -> 2 log(1 + 1.5/4.75) + log(1 + 0.75/4.75)
    node2 = 2 * math.log(25 / 19) + math.log(22 / 19)
    node3 = 2 * math.log(1 + 2 * 0.5 / 10.5)        # S = 21 * 0.5, n = 2
    node4 = math.log(1 + 1 * 0.5 / 14)              # S = 28 * 0.5, n = 1
    assert op_regulariser(cell, p, gates).item() == pytest.approx(node2 + node3 + node4, rel=1e-12)
    # official_nj_bug: nodes 4 and 5 count their live ops over node 3's edges (n = 2)
    bug = node2 + node3 + math.log(1 + 2 * 0.5 / 14)
    assert op_regulariser(cell, p, gates, official_nj_bug=True).item() == pytest.approx(bug, rel=1e-12)


# -- check 5 ----------------------------------------------------------------------------
def test_last_op_protection_keeps_one_op_per_node():
    m = tiny()
    with torch.no_grad():
        for cell in m.cells:
            cell.tau_op.fill_(0.9)
        m.cells[1].op_logits[list(NODE_EDGES[2])] = -10.0   # all ops of node 4 of cell 1
    m(X, FINAL, PassState(record=True))
    for i, e, o in commit(m, range(3)):
        remove_op(m, i, e, o)
    for cell in m.cells:
        for edges in NODE_EDGES:
            assert cell.op_mask[list(edges)].sum() >= 1
    assert sum(int(c.op_mask.sum()) for c in m.cells) == 3 * 4     # tau 0.9 > every p: one op per node


# -- check 6 ----------------------------------------------------------------------------
def test_cross_level_consistency():
    m = tiny()
    cell = m.cells[0]
    e, o = 5, PRIMITIVES.index("sep_conv_3x3")
    old = cell.ops[e][o]
    calls = []
    old.register_forward_hook(lambda *a: calls.append(1))
    m(X)
    assert calls
    calls.clear()
    p0, n0 = proxy(m), nonzero_params(m)
    size_p, size_n = op_proxy(cell, e, o), op_nonzero(cell, e, o)
    remove_op(m, 0, e, o)
    m(X)
    assert not calls and isinstance(cell.ops[e][o], Removed)
    assert proxy(m) == p0 - size_p and nonzero_params(m) == n0 - size_n

    # zeroing mid filter f makes channel f of the mid activation exactly 0
    e2 = 2
    op = cell.ops[e2][o]
    assert isinstance(op, GatedConvOp)
    seen = {}
    op.body[1][0].register_forward_hook(lambda mod, inp, out: seen.setdefault("mid", inp[0].detach()))
    op.gates[0].mask[1] = False
    m(X)
    assert torch.count_nonzero(seen["mid"][:, 1]) == 0 and torch.count_nonzero(seen["mid"][:, 0]) > 0

    # official proxy: one mid filter off -> Pi falls by C_in + k^2; compaction drops the pw2
    # column, C_mid falls by one, Pi by a further n_out (harmonisation off: it would re-add it)
    op.gates[0].mask[1] = True
    before = proxy(m)
    op.gates[0].mask[1] = False
    k = op.kernel
    assert proxy(m) == before - (op.c_in + k * k)
    n_out, c_mid = int(op.gates[-1].mask.sum()), op.c_mid
    mid_before = proxy(m)
    compact(m, 0, harmonise=False)
    assert op.c_mid == c_mid - 1 and proxy(m) == mid_before - n_out


# -- check 16 ---------------------------------------------------------------------------
def test_analytic_memory_helper():
    a = stage_activation_sums(14, 44)
    assert (a["stage1"], a["stage2"], a["stage3"]) == (180_224, 112_640, 56_320)
    assert a["stage1_share"] == pytest.approx(0.516, abs=1e-3)
    b = stage_activation_sums(8, 16)
    assert (b["stage1"], b["stage2"], b["stage3"]) == (32_768, 24_576, 12_288)
    assert b["stage1_share"] == pytest.approx(0.471, abs=1e-3)
    assert stage_activation_sums(14, 44, convention="in")["whole"] == 450_560
    assert stage_activation_sums(8, 16, convention="in")["stage1_share"] == pytest.approx(0.308, abs=1e-3)
    # Sec. 6.1: the expected multi-stage peak is about half of the single-stage one
    assert 0.45 < expected_peak_ratio(14, 44)["peak"] < 0.55


# -- the target ---------------------------------------------------------------------------
@pytest.mark.parametrize("value, message", [
    (-5, "must be positive"),
    ("-3e4", "must be positive"),
    (1e12, "larger than the super-net"),
    ("250%", "larger than the super-net"),
    ("a lot", "expected a number"),
    ("nan", "expected a number"),
])
def test_bad_targets_fail_before_training(value, message, monkeypatch):
    import nasbook.data.datasets as ds

    def no_data(*a, **k):
        raise AssertionError("the data was loaded before the target was checked")

    monkeypatch.setattr(ds, "get_dataset", no_data)
    with pytest.raises(ValueError, match=message):
        make_config(MgasConfig, {"layers": 3, "C": 4, "dataset": "digits", "target_params": value})


def test_bad_target_on_the_command_line(capsys):
    from nasbook.cli import main

    assert main(["search", "mgas", "--preset", "tiny", "--target-params", "-1", "--out", "/nonexistent/x"]) == 2
    assert "target_params" in capsys.readouterr().err


def test_target_forms():
    cfg = make_config(MgasConfig, {"layers": 3, "C": 4, "dataset": "digits", "target_params": "30%"})
    assert cfg.resolved_target() == pytest.approx(0.3 * 70_768)
    cfg = make_config(MgasConfig, {"layers": 3, "C": 4, "dataset": "digits", "target_params": "1.5e4"})
    assert cfg.resolved_target() == 15_000.0
    # 'released': the released model's own size under size_fn (D4)
    cfg = make_config(MgasConfig, {"layers": 14, "C": 44, "dataset": "cifar10", "target_params": "released"})
    assert cfg.resolved_target() == 1_591_134
    with pytest.raises(ValueError, match="released model"):
        make_config(MgasConfig, {"layers": 3, "C": 4, "dataset": "digits", "target_params": "released"})
