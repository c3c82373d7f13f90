# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
SCALE = "tiny"  # "tiny": two methods re-run live (~40 s), all seven from the saved table; "all": re-run all seven (~6 min on 2 cores)

# %% [markdown]
# # 99 · Every method, the same data, the same budget
#
# Papers compare methods on different hardware, budgets and training recipes, which makes their tables hard to
# read side by side. Here every method in nasbook runs the **same protocol**, on the same offline digits:
#
# * **search**: each method's `tiny` preset with the same seed, batch size and steps per epoch, and the same
#   number of weight-training epochs. NSE spreads them over its rounds and MGAS runs its phases until the size target
#   is met (capped), so their step counts differ: the table shows the steps each search really took, counted by a hook
#   on the shared training loop, and its wall time;
# * **evaluation**: the derived network is trained from scratch with one common recipe (the same data, epochs, batch,
#   optimiser and seed for all) and scored on held-out digits.
#
# The protocol is ours (`nasbook.compare`). At this scale the ranking tells you little about the methods at full
# scale; what it shows is how to measure them the same way. Methods: DARTS (Liu et al. 2019), EnTranNAS (Yang et al.
# 2021), Meta Kernels (Chen et al. 2019), MGAS (2023), few-shot NAS by nonlinearity count (2024), SPOS (Guo et al.
# 2020), NSE (Ci et al. 2021).

# %%
from pathlib import Path

import matplotlib.pyplot as plt

from nasbook import compare
from nasbook.exercises import check

print(f"budget: {compare.EPOCHS} epochs x {compare.STEPS_PER_EPOCH} steps of {compare.BATCH} images")
for m in compare.METHODS:
    print(f"  {m:12s}", compare.search_overrides(m))
print("evaluation:", compare.RETRAIN_RECIPE, compare.RETRAIN)

# %% [markdown]
# ## 1 · Two methods, live
#
# The two fastest searches run here, on your machine: SPOS and the few-shot method share the NAS-Bench-201 space
# and the same number of steps, so the comparison isolates one idea (several supernets split by nonlinearity
# count instead of one).

# %%
live_methods = list(compare.METHODS) if SCALE == "all" else ["spos", "fewshot_nl"]
live = compare.compare_methods(live_methods, out="runs/compare")
print(compare.table(live))

# %% [markdown]
# ## 2 · All seven
#
# Running all seven takes about six minutes on two cores, so the full table was computed once with the same
# code (`nasbook figures --rerun-compare` rewrites it) and is read from `figures/compare.json`. The live rows
# replace their saved ones; with the same seed they should reproduce the saved accuracy exactly (wall times will
# differ).

# %%
saved = compare.load_results(Path("../figures/compare.json"))
by_method = {r["method"]: r for r in saved}
for r in live:
    print(f"{r['method']:12s} accuracy live {r['accuracy']:.4f}   saved {by_method[r['method']]['accuracy']:.4f}")
rows = [next((r for r in live if r["method"] == m), by_method[m]) for m in compare.METHODS if m in by_method]
print(compare.table(rows))

# %%
fig = compare.plot_comparison(rows)


# %% [markdown]
# Reading the plot: the x-axis is search cost on this machine, the y-axis what the derived network reaches when
# trained the same way, and the marker size its parameters. Derived networks live in different spaces (DARTS cells,
# MBConv chains, NAS-Bench-201 cells, NSE layers), so a method can win by finding a bigger network; the exercises ask
# you to check.

# %% [markdown]
# ## Exercises
#
# Each exercise has a cell for your answer (replace the `...`), a reference solution (a cell tagged `solution`,
# left out of student copies) and a `check` cell that tests your answer on many random tables. More to try: set
# `SCALE = "all"` and compare the live table with the saved one; change `compare.EPOCHS` and re-run: does the
# ranking hold?

# %% [markdown]
# ### Exercise 1 · the Pareto front of accuracy and cost
#
# Write `pareto(rows)`: the sorted list of the `method` names that no other row beats on both axes — no other
# row is at least as fast (`search_s`) and at least as accurate (`accuracy`) while strictly better on one of them.
# Then call it on `rows`.

# %%
def pareto(rows):
    ...


# %% tags=["solution"]
def pareto(rows):
    front = []
    for r in rows:
        beaten = any(o["search_s"] <= r["search_s"] and o["accuracy"] >= r["accuracy"]
                     and (o["search_s"] < r["search_s"] or o["accuracy"] > r["accuracy"]) for o in rows)
        if not beaten:
            front.append(r["method"])
    return sorted(front)

print(pareto(rows))

# %%
check("99.pareto", pareto);


# %% [markdown]
# ### Exercise 2 · does size predict accuracy?
#
# If bigger derived networks simply score higher, the comparison mostly measures size. Write `size_rank(rows)`:
# Kendall's τ between `params` and `accuracy` over the rows (`scipy.stats.kendalltau`). Then look at its value for
# `rows`.

# %%
def size_rank(rows):
    ...


# %% tags=["solution"]
from scipy.stats import kendalltau

def size_rank(rows):
    return kendalltau([r["params"] for r in rows], [r["accuracy"] for r in rows]).statistic

print(f"tau(params, accuracy) = {size_rank(rows):.2f}")

# %%
check("99.size_rank", size_rank);
