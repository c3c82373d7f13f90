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
SCALE = "tiny"  # "tiny": the digits on a CPU in about a minute; "paper": the ImageNet search (GPUs)

# %% [markdown]
# # Meta Kernels: one convolution per searchable layer
#
# *Efficient Differentiable Neural Architecture Search with Meta Kernels* (Chen, Chen, Yan, Feng, arXiv 1912.04749).
#
# DARTS-style super-nets run **every** candidate operation on the input and mix their *outputs*: memory and
# time grow with the number of candidates. The paper's idea is to mix the candidate **kernels** instead, into one
# *meta kernel*, and convolve once: one feature map per edge.
#
# **What is the paper's and what is ours.** Only the abstract and the start of the introduction are public and no
# code exists (`docs/methods/metakernels.md`). From the paper [P]: merging candidate kernels before the convolution, justified by the
# additivity of convolution, and the 357M-FLOPs / 77.0% result. **Ours** [O]: the MBConv search space (EfficientNet-B0
# macro, k ∈ {3,5,7}, e ∈ {1..6}, skip), the channel (expansion) meta kernel, the skip gate, softmax weights,
# the FLOPs term, the schedule and the derivation. Each of these is a config field you can change.

# %%
import copy, dataclasses
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import SVG, display

from nasbook import zoo
from nasbook.data import get_dataset
from nasbook.engine import Trainer, seed_everything
from nasbook.exercises import check
from nasbook.measure import count_params, saved_tensor_bytes
from nasbook.methods.metakernels import ArchTracer, ChainSupernet, MetaKernelsSearch, architecture_loss, meta_kernel
from nasbook.search import make_config
from nasbook.spaces.mbconv import BACKBONES, arch_macs, build_network
from nasbook.viz import draw_arch
from nasbook.viz.metakernels import plot_choice_timeline, plot_cost, plot_meta_kernel
torch.manual_seed(0);

# %% [markdown]
# ## 1 · Additivity of convolution, by hand
#
# Three kernels of sizes 3, 5 and 7 on a real image. Convolving with each and taking a weighted sum gives the same
# result as padding the kernels to 7×7, taking the weighted sum of the *kernels* and convolving once (`docs/methods/metakernels.md`).
# After a BatchNorm and a ReLU the two are no longer equal: the meta-kernel super-net is a different relaxation, not
# a faster implementation of the multi-path one.

