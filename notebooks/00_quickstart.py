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
SCALE = "tiny"  # "tiny": the digits on a CPU in about a minute; "paper": DARTS on CIFAR-10, needs a GPU

# %% [markdown]
# # 00 · Quick start: a real architecture search, end to end
#
# This notebook runs **DARTS** (Liu, Simonyan & Yang, *Differentiable Architecture Search*, ICLR 2019) for real:
# a super-net that holds every candidate operation on every edge of a cell is trained, its architecture
# weights α move, and at the end the strongest operations are kept as a **genotype**, which we draw.
#
# At `SCALE = "tiny"` the search uses scikit-learn's 1,797 handwritten digits (shipped with the package, so it
# runs offline) and a super-net of 3 cells with 4 channels. At `SCALE = "paper"` it is the published setting:
# 8 cells, 16 channels, 50 epochs on CIFAR-10 (about a GPU-day for second-order DARTS on a 1080Ti).

# %%
import json
from IPython.display import SVG, display
import nasbook
from nasbook.search import search, make_config
from nasbook.viz import draw_arch, plot_arch_weights
from nasbook.exercises import check

# %% [markdown]
# ## 1 · The configuration
#
# Every knob lives in one config dataclass with named presets. `tiny` inherits `paper` and changes sizes only
# (dataset, channels, cells, epochs, batch), never the algorithm.

# %%
overrides = {"epochs": 3, "progress": False} if SCALE == "tiny" else {}
cfg = make_config("darts", SCALE, overrides)
{k: getattr(cfg, k) for k in ("dataset", "C", "layers", "epochs", "batch_size", "lr", "arch_lr", "order")}


# %% [markdown]
# ## 2 · Search
#
# `search()` splits the training set in two halves (weights / architecture, DARTS §3.1.2), alternates an
# architecture step on one half and a weight step on the other, and writes a run folder. A hook lets us watch
# each epoch as it ends.

# %%
def show_epoch(event, info):
    if event == "epoch":
        print(f"epoch {info['epoch'] + 1}: super-net accuracy on the architecture half {100 * info['val_top1']:.1f}%")

result = search("darts", SCALE, "runs/quickstart", overrides, hooks=[show_epoch], draw=draw_arch)
print(result.arch)

# %% [markdown]
# ## 3 · How the architecture weights moved
#
# Each panel is one edge of the normal cell; each line the softmax weight of one candidate operation.
# They start uniform (1/8) and separate as the search learns which operation helps.

# %%
fig = plot_arch_weights("runs/quickstart", edges=range(5))

# %% [markdown]
# ## 4 · The derived cells
#
# DARTS keeps, for every intermediate node, its two strongest incoming edges (ignoring `none`) with their best
# operation. The drawing was written into the run folder.

# %%
display(SVG("runs/quickstart/cells_normal.svg"))
display(SVG("runs/quickstart/cells_reduce.svg"))


# %% [markdown]
# ## Exercises
#
# Each exercise has a cell for your answer (replace the `...`), a reference solution (a cell tagged `solution`, left
# out of student copies) and a `check` cell that tests your answer on many cases and says what is wrong. More to try
# with the search above: another `overrides["seed"]` (does the genotype change?), `overrides["order"] = "second"`
# (how much slower is an epoch?), and `nasbook info runs/quickstart` against `nasbook info darts_v2` in a terminal.

# %% [markdown]
# ### Exercise 1 · keep a node's two strongest edges
#
# §4 in code. `weights` holds the softmax weights of the edges entering one intermediate node: one row per input
# (node 0, 1, 2, … in order), one column per candidate op named in `primitives` (one of them is `"none"`). DARTS
# (§2.4 of the paper) keeps the node's **two strongest edges**, each with its strongest operation, and `none` never
# counts. Write `derive_node(weights, primitives)` returning the two kept `(op, input)` pairs. The checker compares
# with nasbook's derivation on 80 random nodes with 2 to 5 inputs.

# %%
def derive_node(weights, primitives):
    ...  # return [(op, input), (op, input)]


# %% tags=["solution"]
def derive_node(weights, primitives):
    # strength of an edge = its largest non-`none` weight; keep the two strongest edges
    none = primitives.index("none")
    best = []
    for i, row in enumerate(weights.tolist()):
        op = max((w, k) for k, w in enumerate(row) if k != none)[1]
        best.append((row[op], primitives[op], i))
    best.sort(key=lambda t: -t[0])
    return [(op, i) for _, op, i in best[:2]]


# %%
check("00.derive_node", derive_node);


# %% [markdown]
# ### Exercise 2 · parameters of sep_conv
#
# What does one candidate cost? DARTS' `sep_conv_k×k` on C channels applies the sequence (ReLU, depthwise k×k
# conv, pointwise 1×1 conv, BatchNorm) **twice**; its convolutions have no bias, and in the derived network the
# BatchNorms are affine. Write `sep_conv_params(C, k=3)`, the number of parameters of this op. The checker counts
# the real module for several C and k.

# %%
def sep_conv_params(C, k=3):
    ...


# %% tags=["solution"]
def sep_conv_params(C, k=3):
    depthwise, pointwise, batchnorm = C * k * k, C * C, 2 * C   # BN: a scale and a shift per channel
    return 2 * (depthwise + pointwise + batchnorm)


# %%
check("00.sep_conv_params", sep_conv_params);
