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


def cmd_measure(args, extra):
    from ...data import dataset_info
    from ...engine import select_device
    from ...config import load_config
    from .config import NSEConfig

    overrides = {k.replace("-", "_"): v for k, v in (s.split("=", 1) for s in args.set)}
    import yaml

    cfg = load_config(NSEConfig, "nse", args.preset, {k: yaml.safe_load(v) for k, v in overrides.items()})
    info = dataset_info(cfg.dataset, cfg.resolution)
    device = select_device(args.device)
    keys = space_keys(cfg, info)
    if args.limit:
        keys = keys[:args.limit]
    table = measure_table(keys, args.batch, device, args.reps, not args.quiet)
    meta = {"device": str(device), "name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "batch": args.batch, "reps": args.reps, "units": "ms per batch (minimum)", "preset": args.preset,
            "dataset": cfg.dataset, "resolution": info.resolution, "torch": torch.__version__}
    Path(args.out).write_text(json.dumps({"meta": meta, "entries": table}, indent=1) + "\n")
    print(f"{len(table)} entries -> {args.out} ({meta['name']}, batch {args.batch})")
    return 0


def cmd_estimate(args, extra):
    from ...data import dataset_info
    from ...engine import select_device
    from ...spaces import get_space
    from ...zoo import resolve

    arch = resolve(args.arch)
    table = load_table(args.table)
    est = arch_latency(arch, table, args.dataset, not args.no_stem)
    out = {"arch": args.arch, "table_sum": est}
    if args.measure:
        device = select_device(args.device)
        space = get_space("nse")
        d = dataset_info(args.dataset)
        net = space.build(arch, d.num_classes, d.in_channels, d.resolution)
        shape = space.input_shape(d.in_channels, d.resolution)
        out["measured"] = time_module(net, shape, json.loads(Path(args.table).read_text()).get("meta", {}).get("batch", 128),
                                      device, args.reps)
    print(json.dumps(out) if args.json else "  ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}"
                                                          for k, v in out.items()))
    return 0


def register(subparsers) -> None:
    """``nasbook latency measure|estimate`` (see module docstring)."""
    p = subparsers.add_parser("latency", help="measure a latency table for NSE's latency constraint")
    sub = p.add_subparsers(dest="latency_command", required=True)
    m = sub.add_parser("measure", help="time every op of an NSE search space on this device")
    m.add_argument("--preset", default="paper-latency", help="NSE preset whose space to cover (default paper-latency)")
    m.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override an NSE config field")
    m.add_argument("--out", default="latency_table.json")
    m.add_argument("--batch", type=int, default=128, help="batch size (the authors' table: 128)")
    m.add_argument("--reps", type=int, default=15, help="timings per op; the minimum is kept (authors: 15)")
    m.add_argument("--device", default="auto")
    m.add_argument("--limit", type=int, default=0, help="time only the first N keys (smoke tests)")
    m.add_argument("--quiet", action="store_true")
    m.set_defaults(func=cmd_measure)
    e = sub.add_parser("estimate", help="a table's latency of an architecture (and, with --measure, the real one)")
    e.add_argument("arch", help="JSON file, run folder or zoo name (e.g. nsenet_gpu)")
    e.add_argument("--table", required=True)
    e.add_argument("--dataset", default="imagenet")
    e.add_argument("--no-stem", action="store_true", help="leave the stem out, as the authors' table did")
    e.add_argument("--measure", action="store_true", help="also time the whole network end to end")
    e.add_argument("--reps", type=int, default=15)
    e.add_argument("--device", default="auto")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_estimate)
