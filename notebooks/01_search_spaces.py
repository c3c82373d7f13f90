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
SCALE = "tiny"  # "tiny": fewer samples for the histograms (CPU, ~20 s); "paper": more samples, same code (still CPU)

# %% [markdown]
# # 01 · Search spaces: what a NAS method chooses from
#
# Before any search there is a **search space**: the set of networks a method may return. This notebook defines
# the three spaces the course uses, **counts** them (by code, never quoting a number), **samples** random members
# and **draws** them:
#
# 1. **DARTS cells** (Liu, Simonyan & Yang, ICLR 2019): a cell is a small DAG; the network stacks copies of it;
# 2. **NAS-Bench-201 cells** (Dong & Yang, ICLR 2020): a smaller cell space in which every member was trained,
#    so a search can be scored against ground truth;
# 3. **MBConv chains** (MobileNetV2, Sandler et al. 2018; ProxylessNAS, Cai et al. 2019): a fixed chain of layers,
#    each choosing a kernel size and expansion ratio of an inverted-residual block, or to be skipped.
#
# Nothing here trains a network, so `SCALE` only sets how many random networks are counted.

# %%
import math
import os
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import SVG, display

from nasbook.exercises import check
from nasbook.figures import darts_params_figure, mbconv_macs_figure, nb201_figure
from nasbook.spaces.darts import PRIMITIVES, count_genotypes, sample_genotype
from nasbook.spaces.mbconv import BACKBONES, count_architectures, sample_arch
from nasbook.spaces.nb201 import OPS, all_cells, count_histogram, sample_cell
from nasbook.viz import draw_arch

samples = 40 if SCALE == "tiny" else 400
out = Path("runs/spaces")
gen = torch.Generator().manual_seed(0)   # fixed seed: the same random networks every run

# %% [markdown]
# ## 1 · DARTS cells
#
# A cell has two inputs (the previous two cells' outputs) and 4 intermediate nodes. During search every node
# is connected to **all** earlier nodes by a *mixed* edge holding all 8 candidate ops; the derived cell keeps, per
# node, **two** incoming edges with one op each (`none` is never kept). So node j chooses 2 of its j + 2
# predecessors and one of 7 ops for each: C(j+2, 2)·7² ways. Normal and reduction cells are chosen
# independently.

# %%
print("candidate ops:", PRIMITIVES)
per_node = [math.comb(j + 2, 2) * 7 ** 2 for j in range(4)]
one_cell = math.prod(per_node)
assert one_cell == count_genotypes()          # the package's counting rule agrees
print("choices per node:", per_node)
print(f"cells of one type: {one_cell:,}  |  architectures (normal x reduce): {one_cell ** 2:.3e}")

# %% [markdown]
# A random member, drawn. Sampling follows the counting rule: per node, two distinct inputs and two ops
# uniformly at random.

# %%
g = sample_genotype(gen)
paths = draw_arch(g, out / "darts_random", formats=("svg",))
display(SVG(paths[0]))

# %% [markdown]
# How different are the members? Below, the parameter count of random DARTS networks at the CIFAR evaluation
# size (36 channels, 20 cells), counted on PyTorch's `meta` device (shapes without memory, so it is fast), with
# the published cells as lines. The search is choosing among networks that differ by a factor of two in size.

# %%
display(SVG(darts_params_figure(out, samples=samples)))

# %% [markdown]
# ## 2 · NAS-Bench-201 cells
#
# Four nodes, every earlier node feeding every later one (6 edges), and each edge one of 5 ops. Unlike DARTS
# there is no choice of inputs, and `none` *is* allowed: it cuts an edge. That makes the space small enough to
# enumerate, and NAS-Bench-201 trained all of it.

# %%
cells = all_cells()
print("ops:", OPS)
print(f"{len(cells):,} cells = 5 ** 6 = {5 ** 6:,}")
disconnected = sum(not c.connected for c in cells)
print(f"{disconnected} cells have no path from input to output (all-`none` cuts): their output is constant")

# %%
cell = sample_cell(gen, connected_only=True)
print(cell)
display(SVG(draw_arch(cell, out / "nb201_random", formats=("svg",))[0]))

# %% [markdown]
# How many of these are *different* networks? A `skip_connect` passes its input unchanged, a `none` edge
# adds nothing, and a node's sum does not care about the order of its terms, so many labelled cells compute the same
# function. Writing out the expression each cell computes at its output and grouping equal ones gives the
# **isomorphism classes**: the benchmark authors' string rule gives the "6.5k unique" cells of NATS-Bench (Dong et
# al. 2021, Table 1); a stricter algebraic rule (ours) also uses `x + 0 = x` and merges all disconnected cells.

# %%
from nasbook.spaces.nb201_isomorphism import isomorphism_classes

for rule in ("benchmark", "algebraic"):
    groups = isomorphism_classes(rule=rule)
    print(f"{rule:9s} rule: {len(groups):,} distinct networks among {len(cells):,} cells "
          f"(largest class: {max(map(len, groups.values()))} cells)")

# %% [markdown]
# Because every cell was trained, the whole space can be *looked at*. The benchmark's CIFAR-10 test
# accuracies (read from the shared table; set `NASBOOK_NB201` if it lives elsewhere), grouped by the number of
# nonlinear ops on the cell's deepest path (the few-shot method's splitting rule, notebook `fewshot_nl`):