# %%
digits, _ = get_dataset("digits", resolution=32)
x = digits[3][0][None].double()                                   # one real digit, 1x1x32x32
ws = [torch.randn(1, 1, k, k, dtype=torch.float64) for k in (3, 5, 7)]
p = torch.softmax(torch.tensor([0.5, 1.0, -0.5], dtype=torch.float64), 0)
per_candidate = [F.conv2d(x, w, padding=w.shape[-1] // 2) for w in ws]
weighted_sum = sum(pi * y for pi, y in zip(p, per_candidate))
one_conv = F.conv2d(x, meta_kernel(ws, p), padding=3)
bn_relu = lambda t: F.relu(F.batch_norm(t, None, None, training=True))
after_bn = bn_relu(one_conv) - sum(pi * bn_relu(y) for pi, y in zip(p, per_candidate))
print(f"max |difference|: linear part {(one_conv - weighted_sum).abs().max():.1e}, after BN+ReLU {after_bn.abs().max():.2f}")

# %%
fig, axes = plt.subplots(1, 5, figsize=(13, 2.8))
panels = [(x, "input"), (weighted_sum, "Σ p_k conv(x, W_k)"), (one_conv, "conv(x, Σ p_k pad(W_k))"),
          (one_conv - weighted_sum, "difference (×1e12)"), (after_bn, "difference after BN+ReLU")]
for ax, (img, title) in zip(axes, panels):
    scale = 1e12 if "1e12" in title else 1
    ax.imshow(scale * img[0, 0].numpy(), cmap="RdBu_r" if "difference" in title else "gray"); ax.set_title(title, fontsize=9); ax.axis("off")
plt.tight_layout()

# %% [markdown]
# ## 2 · A search, traced
#
# The search alternates a weight step on 80% of the training data with an architecture step on the other 20%
# after a warm-up (`docs/methods/metakernels.md`). `ArchTracer` is an engine hook recording the architecture after every step.
# At tiny scale the paper preset's architecture learning rate (1e-3) moves the logits by about 0.02 in a minute,
# so **this notebook alone** raises it to 0.03 to make the movement visible (ours; the preset is unchanged).

# %%
overrides = {"progress": False, "max_steps_per_epoch": 10, "arch_lr": 0.03} if SCALE == "tiny" else {}
cfg = make_config("metakernels", SCALE, overrides)
loaders, info = MetaKernelsSearch.search_loaders(cfg)
seed_everything(cfg.seed)
task = MetaKernelsSearch(cfg, info)
tracer = ArchTracer(task, layer=1)
history = task.run(Trainer(task, loaders, cfg.engine(), None, [tracer]))
kernels, records = task.backbone.kernels, tracer.records
print(f"{len(records)} steps; derived: {task.derive()}")

# %% [markdown]
# ### The meta kernel while its weights move
#
# Each panel is |M(p)| of searchable layer 1, averaged over its channels, as a 7×7 image; the dashed squares are the
# 3×3, 5×5 and 7×7 candidates inside it. The kernels are trained by SGD and p by the architecture steps, so both the
# picture and the bars change. With independent candidates the centre collects all three kernels' weights.

# %%
snaps = [records[i] for i in np.linspace(0, len(records) - 1, 4).astype(int)]
vmax = max(np.max(r["meta_kernel"]) for r in snaps)
fig, axes = plt.subplots(2, 4, figsize=(11, 5), gridspec_kw={"height_ratios": [3, 1]})
for j, r in enumerate(snaps):
    plot_meta_kernel(r["meta_kernel"], r["kernel_probs"][1], kernels, axes[0, j], axes[1, j], f"step {r['step']}", vmax)
plt.tight_layout()

# %% [markdown]
# ## 3 · Meta kernel vs a multi-path super-net
#
# The baseline (DARTS/FBNet) keeps every (k, e) candidate as a complete MBConv block with its own weights and mixes
# their outputs, so it stores one feature map per candidate for the backward pass. Here: the bytes autograd saves
# in one forward of each super-net of the same space, as the number of kernel candidates grows (CPU-measurable).
# `benchmarks/metakernels_vs_weighted_sum.py` measures full training steps (and GPU peak memory).

# %%
xb = torch.randn(4, 3, 32, 32)
sizes, mib = [(3,), (3, 5), (3, 5, 7), (3, 5, 7, 9)], {"meta": [], "weighted_sum": []}
for ks in sizes:
    bb = dataclasses.replace(BACKBONES["mk-tiny"], kernels=ks, expansions=(3, 6))
    for kind in mib:
        net = ChainSupernet(bb, 10, 3, 32, block=kind)
        mib[kind].append(saved_tensor_bytes(lambda: net(xb).sum()) / 2**20)
fig, ax = plt.subplots(figsize=(5, 3))
for kind, label in (("weighted_sum", "weighted sum of block outputs"), ("meta", "meta kernel (one path)")):
    ax.plot([len(k) for k in sizes], mib[kind], "o-", label=label)
ax.set_xticks([1, 2, 3, 4]); ax.set_xlabel("kernel candidates per layer (x 2 widths)"); ax.set_ylabel("saved for backward (MiB)"); ax.legend(fontsize=8);

# %% [markdown]
# ## 4 · Per-layer choices over time
#
# The argmax architecture after every step: expansion (0 = skipped) and kernel size of every layer, and the width
# distribution q̃ of one layer as a stacked area. Nothing moves during the warm-up epochs (architecture frozen).

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.2))
plot_choice_timeline(records, kernels, axes[:2])
q = np.array([r["width_probs"][2] for r in records]).T
labels = (["skip"] if len(q) > len(task.backbone.expansions) else []) + [f"e{e}" for e in task.backbone.expansions]
axes[2].stackplot([r["step"] for r in records], q, labels=labels); axes[2].set_title("q̃ of searchable layer 2", fontsize=9)
axes[2].legend(fontsize=7, loc="upper left", ncol=4); plt.tight_layout()


# %% [markdown]
# ## 5 · The FLOPs constraint at work
#
# The architecture loss is CE + λ·|E[MACs]/T − 1| (ours; `docs/methods/metakernels.md`). E[MACs] is a closed form that is linear in the
# expansion and in k², so it is **exact** for one-hot choices: left, its value during the search next to the exact MACs
# of the argmax architecture. The argmax architecture can miss T although E[MACs] meets it: a target is not a
# guarantee (`docs/methods/metakernels.md`). Right: the cost term alone (no data) pulls E[MACs] to different targets T.

