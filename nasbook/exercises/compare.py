"""Exercises of ``99_compare.ipynb``: reading a comparison table."""
from __future__ import annotations

import random

from scipy.stats import kendalltau

from .core import expect_callable, exercise, fail


def _tables(n: int = 40):
    rng = random.Random(0)
    for _ in range(n):
        k = rng.randint(2, 8)
        yield [{"method": f"m{i}", "search_s": rng.choice([5.0, 10.0, 20.0, 40.0, rng.uniform(1, 60)]),
                "accuracy": rng.choice([0.5, 0.8, 0.9, rng.uniform(0, 1)]), "params": rng.randint(10_000, 200_000)}
               for i in range(k)]


def _dominated(r, rows):
    return any(o is not r and o["search_s"] <= r["search_s"] and o["accuracy"] >= r["accuracy"]
               and (o["search_s"] < r["search_s"] or o["accuracy"] > r["accuracy"]) for o in rows)


# --- 99.pareto -----------------------------------------------------------------------------------

def _pareto_solution():
    def pareto(rows):
        front = []
        for r in rows:   # r is dominated if another row is no slower, no less accurate, and better in one
            if not any(o["search_s"] <= r["search_s"] and o["accuracy"] >= r["accuracy"]
                       and (o["search_s"] < r["search_s"] or o["accuracy"] > r["accuracy"]) for o in rows):
                front.append(r["method"])
        return sorted(front)
    return pareto


def _pareto_wrong():
    def best_only(rows):  # the single most accurate method
        return [max(rows, key=lambda r: r["accuracy"])["method"]]

    def strict(rows):  # drops rows tied with another on both axes or on one axis
        return sorted(r["method"] for r in rows if not any(
            o is not r and o["search_s"] <= r["search_s"] and o["accuracy"] >= r["accuracy"] for o in rows))

    def wrong_direction(rows):  # treats a longer search as better
        return sorted(r["method"] for r in rows if not any(
            o["search_s"] >= r["search_s"] and o["accuracy"] >= r["accuracy"]
            and (o["search_s"] > r["search_s"] or o["accuracy"] > r["accuracy"]) for o in rows))
    return [best_only, strict, wrong_direction]


@exercise("99.pareto", "the Pareto front of accuracy and cost", _pareto_solution, _pareto_wrong)
def check_pareto(pareto):
    pareto = expect_callable(pareto, "pareto")
    for rows in _tables():
        want = sorted(r["method"] for r in rows if not _dominated(r, rows))
        got = pareto([dict(r) for r in rows])
        if sorted(got or []) != want:
            table = ", ".join(f"{r['method']}: {r['search_s']:.1f} s / {r['accuracy']:.2f}" for r in rows)
            fail(f"for [{table}] you gave {sorted(got or [])}: keep every method that no other method beats on both "
                 "axes (no slower and no less accurate, better on at least one)")


# --- 99.size_rank -------------------------------------------------------------------------------

def _rank_solution():
    def size_rank(rows):
        return kendalltau([r["params"] for r in rows], [r["accuracy"] for r in rows]).statistic
    return size_rank


def _rank_wrong():
    from scipy.stats import pearsonr, spearmanr
    return [lambda rows: spearmanr([r["params"] for r in rows], [r["accuracy"] for r in rows]).statistic,
            lambda rows: pearsonr([r["params"] for r in rows], [r["accuracy"] for r in rows]).statistic,
            lambda rows: kendalltau([r["params"] for r in rows], [r["search_s"] for r in rows]).statistic]


@exercise("99.size_rank", "does size predict accuracy?", _rank_solution, _rank_wrong)
def check_size_rank(size_rank):
    size_rank = expect_callable(size_rank, "size_rank")
    for rows in _tables():
        if len(rows) < 4:
            continue
        want = kendalltau([r["params"] for r in rows], [r["accuracy"] for r in rows]).statistic
        got = size_rank([dict(r) for r in rows])
        if not isinstance(got, (int, float)) or abs(float(got) - want) > 1e-9:
            fail(f"size_rank gave {got!r}, which is not Kendall's tau between params and accuracy "
                 "(a rank correlation over pairs of methods, params against accuracy)")
