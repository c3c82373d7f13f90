"""Few-shot NAS by counting nonlinear functions: the cost of one training step (spec Sec. 1.5, 6).

Three ways to train supernets on NAS-Bench-201, same batch, same input, one optimiser step each:

* ``efs_sbs``: the K reduced-width supernets (C // G) with supernet-balanced sampling: one subnet
  per supernet, losses summed, K forward/backward passes;
* ``spos``: one full-width SPOS supernet, one subnet per step;
* ``wide_sbs``: K full-width supernets with SBS (what K few-shot supernets cost without narrowing).

The subnets are the same in all three: step i of SPOS trains subnet (i mod K) of the SBS draw,
so averaged over a multiple of K iterations the comparison is on identical architectures.
Reported per step: wall time, memory (parameter + gradient + momentum bytes plus the peak
saved-for-backward activations of one subnet, since the backward passes run one after the
other; on CUDA also the allocator's peak), and conv/linear MACs per image (the analytic
K / G^2 check: 0.29 of one wide subnet for K = 3, C = 5). Ratios are against ``spos``.
Issue target: efs_sbs <= 1.5 x spos per step.

    python benchmarks/fewshot_cost.py [--json] [--device cuda] [--cells 5] [--batch 64]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from _common import emit, parser  # noqa: E402
from nasbook.data import dataset_info  # noqa: E402
from nasbook.measure import count_macs, count_params, saved_tensor_bytes, time_step  # noqa: E402
from nasbook.methods.fewshot_nl import FewShotNLSearch, SposSearch, draw  # noqa: E402
from nasbook.search import make_config  # noqa: E402


class _Fixed(nn.Module):
    """One architecture of a bank as a plain module (for the MAC counter)."""

    def __init__(self, bank, arch):
        super().__init__()
        self.bank, self.arch = bank, arch

    def forward(self, x):
        return self.bank(x, self.arch)


def build(method: str, args, divisor: int | None):
    over = {"dataset": "cifar10", "C": args.C, "N": args.cells, "groups": args.groups}
    if method == "spos":
        over = {k: v for k, v in over.items() if k != "groups"}
        task = SposSearch(make_config("spos", "paper", over), dataset_info("cifar10", args.resolution))
    else:
        over["width_divisor"] = divisor
        task = FewShotNLSearch(make_config("fewshot_nl", "paper", over), dataset_info("cifar10", args.resolution))
    task.model.to(args.device)
    task.optimizers()
    return task


def measure(name: str, task, archs_per_step, args) -> dict:
    dev = torch.device(args.device)
    x = torch.randn(args.batch, 3, args.resolution, args.resolution, device=dev)
    y = torch.randint(10, (args.batch,), device=dev)
    opt, ce = task._opt, nn.functional.cross_entropy
    it = iter(range(10 ** 9))

    def step():
        archs = archs_per_step[next(it) % len(archs_per_step)]
        opt.zero_grad(set_to_none=True)
        for a in archs:
            ce(task.model(x, a), y).backward()  # gradients accumulate: losses summed
        opt.step()

    t = time_step(step, warmup=args.warmup, iters=args.iters, device=dev)
    params = count_params(task.model)
    acts = max(saved_tensor_bytes(lambda a=a: ce(task.model(x, a), y)) for archs in archs_per_step for a in archs)
    row = {"method": name, "supernets": len(task.model.nets), "width": task.cfg.C // task.divisor,
           "subnets_per_step": len(archs_per_step[0]), "params": params, "step_s": t["mean_s"],
           "memory_mb": (3 * 4 * params + acts) / 2 ** 20,
           "macs_per_image_m": sum(sum(count_macs(_Fixed(task.model, a), (3, args.resolution, args.resolution))
                                       for a in archs) for archs in archs_per_step) / len(archs_per_step) / 1e6}
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        step()
        torch.cuda.synchronize(dev)
        row["cuda_peak_mb"] = (torch.cuda.max_memory_allocated(dev) - base) / 2 ** 20
    return row


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--C", type=int, default=16, help="full width (NAS-Bench-201: 16)")
    p.add_argument("--cells", type=int, default=5, help="cells per stage (NAS-Bench-201: 5)")
    p.add_argument("--groups", type=int, default=3, help="number of supernets K (3 or 4)")
    p.add_argument("--divisor", type=int, default=None, help="width divisor G (default: G = K)")
    p.add_argument("--batch", type=int, default=16, help="batch size (paper: 64; default 16 for a quick CPU run)")
    p.add_argument("--resolution", type=int, default=32)
    p.set_defaults(iters=3)
    args = p.parse_args(argv)
    torch.manual_seed(0)
    efs = build("fewshot_nl", args, args.divisor)
    K = len(efs.model.nets)
    if args.iters % K:
        args.iters += K - args.iters % K  # whole rounds, so SPOS sees the same subnets
    sbs = [[a for _, a in draw("sbs", efs.subspaces, s, 0)] for s in range(args.iters)]
    rows = [measure("efs_sbs", efs, sbs, args)]
    del efs
    rows.append(measure("spos", build("spos", args, 1), [[s[i % K]] for i, s in enumerate(sbs)], args))
    rows.append(measure("wide_sbs", build("fewshot_nl", args, 1), sbs, args))
    base = rows[1]
    for r in rows:
        for k in ("step_s", "memory_mb", "macs_per_image_m", "params"):
            r[f"{k.split('_')[0]}_ratio"] = r[k] / base[k]
    extra = {"efs_over_spos_step_time": rows[0]["step_ratio"], "wide_over_spos_step_time": rows[2]["step_ratio"],
             "efs_over_spos_macs": rows[0]["macs_ratio"], "efs_over_spos_memory": rows[0]["memory_ratio"],
             "analytic_cell_macs_K_over_G2": K * (args.C // (args.divisor or K)) ** 2 / args.C ** 2,
             "target_efs_step_time_at_most_1.5x_spos": rows[0]["step_ratio"] <= 1.5,
             "settings": {"C": args.C, "cells_per_stage": args.cells, "K": K, "G": args.divisor or K,
                          "batch": args.batch, "resolution": args.resolution, "iters": args.iters,
                          "device": args.device}}
    cols = ["method", "supernets", "width", "subnets_per_step", "params", "step_s", "step_ratio", "memory_mb",
            "memory_ratio", "macs_per_image_m", "macs_ratio"] + (["cuda_peak_mb"] if args.device.startswith("cuda") else [])
    emit(args, "few-shot NAS (nonlinearity count) vs SPOS: one training step on NAS-Bench-201", cols, rows, extra)


if __name__ == "__main__":
    main()
