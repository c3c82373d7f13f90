"""Measuring a latency lookup table on your own device (docs/methods/nse.md).

NSE's latency constraint sums per-conv table entries. The authors' table is for their GPU at
batch 128 (15 repetitions, minimum kept), so it says nothing about yours: ``nasbook latency
measure`` times every convolution (conv + BN, eval mode, no gradient), element-wise add,
global pool and classifier that a search space can use, on ``--device`` at ``--batch``,
keeping the minimum of ``--reps`` timings (milliseconds). ``nasbook latency estimate ARCH``
compares a table's sum for an architecture with the measured end-to-end latency of its
network (the additivity check of Sec. 9).

    nasbook latency measure --preset paper-latency --out lut.json --device cuda
    nasbook search nse --preset paper-latency --latency-table lut.json --target 7.0
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from torch import nn

from .cost import CostModel, load_table

_SYNC = {"cuda": lambda: torch.cuda.synchronize()}


def module_for_key(key: str) -> tuple[nn.Module, tuple[int, ...]]:
    """The module a table key times and its input shape (without the batch dimension)."""
    kind, *f = key.split(":")
    if kind == "conv":
        h, w = map(int, f[0].split("x"))
        c_in, c_out = int(f[1]), int(f[2])
        kernel, stride, padding = (tuple(map(int, v.split("x"))) for v in f[3:6])
        dilation, groups = int(f[6]), int(f[7])
        conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation=dilation, groups=groups, bias=False)
        return nn.Sequential(conv, nn.BatchNorm2d(c_out)), (c_in, h, w)
    if kind == "add":
        h, w = map(int, f[0].split("x"))

        class Add(nn.Module):
            def forward(self, x):
                return x + x

        return Add(), (int(f[1]), h, w)
    if kind == "pool":
        h, w = map(int, f[0].split("x"))
        return nn.AdaptiveAvgPool2d(1), (int(f[1]), h, w)
    if kind == "linear":
        return nn.Linear(int(f[0]), int(f[1])), (int(f[0]),)
    raise ValueError(f"unknown latency-table key {key!r}")


@torch.no_grad()
def time_module(module: nn.Module, shape, batch: int, device, reps: int = 15, warmup: int = 3) -> float:
    """Minimum over ``reps`` of one forward pass, in milliseconds."""
    device = torch.device(device)
    module = module.to(device).eval()
    x = torch.randn(batch, *shape, device=device)
    sync = _SYNC.get(device.type, lambda: None)
    for _ in range(warmup):
        module(x)
    sync()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        module(x)
        sync()
        best = min(best, time.perf_counter() - t)
    return 1e3 * best


def space_keys(cfg, info) -> list[str]:
    """Every table key the supernet of ``cfg`` (all pools, every layer) can need."""
    from ...spaces.nse_plans import PLANS, layer_specs
    from ...spaces.nse_pools import get_pool

    pool = get_pool(cfg.pools[-1])
    specs = layer_specs(cfg.plan, cfg.counts, tuple(cfg.widths or PLANS[cfg.plan][1]))
    model = CostModel(pool, specs, info.resolution, info.in_channels, cfg.stem_stride, cfg.head_width,
                      info.num_classes, "flops")
    ids = list(cfg.pool_ops) if cfg.pool_ops and len(cfg.pools) == 1 else range(len(pool))
    keys = model.table_keys([ids] * len(specs))
    keys.add(f"linear:{cfg.head_width}:{info.num_classes}")
    return sorted(keys)


def measure_table(keys, batch: int = 128, device: str = "cpu", reps: int = 15, progress: bool = True) -> dict:
    it = keys
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(keys, desc="timing ops", dynamic_ncols=True)
    out = {}
    for k in it:
        m, shape = module_for_key(k)
        out[k] = time_module(m, shape, batch, device, reps)
    return out


def arch_latency(arch, table: dict, dataset: str = "imagenet", count_stem: bool = True) -> float:
    """The table's latency of one :class:`~nasbook.spaces.nse.NSEArch` (sum over its convs, adds,
    pool and classifier)."""
    from ...data import dataset_info
    from ...spaces.nse_pools import get_pool

    info = dataset_info(dataset)
    model = CostModel(get_pool(arch.pool), arch.layer_specs(), info.resolution, info.in_channels, arch.stem_stride,
                      arch.head_width, info.num_classes, "latency", table, 1.0, count_stem)
    return model.arch_cost(arch.layers)
