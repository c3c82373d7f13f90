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
SCALE = "tiny"  # "tiny": the offline digits on a CPU in about a minute; "paper": CIFAR-10, 250 epochs (GPU)

# %% [markdown]
# # Few-shot NAS by counting nonlinear functions
#
# *Efficient Few-Shot Neural Architecture Search by Counting the Number of Nonlinear Functions* (Oh, Lee, Ham,
# AAAI 2025, arXiv 2412.14678).
#
# One-shot NAS trains **one** supernet whose weights every subnet shares; subnets that behave differently interfere,
# and the supernet ranks them poorly. Few-shot NAS gives groups of subnets their **own** supernets. This paper groups
# subnets by a number you can read off the architecture, with no training and no gradients: **how many nonlinear
# functions a signal passes through**. Two more ingredients make several supernets affordable and fair:
# **narrower supernets** (every width divided by G) and **supernet-balanced sampling** (SBS: one subnet from
# every supernet at every step).
#
# **What is the paper's and what is ours.** Only the abstract, page 1 and the project page are public [P]; the
# rules below come from the authors' development code [C], checked by enumeration [D]. Where the sources are silent
# (the number of NAS-Bench-201 supernets, the width divisor, independent vs shared supernets) the spec makes a
# choice [O], and each is a config field you can turn below.

# %%
import os
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import SVG, display

from nasbook.data.nasbench201 import load_nb201
from nasbook.exercises import check
from nasbook.measure import count_params, kendall_tau
from nasbook.methods.fewshot_nl import NB201Subspaces, draw, expected_updates, nb201_supernet
from nasbook.methods.fewshot_nl.rank import plot_ranking, rank_run
from nasbook.search import search
from nasbook.spaces.nb201 import EDGES, OPS, NB201Cell, all_cells, space_summary
from nasbook.viz.nb201 import cell_dot

# The NAS-Bench-201 table: $NASBOOK_NB201, else the shared folder beside the repository.
BENCH = os.environ.get("NASBOOK_NB201") or next(
    p for p in ("../../shared/data/nasbench201", "../shared/data/nasbench201") if Path(p).is_dir())
table = load_nb201(BENCH)
PRESET = "tiny" if SCALE == "tiny" else "paper"
RANK_SAMPLE = 200 if SCALE == "tiny" else None   # cells to score; None = all 15,625
if SCALE == "tiny":
    # The tiny supernets (4-channel convs on 8x8 images) are too small to gain from a second thread, and on a
    # busy machine two threads can wait on each other far longer than the work takes.
    torch.set_num_threads(1)
torch.manual_seed(0)
print(table.name)

# %% [markdown]
# ## 1 · The NAS-Bench-201 cell and its four paths
#
# A cell is a DAG on four nodes; each of its six edges carries one of five ops, so there are 5⁶ = 15,625 cells.
# Every cell is written as an *arch string*, one `|...|` group per node listing the op from each earlier node.
# The network stacks the cell 15 times (three stages of five, with residual reduction blocks between them).
#
# Only `nor_conv_1x1` and `nor_conv_3x3` hold a nonlinearity (each is ReLU → conv → BN); `skip_connect` and
# `avg_pool_3x3` are linear, and `none` cuts every path through its edge. There are exactly four input-to-output
# paths. The **nonlinearity count** (ENN, `docs/methods/fewshot_nl.md`) is the largest number of ReLUs on any live path: parallel convs
# do not add up, and a conv on a branch that never reaches the output does not count. The bold edges show the deepest path.

# %%
print({k: v for k, v in space_summary().items() if k != "ops"})
best_cell, best_acc = table.best("cifar10")
print(f"best CIFAR-10 cell in the table: {best_cell}  ({best_acc:.2f}%), count {best_cell.nonlinearity_count}")
display(SVG(cell_dot(best_cell).pipe(format="svg").decode()))


# %% [markdown]
# ### Count explorer
#
# Pick an op for every edge; the drawing marks the deepest live path and prints the count. Try a cell whose only
# conv sits on a dead end (`|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|`): count 0.
# Swapping 1×1 for 3×3 convs never changes the count; replacing a conv by `none` never raises it.

# %%
def explore(e10, e20, e21, e30, e31, e32):
    cell = NB201Cell((e10, e20, e21, e30, e31, e32))
    display(SVG(cell_dot(cell).pipe(format="svg").decode()))
    print("path depths (p1..p4, None = cut):", cell.path_depths())

