"""Class-balanced subsets of a training set.

PC-DARTS searches directly on ImageNet on a random 10 % (weights) and 2.5 % (architecture)
of *every class* of the training set (``yuhuixu1993/PC-DARTS`` README and
``train_search_imagenet.py``); EnTranNAS-DST's direct ImageNet search follows that protocol
(docs/methods/entrannas.md, "Presets").
"""
from __future__ import annotations

from typing import Sequence

import torch


def dataset_targets(dataset) -> list[int]:
    """Class labels of every sample without loading images: ``ImageFolder``/torchvision
    ``.targets``, or the label tensor of a ``TensorDataset``."""
    if hasattr(dataset, "targets"):
        return [int(t) for t in dataset.targets]
    if hasattr(dataset, "tensors"):
        return dataset.tensors[1].tolist()
    raise ValueError(f"cannot read the labels of a {type(dataset).__name__} without loading it")


def per_class_split(targets: Sequence[int], fractions: Sequence[float], seed: int = 0) -> list[list[int]]:
    """Disjoint index lists holding ``round(f * n_c)`` random samples of each class ``c``,
    one list per fraction ``f``, each sorted. The draw depends only on ``seed``."""
    if any(f <= 0 for f in fractions) or sum(fractions) > 1:
        raise ValueError(f"fractions must be > 0 and sum to at most 1, got {list(fractions)}")
    by_class: dict[int, list[int]] = {}
    for i, t in enumerate(targets):
        by_class.setdefault(int(t), []).append(i)
    g = torch.Generator().manual_seed(seed)
    out: list[list[int]] = [[] for _ in fractions]
    for c in sorted(by_class):
        idx = by_class[c]
        perm = [idx[i] for i in torch.randperm(len(idx), generator=g).tolist()]
        start = 0
        for part, f in zip(out, fractions):
            n = round(f * len(idx))
            part.extend(perm[start:start + n])
            start += n
    return [sorted(p) for p in out]
