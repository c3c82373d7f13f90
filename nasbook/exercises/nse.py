"""Exercises of ``nse.ipynb``: the probability of a set of on-ops, the Pareto front, and how a
layer's subset is refilled between rounds."""
from __future__ import annotations

import math
import random

import torch

from ..methods.nse.distribution import allowed_sets, set_probabilities
from ..methods.nse.pareto import pareto_front
from ..methods.nse.state import refill
from .core import expect_callable, expect_equal, exercise, fail


# --- nse.set_probability: P(A) under independent on-probabilities --------------------------------

def _prob_solution():
    def set_probability(p, ops, active, kind):
        prob = 1.0
        for po, o in zip(p, ops):
            prob *= po if o in active else 1 - po      # every op is on or off, independently
        if kind != "N":                                # R/E layers: conditioned on "not empty"
            prob /= 1 - math.prod(1 - po for po in p)
        return prob
    return set_probability


def _prob_wrong():
    def on_ops_only(p, ops, active, kind):         # forgets the (1 - p) of the ops that are off
        prob = math.prod(po for po, o in zip(p, ops) if o in active)
        return prob / (1 - math.prod(1 - po for po in p)) if kind != "N" else prob

    def never_conditioned(p, ops, active, kind):   # R/E layers as if the empty set were allowed
        return math.prod(po if o in active else 1 - po for po, o in zip(p, ops))

    def always_conditioned(p, ops, active, kind):  # N layers may skip: their empty set is allowed
        prob = math.prod(po if o in active else 1 - po for po, o in zip(p, ops))
        return prob / (1 - math.prod(1 - po for po in p))
    return [on_ops_only, never_conditioned, always_conditioned]


@exercise("nse.set_probability", "the probability of a set of on-ops", _prob_solution, _prob_wrong)
def check_set_probability(set_probability):
    set_probability = expect_callable(set_probability, "set_probability")
    g = torch.Generator().manual_seed(0)
    for kind in ("N", "R", "E"):
        for n in (3, 1, 2, 4):
            if n == 1 and kind != "N":
                continue  # a single-op R/E layer has no choice
            ops = tuple(sorted(torch.randperm(27, generator=g)[:n].tolist()))
            p = (0.05 + 0.9 * torch.rand(n, generator=g, dtype=torch.float64))
            sets = allowed_sets(ops, kind)
            probs = set_probabilities(p, ops, sets)
            probs = probs / probs.sum()               # N: sums to 1 already; R/E: conditioned on A ≠ ∅
            for a, want in zip(sets, probs.tolist()):
                got = set_probability(p.tolist(), ops, a, kind)
                if got is not None and not isinstance(got, (int, float)):
                    got = float(got)
                expect_equal(got, want, f"set_probability for the {kind} layer with ops {ops}, "
                             f"p = {[round(v, 2) for v in p.tolist()]}, set A = {set(a) or '∅'}", rel=1e-9)


# --- nse.pareto: the non-dominated candidates ----------------------------------------------------

def _pareto_solution():
    def pareto(costs, scores):
        keep = []
        for i, (c, s) in enumerate(zip(costs, scores)):
            dominated = any(c2 <= c and s2 >= s and (c2 < c or s2 > s) for c2, s2 in zip(costs, scores))
            if not dominated:
                keep.append(i)
        return keep
    return pareto


def _pareto_wrong():
    def cost_up(costs, scores):          # as if a higher cost were better too
        return [i for i, (c, s) in enumerate(zip(costs, scores))
                if not any(c2 >= c and s2 >= s and (c2 > c or s2 > s) for c2, s2 in zip(costs, scores))]

    def strict_both(costs, scores):      # dominated only when strictly better in both
        return [i for i, (c, s) in enumerate(zip(costs, scores))
                if not any(c2 < c and s2 > s for c2, s2 in zip(costs, scores))]

    def two_extremes(costs, scores):     # the cheapest and the best only
        return sorted({min(range(len(costs)), key=lambda i: (costs[i], -scores[i])),
                       max(range(len(costs)), key=lambda i: (scores[i], -costs[i]))})
    return [cost_up, strict_both, two_extremes]


