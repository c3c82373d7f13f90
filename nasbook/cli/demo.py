"""``nasbook demo``."""
from __future__ import annotations

import time
from pathlib import Path


def cmd_demo(args, extra):
    """The README's main job: a real first-order DARTS search at tiny scale, drawn."""
    from ..measure import count_macs, count_params
    from ..search import search
    from ..spaces import get_space
    from ..viz import draw_arch

    out = Path(args.out)
    t = time.perf_counter()
    print("nasbook demo: first-order DARTS on the offline digits (tiny preset, 2 CPU cores: ~1 minute)")
    res = search("darts", "tiny", out, {"epochs": args.epochs} if args.epochs else None, draw=draw_arch)
    last = [h for h in res.history if h.get("event") == "epoch"][-1]
    print(f"search finished in {time.perf_counter() - t:.0f} s; validation accuracy of the super-net "
          f"on the architecture half: {100 * last.get('val_top1', float('nan')):.1f}%")
    print("derived genotype:")
    print(res.arch)
    net = get_space("darts").build(res.arch, 10, 3, 32)   # CIFAR-10's classes, channels, resolution
    print(f"as a CIFAR-10 evaluation network (C=36, 20 cells): {count_params(net, ('auxiliary_head',)) / 1e6:.2f}M params, "
          f"{count_macs(net, (3, 32, 32)) / 1e6:.0f}M MACs")
    print(f"run folder: {out}  (arch.json, cells_normal.svg/png, cells_reduce.svg/png, metrics.jsonl)")
    return 0


def register(sub) -> None:
    d = sub.add_parser("demo", help="the main job: a real tiny DARTS search on offline data, ending in drawn cells")
    d.add_argument("--out", default="runs/demo", help="run folder (default runs/demo)")
    d.add_argument("--epochs", type=int, help="override the tiny preset's epochs")
    d.set_defaults(func=cmd_demo)
