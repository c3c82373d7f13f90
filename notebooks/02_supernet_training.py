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
SCALE = "tiny"  # "tiny": the digits on a CPU in about a minute; "paper": DARTS on CIFAR-10 and the mk-b0 space at 224 px (a GPU)

# %% [markdown]
# # 02 · Training a super-net
#
# Training every candidate network separately is what made early NAS cost thousands of GPU-days. A **super-net**
# holds all candidates at once and shares their weights: one training run, then architectures are read off it.
# This notebook trains one live and then asks what a training step of different kinds of super-net costs:
#
# * **weighted sum** (DARTS, Liu et al. ICLR 2019): every candidate op of an edge runs, and the outputs are mixed
#   with softmax weights of learnable architecture parameters α (DARTS Eq. 2);
# * **meta kernel** (Chen et al., 2019): the candidate *kernels* of a layer are merged into one kernel before a
#   single convolution, so one feature map is computed per layer;
# * **single path** (SPOS, Guo et al. ECCV 2020): one uniformly sampled architecture per step, no α at all.

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from nasbook.exercises import check
from nasbook.methods.metakernels.step_cost import supernet_step_cost
from nasbook.search import make_config, search
from nasbook.spaces.mbconv import BACKBONES
from nasbook.viz import plot_arch_weights

# %% [markdown]
# ## 1 · A DARTS super-net, trained live
#
# `tiny`: 3 cells of 4 channels on the offline digits, 3 epochs, about 40 s on a CPU. `paper`: the published search
# (8 cells, 16 channels, 50 epochs on CIFAR-10; about 1.5 GPU-days for second order on a 1080Ti, 0.4 for first
# order). The weights w take an SGD step on one half of the training data, and α an Adam step on the other half
# (DARTS §2.3). The figure redraws after every epoch from the run's own log.

# %%
overrides = {"epochs": 3, "progress": False} if SCALE == "tiny" else {}
cfg = make_config("darts", SCALE, overrides)
print({k: getattr(cfg, k) for k in ("dataset", "C", "layers", "epochs", "batch_size", "order")})

# %%
history = []
handle = display(plt.figure(), display_id=True)   # one output, redrawn in place
plt.close()

def live(event, info):
    if event == "epoch":
        history.append(info)
        fig = plot_arch_weights(history, edges=range(5))
        fig.suptitle(f"normal cell, after epoch {info['epoch'] + 1}: accuracy on the α half "
                     f"{100 * info['val_top1']:.1f}%", fontsize=10)
        handle.update(fig)
        plt.close(fig)

result = search("darts", SCALE, "runs/supernet", overrides, hooks=[live])
print(result.arch)

# %% [markdown]
# Every line starts at 1/8: the α are initialised to zero. Whatever separates them in a few epochs is what
# DARTS derives from. Parameter-free ops (skips, pools) often rise first because they help a young super-net
# most — one of the known DARTS failure modes (Zela et al., ICLR 2020).

# %% [markdown]
# ## 2 · What one step costs: three super-nets, one space
#
# The same MBConv space for all three (`mk-tiny`: 8 layers, kernels {3, 5, 7} × expansions {1..6} at 32 px; `paper`:
# `mk-b0`, EfficientNet-B0's macro at 224 px, which needs a GPU), the same batch and data. Memory is the bytes
# autograd saves for the backward pass — exact, and the quantity super-net memory claims are about. Time is a
# wall-clock mean and is noisy on a shared 2-core CPU; trust its order of magnitude, not its digits.
# `python benchmarks/metakernels_vs_weighted_sum.py` runs the same measurement with more repetitions.

# %%
backbone = BACKBONES["mk-tiny" if SCALE == "tiny" else "mk-b0"]
batch, device = (16, "cpu") if SCALE == "tiny" else (64, "cuda")
rows = [supernet_step_cost(kind, backbone, batch=batch, device=device, iters=2, warmup=1)
        for kind in ("weighted_sum", "meta", "single_path")]
for r in rows:
    print(f"{r['supernet']:13s} weights {r['weights_M']:.2f}M   saved {r['saved_MiB']:7.1f} MiB   step {1000 * r['step_s']:7.1f} ms")

# %%
names = [r["supernet"].replace("_", " ") for r in rows]
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].bar(names, [r["saved_MiB"] for r in rows], color=["#d62728", "#1f77b4", "#2ca02c"])
axes[0].set(ylabel="MiB saved for backward", title="memory of one step (exact)")
axes[1].bar(names, [1000 * r["step_s"] for r in rows], color=["#d62728", "#1f77b4", "#2ca02c"])
axes[1].set(ylabel="ms per step", title=f"time of one step ({device}, noisy)")
plt.tight_layout()


# %% [markdown]
# The weighted-sum super-net stores the activations of all 18 candidates of every layer, so its memory grows
# with the number of candidates; the meta-kernel super-net stores one per layer and still trains the architecture
# weights of all candidates by gradient; a single path is cheapest per step but learns about one architecture at a
# time, and needs a separate search (e.g. evolution) afterwards.

# %% [markdown]
# ## Exercises
#
# Each exercise has a cell for your answer (replace the `...`), a reference solution (a cell tagged `solution`,
# left out of student copies) and a `check` cell that compares your answer with the package on many inputs. More to
# try: re-run §1 with `overrides["order"] = "second"` and compare the curves; add `kernels=(3, 5, 7, 9)` with
# `dataclasses.replace(backbone, kernels=...)` in §2: which super-net's memory grows?

# %% [markdown]
# ### Exercise 1 · output of a mixed edge
#
# Write `edge_output(x, alphas, ops)`: the output of one DARTS super-net edge for input `x`, given the edge's
# architecture parameters `alphas` (a 1-D tensor, one per op) and its candidate `ops` (a list of modules). This is
# DARTS Eq. 2. The checker compares with `nasbook.methods.darts.MixedOp`.

# %%
def edge_output(x, alphas, ops):
    ...


# %% tags=["solution"]
def edge_output(x, alphas, ops):
    weights = torch.softmax(alphas, dim=-1)           # a distribution over the candidates
    return sum(w * op(x) for w, op in zip(weights, ops))


# %%
check("02.mixed_edge", edge_output);


# %% [markdown]
# ### Exercise 2 · MACs of weighted-sum vs meta-kernel depthwise convs
#
# A searchable layer's depthwise conv has kernel candidates `kernels` (e.g. `(3, 5, 7)`) on `C` channels at
# `H`×`H` resolution, stride 1, same padding. Write `dw_macs(C, H, kernels, mode)`: the multiply-accumulates of that
# layer's depthwise convolution(s) in one forward pass of one image, for `mode = "weighted_sum"` (every candidate
# conv runs) and `mode = "meta_kernel"` (the candidates are zero-padded to the largest size and summed into one
# kernel first). The checker counts real `nn.Conv2d` modules with PyTorch's flop counter.

# %%
def dw_macs(C, H, kernels, mode):
    ...


# %% tags=["solution"]
def dw_macs(C, H, kernels, mode):
    per_kernel = {k: C * k * k * H * H for k in kernels}   # one k x k filter per channel, at every pixel
    return sum(per_kernel.values()) if mode == "weighted_sum" else per_kernel[max(kernels)]


# %%
check("02.dw_macs", dw_macs);
