"""EnTranNAS vs DARTS (first order): memory and time of one search step on the same super-net size.

One step = architecture step + weight step, through each method's own ``training_step``
(EnTranNAS: Engine-cells [0, 2] mixed, Transit-cells on the derived cell, feature sharing;
DARTS: every cell mixed, one module per edge and op). Same C, cells, batch and input for all.
EnTranNAS-DST is measured at initialisation, where t = 0.5 keeps the cells dense: its worst case
(docs/methods/entrannas.md, 6 step 3; it gets cheaper as pairs are pruned).

Memory: bytes of the tensors autograd saves during the step (nasbook.measure.saved_tensor_bytes,
allocator-independent, the same on CPU and GPU) and, on CUDA, torch.cuda.max_memory_allocated.
Defaults are a quick CPU run at the CIFAR-10 super-net size (C = 16, 8 cells, 32x32) with the
batch reduced to 8; --cifar uses the spec's batch 64 (docs/methods/entrannas.md).

    python benchmarks/entrannas_vs_darts.py [--json] [--cifar] [--batch B] [--device cuda]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from _common import BareStepContext, emit, parser  # noqa: E402
from nasbook.data import dataset_info  # noqa: E402
from nasbook.measure import count_params, peak_memory, time_step  # noqa: E402
from nasbook.methods import get_method  # noqa: E402
from nasbook.search import make_config  # noqa: E402




ARMS = {  # name -> (method, overrides)
    "darts_first_order": ("darts", {"order": "first"}),
    "entrannas": ("entrannas", {"derive": "top2"}),
    "entrannas_dst_dense": ("entrannas", {"derive": "dst"}),
}


def measure(arm: str, C: int, layers: int, batch: int, resolution: int, device: str, iters: int, warmup: int) -> dict:
    method, over = ARMS[arm]
    cfg = make_config(method, "paper", {**over, "C": C, "layers": layers, "batch_size": batch})
    info = dataset_info("cifar10", resolution)
    torch.manual_seed(0)
    task = get_method(method)(cfg, info)
    task.model.to(device)
    task.optimizers()
    ctx = BareStepContext(task.model, torch.device(device))
    shape = (batch, info.in_channels, resolution, resolution)
    g = torch.Generator().manual_seed(1)
    batches = {"train": (torch.randn(shape, generator=g), torch.randint(info.num_classes, (batch,), generator=g)),
               "arch": (torch.randn(shape, generator=g), torch.randint(info.num_classes, (batch,), generator=g))}
    step = lambda: task.training_step(batches, ctx)  # noqa: E731
    step()  # first call: lazy allocator and kernel set-up stay out of both figures
    mem = peak_memory(step, device)
    t = time_step(step, warmup, iters, device)
    evals = getattr(task.model, "last_op_evals", None) or layers * sum(j + 2 for j in range(cfg.steps)) * len(task.model.primitives)
    arch = sum(p.numel() for p in task.model.arch_parameters())
    return {"arm": arm, "C": C, "cells": layers, "batch": batch, "input": resolution,
            "weights": count_params(task.model) - arch, "op_evals": evals,
            "step_s": t["mean_s"], "step_std_s": t["std_s"], "saved_MiB": mem["saved_bytes"] / 2**20,
            "cuda_peak_MiB": mem["cuda_peak_bytes"] / 2**20 if "cuda_peak_bytes" in mem else None}


def main(argv=None):
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--cifar", action="store_true", help="the spec's CIFAR-10 setting: batch 64 (Sec. 6)")
    p.add_argument("--batch", type=int, default=None, help="batch for every arm (default 8, or 64 with --cifar)")
    p.add_argument("--C", type=int, default=16, help="initial channels (CIFAR search: 16)")
    p.add_argument("--layers", type=int, default=8, help="cells (CIFAR search: 8)")
    p.add_argument("--resolution", type=int, default=32, help="input size (CIFAR: 32)")
    p.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated subset of {', '.join(ARMS)}")
    args = p.parse_args(argv)
    batch = args.batch or (64 if args.cifar else 8)
    arms = args.arms.split(",")
    if "darts_first_order" not in arms:
        arms.insert(0, "darts_first_order")
    rows = [measure(a, args.C, args.layers, batch, args.resolution, args.device, args.iters, args.warmup) for a in arms]
    base = rows[0]
    ratios = {}
    for r in rows[1:]:
        ratios[f"{r['arm']}_over_darts_time"] = r["step_s"] / base["step_s"]
        ratios[f"{r['arm']}_over_darts_saved"] = r["saved_MiB"] / base["saved_MiB"]
        if r["cuda_peak_MiB"] is not None and base["cuda_peak_MiB"]:
            ratios[f"{r['arm']}_over_darts_cuda_peak"] = r["cuda_peak_MiB"] / base["cuda_peak_MiB"]
    emit(args, "EnTranNAS vs DARTS first order: one search step (arch step + weight step)",
         ["arm", "C", "cells", "batch", "input", "weights", "op_evals", "step_s", "step_std_s", "saved_MiB",
          "cuda_peak_MiB"], rows, {"ratios": ratios, "device": args.device})


if __name__ == "__main__":
    main()
