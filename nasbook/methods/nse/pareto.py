"""The Pareto front of scored architectures (docs/methods/nse.md step 5).

A point (cost, top-1) survives when no other point has cost <= and top-1 >= with one of them
strict; of exactly equal points only the first listed survives. Callers list new candidates
before carried front members and give the carried ones a 1e-10 top-1 disadvantage, so that a
re-evaluated old architecture loses a tie to a new one.
"""
from __future__ import annotations

from typing import Sequence


def pareto_front(costs: Sequence[float], scores: Sequence[float]) -> list[int]:
    """Indices of the non-dominated points (cost down, score up), in input order."""
    if len(costs) != len(scores):
        raise ValueError(f"{len(costs)} costs but {len(scores)} scores")
    # sweep by cost (ties: higher score first, then input order); a point survives iff its
    # score beats every score seen before it
    order = sorted(range(len(costs)), key=lambda i: (costs[i], -scores[i], i))
    keep, best = [], float("-inf")
    for i in order:
        if scores[i] > best:
            keep.append(i)
            best = scores[i]
    return sorted(keep)


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """(cost, score) ``a`` dominates ``b``."""
    return a[0] <= b[0] and a[1] >= b[1] and (a[0] < b[0] or a[1] > b[1])