# %%
benchmark = os.environ.get("NASBOOK_NB201", "../../shared/data/nasbench201")
print("cells per nonlinearity count:", count_histogram(cells))
display(SVG(nb201_figure(out, benchmark)))

# %% [markdown]
# ## 3 · MBConv chains
#
# The macro network is fixed: a stem, stages of inverted-residual (MBConv) blocks with given widths and strides,
# a head. Each searchable layer picks a kernel size k and an expansion ratio e, and layers that are not the first
# of their stage may also be **skipped** (that is how depth is searched). The backbones shipped with nasbook:

# %%
print(f"{'backbone':12s} {'layers':>6s} {'searchable':>10s} {'skippable':>9s} {'kernels':>9s} {'expansions':>13s} {'architectures':>15s}")
for name, bb in BACKBONES.items():
    specs = bb.layers()
    print(f"{name:12s} {len(specs):6d} {sum(s.searchable for s in specs):10d} {sum(s.skippable for s in specs):9d} "
          f"{str(bb.kernels):>9s} {str(bb.expansions):>13s} {count_architectures(bb):15.2e}")

# %%
arch = sample_arch("proxyless", gen)
print(arch.table())

# %%
display(SVG(draw_arch(arch, out / "mbconv_random", formats=("svg",))[0]))

# %% [markdown]
# What do these choices cost? Multiply-accumulates at 224 px of random ProxylessNAS-backbone networks
# (counted with PyTorch's flop counter on the `meta` device):

# %%
display(SVG(mbconv_macs_figure(out, samples=max(10, samples // 2))))

# %% [markdown]
# ## 4 · Three spaces on one scale
#
# Sizes run from about 10^4 to 10^20. Only NAS-Bench-201 can be enumerated; the others are searched by methods
# that never see more than a vanishing fraction of their members — which is why *how* a method searches
# (weight sharing, a super-net) matters so much.

# %%
sizes = {"NAS-Bench-201": len(cells), "DARTS (normal x reduce)": count_genotypes() ** 2,
         "MBConv, proxyless": count_architectures(BACKBONES["proxyless"]),
         "MBConv, mk-mbv2": count_architectures(BACKBONES["mk-mbv2"])}
fig, ax = plt.subplots(figsize=(7, 2.6))
ax.barh(list(sizes), [math.log10(v) for v in sizes.values()], color=["#b9a", "#9ab", "#ab9", "#ab9"])
for i, v in enumerate(sizes.values()):
    ax.text(math.log10(v) + 0.2, i, f"{v:.2e}", va="center", fontsize=9)
ax.set(xlabel="log10(number of architectures)", xlim=(0, 25))
plt.tight_layout()


# %% [markdown]
# ## Exercises
#
# Each exercise has a cell for your answer (replace the `...`), a reference solution (a cell tagged `solution`,
# left out of student copies) and a `check` cell that tests your answer on many inputs and says what is wrong.
# More to try: how many NAS-Bench-201 cells use no convolution at all? How many DARTS cells would there be if a
# node could keep three inputs?

# %% [markdown]
# ### Exercise 1 · size of a NAS-Bench-201-like space
#
# Write `nb201_size(num_nodes, num_ops)`: the number of cells of a space like NAS-Bench-201's with
# `num_nodes` nodes (the input is node 0, the output the last), an edge from every node to every later node, and
# one of `num_ops` ops per edge. `nb201_size(4, 5)` must be `len(all_cells())`.

# %%
def nb201_size(num_nodes, num_ops):
    ...


# %% tags=["solution"]
def nb201_size(num_nodes, num_ops):
    edges = num_nodes * (num_nodes - 1) // 2    # one edge per pair i < j
    return num_ops ** edges


# %%
check("01.nb201_size", nb201_size);


# %% [markdown]
# ### Exercise 2 · number of DARTS cells
#
# Write `darts_cells(steps, num_ops)`: the number of derived cells of one type with `steps` intermediate
# nodes, each keeping 2 distinct inputs (out of the 2 cell inputs and the earlier nodes) with one of `num_ops` ops
# each. The checker enumerates small cases by brute force and compares `darts_cells(4, 7)` with the package.

# %%
def darts_cells(steps, num_ops):
    ...


# %% tags=["solution"]
def darts_cells(steps, num_ops):
    total = 1
    for j in range(steps):                       # node j may read j + 2 earlier nodes
        total *= math.comb(j + 2, 2) * num_ops ** 2
    return total


# %%
check("01.darts_cells", darts_cells);


# %% [markdown]
# ### Exercise 3 · size of an MBConv chain space
#
# Write `mbconv_size(backbone)` for any backbone in `BACKBONES`: use `backbone.layers()` (each layer has
# `.searchable` and `.skippable`), `backbone.kernels` and `backbone.expansions`. Fixed layers have a single
# choice.

# %%
def mbconv_size(backbone):
    ...


# %% tags=["solution"]
def mbconv_size(backbone):
    total = 1
    for layer in backbone.layers():
        if layer.searchable:                     # every (k, e) pair, plus "skip" where allowed
            total *= len(backbone.kernels) * len(backbone.expansions) + layer.skippable
    return total


# %%
check("01.mbconv_size", mbconv_size);
