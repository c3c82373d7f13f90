"""``search()``: the library entry point behind ``nasbook search``.

Builds the data (the DARTS search split of the training set), the method's super-net and
the engine, runs the search, derives the architecture and writes the run folder::

    RUN/config.yaml    the full configuration
    RUN/metrics.jsonl  one JSON object per logged step and per epoch
    RUN/checkpoint.pt  the latest checkpoint (resume with resume=True)
    RUN/arch.json      the derived architecture value
    RUN/cells.svg/png  its drawing
    RUN/summary.json   method, preset, architecture, params/MACs of the derived network
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from . import config as C
from .data import get_dataset, make_loader, search_split
from .engine import Trainer, seed_everything
from .engine import distributed as D
from .methods import get_method


@dataclass
class SearchResult:
    arch: Any
    history: list
    run_dir: Path | None
    method: Any
    trainer: Trainer


def make_config(method: str, preset: str = "tiny", overrides: dict | None = None):
    cls = get_method(method)
    return C.load_config(cls.Config, cls.key, preset, overrides)


def search_loaders(cfg, streams=("train", "arch"), evaluate: bool = True):
    """Loaders for the DARTS search split of ``cfg.dataset``'s training set."""
    rank, world = D.world()
    train, info = get_dataset(cfg.dataset, "train", cfg.data, cfg.download, cfg.resolution)
    w_idx, a_idx = search_split(len(train), cfg.train_portion, getattr(train, "targets", None))
    loaders = {"train": make_loader(train, cfg.batch_size, cfg.seed, w_idx, True, cfg.workers, rank, world, 0),
               "arch": make_loader(train, cfg.batch_size, cfg.seed, a_idx, True, cfg.workers, rank, world, 1)}
    out = {k: v for k, v in loaders.items() if k in streams}
    if evaluate:
        # the super-net's accuracy on the architecture half, as DARTS' train_search reports it
        out["valid"] = make_loader(train, 2 * cfg.batch_size, cfg.seed, a_idx, False, cfg.workers, rank, world, 2)
    return out, info


def search(method: str, preset: str = "tiny", out: str | Path | None = None, overrides: dict | None = None,
           resume: bool = False, hooks: Iterable = (), draw: bool = True) -> SearchResult:
    """Run a search and return the derived architecture. See the module docstring."""
    cls = get_method(method)
    run_dir = Path(out) if out else None
    if resume:
        if run_dir is None or not (run_dir / "config.yaml").exists():
            raise ValueError(f"cannot resume: {run_dir} holds no config.yaml of an earlier run")
        saved = yaml.safe_load((run_dir / "config.yaml").read_text())
        saved_overrides = dict(saved["config"])
        saved_overrides.update(overrides or {})
        cfg = C.make_config(cls.Config, saved_overrides)
        preset = saved.get("preset", preset)
    else:
        cfg = make_config(method, preset, overrides)
    loaders, info = (cls.search_loaders(cfg) if hasattr(cls, "search_loaders")  # a method with its own data split
                     else search_loaders(cfg, streams=cls.streams, evaluate=getattr(cls, "evaluate_each_epoch", True)))
    seed_everything(cfg.seed)  # the super-net's initial weights and alphas are part of the run
    task = cls(cfg, info)
    if run_dir is not None and D.is_main():
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(
            {"method": cls.key, "preset": preset, "config": dataclasses.asdict(cfg)}, sort_keys=False))
    trainer = Trainer(task, loaders, cfg.engine(), run_dir, hooks)
    history = task.run(trainer, resume=resume)
    arch = task.derive()
    if run_dir is not None and D.is_main():
        write_arch(run_dir, arch, cls.key, preset, task, draw)
    return SearchResult(arch, history, run_dir, task, trainer)


def write_arch(run_dir: Path, arch, method: str, preset: str, task=None, draw: bool = True) -> dict:
    from .spaces import arch_to_dict, get_space, space_of

    space = get_space(space_of(arch))
    (run_dir / "arch.json").write_text(json.dumps(arch_to_dict(arch), indent=2) + "\n")
    summary = {"method": method, "preset": preset, "space": space.name, "arch": arch_to_dict(arch),
               "str": str(arch)}
    if task is not None:
        summary.update(task.summary())
    if draw and space.draw is not None:
        summary["drawings"] = [str(p.name) for p in space.draw(arch, run_dir / "cells")]
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
