"""What every search method provides on top of an engine :class:`~nasbook.engine.Task`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from ..config import SearchConfig
from ..data import DatasetInfo
from ..engine import Task, Trainer


class SearchMethod(Task):
    """A search method: a super-net Task plus a derivation.

    Subclasses set ``key`` (the registry name), ``Config`` (a :class:`SearchConfig`
    subclass whose presets live in ``methods/presets/<key>.yaml``) and implement
    ``__init__(cfg, info)``, ``optimizers``, ``training_step`` and ``derive``.
    """

    key: ClassVar[str]
    Config: ClassVar[type] = SearchConfig
    streams = ("train", "arch")

    def __init__(self, cfg: SearchConfig, info: DatasetInfo):
        self.cfg, self.info = cfg, info

    def derive(self) -> Any:
        """The architecture value the current super-net state stands for."""
        raise NotImplementedError

    def load_run(self, run: Path) -> None:
        """Restore what :meth:`derive` needs from a run folder (``nasbook derive``); the default
        loads the super-net of ``RUN/checkpoint.pt``. Methods with rounds override it."""
        from ..engine.checkpoint import load

        ck = Path(run) / "checkpoint.pt"
        if not ck.exists():
            raise ValueError(f"{run} has no checkpoint.pt (has the search started?)")
        self.model.load_state_dict(load(ck)["model"])

    def run(self, trainer: Trainer, resume: bool = False) -> list[dict]:
        """The search loop; the default is one engine run. Methods with rounds or stages
        (NSE, MGAS, few-shot) override this and call the engine several times."""
        return trainer.fit(resume=resume)

    def summary(self) -> dict:
        """Extra facts to store in the run's ``summary.json``."""
        return {}
