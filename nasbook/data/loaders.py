"""Reproducible loaders: the order of every epoch and the randomness of every sample's
augmentation are functions of (seed, epoch, position), so that a run resumed mid-epoch, a
run with more workers, and every DDP rank see exactly the data of an uninterrupted run."""
from __future__ import annotations

from typing import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, TensorDataset


def _mix(*xs: int) -> int:
    h = 0x9E3779B97F4A7C15
    for x in xs:
        h = (h ^ (x + 0x9E3779B97F4A7C15 + (h << 6) + (h >> 2))) & 0xFFFFFFFFFFFFFFFF
    return h & 0x7FFFFFFFFFFFFFFF


class EpochSampler(Sampler):
    """Yields ``(dataset_index, sample_seed)`` pairs for one epoch, this rank's shard only.

    Call :meth:`set_epoch` before each epoch; ``start`` skips the first ``start`` samples of
    this rank (mid-epoch resume). Shards are padded to equal length like DistributedSampler.
    """

    def __init__(self, indices: Sequence[int], seed: int, shuffle: bool = True, rank: int = 0, world: int = 1,
                 stream: int = 0):
        self.indices = list(indices)
        self.seed, self.shuffle, self.rank, self.world, self.stream = seed, shuffle, rank, world, stream
        self.epoch, self.start, self.phase = 0, 0, 0
        self.per_rank = -(-len(self.indices) // world)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def reseed(self, phase: int) -> None:
        """Draw the orders (and augmentation seeds) of ``phase`` of a run with several engine
        runs in sequence (nasbook.engine.phases); phase 0 is the run's own."""
        self.phase = int(phase)

    def _key(self, *xs: int) -> int:
        return _mix(self.seed, self.stream, *xs) if self.phase == 0 else _mix(self.seed, self.stream, -1, self.phase, *xs)

    def __len__(self) -> int:
        return self.per_rank - self.start

    def __iter__(self) -> Iterator[tuple[int, int]]:
        n = len(self.indices)
        if self.shuffle:
            g = torch.Generator().manual_seed(self._key(self.epoch))
            order = torch.randperm(n, generator=g).tolist()
        else:
            order = list(range(n))
        order += order[: self.per_rank * self.world - n]
        mine = order[self.rank:: self.world]
        for pos in range(self.start, len(mine)):
            k = mine[pos]
            yield self.indices[k], self._key(self.epoch, k)


class SeededDataset(Dataset):
    """Wraps a dataset so that ``ds[(i, seed)]`` draws its augmentation from ``seed``."""

    def __init__(self, base: Dataset):
        self.base = base

    def __len__(self):
        return len(self.base)

    def __getitem__(self, item):
        i, seed = item
        if isinstance(self.base, TensorDataset):  # no augmentation: nothing to seed (saves ~ms/sample)
            return self.base[i]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.base[i]


def search_split(n: int, portion: float = 0.5, targets: Sequence[int] | None = None) -> tuple[list[int], list[int]]:
    """The DARTS search split: the first ``portion`` of the training set trains the weights,
    the rest the architecture (DARTS code ``train_search.py``, ``train_portion=0.5``).

    When ``targets`` are sorted by class (an ImageFolder tree), the first-``portion`` rule
    would put whole classes on one side, so the split is taken within each class instead."""
    if not 0 < portion < 1:
        raise ValueError(f"train_portion must be in (0, 1), got {portion}")
    if targets is not None and len(targets) == n and n > 1 and list(targets) == sorted(targets) \
            and targets[0] != targets[-1]:
        by_class: dict[int, list[int]] = {}
        for i, t in enumerate(targets):
            by_class.setdefault(int(t), []).append(i)
        first, second = [], []
        for idx in by_class.values():
            k = int(len(idx) * portion)
            first += idx[:k]
            second += idx[k:]
        return first, second
    k = int(n * portion)
    return list(range(k)), list(range(k, n))


def make_loader(dataset: Dataset, batch_size: int, seed: int, indices: Sequence[int] | None = None,
                shuffle: bool = True, workers: int = 0, rank: int = 0, world: int = 1, stream: int = 0,
                drop_last: bool = False, pin_memory: bool = False) -> DataLoader:
    """A DataLoader over ``indices`` (default: all) with an :class:`EpochSampler`.

    ``batch_size`` is per rank. Use ``loader.sampler.set_epoch(e, start)`` before iterating.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    idx = range(len(dataset)) if indices is None else indices
    sampler = EpochSampler(idx, seed, shuffle, rank, world, stream)
    # A private generator: creating an iterator draws a base seed from it, not from torch's
    # global RNG, so a run resumed mid-epoch sees the global RNG of the uninterrupted run.
    gen = torch.Generator().manual_seed(_mix(seed, stream))
    return DataLoader(SeededDataset(dataset), batch_size=batch_size, sampler=sampler, num_workers=workers,
                      drop_last=drop_last, pin_memory=pin_memory, persistent_workers=False, generator=gen)
