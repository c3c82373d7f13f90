"""Datasets by name (nasbook's data layer), the DARTS search split and reproducible loaders.

``digits`` (scikit-learn's 1,797 real handwritten digits, shipped inside the installed
wheel) is the offline default. ``cifar10``/``cifar100`` come through torchvision and are
downloaded only when asked (``download=True``); ``imagenet`` reads an ImageFolder tree
(``train/`` and ``val/``). A missing dataset raises :class:`DatasetNotFound` saying how to get it.
"""
from .datasets import DATASETS, DatasetInfo, DatasetNotFound, dataset_info, get_dataset  # noqa: F401
from .loaders import EpochSampler, SeededDataset, make_loader, search_split  # noqa: F401
