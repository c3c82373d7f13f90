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
SCALE = "tiny"  # "tiny": the digits on a CPU in about a minute; "paper-flops": the ImageNet search (GPUs)

# %% [markdown]
# # NSE: a search space that evolves round by round
#
# *Evolving Search Space for Neural Architecture Search* (Ci, Lin, Sun, Chen, Zhang, Ouyang, ICCV 2021).
#
# Making the op pool larger does not make NAS better: a big space is hard to optimise (abstract [P]). NSE keeps
# only **K ops per layer** active at a time. Each round it trains a supernet over these subsets, learns an "on"
# probability for every op, keeps the ops used by the round's **Pareto front** (the *optimised subset*) and fills
# the subset back up to K with ops that were never tried. Layers may use **several ops at once**, averaged.
#
# **Where this comes from.** The paper body was not available; the method here follows the authors' released
# search code (`docs/methods/nse.md`, tags [C]). Ours [O]: the cost window width, the final pick from the front, BN
# recalibration by exact averaging, the retraining recipe, and everything about the tiny scale. At tiny scale
# (8x8 digits, 23 training steps a round) the supernet barely learns, so held-out accuracies sit near chance and
# the fronts are noisy: watch the *mechanics*, not the numbers.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import SVG, display

from nasbook import zoo
from nasbook.exercises import check
from nasbook.measure import count_macs
from nasbook.methods.nse.candidates import sample_arch
from nasbook.methods.nse.distribution import allowed_sets, effective_p, set_probabilities
from nasbook.methods.nse.state import num_rounds
from nasbook.search import search
from nasbook.spaces import get_space
from nasbook.spaces.nse_pools import G_72, MAC_27, MB_19
from nasbook.viz import draw_arch
from nasbook.viz.nse import plot_fronts, plot_membership, plot_probabilities
torch.manual_seed(0);

# %% [markdown]
# ## 1 · Op pools and a released network
#
# Three pools ship with the code: MB-19 (latency search), MAC-27 (first FLOPs search) and G-72 = MAC-27 + 45
# grouped bottlenecks (second search). Ids matter: published architectures are lists of ids per layer. Below,
# NSENet (pool G-72), drawn layer by layer: each layer averages its branches; normal (N) layers also average in
# their input (dashed edge).

# %%
print({name: len(p) for name, p in (("MB-19", MB_19), ("MAC-27", MAC_27), ("G-72", G_72))})
print("G-72 #34:", G_72[34], "  #57:", G_72[57], "  MAC-27 #16:", MAC_27[16], "  MB-19 #11:", MB_19[11])
nsenet = zoo.get("nsenet").arch
macs = count_macs(get_space("nse").build(nsenet, 1000, 3, 224), (3, 224, 224))   # ImageNet: classes, channels, px
print(f"NSENet: {macs / 1e6:.1f}M MACs at 224 with SE (published: 333M)")

# %%
display(SVG(draw_arch(nsenet, "runs/nse/nsenet", formats=("svg",))[0]))

# %% [markdown]
# ## 2 · A distribution over multi-branch layers
#
# Every op o of a layer's subset is on with probability p_o = 0.999·σ(α_o) + 0.0005, independently. A set A has
# probability ∏ p (on) ∏ (1 − p) (off). Normal layers allow every set, the empty set meaning *skip the layer*;
# reduction/expansion layers must keep at least one op, so their distribution is conditioned on A ≠ ∅.

# %%
ops = (3, 9, 21)
p = effective_p(torch.tensor([1.0, 0.0, -1.5], dtype=torch.float64))
fig, axes = plt.subplots(1, 2, figsize=(11, 2.8), sharey=True)
for ax, kind in zip(axes, ("N", "R")):
    sets = allowed_sets(ops, kind)
    probs = set_probabilities(p, ops, sets)
    ax.bar(range(len(sets)), (probs / probs.sum()).numpy())
    ax.set_xticks(range(len(sets)), ["∅" if not a else "+".join(map(str, a)) for a in sets], fontsize=8)
    ax.set_title(f"{kind} layer, p = {[round(v, 2) for v in p.tolist()]}", fontsize=9)
axes[0].set_ylabel("P(A)"); plt.tight_layout()

