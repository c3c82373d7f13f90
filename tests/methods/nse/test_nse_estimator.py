"""NSE's learned multi-branch distribution: sampler invariants, the two-sample estimator and the
cost penalty (docs/methods/nse.md, Sec. 12 checks 5-7), and the deterministic limit p -> 0/1."""
import math
from types import SimpleNamespace

import pytest
import torch
from scipy.stats import chisquare

from nasbook.data import dataset_info
from nasbook.engine.trainer import StepContext
from nasbook.measure import count_macs
from nasbook.methods.nse import NSESearch
from nasbook.methods.nse.candidates import sample_arch
from nasbook.methods.nse.distribution import (allowed_sets, effective_p, is_deterministic, sample_set, sample_two,
                                              set_probability, uniform_set)
from nasbook.methods.nse.estimator import binary_gate, pair_weights
from nasbook.search import make_config
from nasbook.spaces.nse import NSEArch, NSENet

SMALL = dict(widths=[8, 8, 8, 8, 8, 8, 8], head_width=16, counts=[1, 1, 0, 0, 0, 0])


def test_set_probabilities_sum_to_one_and_match_bernoulli_frequencies():
    torch.manual_seed(0)
    ops = (4, 7, 9)
    p = effective_p(torch.randn(3, dtype=torch.float64))
    for kind in ("N", "R"):
        sets = allowed_sets(ops, kind)
        probs = torch.stack([set_probability(p, ops, a) for a in sets])
        assert len(sets) == (8 if kind == "N" else 7) and () not in sets[(kind == "N"):]
        probs = probs / probs.sum()  # R: conditioned on non-empty
        assert math.isclose(float(probs.sum()), 1.0)
        g = torch.Generator().manual_seed(1)
        n = 3000
        for enum in (5, 0):  # enumeration and Bernoulli-with-rejection give the same distribution
            counts = [0] * len(sets)
            for _ in range(n):
                counts[sets.index(sample_set(p, ops, kind, g, enumerate_max=enum))] += 1
            assert chisquare(counts, (probs * n).tolist()).pvalue > 1e-3


def test_sampler_invariants():
    g = torch.Generator().manual_seed(0)
    for trial in range(300):
        n = 1 + trial % 7
        ops = tuple(range(10, 10 + n))
        p = effective_p(torch.randn(n, generator=g) * 3)
        for kind in ("N", "R", "E"):
            a = sample_set(p, ops, kind, g)
            assert set(a) <= set(ops) and (a or kind == "N")
            u = uniform_set(ops, kind, 0.5, g)
            assert set(u) <= set(ops) and (u or kind == "N")
            if is_deterministic(ops, kind):
                assert a == u == ops  # a single-op R/E layer always uses its op
                continue
            plus, minus = sample_two(p, ops, kind, g)
            assert plus != minus and set(plus) | set(minus) <= set(ops)
            assert (plus and minus) or kind == "N"


