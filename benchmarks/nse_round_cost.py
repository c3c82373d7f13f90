"""Cost of one NSE supernet training step as the subset size K grows (K = 1, 2, 4, 8).

NSE keeps only K ops per layer active (docs/methods/nse.md); this measures what that buys. For each K
the supernet of the preset's plan is built over K ops per layer (the first K of a seeded random
permutation of the pool, as at round 0) and the real ``NSESearch.training_step`` is timed:

- ``weight`` step: uniform multi-branch sample (each op on with p = 0.5), forward, CE, backward,
  SGD step;
- ``weight+arch`` step: the same plus the architecture step (two different sets A+, A- per
  layer, h+ with gradients and h- without, cost penalty, Adam on alpha), which runs every
  ``arch_every`` = 2 iterations, so a round's mean iteration is weight + arch / 2.

Reported per K: the mean wall time of each step (over ``--iters`` seeded samples; the active
sets are random, so times vary), the saved-for-backward bytes of the forward (device
independent; mean and max over the samples), the CUDA allocator's peak on a GPU, and ratios to
K = 1. Default: a quick CPU setting (the ``tiny`` preset's sizes with the full MAC-27 pool,
8x8 inputs, batch 32). The paper's supernet: ``--preset paper-flops --batch 128 --device cuda``.

    python benchmarks/nse_round_cost.py [--json] [--preset paper-flops --batch 128 --device cuda]
"""
from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from _common import emit, parser  # noqa: E402
from nasbook.data import dataset_info  # noqa: E402
from nasbook.measure import count_params, peak_memory  # noqa: E402
from nasbook.methods.nse import NSESearch  # noqa: E402
from nasbook.methods.nse.state import init_state  # noqa: E402
from nasbook.search import make_config  # noqa: E402


def make_task(preset: str, K: int, pool: str, device: str, resolution: int | None):
    cfg = make_config("nse", preset, {"pools": [pool], "pool_ops": None, "max_rounds": None, "K": max(K, 2),
                                      "device": device, "target": 1.0})
    info = dataset_info(cfg.dataset, resolution or cfg.resolution)
    task = NSESearch(cfg, info)
    n_ops = len(task.pool)
    task.state = init_state(range(n_ops), len(task.specs), K, cfg.seed)  # K ops per layer, as at round 0
    task.model = task.build_supernet(task.state.subsets).to(device)
    task.optimizers()
    task.gen = torch.Generator().manual_seed(0)
    return task, info


def measure(task, info, batch: int, device: str, iters: int, warmup: int) -> dict:
    dev = torch.device(device)
    x = torch.randn(batch, info.in_channels, info.resolution, info.resolution, device=dev)
    y = torch.randint(info.num_classes, (batch,), device=dev)
    batches = {"train": (x, y), "arch": (x, y)}
    ctx = SimpleNamespace(model=task.model, device=dev, to_device=lambda b: b, autocast=contextlib.nullcontext,
                          backward=lambda loss: loss.backward(),
                          optimizer_step=lambda opt, clip=None, clip_norm=None: opt.step(), step=1)

    def run(step_index):
        ctx.step = step_index
        task.training_step(batches, ctx)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    out = {}
    for name, idx in (("weight", 1), ("weight+arch", 0)):
        for _ in range(warmup):
            run(idx)
        sync()
        times, saved, peaks = [], [], []
        for _ in range(iters):
            t = time.perf_counter()
            run(idx)
            sync()
            times.append(time.perf_counter() - t)
            mem = peak_memory(lambda: run(idx), dev)  # one more seeded sample, for memory
            saved.append(mem["saved_bytes"] / 2**20)
            peaks.append(mem.get("cuda_peak_bytes", 0) / 2**20)
        out[f"{name}_s"] = sum(times) / len(times)
        out[f"{name}_saved_MiB"] = sum(saved) / len(saved)
        out[f"{name}_saved_max_MiB"] = max(saved)
        if dev.type == "cuda":
            out[f"{name}_cuda_peak_MiB"] = max(peaks)
    out["mean_iteration_s"] = out["weight_s"] + (out["weight+arch_s"] - out["weight_s"]) / task.cfg.arch_every
    return out


def main(argv=None):
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--preset", default="tiny", help="NSE preset whose supernet to build (default tiny)")
    p.add_argument("--pool", default="MAC-27", help="op pool (MAC-27, G-72, MB-19); default MAC-27")
    p.add_argument("--ks", default="1,2,4,8", help="subset sizes (default 1,2,4,8)")
    p.add_argument("--batch", type=int, default=32, help="images per step (paper: 128 per GPU)")
    p.add_argument("--resolution", type=int, default=None, help="input size (default: the preset's dataset)")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    rows = []
    for K in (int(k) for k in args.ks.split(",")):
        task, info = make_task(args.preset, K, args.pool, args.device, args.resolution)
        row = {"K": K, "layers": len(task.specs), "weights_M": count_params(task.model) / 1e6, "batch": args.batch,
               "input": info.resolution}
        row.update(measure(task, info, args.batch, args.device, args.iters, args.warmup))
        rows.append(row)
        del task
    base = rows[0]
    for r in rows:
        r["time_vs_K1"] = r["mean_iteration_s"] / base["mean_iteration_s"]
        r["saved_vs_K1"] = r["weight+arch_saved_MiB"] / base["weight+arch_saved_MiB"]
    cols = ["K", "layers", "weights_M", "weight_s", "weight+arch_s", "mean_iteration_s", "weight_saved_MiB",
            "weight+arch_saved_MiB", "weight+arch_saved_max_MiB", "time_vs_K1", "saved_vs_K1"]
    if args.device.startswith("cuda"):
        cols += ["weight_cuda_peak_MiB", "weight+arch_cuda_peak_MiB"]
    extra = {"ratios": {f"K{r['K']}_over_K1_time": r["time_vs_K1"] for r in rows}
             | {f"K{r['K']}_over_K1_saved": r["saved_vs_K1"] for r in rows},
             "preset": args.preset, "pool": args.pool, "device": args.device, "iters": args.iters}
    emit(args, "NSE supernet training step vs subset size K", cols, rows, extra)


if __name__ == "__main__":
    main()