start = NB201Cell.parse("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|")
explore(*start.ops)

# %%
try:
    import ipywidgets as W
    pickers = {f"e{j}{i}": W.Dropdown(options=OPS, value=op, description=f"{j}←{i}", layout=W.Layout(width="260px"))
               for (j, i), op in zip(EDGES, start.ops)}
    W.interact(explore, **pickers)
except ImportError:
    print("ipywidgets is not installed: call explore(op_1<-0, op_2<-0, ..., op_3<-2) directly")

# %% [markdown]
# ## 2 · How the 15,625 cells spread over the counts, and what the benchmark says about them
#
# Counting every cell takes well under a second on a CPU: the split is free. The histogram is exactly
# 1983 / 7122 / 5520 / 1000 (it matches the authors' `ENN0..3.txt` files). The 341 *disconnected* cells (no live
# path at all) all have count 0; they are never sampled for training. On the right, the benchmark's CIFAR-10 test
# accuracy per count: the mean rises with the count, and the best cells have count 2 or 3. The count alone is already a
# zero-cost ranker with Kendall τ ≈ 0.56.

# %%
cells = all_cells()
enn = np.array([c.nonlinearity_count for c in cells])
conn = np.array([c.connected for c in cells])
acc = table.accs(cells, "cifar10")
fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
a.bar(range(4), [np.sum((enn == k) & conn) for k in range(4)], label="connected")
a.bar(range(4), [np.sum((enn == k) & ~conn) for k in range(4)], bottom=[np.sum((enn == k) & conn) for k in range(4)],
      color="tab:red", label="disconnected")
for k in range(4):
    a.text(k, np.sum(enn == k) + 100, str(np.sum(enn == k)), ha="center")
