"""NSE's data streams (docs/methods/nse.md): the weight-training split, the held-out ("arch-val")
split used for architecture steps and candidate scoring, and the batches for BN recalibration.

The held-out split is drawn from the *training* set. With ``heldout_per_class`` (ours, Sec. 10
#16: the authors' 50k list is not vendored) it is a fixed-seed random sample of that many
images per class and the rest trains the weights; otherwise it is the engine's search split
(``train_portion``). ImageNet training images get the code's augmentation (RandomResizedCrop,
flip, ColorJitter(0.2, 0.2, 0.2, 0.1)); held-out images the eval transform (resize, centre crop) [I].
"""
from __future__ import annotations

import copy

import numpy as np
from torch.utils.data import DataLoader, Subset

from ...data import make_loader
from ...engine import distributed as D


def heldout_split(targets, per_class: int, seed: int) -> tuple[list[int], list[int]]:
    """(train indices, held-out indices): ``per_class`` random images of every class held out."""
    targets = np.asarray(targets)
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(targets):
        idx = np.flatnonzero(targets == c)
        held += rng.choice(idx, size=min(per_class, len(idx)), replace=False).tolist()
    held_set = set(held)
    return [i for i in range(len(targets)) if i not in held_set], sorted(held)


def _imagenet_views(base, resolution: int):
    from torchvision import transforms as T

    from ...data.transforms import IMAGENET_MEAN, IMAGENET_STD, imagenet_eval

    train = copy.copy(base)
    train.transform = T.Compose([T.RandomResizedCrop(resolution), T.RandomHorizontalFlip(),
                                 T.ColorJitter(0.2, 0.2, 0.2, 0.1), T.ToTensor(),
                                 T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    held = copy.copy(base)
    held.transform = imagenet_eval(resolution)
    return train, held


def nse_loaders(cfg, engine_loaders: dict, resolution: int) -> dict:
    """``train`` / ``arch`` (shuffled) / ``recal`` (shuffled training batches) / ``heldout``
    (in order) loaders, built over the dataset of the engine's search loaders."""
    base = engine_loaders["train"].dataset.base
    train_idx = list(engine_loaders["train"].sampler.indices)
    held_idx = list(engine_loaders["arch"].sampler.indices)
    if cfg.heldout_per_class:
        targets = getattr(base, "targets", None)
        if targets is None and hasattr(base, "tensors"):
            targets = base.tensors[1].tolist()
        if targets is None:
            raise ValueError("heldout_per_class needs a dataset with labels (.targets)")
        train_idx, held_idx = heldout_split(targets, cfg.heldout_per_class, cfg.seed)
    train_ds, held_ds = (_imagenet_views(base, resolution) if cfg.dataset == "imagenet" else (base, base))
    rank, world = D.world()
    bs, seed, w = cfg.batch_size, cfg.seed, cfg.workers
    return {"train": make_loader(train_ds, bs, seed, train_idx, True, w, rank, world, 0),
            "arch": make_loader(held_ds, bs, seed, held_idx, True, w, rank, world, 1),
            "recal": make_loader(train_ds, bs, seed, train_idx, True, w, rank, world, 3),
            "heldout": heldout_loader(held_ds, held_idx, cfg.eval_batch_size or bs, w, rank, world)}


def heldout_loader(dataset, indices, batch_size: int, workers: int = 0, rank: int = 0, world: int = 1) -> DataLoader:
    """This rank's shard of the held-out split, in order, for scoring. Eval transforms draw no
    random numbers, so the loader skips the per-sample seeding of ``make_loader`` (which costs
    more than a tiny network's forward pass)."""
    return DataLoader(Subset(dataset, list(indices)[rank::world]), batch_size=batch_size, shuffle=False,
                      num_workers=workers)
