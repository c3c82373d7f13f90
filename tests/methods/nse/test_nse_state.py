"""NSE's evolving space: initial subsets and queues, pruning, refill bounds, rounds, the
Pareto front and the retained union (docs/methods/nse.md, Sec. 12 checks 8-10, 12)."""
import random

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nasbook.methods.nse.pareto import dominates, pareto_front
from nasbook.methods.nse.state import (continue_with_pool, init_state, num_rounds, prune, refill,
                                       retained_from_front)
from nasbook.zoo.nse import NSE27_RETAINED


def _task(**over):
    from nasbook.data import dataset_info
    from nasbook.methods.nse import NSESearch
    from nasbook.search import make_config

    return NSESearch(make_config("nse", "tiny", {"progress": False, **over}), dataset_info("digits"))


def test_rounds_formula():
    assert (num_rounds(27, 5), num_rounds(19, 6), num_rounds(72, 5)) == (6, 3, 17)


def test_initial_subsets_and_queues():
    s = init_state(range(27), 22, 5, seed=233)
    for sub, q in zip(s.subsets, s.queues):
        assert len(sub) == 5 and len(q) == 22
        assert sorted(sub + q) == list(range(27))  # a permutation split into S and Q
    assert len({tuple(sub) for sub in s.subsets}) > 1  # layers draw independently
    assert init_state(range(27), 22, 5, seed=233) == s  # same seed, same permutations
    assert init_state(range(27), 22, 5, seed=234) != s


def test_prune_rules():
    kinds = ["N", "R", "R", "E"]
    alpha = np.zeros((4, 10))
    alpha[:, 1] = alpha[:, 2] = -3.0  # below tau = -2
    subsets = [[0, 1, 2], [1, 2], [1, 2, 5], [1, 2, 3]]
    alpha[3, 3] = -2.5
    retained = [[2], [], [], []]
    removed = prune(subsets, alpha, retained, kinds, -2.0)
    assert subsets[0] == [0, 2] and removed[0] == [1]     # retained op 2 is protected
    assert subsets[1] == [1, 2] and removed[1] == []      # an R layer with exactly two ops is left alone
    assert subsets[2] == [5]                               # the op above tau stays
    assert subsets[3] == [3] and sorted(removed[3]) == [1, 2]  # never emptied: the largest alpha stays (ours)


def test_refill_bounds_and_queue_semantics():
    """Simulate many rounds with random fronts and pruning: |S_l| <= K, P_l in S_l, the refill
    adds min(K - |P|, |Q|) ops, queued ops are popped once and never come back, discarded ops
    never return."""
    rng = random.Random(0)
    K, L, N = 4, 6, 19
    kinds = ["N", "R", "N", "E", "N", "R"]
    s = init_state(range(N), L, K, seed=1)
    ever_queued = [set(q) | set(sub) for q, sub in zip(s.queues, s.subsets)]
    gone = [set() for _ in range(L)]
    added_ever = [set(sub) for sub in s.subsets]
    for _ in range(8):
        alpha = np.array([[rng.uniform(-3, 1) for _ in range(N)] for _ in range(L)])
        start = [list(x) for x in s.subsets]
        prune(s.subsets, alpha, s.retained, kinds, -2.0)
        assert all(set(p) <= set(sub) for p, sub in zip(s.retained, s.subsets))
        # a front: random architectures inside the (pruned) subsets
        front = []
        for _ in range(rng.randint(1, 3)):
            arch = []
            for sub, k in zip(s.subsets, kinds):
                a = [o for o in sub if rng.random() < 0.5]
                arch.append(a if a or k == "N" else [sub[0]])
            front.append(arch)
        retained = retained_from_front(front, L)
        for l in range(L):
            gone[l] |= set(start[l]) - set(retained[l])  # pruned or not on the front
        before = [list(q) for q in s.queues]
        new = refill(retained, s.queues, K)
        for l in range(L):
            n_add = min(max(0, K - len(retained[l])), len(before[l]))
            assert len(new[l]) == len(retained[l]) + n_add <= K
            assert new[l][:len(retained[l])] == retained[l]       # the refill contains P_l
            assert new[l][len(retained[l]):] == before[l][:n_add]  # popped from the queue front
            assert s.queues[l] == before[l][n_add:]                # and gone from the queue
            added = set(new[l]) - set(retained[l])
            assert not added & added_ever[l] and not added & gone[l]  # each op enters once
            assert not set(s.queues[l]) & (added_ever[l] | gone[l])   # nothing returns to Q
            added_ever[l] |= added
            assert set(new[l]) | set(s.queues[l]) | gone[l] == ever_queued[l]
        s.subsets, s.retained = new, retained


