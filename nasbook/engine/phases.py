"""Several engine runs in sequence with one resume point: MGAS's stages and final phase,
NSE's rounds. A method that runs phases calls :meth:`Phases.fit` once per phase.

* each phase is its own :class:`~nasbook.engine.Trainer` run, in its own folder
  ``ROOT/phases/<k>-<name>/`` (checkpoint, metrics log);
* before it, every data stream gets the phase's own order (:func:`reseed_streams`, through the
  samplers' public :meth:`~nasbook.data.loaders.EpochSampler.reseed`), a function of the seed,
  the stream and the phase only, so a resumed phase sees the data of an uninterrupted one;
* :meth:`Phases.latest` is the resume point of a killed run: the highest phase with a
  checkpoint (what the method saved between phases it restores itself).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from .trainer import EngineConfig, Task, Trainer


def reseed_streams(loaders: dict, phase: int) -> None:
    """Give every loader of ``loaders`` the data order of ``phase`` (phase 0: the run's own)."""
    for loader in loaders.values():
        loader.sampler.reseed(phase)


class Phases:
    """The phases of one run under ``root`` (``None``: nothing is written, nothing resumes)."""

    def __init__(self, root: str | Path | None, hooks: Iterable = ()):
        self.root = Path(root) if root is not None else None
        self.hooks = list(hooks)

    def dir(self, index: int, name: str) -> Path | None:
        return None if self.root is None else self.root / "phases" / f"{index}-{name}"

    def checkpoint(self, index: int, name: str) -> Path | None:
        d = self.dir(index, name)
        return d / Trainer.CHECKPOINT if d is not None and (d / Trainer.CHECKPOINT).exists() else None

    def latest(self, names: list[str]) -> int | None:
        """The highest phase index of ``names`` (index -> name) whose folder holds a checkpoint."""
        done = [k for k, n in enumerate(names) if self.checkpoint(k, n) is not None]
        return max(done) if done else None

    def fit(self, task: Task, loaders: dict, cfg: EngineConfig, index: int, name: str,
            resume: bool = False) -> Trainer:
        """Run phase ``index`` to its end (or until the engine stops it); the trainer keeps the
        phase's ``history``. ``resume`` continues from the phase's own checkpoint."""
        reseed_streams(loaders, index)
        trainer = Trainer(task, loaders, cfg, self.dir(index, name), self.hooks)
        trainer.fit(resume=resume)
        return trainer

    @staticmethod
    def completed(trainer: Trainer) -> bool:
        """Did the phase run to its end (all epochs, or the task's own stop rule)?"""
        return trainer.epoch >= trainer.cfg.epochs or trainer.task.finished()