# %%
def pull_to(target_m, steps=60, lr=0.05):
    net = ChainSupernet(task.backbone, info.num_classes, info.in_channels, task.model.resolution)
    opt = torch.optim.Adam(net.arch_parameters(), lr)
    trace = []
    for _ in range(steps):
        opt.zero_grad(); e = net.expected_macs()
        architecture_loss(torch.zeros(()), e, target_m * 1e6).backward(); opt.step(); trace.append(e.item() / 1e6)
    return trace

fig, axes = plt.subplots(1, 2, figsize=(12, 3.2))
plot_cost(records, cfg.target_mflops, axes[0])
for t in (2.0, 3.0, 5.0):
    axes[1].plot(pull_to(t), label=f"T = {t}M"); axes[1].axhline(t, color="gray", lw=0.5)
axes[1].set_xlabel("architecture step (cost term only)"); axes[1].set_ylabel("E[MACs] (M)"); axes[1].legend(fontsize=8)
print(f"target {cfg.target_mflops:g}M; E[MACs] {records[-1]['e_mflops']:.2f}M; argmax architecture {records[-1]['arch_mflops']:.2f}M")

# %% [markdown]
# ## 6 · Knobs: FLOPs target, temperature, kernel sharing
#
# Each knob is a config field (`target_mflops`, `tau`, `kernel_weights`). Left: the meta kernel of layer 1 for
# p = softmax(α/τ) — a low τ sharpens it towards one candidate; `shared` owns one 7×7 kernel whose centre crops are the
# candidates, so M = W ⊙ R(p) has rings of equal weight. Right: where the cost term takes E[MACs] for the target.
# The figure is drawn once with the defaults; the sliders redraw it in a live kernel.

# %%
block = task.model.blocks[task.model.searchable[1]]
alpha = task.model.alphas[1].detach()

def show(target_m=cfg.target_mflops, tau=1.0, kernel_weights="independent"):
    p = torch.softmax(alpha / tau, -1)
    conv = block.depthwise.conv
    if kernel_weights == "independent":
        m = conv.compose(p)
    else:  # one 7x7 kernel (the trained 7x7 candidate) whose centre crops are the candidates
        shared = copy.deepcopy(conv); shared.kernel_weights = "shared"; shared.weight = torch.nn.Parameter(conv.weight_of(7).detach())
        m = shared.compose(p)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3), gridspec_kw={"width_ratios": [2, 1, 3]})
    plot_meta_kernel(m.detach().abs().mean((0, 1)), p.tolist(), kernels, axes[0], axes[1], f"τ = {tau:g}, {kernel_weights}")
    axes[2].plot(pull_to(target_m, steps=40)); axes[2].axhline(target_m, color="k", ls="--"); axes[2].set_title(f"E[MACs] → T = {target_m:g}M", fontsize=9)
    plt.tight_layout(); plt.show()

show()

# %%
try:
    import ipywidgets as W
    from nasbook.viz.widgets import knob_panel
    controls = {"target_m": W.FloatSlider(value=cfg.target_mflops, min=1.5, max=7.0, step=0.5, description="T (M MACs)"),
                "tau": W.FloatLogSlider(value=1.0, base=10, min=-1.5, max=1, description="τ"),
                "kernel_weights": W.ToggleButtons(options=["independent", "shared"])}
    display(knob_panel(controls, show))
except ImportError:
    print("ipywidgets is not installed: call show(target_m, tau, kernel_weights) directly")

# %% [markdown]
# ## 7 · The derived network
#
# Derivation takes the argmax width (or skip) and kernel of every layer; ties go to the cheaper option (`docs/methods/metakernels.md`). The
# result is an architecture value: a table, JSON, a drawing, exact counts, and a standalone network to retrain
# from scratch (EfficientNet-B0 recipe, `presets/metakernels_retrain.yaml`). EfficientNet-B0 is one point of the
# paper-scale space.

# %%
arch = task.derive()
print(arch.table())
net = build_network(arch, info.num_classes, info.in_channels)
print(f"{count_params(net) / 1e6:.3f}M params, {arch_macs(arch, info.num_classes, info.in_channels, task.model.resolution) / 1e6:.2f}M MACs at {task.model.resolution}px")
b0 = zoo.get("efficientnet_b0").arch
print(f"EfficientNet-B0 (a point of the paper space mk-b0): {count_params(build_network(b0)) / 1e6:.2f}M params, {arch_macs(b0) / 1e6:.1f}M MACs")
display(SVG(draw_arch(arch, "runs/metakernels/arch", formats=("svg",))[0]))


