"""``search()``: the library entry point behind ``nasbook search``.

Builds the data (the DARTS search split of the training set), the method's super-net and
the engine, runs the search, derives the architecture and writes the run folder::

    RUN/config.yaml    the full configuration
    RUN/metrics.jsonl  one JSON object per logged step and per epoch
    RUN/checkpoint.pt  the latest checkpoint (resume with resume=True)
    RUN/arch.json      the derived architecture value
    RUN/cells*.svg/png its drawing, when a ``draw`` callback is given (e.g. :func:`nasbook.viz.draw_arch`)
    RUN/summary.json   method, preset, architecture, params/MACs of the derived network
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from . import config as C
from .engine import Trainer, seed_everything
from .engine import distributed as D
from .methods import get_method


#: ``draw(arch, stem) -> list[Path]``: a drawing callback (this layer cannot import ``nasbook.viz``).
DrawFn = Callable[[Any, Path], list]


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


#: settings a resumed run may change: they steer the run, not what it computes
RESUMABLE = frozenset({"stop_after_steps", "progress", "log_every", "checkpoint_every", "workers", "device",
                       "data", "download"})


def _resume_config(cls, run_dir: Path | None, overrides: dict | None, force: bool):
    """The saved config of ``run_dir`` with ``overrides``; refuses (before anything is written)
    a run without a checkpoint, and changed settings unless ``force``."""
    if run_dir is None or not (run_dir / "config.yaml").exists():
        raise ValueError(f"cannot resume: {run_dir} holds no config.yaml of an earlier run")
    if not any(run_dir.rglob("checkpoint.pt")):
        raise ValueError(f"cannot resume {run_dir}: it holds no checkpoint.pt (the run stopped before its first "
                         f"checkpoint, or it was deleted); start it again without --resume")
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    before = C.make_config(cls.Config, dict(saved["config"]))
    cfg = C.make_config(cls.Config, {**saved["config"], **(overrides or {})})
    old, new = dataclasses.asdict(before), dataclasses.asdict(cfg)
    changed = [f"{k}: {old[k]!r} -> {new[k]!r}" for k in new if k not in RESUMABLE and new[k] != old[k]]
    if changed and not force:
        raise ValueError(f"cannot resume {run_dir} with changed settings ({'; '.join(changed)}): its checkpoint "
                         f"was made with the saved ones. Drop them, or add --force to resume anyway")
    return cfg, saved.get("preset")


def search(method: str, preset: str = "tiny", out: str | Path | None = None, overrides: dict | None = None,
           resume: bool = False, hooks: Iterable = (), draw: DrawFn | None = None,
           force: bool = False) -> SearchResult:
    """Run a search and return the derived architecture. See the module docstring.

    ``draw(arch, stem) -> list[Path]``, when given, draws the derived architecture into the run
    folder (``RUN/cells*``); the command line passes :func:`nasbook.viz.draw_arch`."""
    cls = get_method(method)
    run_dir = Path(out) if out else None
    if resume:
        cfg, saved_preset = _resume_config(cls, run_dir, overrides, force)
        preset = saved_preset or preset
    else:
        cfg = make_config(method, preset, overrides)
    loaders, info = cls.search_loaders(cfg)  # the DARTS split, or a method's own
    seed_everything(cfg.seed)  # the super-net's initial weights and alphas are part of the run
    task = cls(cfg, info)
    if run_dir is not None and D.is_main() and not resume:  # a resume never rewrites what it resumes
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(
            {"method": cls.key, "preset": preset, "config": dataclasses.asdict(cfg)}, sort_keys=False))
    trainer = Trainer(task, loaders, cfg.engine(), run_dir, hooks)
    history = task.run(trainer, resume=resume)
    arch = task.derive()
    if run_dir is not None and D.is_main():
        write_arch(run_dir, arch, cls.key, preset, task, draw)
    return SearchResult(arch, history, run_dir, task, trainer)


def write_arch(run_dir: Path, arch, method: str, preset: str, task=None, draw: DrawFn | None = None) -> dict:
    """Write ``arch.json`` and ``summary.json``; with ``draw`` also the drawing ``cells*``
    (its file names are listed in the summary's ``drawings``)."""
    from .spaces import arch_to_dict, get_space, space_of

    space = get_space(space_of(arch))
    (run_dir / "arch.json").write_text(json.dumps(arch_to_dict(arch), indent=2) + "\n")
    summary = {"method": method, "preset": preset, "space": space.name, "arch": arch_to_dict(arch),
               "str": str(arch)}
    if task is not None:
        summary.update(task.summary())
    if draw is not None:
        summary["drawings"] = [str(p.name) for p in draw(arch, run_dir / "cells")]
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