# %% [markdown]
# ## 3 · A search, round by round
#
# `nasbook search nse --preset tiny` in code: a 9-op sub-pool of MAC-27, K = 3, so ⌊(9 − 1)/(3 − 1)⌋ = 4
# rounds would traverse it; the preset caps it at 3. Each round: a fresh supernet, weight steps on uniformly
# sampled multi-branch architectures, architecture steps on held-out data (two-sample estimator + FLOPs penalty),
# then candidates under the cost window are scored with BN recalibration and the Pareto front is kept. Every
# round's state is in `runs/nse/search/nse_state.json` (a killed run resumes from it).
#
# The timeline: for every layer, rows are the ops that were ever active and columns are rounds: **retained**
# (on the front, kept), **dropped** (active, not on the front), **pruned** (α < τ during the round),
# **discarded** (gone), **queued** (not tried yet).

# %%
overrides = {"progress": False} if SCALE == "tiny" else {}
result = search("nse", SCALE, "runs/nse/search", overrides)
task, records = result.method, result.method.records
print(f"{len(records)} rounds, target T = {task.target:.1f}k MACs, window {records[-1]['window']}")
for r in records:
    print(f"round {r['round']}: {len(r['candidates'])} scored, front of {len(r['front'])}, "
          f"ops added {sum(map(len, r['added']))}, pruned {len(r['pruned'])}")

# %%
fig = plot_membership(records, pool="MAC-27")

# %% [markdown]
# ## 4 · Learned branch probabilities
#
# The on-probability p of every active op at the end of the last round (labels: pool ids). Ops whose α falls below
# τ = −2 (p ≈ 0.12, the red line) are pruned during the round unless they were retained from the round before.
# The probabilities do not bias weight training (always 0.5); they shape the end-of-round candidates.

# %%
ax = plot_probabilities(records[-1], tau=task.cfg.tau)

# %% [markdown]
# ## 5 · Pareto fronts
#
# Every scored architecture of every round: cost (k MACs) against the supernet's held-out top-1 after BN
# recalibration. Circles are window candidates, triangles the lower-band competitors (they can knock candidates
# off the front but never survive), squares the previous front re-scored on the new supernet.

# %%
ax = plot_fronts(records)

# %% [markdown]
# ## 6 · Knobs: K, rounds, window, penalty
#
# Re-running the search takes a minute, so the panel below shows what each knob does without training:
# (a) with subset size K, how many rounds traverse a pool and how many ops each layer can try in the chosen
# number of rounds; (b) the costs of 2,000 architectures drawn from the last round's learned distribution and the
# candidate window (T + low, T + high); (c) the penalty λ(Ĉ − T)² against the cross-entropy scale ln 10.
# To search with other values: `search("nse", "tiny", overrides={"K": 4, "max_rounds": [2], "window": [-20, 20],
# "penalty_lambda": 1e-3})`.

# %%
p_last = task.model.probabilities().detach()
gen = torch.Generator().manual_seed(0)
costs = np.array([task.cost.arch_cost(sample_arch(p_last, task.state.subsets, task.kinds, gen)) for _ in range(2000)])

def show(K=3, rounds=3, low=-40.0, high=40.0, lam=1e-4):
    T = task.target
    fig, axes = plt.subplots(1, 3, figsize=(13, 3))
    ks = np.arange(2, 10)
    axes[0].bar(ks - 0.2, [num_rounds(27, k) for k in ks], 0.4, label="rounds to traverse MAC-27")
    axes[0].bar(ks + 0.2, [min(27, k + rounds * (k - 1)) for k in ks], 0.4, label=f"ops tried in {rounds} rounds")
    axes[0].axvline(K, color="k", ls=":"); axes[0].set_xlabel("K"); axes[0].legend(fontsize=7)
    axes[1].hist(costs, bins=40, color="gray"); axes[1].axvspan(T + low, T + high, color="tab:green", alpha=0.25)
    axes[1].set_title(f"{np.mean((costs > T + low) & (costs < T + high)):.0%} of draws in the window", fontsize=9)
    c = np.linspace(costs.min(), costs.max(), 100)
    axes[2].plot(c, lam * (c - T) ** 2, label="λ(Ĉ − T)²"); axes[2].axhline(np.log(10), color="k", ls="--", label="ln 10")
    axes[2].set_xlabel("expected cost Ĉ"); axes[2].legend(fontsize=7)
    plt.tight_layout(); plt.show()

show()