# %% [markdown]
# ## Exercises
#
# Each exercise has a cell for your answer (replace the `...`), a reference solution (a cell tagged `solution`, left
# out of student copies) and a `check` cell that tests your answer on many cases and says what is wrong. More to try
# with the knobs above: `kernel_weights: shared` in a real search, a lower `target_mflops`, and
# `python benchmarks/metakernels_vs_weighted_sum.py --sweep` for time and memory as the candidates grow.

# %% [markdown]
# ### Exercise 1 · the meta kernel of candidate kernels
#
# The idea of the paper in one function. Write `my_meta_kernel(kernels, p)`: `kernels` is a list of candidate
# kernels of shape (O, I, k, k) with odd, possibly different sizes k (in any order), `p` their mixing weights;
# return M(p) = Σ_k p_k · P_K(W_k), where P_K zero-pads a kernel **centred** to the largest size K (§1). The checker
# convolves random inputs once with your M (padding K // 2) and compares with Σ_k p_k · conv(x, W_k) (padding k // 2).

# %%
def my_meta_kernel(kernels, p):
    ...


# %% tags=["solution"]
def my_meta_kernel(kernels, p):
    K = max(w.shape[-1] for w in kernels)
    M = 0
    for pk, w in zip(p, kernels):
        d = (K - w.shape[-1]) // 2                       # d zeros on every side keep the kernel centred
        M = M + pk * F.pad(w, (d, d, d, d))
    return M


# %%
check("metakernels.meta_kernel", my_meta_kernel);


# %% [markdown]
# ### Exercise 2 · the ring weights of a shared kernel
#
# With `kernel_weights: shared` (§6) a layer owns one K×K kernel W and candidate k is its centre k×k crop, so the
# meta kernel Σ_k p_k · P_K(crop_k(W)) is W ⊙ R(p) for a K×K weight map R(p): the rings of the figure in §6. Write
# `rings(p, kernels)` returning R(p) (a K×K tensor) for weights `p` over the sizes `kernels`. The checker verifies
# W ⊙ R(p) = Σ_k p_k · P_K(crop_k(W)) on random W.

# %%
def rings(p, kernels):
    ...


# %% tags=["solution"]
def rings(p, kernels):
    K = max(kernels)
    R = torch.zeros(K, K, dtype=p.dtype)
    for pk, k in zip(p, kernels):
        d = (K - k) // 2
        R[d:d + k, d:d + k] += pk          # every candidate whose centre square covers a position adds its p
    return R


# %%
check("metakernels.rings", rings);

# %% [markdown]
# ### Exercise 3 · E[MACs] of one searchable layer
#
# The cost term of §5 needs E[MACs] under the product distribution: the kernel size is k with probability p_k
# and, independently, the width is e (or skip) with probability q̃_e. Write `expected_layer_macs(backbone, spec, p,
# q_tilde)` for one searchable layer: `p` is over `backbone.kernels`; `q_tilde` is over `[skip] + backbone.expansions`
# when `spec.skippable`, else over `backbone.expansions`. `layer_macs(backbone, spec, Choice(k, e))` gives the MACs of
# one block and `layer_macs(backbone, spec, SKIP)` is 0. The checker adds your values over the layers of a
# `ChainSupernet` and compares with its `expected_macs()`, a closed form computed another way (§5: exact at one-hot).

# %%
from nasbook.spaces.mbconv import SKIP, Choice, layer_macs

def expected_layer_macs(backbone, spec, p, q_tilde):
    ...


# %% tags=["solution"]
from nasbook.spaces.mbconv import SKIP, Choice, layer_macs

def expected_layer_macs(backbone, spec, p, q_tilde):
    widths = ([0] if spec.skippable else []) + list(backbone.expansions)    # 0 stands for skip
    total = 0.0
    for qe, e in zip(q_tilde.tolist(), widths):          # expectation = Σ over choices of P(choice) · MACs(choice)
        for pk, k in zip(p.tolist(), backbone.kernels):
            total += qe * pk * layer_macs(backbone, spec, Choice(k, e) if e else SKIP)
    return total


# %%
check("metakernels.expected_macs", expected_layer_macs);