def test_retained_union_and_continuation():
    front = [[[1, 2], [5]], [[2, 3], [5, 6]], [[], [6]]]
    assert retained_from_front(front, 2) == [[1, 2, 3], [5, 6]]
    s = init_state(range(27, 72), 22, 5, seed=233, retained=NSE27_RETAINED)
    for p, sub, q in zip(NSE27_RETAINED, s.subsets, s.queues):
        assert sub[:len(p)] == sorted(p) and len(sub) == max(5, len(p))
        assert all(o >= 27 for o in sub[len(p):] + q)  # only new grouped ops are queued (Sec. 4.6)
    s.front = [{"arch": [[0]] * 22, "cost": 1.0, "top1": 0.5, "round": 5}]
    c = continue_with_pool(s, range(27, 72), 5, 233, drop_front=True)
    assert c.front == [] and c.stage == 1 and all(set(p) <= set(x) for p, x in zip(c.retained, c.subsets))
    assert continue_with_pool(s, range(27, 72), 5, 233, drop_front=False).front == s.front


def test_pareto_matches_brute_force():
    rng = random.Random(3)
    for _ in range(200):
        n = rng.randint(1, 25)
        pts = [(rng.choice([1.0, 2.0, 3.0, rng.random() * 4]), rng.choice([0.1, 0.5, rng.random()])) for _ in range(n)]
        keep = pareto_front([p[0] for p in pts], [p[1] for p in pts])
        brute = [i for i, p in enumerate(pts)
                 if not any(dominates(q, p) for q in pts) and p not in pts[:i]]  # first of equal points
        assert keep == brute


def test_carried_tie_break_prefers_new():
    from nasbook.methods.nse.rounds import CARRIED_TIE_BREAK

    costs, top1 = [5.0, 5.0], [0.7, 0.7 - CARRIED_TIE_BREAK]  # a new candidate equal to a carried one
    assert pareto_front(costs, top1) == [0]


class _Loader(list):
    sampler = SimpleNamespace(set_epoch=lambda epoch: None)


@pytest.mark.parametrize("K", [2, 3])
def test_subset_never_exceeds_K_over_a_real_search_state(K):
    """All ops on (p = 1): the front is the full architecture, so P_l = S_l with K ops; the
    real end of round (sampling, scoring, front, union, refill) must then refuse every op the
    queues still offer, so no subset grows past K; a retained set already larger than K (the
    G-72 continuation's case, Sec. 10 #10) is kept whole and gets nothing added either."""
    task = _task(K=K, pool_ops=[0, 3, 9, 21, 22], counts=[1, 0, 1, 0, 0, 0], widths=[8] * 7, head_width=16,
                 p_eps=0.0, num_candidates=3, num_lower=1, sample_tries=2, window=[-1.0, 1.0], bn_recal_batches=1)
    state = task.state.copy()
    assert all(len(s) == K and len(q) == 5 - K for s, q in zip(state.subsets, state.queues))
    with torch.no_grad():
        for l, s in enumerate(state.subsets):
            task.model.alpha[l, s] = 30.0
    full = tuple(tuple(s) for s in state.subsets)
    target = task.cost.arch_cost(full)
    data = [(torch.randn(4, 1, 8, 8), torch.randint(0, 10, (4,)))]
    from nasbook.methods.nse.rounds import end_of_round

    nxt, record = end_of_round(task.model, state, task.cost, task.cfg, target,
                               {"recal": _Loader(data), "heldout": _Loader(data)}, seed=0)
    assert [f["arch"] for f in record["front"]] == [[list(s) for s in full]]
    assert nxt.retained == [sorted(s) for s in state.subsets]
    assert all(len(s) == K for s in nxt.subsets) and all(a == [] for a in record["added"])
    assert nxt.queues == state.queues  # the untried ops stay queued
    grown = continue_with_pool(nxt, [40, 41, 42], K, seed=0)  # fresh queues of new ops ...
    assert all(len(s) == K for s in grown.subsets) and all(len(q) == 3 for q in grown.queues)
    big = nxt.copy()
    big.retained[0] = list(range(K + 1))
    grown = continue_with_pool(big, [40, 41, 42], K, seed=0)
    assert grown.subsets[0] == list(range(K + 1)) and len(grown.queues[0]) == 3


def test_presets_follow_the_authors_configs():
    from nasbook.config import preset_values
    from nasbook.methods.nse.method import total_rounds
    from nasbook.search import make_config

    rounds = {p: total_rounds(make_config("nse", p)) for p in ("paper-flops", "paper-g72", "paper-latency", "tiny")}
    # NSE-27 (6) + G-72 capped at 3; G-72 alone 3; MB-19 with K = 6: 3; tiny capped at 3 (2-3 rounds)
    assert rounds == {"paper-flops": 9, "paper-g72": 3, "paper-latency": 3, "tiny": 3}
    flops, lat = preset_values("nse", "paper-flops"), preset_values("nse", "paper-latency")
    assert (flops["K"], flops["tau"], flops["target"], flops["penalty_lambda"], flops["seed"]) == (5, -2.0, 300.0, 1e-5, 233)
    assert (lat["K"], lat["target"], lat["penalty_lambda"], lat["window"], lat["lower_band"]) == (6, 66.0, 2e-4, [0.0, 12.0], 2.0)
    assert (flops["lr"], flops["warmup_lr"], flops["arch_lr"], flops["arch_betas"], flops["arch_every"]) == (0.4, 0.1, 0.005, [0.0, 0.999], 2)
    assert preset_values("nse", "paper") == flops
