"""DARTS super-net search step: time and memory at tiny and paper scale, first vs second order.

The baseline later methods are compared against. One step = architecture step + weight step
(DARTS Alg. 1). Memory is the saved-for-backward bytes of the step's forwards (CPU and GPU)
and, on CUDA, the allocator's peak. At paper scale on a CPU the batch is reduced (--paper-batch).

    python benchmarks/darts_supernet.py [--json] [--device cuda] [--paper-batch 64]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from _common import BareStepContext, emit, parser  # noqa: E402
from nasbook.data import dataset_info  # noqa: E402
from nasbook.measure import count_params, peak_memory, time_step  # noqa: E402
from nasbook.methods.darts import DartsSearch  # noqa: E402
from nasbook.search import make_config  # noqa: E402




def measure(scale: str, order: str, batch: int, device: str, iters: int, warmup: int) -> dict:
    if scale == "tiny":
        cfg = make_config("darts", "tiny", {"order": order, "batch_size": batch})
        info = dataset_info("digits")
    else:
        cfg = make_config("darts", "paper", {"order": order, "batch_size": batch})
        info = dataset_info("cifar10")
    torch.manual_seed(0)
    task = DartsSearch(cfg, info)
    task.model.to(device)
    task.optimizers()
    ctx = BareStepContext(task.model, torch.device(device))
    shape = (batch, info.in_channels, info.resolution, info.resolution)
    batches = {"train": (torch.randn(shape), torch.randint(info.num_classes, (batch,))),
               "arch": (torch.randn(shape), torch.randint(info.num_classes, (batch,)))}
    step = lambda: task.training_step(batches, ctx)  # noqa: E731
    mem = peak_memory(step, device)
    t = time_step(step, warmup, iters, device)
    return {"scale": scale, "order": order, "C": cfg.C, "cells": cfg.layers, "batch": batch,
            "input": info.resolution, "weights": count_params(task.model) - sum(p.numel() for p in task.model.arch_parameters()),
            "step_s": t["mean_s"], "step_std_s": t["std_s"], "saved_MiB": mem["saved_bytes"] / 2**20,
            "cuda_peak_MiB": mem.get("cuda_peak_bytes", 0) / 2**20 or None}


def main(argv=None):
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--tiny-batch", type=int, default=32, help="batch at tiny scale (preset: 32)")
    p.add_argument("--paper-batch", type=int, default=None,
                   help="batch at paper scale (paper: 64; default 64 on CUDA, 8 on CPU)")
    p.add_argument("--skip-paper", action="store_true", help="tiny scale only")
    args = p.parse_args(argv)
    paper_batch = args.paper_batch or (64 if args.device.startswith("cuda") else 8)
    rows = []
    scales = [("tiny", args.tiny_batch)] + ([] if args.skip_paper else [("paper", paper_batch)])
    ratios = {}
    for scale, batch in scales:
        first = measure(scale, "first", batch, args.device, args.iters, args.warmup)
        second = measure(scale, "second", batch, args.device, args.iters, args.warmup)
        rows += [first, second]
        ratios[f"{scale}_second_over_first_time"] = second["step_s"] / first["step_s"]
        ratios[f"{scale}_second_over_first_saved"] = second["saved_MiB"] / first["saved_MiB"]
    emit(args, "DARTS super-net search step (arch step + weight step)",
         ["scale", "order", "C", "cells", "batch", "input", "weights", "step_s", "step_std_s", "saved_MiB", "cuda_peak_MiB"],
         rows, {"ratios": ratios, "device": args.device})


if __name__ == "__main__":
    main()
