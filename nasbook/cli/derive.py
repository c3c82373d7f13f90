"""``nasbook derive``."""
from __future__ import annotations

from pathlib import Path


def cmd_derive(args, extra):
    from ..search import write_arch
    import yaml

    run = Path(args.run)
    if not (run / "config.yaml").exists():
        raise ValueError(f"{run} is not a run folder (it has no config.yaml)")
    saved = yaml.safe_load((run / "config.yaml").read_text())
    from ..config import make_config
    from ..data import dataset_info
    from ..methods import get_method

    cls = get_method(saved["method"])
    cfg = make_config(cls.Config, saved["config"])
    task = cls(cfg, dataset_info(cfg.dataset, cfg.resolution))
    task.load_run(run)  # a broken checkpoint is a ValueError naming the file: one line from main()
    arch = task.derive()
    from ..viz import draw_arch

    write_arch(run, arch, cls.key, saved.get("preset", "?"), task, draw=None if args.no_draw else draw_arch)
    print(arch)
    return 0


def register(sub) -> None:
    r = sub.add_parser("derive", help="derive the architecture of a run from its checkpoint")
    r.add_argument("run")
    r.add_argument("--no-draw", action="store_true")
    r.set_defaults(func=cmd_derive)
