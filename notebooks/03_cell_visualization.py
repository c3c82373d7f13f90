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
SCALE = "tiny"  # "tiny": a 1-epoch search on the digits (CPU, ~15 s); "paper": the DARTS search on CIFAR-10 (a GPU-day)

# %% [markdown]
# # 03 · Looking at cells: drawings, graphs and an explorer
#
# A searched architecture in the DARTS space is two small graphs: a **normal cell** (keeps the resolution) and a
# **reduction cell** (halves it), each repeated through the network (Liu et al., *DARTS*, ICLR 2019, §2.1). Papers
# show them as drawings, and most of what people say about a method — "it picks too many skips", "its cells are
# shallow and wide" — is read off those drawings. This notebook draws published and derived cells with graphviz,
# puts them side by side, turns them into networkx graphs to *measure* depth, width and op use, and ends with an
# explorer you can click through.

# %%
import matplotlib.pyplot as plt
from IPython.display import HTML, SVG, display

from nasbook import zoo
from nasbook.exercises import check
from nasbook.search import search
from nasbook.viz.explorer import cell_explorer, cell_svg, darts_zoo
from nasbook.viz.graphs import cell_depth, cell_summary, cell_width, op_histogram

published = darts_zoo()
list(published)

# %% [markdown]
# ## 1 · A published cell, drawn
#
# DARTS V2 (second-order DARTS on CIFAR-10, the paper's Fig. 4–5). Green boxes are the cell's two inputs, the
# outputs of the previous two cells; blue boxes are the four intermediate nodes, each the sum of its two incoming
# ops; the yellow output concatenates all intermediate nodes. Colours group ops by family (separable and dilated
# convs, pools, skips).

# %%
g = published["darts_v2"]
display(SVG(cell_svg(g, "normal")))
display(SVG(cell_svg(g, "reduce")))


# %% [markdown]
# ## 2 · Side by side
#
# Three searches in the same space: DARTS first order (V1), second order (V2), and PC-DARTS (Xu et al., ICLR 2020,
# partial channel connections). Same rules, different cells: PC-DARTS' normal cell reads almost only the cell
# inputs, while DARTS chains a node onto another.

# %%
def side_by_side(names, cell="normal"):
    boxes = "".join(f"<div style='flex:1;min-width:0'><b>{n}</b>{cell_svg(published[n], cell)}</div>" for n in names)
    return HTML(f"<div style='display:flex;gap:12px'>{boxes}</div>")

side_by_side(["darts_v1", "darts_v2", "pc_darts"])

# %% [markdown]
# ## 3 · Cells as graphs
#
# `genotype_to_networkx` turns a cell into a `networkx.DiGraph`, so questions about shape become graph queries:
#
# * **depth**: the most op edges on a path from a cell input to a node (a chain is deep, a fan is shallow);
# * **width**: how many nodes read the cell inputs directly;
# * **op histogram**: which ops the search kept.
#
# These definitions are ours, chosen for teaching. Shallow, wide cells train fast and are a known DARTS
# tendency (Shu et al., ICLR 2020).

# %%
rows = [(n, c, cell_depth(g, c), cell_width(g, c)) for n, g in published.items() for c in ("normal", "reduce")]
print(f"{'architecture':20s} {'cell':7s} depth width")
for n, c, d, w in rows:
    print(f"{n:20s} {c:7s} {d:5d} {w:5d}")

# %%
ops = sorted({op for g in published.values() for c in ("normal", "reduce") for op in op_histogram(g, c)})
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
for ax, c in zip(axes, ("normal", "reduce")):
    bottom = [0] * len(published)
    for op in ops:
        counts = [op_histogram(g, c)[op] for g in published.values()]
        ax.bar(list(published), counts, bottom=bottom, label=op)
        bottom = [b + k for b, k in zip(bottom, counts)]
    ax.set_title(f"{c} cells: ops kept")
    ax.tick_params(axis="x", rotation=20)
axes[0].set_ylabel("edges")
axes[1].legend(fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
plt.tight_layout()

# %% [markdown]
# ## 4 · A cell you derive yourself
#
# A short DARTS search on the offline digits (`tiny`: one epoch, 3 cells of 4 channels, about 15 s on a CPU;
# `paper`: the published CIFAR-10 search, about one GPU-day for second order). After so little training the
# architecture weights have barely moved, so expect a cell that looks nothing like DARTS V2: that is the point of
# comparing them.

# %%
overrides = {"epochs": 1, "progress": False} if SCALE == "tiny" else {}
derived = search("darts", SCALE, "runs/cellviz", overrides).arch
published_and_derived = {"derived (yours)": derived, "darts_v2": published["darts_v2"]}
print(cell_summary(derived), cell_summary(published["darts_v2"]), sep="\n")

# %%
boxes = "".join(f"<div style='flex:1;min-width:0'><b>{n}</b>{cell_svg(g, 'normal')}</div>"
                for n, g in published_and_derived.items())
HTML(f"<div style='display:flex;gap:12px'>{boxes}</div>")

# %% [markdown]
# ## 5 · The cell explorer
#
# Pick an architecture and a cell type; the drawing and its depth, width and op counts follow. In JupyterLab the
# controls respond to the mouse; run unattended, the next cell moves the dropdown from code, which runs the same
# redraw.

# %%
explorer = cell_explorer({**published, "derived (yours)": derived}, value="darts_v2")
explorer.widget

# %%
explorer.dropdown.value = "pc_darts"   # the headless path: the same observer the mouse triggers
explorer.summary


# %% [markdown]
# ## Exercises
#
# Each exercise has a cell for your answer (replace the `...`), a reference solution (a cell tagged `solution`,
# left out of student copies) and a `check` cell that tests your answer on many random cells and says what is
# wrong. More to try: pass `{"epochs": 5}` to the search of §4 and watch the derived cell in the explorer.

# %% [markdown]
# ### Exercise 1 · depth of a cell
#
# Write `depth(nodes)` **without networkx**: `nodes` is one cell of a genotype, a list with one entry per
# intermediate node, each a list of `(op, input)` pairs where input 0 and 1 are the cell inputs and input `i ≥ 2` is
# intermediate node `i − 2`. Return the largest number of op edges on a path from a cell input to any intermediate
# node (the concat into the output is not counted). For DARTS V2's normal cell the answer is 2.

# %%
def depth(nodes):
    ...


# %% tags=["solution"]
def depth(nodes):
    longest = [0, 0]                       # the two cell inputs start the paths
    for pairs in nodes:                    # nodes only read earlier nodes: one pass in order suffices
        longest.append(1 + max(longest[i] for _, i in pairs))
    return max(longest[2:])


# %%
check("03.depth", depth);


# %% [markdown]
# ### Exercise 2 · share of parameter-free ops
#
# Searches are often criticised for keeping too many ops without weights. Write
# `parameter_free_share(genotype)`: the fraction of all edges of **both** cells whose op has no weights at stride 1
# (which of `sep_conv_*`, `dil_conv_*`, `max_pool_3x3`, `avg_pool_3x3`, `skip_connect` are they?). For DARTS V1,
# with its many skips and pools, it is 11/16.

# %%
def parameter_free_share(genotype):
    ...


# %% tags=["solution"]
def parameter_free_share(genotype):
    free = ("skip_connect", "max_pool_3x3", "avg_pool_3x3", "none")
    ops = [op for cell in (genotype.normal, genotype.reduce) for pairs in cell for op, _ in pairs]
    return sum(op in free for op in ops) / len(ops)


# %%
check("03.parameter_free", parameter_free_share);
