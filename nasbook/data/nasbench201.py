"""The NAS-Bench-201 ground-truth table: test accuracy of every cell, read from a folder on disk.

The folder holds ``configs.txt`` (one arch string a line, the benchmark's official index
order) and ``<dataset>_test_accs.npy`` (float64, one value per line of ``configs.txt``) for
``cifar10``, ``cifar100`` and ``ImageNet16-120``. The tables nasbook's tests use are the
MIT-licensed single-trial 200-epoch test accuracies of lightonai's
contrastive-embeddings-for-neural-architectures (docs/methods/fewshot_nl.md, "Ranking against
NAS-Bench-201"); every ranking figure should say which table it was computed against
(:attr:`NB201Table.name`).

The folder comes from an argument or ``$NASBOOK_NB201``; nothing is ever downloaded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..spaces.nb201 import NB201Cell

ENV = "NASBOOK_NB201"
#: Column names as the files spell them, and the spellings accepted for each.
DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "ImageNet16-120"}


class BenchmarkNotFound(FileNotFoundError):
    """The NAS-Bench-201 table folder is missing or incomplete; the message says what to do."""


def _column(name: str) -> str:
    key = name.lower()
    if key not in DATASETS:
        raise ValueError(f"unknown NAS-Bench-201 dataset {name!r}; known: {', '.join(DATASETS.values())}")
    return DATASETS[key]


@dataclass
class NB201Table:
    """Test accuracies (percent) of all 15,625 cells, indexed by cell or arch string."""

    path: Path
    cells: list[NB201Cell]
    accuracy: dict[str, np.ndarray]          # column name -> array in official index order
    name: str = "NAS-Bench-201 single-trial 200-epoch test accuracy (lightonai table, MIT)"
    _index: dict[NB201Cell, int] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self._index = {c: i for i, c in enumerate(self.cells)}

    def __len__(self) -> int:
        return len(self.cells)

    def official_index(self, cell: NB201Cell | str) -> int:
        """The cell's position in the benchmark file (not the base-5 index)."""
        cell = NB201Cell.parse(cell) if isinstance(cell, str) else cell
        return self._index[cell]

    def acc(self, cell: NB201Cell | str, dataset: str = "cifar10") -> float:
        return float(self.accuracy[_column(dataset)][self.official_index(cell)])

    def accs(self, cells: Sequence[NB201Cell], dataset: str = "cifar10") -> np.ndarray:
        col = self.accuracy[_column(dataset)]
        return np.array([col[self._index[c]] for c in cells])

    def lookup(self, cell: NB201Cell | str) -> dict[str, float]:
        """Accuracy of ``cell`` on all three datasets (the NAS-Bench-201 reporting protocol)."""
        return {col: self.acc(cell, col) for col in self.accuracy}

    def best(self, dataset: str = "cifar10") -> tuple[NB201Cell, float]:
        col = self.accuracy[_column(dataset)]
        i = int(np.argmax(col))
        return self.cells[i], float(col[i])


def find_benchmark(path: str | Path | None = None) -> Path:
    """The table folder: ``path``, else ``$NASBOOK_NB201``; a clear error if neither holds it."""
    if path is None:
        path = os.environ.get(ENV)
        if not path:
            raise BenchmarkNotFound(
                f"no NAS-Bench-201 table given: pass its folder (--benchmark PATH / path=...) or set ${ENV}. "
                f"The folder needs configs.txt and cifar10_test_accs.npy (see docs/methods/fewshot_nl.md).")
    p = Path(path)
    if not (p / "configs.txt").is_file():
        raise BenchmarkNotFound(f"{p}: not a NAS-Bench-201 table folder (no configs.txt). "
                                f"Point --benchmark or ${ENV} at the folder holding configs.txt and *_test_accs.npy.")
    return p


def load_nb201(path: str | Path | None = None) -> NB201Table:
    """Read the table folder (see :func:`find_benchmark`). Every column present is loaded;
    ``cifar10`` is required."""
    p = find_benchmark(path)
    cells = [NB201Cell.parse(line) for line in (p / "configs.txt").read_text().split()]
    if len(cells) != 15625 or len(set(cells)) != 15625:
        raise ValueError(f"{p / 'configs.txt'}: expected the 15,625 distinct cells, got {len(cells)} "
                         f"({len(set(cells))} distinct)")
    accuracy = {}
    for col in DATASETS.values():
        f = p / f"{col}_test_accs.npy"
        if f.is_file():
            a = np.load(f)
            if a.shape != (len(cells),):
                raise ValueError(f"{f}: expected shape ({len(cells)},), got {a.shape}")
            accuracy[col] = a
    if "cifar10" not in accuracy:
        raise BenchmarkNotFound(f"{p}: cifar10_test_accs.npy is missing")
    return NB201Table(p, cells, accuracy)
