"""Data of the few-shot method: the supernet-training / held-out split, and fixed image batches.

* CIFAR and the offline digits: the supernets train on one half of the training set and the
  search scores candidates on the other half (the NAS-Bench-201 protocol's 25k/25k split;
  ours is the first/second half, the benchmark's ``cifar-split.txt`` is a fixed random one).
* ImageNet: the search holds out ``holdout_per_class`` (50) images of every class, drawn with
  seed 0, and the supernets train on the rest (ProxylessNAS convention [C]).
* Held-out and test images are read without augmentation, in fixed batches: single-path
  supernets normalise with batch statistics, so a subnet's score depends on its batch, and
  fixed batches make every candidate see the same ones.
"""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Subset

from ...data import get_dataset, make_loader, search_split
from ...engine import distributed as D


def split_indices(cfg, dataset) -> tuple[list[int], list[int]]:
    """(supernet-training indices, held-out indices) of the training set."""
    if getattr(cfg, "holdout_per_class", None):
        targets = getattr(dataset, "targets", None)  # ImageFolder and CIFAR keep their labels
        if targets is None:
            targets = [int(dataset[i][1]) for i in range(len(dataset))]
        targets = torch.as_tensor(targets)
        g = torch.Generator().manual_seed(0)
        held = []
        for c in targets.unique().tolist():
            idx = (targets == c).nonzero().flatten()
            held += idx[torch.randperm(len(idx), generator=g)[:cfg.holdout_per_class]].tolist()
        held_set = set(held)
        return [i for i in range(len(dataset)) if i not in held_set], sorted(held)
    return search_split(len(dataset), cfg.train_portion)


def train_loaders(cfg):
    """``{"train": loader}`` over the supernet-training part, and the dataset info."""
    rank, world = D.world()
    train, info = get_dataset(cfg.dataset, "train", cfg.data, cfg.download, cfg.resolution)
    idx, _ = split_indices(cfg, train)
    return {"train": make_loader(train, cfg.batch_size, cfg.seed, idx, True, cfg.workers, rank, world, 0)}, info


def fixed_batches(dataset, indices, batch_size: int, n_batches: int | None, seed: int | None,
                  workers: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n_batches`` batches (all if None) of ``indices``, shuffled once with ``seed`` (None: in order)."""
    idx = list(indices)
    if seed is not None:
        perm = torch.randperm(len(idx), generator=torch.Generator().manual_seed(seed)).tolist()
        idx = [idx[i] for i in perm]
    if n_batches is not None:
        idx = idx[: n_batches * batch_size]
    return list(DataLoader(Subset(dataset, idx), batch_size=batch_size, shuffle=False, num_workers=workers))


def heldout_batches(cfg, n_batches: int, batch_size: int):
    """The search's fitness images: fixed batches of the held-out part, no augmentation."""
    train, _ = get_dataset(cfg.dataset, "train", cfg.data, cfg.download, cfg.resolution, augment=False)
    _, held = split_indices(cfg, train)
    return fixed_batches(train, held, batch_size, n_batches, cfg.seed, cfg.workers)


def train_batches(cfg, n_batches: int, batch_size: int):
    """Augmented images of the training part (BN recalibration before scoring, ImageNet)."""
    train, _ = get_dataset(cfg.dataset, "train", cfg.data, cfg.download, cfg.resolution)
    idx, _ = split_indices(cfg, train)
    return fixed_batches(train, idx, batch_size, n_batches, cfg.seed + 1, cfg.workers)


def test_batches(cfg, batch_size: int, n_images: int | None = None):
    """The test split in order (ranking evaluation; CIFAR-10: the 10k test images [C])."""
    test, _ = get_dataset(cfg.dataset, "test", cfg.data, cfg.download, cfg.resolution, augment=False)
    n = len(test) if n_images is None else min(n_images, len(test))
    return fixed_batches(test, range(n), batch_size, None, None, cfg.workers)