@exercise("nse.pareto", "the Pareto front of scored architectures", _pareto_solution, _pareto_wrong)
def check_pareto(pareto):
    pareto = expect_callable(pareto, "pareto")
    rng = random.Random(0)
    for n in (12, 5, 30, 60):
        for _ in range(10):
            pts = set()
            while len(pts) < n:   # distinct points, but many equal costs and equal scores
                pts.add((rng.randint(0, n // 2) * 10.0, float(rng.randint(0, n // 2))))
            pts = list(pts)
            rng.shuffle(pts)
            costs, scores = [c for c, _ in pts], [s for _, s in pts]
            want = pareto_front(costs, scores)
            got = pareto(list(costs), list(scores))
            if got is None:
                fail("pareto returned None: not answered yet (fill in the `...`)")
            got = sorted(int(i) for i in got)
            if got != want:
                extra, missing = sorted(set(got) - set(want)), sorted(set(want) - set(got))
                why = []
                if extra:
                    i = extra[0]
                    j = next(j for j in range(n) if costs[j] <= costs[i] and scores[j] >= scores[i] and j != i)
                    why.append(f"{len(extra)} of yours are dominated, e.g. {pts[i]} by {pts[j]}")
                if missing:
                    why.append(f"{len(missing)} non-dominated points are missing, e.g. {pts[missing[0]]}")
                fail(f"for {n} points (cost, top-1) you keep {len(got)}, the front has {len(want)}: "
                     f"{'; '.join(why)} (lower cost is better, higher top-1 is better)")


# --- nse.refill: the next round's subset of one layer ---------------------------------------------

def _refill_solution():
    def refill_layer(retained, queue, K):
        n = min(max(0, K - len(retained)), len(queue))   # top up to K with never-tried ops, in queue order
        return list(retained) + list(queue[:n]), list(queue[n:])
    return refill_layer


def _refill_wrong():
    def truncate(retained, queue, K):        # cuts the retained subset down to K
        n = min(max(0, K - len(retained)), len(queue))
        return (list(retained) + list(queue[:n]))[:K], list(queue[n:])

    def always_k_new(retained, queue, K):    # adds K new ops whatever was retained
        return list(retained) + list(queue[:K]), list(queue[K:])

    def from_the_end(retained, queue, K):    # takes the last ops of the queue
        n = min(max(0, K - len(retained)), len(queue))
        return list(retained) + list(queue[len(queue) - n:]), list(queue[:len(queue) - n])
    return [truncate, always_k_new, from_the_end]


@exercise("nse.refill", "refilling a layer's subset", _refill_solution, _refill_wrong)
def check_refill(refill_layer):
    refill_layer = expect_callable(refill_layer, "refill_layer")
    rng = random.Random(1)
    cases = [([3, 9], [4, 1, 20, 7], 3), ([5, 6, 8, 11], [2, 0], 3), ([], [13, 2, 6, 1], 3), ([7], [], 4),
             ([1, 2], [9], 4)]
    for _ in range(20):
        ids = rng.sample(range(27), 12)
        r = rng.randint(0, 5)
        cases.append((sorted(ids[:r]), ids[r:r + rng.randint(0, 7)], rng.randint(2, 5)))
    for retained, queue, K in cases:
        q = [list(queue)]
        want_subset, want_queue = refill([list(retained)], q, K)[0], q[0]
        got = refill_layer(list(retained), list(queue), K)
        if got is None:
            fail("refill_layer returned None: not answered yet (fill in the `...`)")
        try:
            subset, rest = (list(x) for x in got)
        except (TypeError, ValueError):
            fail(f"refill_layer should return two lists (new subset, rest of the queue), got {got!r}")
        expect_equal(subset, want_subset, f"the new subset for retained {retained}, queue {queue}, K={K}")
        expect_equal(rest, want_queue, f"the queue left for retained {retained}, queue {queue}, K={K}")
