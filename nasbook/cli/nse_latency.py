"""``nasbook nse latency``: the command line of :mod:`nasbook.methods.nse.latency`."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..methods.nse.cost import load_table
from ..methods.nse.latency import arch_latency, measure_table, space_keys, time_module


def cmd_measure(args, extra):
    from ..data import dataset_info
    from ..engine import select_device
    from ..config import load_config
    from ..methods.nse.config import NSEConfig

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
    from ..data import dataset_info
    from ..engine import select_device
    from ..spaces import get_space
    from ..zoo import resolve

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
