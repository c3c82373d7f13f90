"""What every search method provides on top of an engine :class:`~nasbook.engine.Task`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from ..config import SearchConfig
from ..data import DatasetInfo, get_dataset, make_loader, search_split
from ..engine import Task, Trainer
from ..engine import distributed as D


class SearchMethod(Task):
    """A search method: a super-net Task plus a derivation.

    Subclasses set ``key`` (the registry name), ``Config`` (a :class:`SearchConfig`
    subclass whose presets live in ``methods/presets/<key>.yaml``) and implement
    ``__init__(cfg, info)``, ``optimizers``, ``training_step`` and ``derive``.
    """

    key: ClassVar[str]
    Config: ClassVar[type] = SearchConfig
    streams = ("train", "arch")
    #: evaluate the super-net on the architecture split at every epoch end (DARTS'
    #: ``train_search.py`` reports it); methods that score in their own way turn it off
    evaluate_each_epoch: ClassVar[bool] = True

    @classmethod
    def search_loaders(cls, cfg: SearchConfig) -> tuple[dict, DatasetInfo]:
        """Loaders of the run's data streams: by default the DARTS search split of
        ``cfg.dataset``'s training set (weights on the first ``train_portion``, architecture on
        the rest), plus a ``valid`` loader over the architecture half when
        :attr:`evaluate_each_epoch`. Methods with their own split override this."""
        rank, world = D.world()
        train, info = get_dataset(cfg.dataset, "train", cfg.data, cfg.download, cfg.resolution,
                                  skip_bad_images=cfg.skip_bad_images)
        w_idx, a_idx = search_split(len(train), cfg.train_portion, getattr(train, "targets", None))
        smallest = min(len(w_idx), len(a_idx)) if "arch" in cls.streams else len(w_idx)
        if cfg.batch_size > smallest:
            raise ValueError(f"batch_size: {cfg.batch_size} is larger than the {smallest} images of the smaller "
                             f"search split of {cfg.dataset} (train_portion {cfg.train_portion})")
        loaders = {"train": make_loader(train, cfg.batch_size, cfg.seed, w_idx, True, cfg.workers, rank, world, 0),
                   "arch": make_loader(train, cfg.batch_size, cfg.seed, a_idx, True, cfg.workers, rank, world, 1)}
        out = {k: v for k, v in loaders.items() if k in cls.streams}
        if cls.evaluate_each_epoch:
            out["valid"] = make_loader(train, 2 * cfg.batch_size, cfg.seed, a_idx, False, cfg.workers, rank, world, 2)
        return out, info

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