# %%
try:
    import ipywidgets as W
    from nasbook.viz.widgets import knob_panel
    controls = {"K": W.IntSlider(value=3, min=2, max=9, description="K"),
                "rounds": W.IntSlider(value=3, min=1, max=10, description="rounds"),
                "low": W.FloatSlider(value=-40, min=-150, max=0, step=5, description="window low"),
                "high": W.FloatSlider(value=40, min=0, max=150, step=5, description="window high"),
                "lam": W.FloatLogSlider(value=1e-4, base=10, min=-6, max=-1, description="λ")}
    display(knob_panel(controls, show))
except ImportError:
    print("ipywidgets is not installed: call show(K, rounds, low, high, lam) directly")

# %% [markdown]
# ## 7 · The derived network
#
# The final pick (ours; the code does not say): the front member with the best held-out top-1 whose cost is
# within the window's top. Empty normal layers are dropped; the value builds a standalone network (SE + Swish by
# default for final nets) to retrain from scratch (`presets/nse_retrain.yaml`, a recipe of ours).

# %%
arch = result.arch
print(arch)
print(f"{count_macs(get_space('nse').build(arch, 10, 1, 8), (1, 8, 8)) / 1e3:.1f}k MACs on 8x8 digits")
display(SVG(draw_arch(arch, "runs/nse/derived", formats=("svg",))[0]))


# %% [markdown]
# ## Exercises
#
# Each exercise has a cell for your answer (replace the `...`), a reference solution (a cell tagged `solution`, left
# out of student copies) and a `check` cell that tests your answer on many cases and says what is wrong. More to try:
# `K = 5` with `max_rounds: [2]`, a window below the median cost (`window: [-80, -20]`),
# `python benchmarks/nse_round_cost.py`, and a latency-constrained search with a table measured on your own device
# (`nasbook latency measure --preset tiny --batch 32 --out lut.json`).

# %% [markdown]
# ### Exercise 1 · the probability of a set of on-ops
#
# The distribution of §2. Write `set_probability(p, ops, active, kind)`: the probability that exactly the ops in
# `active` are on, in a layer whose subset is `ops` with on-probabilities `p` (a list: `p[i]` belongs to `ops[i]`),
# for a layer of kind `"N"` (normal: the empty set is allowed, it skips the layer) or `"R"` / `"E"` (reduction /
# expansion: at least one op must be on). The checker compares with the bars of §2, for every allowed set of
# random layers of each kind.

# %%
def set_probability(p, ops, active, kind):
    ...


# %% tags=["solution"]
import math

def set_probability(p, ops, active, kind):
    prob = math.prod(po if o in active else 1 - po for po, o in zip(p, ops))   # independent on/off
    if kind != "N":                                    # R/E: conditioned on "not all off"
        prob /= 1 - math.prod(1 - po for po in p)
    return prob


# %%
check("nse.set_probability", set_probability);


# %% [markdown]
# ### Exercise 2 · the Pareto front of scored architectures
#
# Each round keeps the Pareto front of its scored architectures (§5): lower cost is better, higher top-1 is better.
# Write `pareto(costs, scores)` returning the indices (ascending) of the architectures that no other one dominates.
# The checker uses sets of distinct points with many equal costs and equal scores.

# %%
def pareto(costs, scores):
    ...


# %% tags=["solution"]
def pareto(costs, scores):
    def dominated(i):   # another point at most as costly and at least as good, strictly better in one
        return any(c <= costs[i] and s >= scores[i] and (c < costs[i] or s > scores[i])
                   for c, s in zip(costs, scores))
    return [i for i in range(len(costs)) if not dominated(i)]


# %%
check("nse.pareto", pareto);


# %% [markdown]
# ### Exercise 3 · refilling a layer's subset
#
# Between rounds a layer's active subset is rebuilt from its **retained** ops (those the front used) and its
# **queue** of never-tried ops (§3): every retained op stays, and the subset is topped back up to K with ops taken
# from the front of the queue, which leave it for good. Write `refill_layer(retained, queue, K)` returning the new
# subset and the rest of the queue, as two lists. The checker compares with the search's own state update.

# %%
def refill_layer(retained, queue, K):
    ...


# %% tags=["solution"]
def refill_layer(retained, queue, K):
    n = min(max(0, K - len(retained)), len(queue))     # a retained set larger than K is kept whole
    return list(retained) + list(queue[:n]), list(queue[n:])


# %%
check("nse.refill", refill_layer);
