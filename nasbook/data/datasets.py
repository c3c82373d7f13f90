from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset, TensorDataset

from . import transforms as TT


class DatasetNotFound(FileNotFoundError):
    """A dataset is not on disk; the message says where to put it or how to download it."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    in_channels: int
    resolution: int


DATASETS = {
    "digits": DatasetInfo("digits", 10, 1, 8),
    "cifar10": DatasetInfo("cifar10", 10, 3, 32),
    "cifar100": DatasetInfo("cifar100", 100, 3, 32),
    "imagenet": DatasetInfo("imagenet", 1000, 3, 224),
}


def dataset_info(name: str, resolution: int | None = None) -> DatasetInfo:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    info = DATASETS[name]
    if resolution:
        info = DatasetInfo(info.name, info.num_classes, info.in_channels, resolution)
    return info


def default_root() -> Path:
    return Path(os.environ.get("NASBOOK_DATA", "data"))


def _digits(split: str, resolution: int | None):
    """scikit-learn's digits: 1,797 8x8 grey images in 0..16. A fixed 80/20 split (seed 0)
    so that 'test' never leaks into search or training."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = (x - 0.3) / 0.35  # roughly zero mean, unit variance
    y = torch.tensor(d.target, dtype=torch.long)
    if resolution and resolution != 8:
        x = torch.nn.functional.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    n_train = int(0.8 * len(y))
    idx = perm[:n_train] if split == "train" else perm[n_train:]
    return TensorDataset(x[idx], y[idx])


class BadImage(ValueError):
    """An image file of a dataset cannot be read; the message names the file."""


def _checked_image_folder():
    import torchvision

    class CheckedImageFolder(torchvision.datasets.ImageFolder):
        """An ImageFolder whose unreadable files stop the run with the file's name, or, with
        ``skip_bad_images``, are skipped (the next readable sample stands in; a warning names it)."""

        skip_bad_images = False

        def __getitem__(self, index):
            for k in range(len(self)):
                i = (index + k) % len(self)
                try:
                    return super().__getitem__(i)
                except Exception as e:  # noqa: BLE001 - PIL raises OSError, UnidentifiedImageError, ...
                    path = self.samples[i][0]
                    if not self.skip_bad_images:
                        raise BadImage(f"{path}: unreadable image ({type(e).__name__}: {e}); remove or replace "
                                       f"it, or set skip_bad_images: true to skip such files") from None
                    import warnings

                    warnings.warn(f"skipping unreadable image {path} ({type(e).__name__})", stacklevel=2)
            raise BadImage(f"{self.root}: no readable image at all")

    return CheckedImageFolder


def _cifar(name: str, split: str, root: Path, download: bool, cutout: int, augment: bool, auto_augment=None):
    import torchvision

    folder = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}[name]
    if not download and not (root / folder).is_dir():
        raise DatasetNotFound(
            f"{name} was not found: expected the folder {root / folder} (torchvision's python version). "
            f"Download it with `--download` (or download=True), or put it under --data DIR / $NASBOOK_DATA.")
    cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
    mean, std = (TT.CIFAR10_MEAN, TT.CIFAR10_STD) if name == "cifar10" else (TT.CIFAR100_MEAN, TT.CIFAR100_STD)
    tf = TT.cifar_train(mean, std, cutout, auto_augment) if (split == "train" and augment) else TT.cifar_test(mean, std)
    try:
        return cls(str(root), train=(split == "train"), transform=tf, download=download)
    except Exception as e:  # noqa: BLE001 - a damaged batch file fails inside pickle, numpy or torchvision
        if isinstance(e, DatasetNotFound):
            raise
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise ValueError(f"{name} under {root / folder} cannot be read ({type(e).__name__}: {first}); "
                         f"delete the folder and download it again (--download)") from None


def _imagenet(split: str, root: Path, resolution: int, augment: bool, auto_augment=None, skip_bad_images=False):
    sub = root / ("train" if split == "train" else "val")
    if not sub.is_dir():
        raise DatasetNotFound(
            f"imagenet was not found: expected an ImageFolder tree at {sub} (one sub-folder per class). "
            f"Point --data DIR (or $NASBOOK_DATA) at a folder holding train/ and val/.")
    tf = TT.imagenet_train(resolution, auto_augment=auto_augment) if (split == "train" and augment) \
        else TT.imagenet_eval(resolution)
    try:
        ds = _checked_image_folder()(str(sub), transform=tf)
    except (FileNotFoundError, OSError) as e:  # no class folder, no image with a known extension
        raise DatasetNotFound(f"imagenet at {sub}: {e}") from None
    ds.skip_bad_images = skip_bad_images
    return ds


def get_dataset(name: str, split: str = "train", root: str | Path | None = None, download: bool = False,
                resolution: int | None = None, augment: bool = True, cutout: int = 0,
                auto_augment: str | None = None, skip_bad_images: bool = False) -> tuple[Dataset, DatasetInfo]:
    """Return ``(dataset, info)`` for ``split`` in {'train', 'test'} ('val' is an alias of 'test').
    A damaged dataset gives a ``ValueError`` naming the file; an unreadable image of an
    ImageFolder tree stops the run with its name unless ``skip_bad_images``."""
    if split not in ("train", "test", "val"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    info = dataset_info(name, resolution)
    root = Path(root) if root else default_root()
    if name == "digits":
        return _digits(split, info.resolution), info
    if name in ("cifar10", "cifar100"):
        return _cifar(name, split, root, download, cutout, augment, auto_augment), info
    if name == "imagenet":
        return _imagenet(split, root, info.resolution, augment, auto_augment, skip_bad_images), info
    raise AssertionError(name)