a.set(xlabel="nonlinearity count", ylabel="cells", title="15,625 NAS-Bench-201 cells", ylim=(0, 8200), xticks=range(4))
a.legend(loc="upper right")
b.boxplot([acc[enn == k] for k in range(4)], positions=range(4), showfliers=False)
b.plot(range(4), [acc[enn == k].mean() for k in range(4)], "o-", label="mean")
b.set(xlabel="nonlinearity count", ylabel="CIFAR-10 test accuracy (%)", ylim=(5, 98)); b.legend(loc="lower right")
tau = kendall_tau(enn, acc)
b.set_title(f"count alone: Kendall tau = {tau:.3f}", fontsize=10)
top1 = np.argsort(-acc)[: len(acc) // 100]
print("counts of the top 1% cells:", dict(sorted(Counter(enn[top1].tolist()).items())))
plt.tight_layout(); plt.show()


# %% [markdown]
# ## 3 · The split, the reduced widths and the sampling rule
#
# The literal rule gives one subspace per count (K = 4); the authors' code merges the rare counts 0 and 1
# (K = 3, the default). Each subspace gets its own supernet at width C // G; G = K by default, so three supernets
# of width 5 replace one of width 16, and their cell convolutions together cost K / G² ≈ 0.29 of one wide supernet.
#
# Under plain uniform sampling (SPOS) supernet k receives a share |S_k| / |S| of the updates: the count-3
# supernet, which holds 8 of the 10 best CIFAR-10 cells, would get 6.4% of them. SBS trains one subnet of every
# supernet at every step, on the same batch, with the losses **summed**. Turn the knobs: the table shows the
# supernets, the bars the updates each gets in 100 steps.

# %%
def split_panel(groups=3, width_divisor=3, sampling="sbs", C=16, steps=100):
    sub = NB201Subspaces(groups)
    width = C // width_divisor
    params = count_params(nb201_supernet(width, 5, 10))
    wide = count_params(nb201_supernet(C, 5, 10))
    print(f"{'subspace':>9} {'cells':>6} {'width':>5} {'params':>8}")
    for lab, n in zip(sub.labels, sub.sizes()):
        print(f"{lab:>9} {n:>6} {width:>5} {params:>8,}")
    print(f"all supernets: {len(sub) * params:,} params = {len(sub) * params / wide:.2f} x one width-{C} supernet")
    got = Counter(k for s in range(steps) for k, _ in draw(sampling, sub, s, seed=0))
    fig, ax = plt.subplots(figsize=(5, 2.6))
    x = np.arange(len(sub))
    ax.bar(x - 0.2, [got[k] for k in x], 0.4, label="drawn (seed 0)")
    ax.bar(x + 0.2, expected_updates(sampling, sub.sizes(), steps), 0.4, label="expected")
    ax.set_xticks(x, [f"count {l}" for l in sub.labels]); ax.set_ylabel(f"updates in {steps} steps")
    ax.set_title(f"sampling = {sampling}", fontsize=10); ax.legend(fontsize=8)
    plt.tight_layout(); plt.show()

split_panel()

# %%
try:
    import ipywidgets as W
    W.interact(split_panel, groups=W.ToggleButtons(options=[3, 4], value=3), width_divisor=W.IntSlider(3, 1, 4),
               sampling=W.Dropdown(options=["sbs", "uniform", "balanced_random", "balanced_roundrobin"]),
               C=W.fixed(16), steps=W.fixed(100))
except ImportError:
    print("ipywidgets is not installed: call split_panel(groups, width_divisor, sampling) directly")

# %% [markdown]
# ## 4 · Training the supernets: SBS against SPOS
#
# Now a real run of each method through the shared engine: `fewshot_nl` (three width-4 supernets, SBS) and its
# baseline `spos` (one width-8 supernet, uniform sampling), the same number of steps on the same data. At tiny
# scale this is the offline digits (8×8), one cell per stage and base width 8 with G = 2 (`docs/methods/fewshot_nl.md`); the
# `paper` preset is CIFAR-10 with the benchmark network. After training, each run searches the whole space by
# evolution, scoring every candidate with the supernet that owns its count.
#
# Left: after every epoch each few-shot supernet has received exactly as many updates as there were steps.
# Right: the training loss of each supernet (its own subnets only).

# %%
runs = Path("runs")
fs = search("fewshot_nl", PRESET, runs / "fewshot_nl", {"progress": False})
sp = search("spos", PRESET, runs / "spos", {"progress": False})
epochs = [r for r in fs.history if r.get("event") == "epoch"]
sp_epochs = [r for r in sp.history if r.get("event") == "epoch"]
labels = fs.method.subspaces.labels
fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
for k, lab in enumerate(labels):
    a.plot([r["epoch"] + 1 for r in epochs], [r["updates"][k] for r in epochs], "o-", label=f"count {lab}")
    b.plot([r["epoch"] + 1 for r in epochs], [r["group_loss"][k] for r in epochs], "o-", label=f"supernet {lab}")
a.plot([r["epoch"] + 1 for r in sp_epochs], [r["updates"][0] for r in sp_epochs], "k--", label="SPOS (one supernet)")
b.plot([r["epoch"] + 1 for r in sp_epochs], [r["group_loss"][0] for r in sp_epochs], "k--", label="SPOS")
a.set(xlabel="epoch", ylabel="updates so far", title="SBS: equal updates"); a.legend(fontsize=8)
b.set(xlabel="epoch", ylabel="training loss"); b.legend(fontsize=8)
plt.tight_layout(); plt.show()
for name, r in (("fewshot_nl", fs), ("spos", sp)):
    print(f"{name:10s} found {r.arch}  (count {r.arch.nonlinearity_count}), "
          f"held-out fitness {r.method.result.best_fitness:.1f}%")

# %% [markdown]
# ## 5 · Ranking against the benchmark
#
# `nasbook rank RUN --benchmark PATH` scores NAS-Bench-201 cells with a run's supernets (here a seeded subset
# stratified by count) on the run's test images and compares the scores with the benchmark's CIFAR-10 test
# accuracies: Kendall τ-b and Spearman ρ (scipy), also within each subspace, next to the "count alone" baseline.
# The found cell's benchmark accuracy is looked up on all three datasets.
#
# **Read the tiny numbers with care.** The tiny supernets learned 8×8 handwritten digits, and on digits almost every
# cell reaches 96-99% when trained alone, so there is little to rank and nothing ties their order to CIFAR-10: expect a τ
# near zero or even below it, usually below "count alone". The figures that matter come from the `paper` preset
# (CIFAR-10, 250+ epochs on a GPU); the authors' development runs reach τ ≈ 0.70-0.77 there (`docs/methods/fewshot_nl.md`).

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, (name, run) in zip(axes, (("fewshot_nl", fs), ("spos", sp))):
    rep = rank_run(run.run_dir, BENCH, sample=RANK_SAMPLE, gt_dataset="cifar10", progress=False, plot=False)
    saved = __import__("json").loads((run.run_dir / "rank.json").read_text())
    rank_cells = [NB201Cell.parse(s) for s in saved["cells"]]
    plot_ranking(saved["predicted"], table.accs(rank_cells), rank_cells, run.method.subspaces, rep, ax=ax)
    ax.set_title(f"{name}: " + ax.get_title(), fontsize=8)
    found = rep["found"]["benchmark_accuracy"]
    print(f"{name:10s} tau {rep['kendall_tau']:+.3f}  rho {rep['spearman_rho']:+.3f}  | found cell on the benchmark: "
          + ", ".join(f"{k} {v:.2f}" for k, v in found.items()))
plt.tight_layout(); plt.show()


# %% [markdown]
# ## Exercises
#
# Each exercise has a cell for your answer (replace the `...`), a reference solution (a cell tagged `solution`, left
# out of student copies) and a `check` cell that tests your answer on many cases and says what is wrong. More to try:
# search with `{"sampling": "uniform"}` (does the count-3 supernet's loss lag?), the layer-wise variant
# `{"sharing": "layerwise_cumulative", "N": 5}`, and `python benchmarks/fewshot_cost.py` (which of time, memory and
# MACs comes closest to K / G²?).

# %% [markdown]
# ### Exercise 1 · the nonlinearity count of a cell
#
# Write `count_nonlinear(arch)`: the nonlinearity count (§1) of the cell written as the arch string `arch`, e.g.
# `"|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"`. Node j's group lists the op from
# every earlier node i as `op~i`; the output is node 3. Work from the string (no `NB201Cell`). The checker tries all
# 15,625 cells.

# %%
def count_nonlinear(arch):
    ...


# %% tags=["solution"]
import re

def count_nonlinear(arch):
    ops = {}                                                   # (to, from) -> op
    for to, group in enumerate(arch.split("+"), start=1):
        for op, src in re.findall(r"([a-z0-9_x]+)~(\d)", group):
            ops[(to, int(src))] = op
    paths = [[(3, 0)], [(1, 0), (3, 1)], [(2, 0), (3, 2)], [(1, 0), (2, 1), (3, 2)]]   # input -> output
    live = [p for p in paths if all(ops[e] != "none" for e in p)]                     # `none` cuts a path
    return max((sum(ops[e].startswith("nor_conv") for e in p) for p in live), default=0)


# %%
check("fewshot_nl.count", count_nonlinear);


# %% [markdown]
# ### Exercise 2 · updates per supernet under uniform sampling
#
# Under plain uniform sampling (SPOS) each step trains one subnet, drawn uniformly from the trainable cells, and
# it updates the supernet of its subspace. Write `spos_updates(groups, steps)`: the expected number of updates of each
# supernet after `steps` steps, for a partition of the counts such as `[[0, 1], [2], [3]]` (one number per group, in
# order). Which cells are never sampled (§2)? `all_cells()`, `cell.nonlinearity_count` and `cell.connected` are all
# you need. The checker compares with `expected_updates` for three partitions.

# %%
def spos_updates(groups, steps):
    ...


# %% tags=["solution"]
def spos_updates(groups, steps):
    counts = [c.nonlinearity_count for c in all_cells() if c.connected]   # the 341 disconnected cells are never drawn
    sizes = [sum(c in group for c in counts) for group in groups]
    return [steps * n / sum(sizes) for n in sizes]


# %%
check("fewshot_nl.spos_updates", spos_updates);


# %% [markdown]
# ### Exercise 3 · the cost of K narrow supernets
#
# §3 says that K supernets of width C // G cost, in their cell convolutions, K / G² ≈ 0.29 of one width-C supernet
# (K = G = 3, C = 16). But 3 / 3² is 0.33. Write `conv_cost_ratio(K, G, C)`: the exact ratio of the cell-convolution
# weights of K supernets of width C // G to those of one supernet of width C. The checker counts the parameters of
# real search cells.

# %%
def conv_cost_ratio(K, G, C):
    ...


# %% tags=["solution"]
def conv_cost_ratio(K, G, C):
    # a conv holds c · c · k · k weights: quadratic in the width, and widths are whole numbers (C // G)
    return K * (C // G) ** 2 / C ** 2


# %%
check("fewshot_nl.conv_cost", conv_cost_ratio);
