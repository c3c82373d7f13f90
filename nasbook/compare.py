"""Every method on the same offline data and budget: one table, one accuracy-vs-cost plot.

**The protocol** (ours; notebook 99 and ``nasbook figures --rerun-compare``):

* **search**: each method's ``tiny`` preset on the digits, with the same seed, batch size
  (:data:`BATCH`) and steps per epoch (:data:`STEPS_PER_EPOCH`), and :data:`EPOCHS` epochs of
  weight training. NSE spreads them over its rounds and MGAS runs phases until its size
  target is met (capped), so their step counts differ: the table reports the weight steps each
  search actually took, counted by a hook on the shared training loop, and its wall time;
* **evaluation**: the derived network is trained from scratch with one common recipe (the tiny
  DARTS retraining recipe, :data:`RETRAIN` overrides: same data, epochs, batch, optimiser, seed
  for every method) and scored on the held-out digits. Derived networks from different spaces
  differ in size, so params and MACs of the evaluated network are in the table too.

At this scale the ranking says little about the methods at full scale (digits are easy, the
searches are short); the point is the same measurement for all, in one place.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterable

BATCH = 32
STEPS_PER_EPOCH = 12
EPOCHS = 4
#: per-method overrides that put the tiny presets on the common budget (see the module docstring)
BUDGET = {
    "darts": {},
    "entrannas": {"warmup_epochs": 1},
    "metakernels": {"warmup_epochs": 2},
    "mgas": {"max_epochs_per_phase": 2},
    "fewshot_nl": {},
    "spos": {},
    "nse": {"epochs": 1},   # one epoch per round; its rounds set the total
}
RETRAIN = {"epochs": 4, "max_steps_per_epoch": 20, "batch_size": 32, "max_eval_batches": None, "device": "cpu"}
RETRAIN_RECIPE = "darts-cifar10-tiny"
METHODS = tuple(BUDGET)


def search_overrides(method: str, seed: int = 0) -> dict:
    """The common budget for ``method`` as config overrides."""
    if method not in BUDGET:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(BUDGET)}")
    return {"epochs": EPOCHS, "batch_size": BATCH, "max_steps_per_epoch": STEPS_PER_EPOCH, "seed": seed,
            "progress": False, **BUDGET[method]}


def compare_one(method: str, out: str | Path = "runs/compare", seed: int = 0, draw=None) -> dict:
    """Search ``method`` on the common budget, retrain its derived network, one table row.

    ``draw``: an optional ``draw(arch, stem)`` callback (e.g. :func:`nasbook.viz.draw_arch`)
    for the drawing of the derived architecture in the run folder; none by default."""
    from . import retrain as R
    from .search import search
    from .spaces import get_space, space_of

    steps = [0]

    def count(event, info):
        if event == "step":
            steps[0] += 1

    t0 = time.perf_counter()
    result = search(method, "tiny", Path(out) / method, search_overrides(method, seed), hooks=[count], draw=draw)
    search_s = time.perf_counter() - t0
    arch = result.arch
    trained = R.retrain(arch, RETRAIN_RECIPE, out=None, verbose=False, overrides={**RETRAIN, "seed": seed})
    last = [h for h in trained.history if h["event"] == "epoch"][-1]
    space = space_of(arch)
    c = trained.summary  # params (auxiliary head excluded) and MACs of the evaluated network
    return {"method": method, "space": space, "search_steps": steps[0] or None,
            "search_images": steps[0] * BATCH or None, "search_s": round(search_s, 1),
            "params": c["params"], "macs": c["macs"], "accuracy": round(float(last["val_top1"]), 4),
            "arch": get_space(space).describe(arch).splitlines()[0][:120]}


def compare_methods(methods: Iterable[str] | None = None, out: str | Path = "runs/compare", seed: int = 0,
                    progress: bool = False, draw=None) -> list[dict]:
    """One row per method (default: all of :data:`METHODS`), see :func:`compare_one`."""
    from tqdm.auto import tqdm

    methods = list(methods or METHODS)
    return [compare_one(m, out, seed, draw) for m in tqdm(methods, desc="methods", disable=not progress)]


def save_results(rows: list[dict], path: str | Path) -> Path:
    """Write the rows and the protocol as JSON (stable key order)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"protocol": {"batch": BATCH, "steps_per_epoch": STEPS_PER_EPOCH, "epochs": EPOCHS, "budget": BUDGET,
                        "retrain_recipe": RETRAIN_RECIPE, "retrain": RETRAIN}, "rows": rows}
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return path


def load_results(path: str | Path) -> list[dict]:
    """The rows of a file written by :func:`save_results`."""
    doc = json.loads(Path(path).read_text())
    if "rows" not in doc:
        raise ValueError(f"{path}: not a comparison file (no 'rows')")
    return doc["rows"]


def plot_comparison(rows: list[dict], ax=None):
    """Accuracy of the retrained derived network against search time, one labelled point per method."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 3.8))
    else:
        fig = ax.figure
    for i, r in enumerate(sorted(rows, key=lambda r: r["method"])):
        ax.scatter(r["search_s"], 100 * r["accuracy"], s=30 + r["params"] / 2e3, color=f"C{i}", alpha=0.8)
        ax.annotate(f"{r['method']} ({r['params'] / 1e3:.0f}k)", (r["search_s"], 100 * r["accuracy"]),
                    textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set(xlabel="search wall time on 2 CPU cores (s)", ylabel="retrained accuracy on held-out digits (%)",
           title="Every method, same data and budget (tiny scale)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def table(rows: list[dict]) -> str:
    """The rows as a fixed-width text table."""
    cols = ["method", "space", "search_steps", "search_s", "params", "macs", "accuracy"]
    lines = [" ".join(f"{c:>12s}" for c in cols)]
    for r in rows:
        lines.append(" ".join(f"{str(r[c]):>12s}" for c in cols))
    return "\n".join(lines)