def test_straight_through_forward_and_gradient():
    """z equals h+ exactly; dL/dalpha matches the manual chain rule through q+ and q- on a
    two-layer toy (autograd vs hand-written)."""
    torch.manual_seed(0)
    ops = (0, 1, 2)
    alpha = [torch.randn(3, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    sets = [((0, 2), (1,)), ((1,), (0, 1, 2))]
    w1, w2 = torch.randn(4, 4, dtype=torch.float64), torch.randn(4, 4, dtype=torch.float64)
    x = torch.randn(4, dtype=torch.float64)

    def layer(w, h, a):  # a toy multi-branch layer: mean of per-op scaled maps
        return sum(torch.tanh((o + 1) * w @ h) for o in a) / len(a)

    zs, hs, qs = [], [], []
    h = x
    for al, (plus, minus), w in zip(alpha, sets, (w1, w2)):
        q = pair_weights(effective_p(al), ops, plus, minus)
        hp, hm = layer(w, h, plus), layer(w, h, minus).detach()
        z = binary_gate(hp, hm, *q)
        assert torch.equal(z, hp)
        z.retain_grad()
        zs.append(z), hs.append((hp.detach(), hm)), qs.append(q)
        h = z
    loss = (h ** 2).sum()
    loss.backward()
    for l, (al, (plus, minus)) in enumerate(zip(alpha, sets)):
        gz = zs[l].grad
        dq_plus, dq_minus = float(gz @ hs[l][0]), float(gz @ hs[l][1])
        p = effective_p(al.detach())
        dp = (1 - 2 * 5e-4) * torch.sigmoid(al.detach()) * (1 - torch.sigmoid(al.detach()))

        def dlogP(a):
            return torch.tensor([1 / p[o] if o in a else -1 / (1 - p[o]) for o in ops], dtype=torch.float64) * dp

        qp, qm = (float(v.detach()) for v in qs[l])
        dqp_dalpha = qp * qm * (dlogP(plus) - dlogP(minus))  # d q+ / d alpha; d q- = -d q+
        manual = dq_plus * dqp_dalpha - dq_minus * dqp_dalpha
        torch.testing.assert_close(al.grad, manual)


def _task(**over):
    cfg = make_config("nse", "tiny", {**SMALL, "target": 100.0, **over})
    return NSESearch(cfg, dataset_info("digits"))


def test_training_step_arch_loss_and_gradient_by_hand():
    """A hand-made super-net where only layer 0 (N, subset {op 0}) has a choice and the
    classifier is zero and frozen: the CE of the held-out batch is ln 10 and carries no
    gradient to alpha, so the architecture step's loss and gradient are those of the
    penalty lambda (C_hat - T)^2 with C_hat = fixed + sum_l [q+ c(A+) + q- c(A-)] (docs/methods/nse.md
    Sec. 5.3), computed here by hand (MACs in thousands, cost_unit 1e3)."""
    widths = [8, 8, 8, 8, 16, 16, 24]
    task = _task(widths=widths, counts=[1, 0, 0, 0, 0, 0], head_width=16, target=20.0, penalty_lambda=1e-4,
                 arch_every=1)
    state = task.state.copy()
    state.subsets = [[0]] * 7  # LB k3 t1 everywhere
    state.retained = [[] for _ in range(7)]
    task.start_round(state, None)
    assert task.kinds == ["N", "R", "R", "R", "E", "R", "E"]
    m = task.model
    with torch.no_grad():
        m.head.classifier.weight.zero_(), m.head.classifier.bias.zero_()
    m.head.classifier.requires_grad_(False)
    task.optimizers()
    task._steps_per_epoch = 1
    task.schedulers()
    trainer = SimpleNamespace(wrapped=m, device=torch.device("cpu"), global_step=0, scaler=None,
                              cfg=SimpleNamespace(channels_last=False, amp=False, grad_clip=None))
    g = torch.Generator().manual_seed(0)
    batch = lambda: (torch.randn(4, 1, 8, 8, generator=g), torch.randint(0, 10, (4,), generator=g))  # noqa: E731
    out = task.training_step({"train": batch(), "arch": batch()}, StepContext(trainer))
    # by hand: LB k3 t1 at input s -> output o, c_in -> c_out: s^2 c_in^2 + o^2 9 c_in + o^2 c_in c_out
    lb = lambda s, o, ci, co: s * s * ci * ci + o * o * 9 * ci + o * o * ci * co  # noqa: E731
    c0 = lb(8, 8, 8, 8)                                                # layer 0, the choice: 12800
    fixed = 8 * 8 * 8 * 9 + 24 * 16 + 16 + 16 * 10                     # stem, head conv, pool, FC: 5168
    rest = lb(8, 4, 8, 8) + lb(4, 2, 8, 8) + lb(2, 1, 8, 8) + lb(1, 1, 8, 16) + lb(1, 1, 16, 16) + lb(1, 1, 16, 24)
    assert (c0, fixed, rest) == (12800, 5168, 9936)
    p = 0.5  # alpha = 0: p = 0.999 sigmoid(0) + 0.0005; the pair is {(), (0,)}, so q(0,) = p
    c_hat = (fixed + rest + p * c0) / 1e3
    assert c_hat == pytest.approx(21.504)
    assert float(out["expected_cost"]) == pytest.approx(c_hat, rel=1e-6)
    assert float(out["arch_loss"]) == pytest.approx(math.log(10) + 1e-4 * (21.504 - 20.0) ** 2, rel=1e-6)
    # d/dalpha_{0,0}: 2 lambda (C_hat - T) * c0 / 1e3 * 0.999 sigmoid'(0)
    grad = m.alpha.grad
    assert float(grad[0, 0]) == pytest.approx(2e-4 * 1.504 * 12.8 * 0.999 * 0.25, rel=1e-5)  # 9.6159744e-4
    grad[0, 0] = 0.0
    assert torch.count_nonzero(grad) == 0


def test_probabilities_at_0_and_1_give_a_deterministic_sample_and_the_derived_flops():
    """With p pushed to 0/1 (eps = 0, alpha = +-30) the estimator's A+ and the candidate draw are
    the same architecture every time, and the expected cost equals the FLOPs of that network."""
    task = _task(p_eps=0.0)
    torch.manual_seed(0)
    on = {l: {o for o in s if torch.rand(()) < 0.5} for l, s in enumerate(task.state.subsets)}
    for l, s in enumerate(task.state.subsets):
        if task.kinds[l] != "N" and not on[l]:
            on[l] = {s[0]}
        for o in s:
            task.model.alpha.data[l, o] = 30.0 if o in on[l] else -30.0
    expect = tuple(tuple(o for o in s if o in on[l]) for l, s in enumerate(task.state.subsets))
    x = torch.randn(2, 1, 8, 8)
    for seed in range(5):
        task.gen.manual_seed(seed)
        pairs = task.sample_pairs()
        assert tuple(pr.plus for pr in pairs) == expect
        p = task.model.probabilities().detach()
        assert sample_arch(p, task.state.subsets, task.kinds, torch.Generator().manual_seed(seed)) == expect
    _, penalty_cost = task.model(x, pairs=pairs)
    arch = NSEArch("MAC-27", "NER", tuple(SMALL["counts"]), expect, widths=tuple(SMALL["widths"]), stem_stride=1,
                   head_width=16, se=False, act="relu")
    net = NSENet(arch, 10, 1)
    # the counter's MACs, the global pool included (1 per output element, Sec. 5.4)
    derived = count_macs(net, (1, 8, 8))
    assert float(penalty_cost.detach()) * task.cfg.cost_unit == pytest.approx(derived, rel=1e-9)
