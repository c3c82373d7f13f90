"""The released MG-DARTS architectures (docs/methods/mgas.md, 5.3) as zoo entries.

Genotypes: :mod:`nasbook.spaces.mgas_released` (official ``cifar_train/genotypes``). The
weight mask of the small model ships with nasbook (``data/mg_darts_small_masks.json``,
packed from the official ``masks/mask_cifar10_darts_small.npy``: 366 tensors, 6,940 of
518,232 weights masked); the large model's mask file was not available (Sec. 0), so
``mg_darts`` is dense. No accuracy, size or cost of MGAS was available (Sec. 5.1): the
``reported`` figures stay empty, and nasbook counts its own (``nasbook info``).
"""
from __future__ import annotations

import json
from importlib import resources

from ..spaces.mgas import MGASGenotype, MGASWeightMasks
from ..spaces.mgas_released import MG_DARTS, MG_DARTS_SMALL

#: Parameters of the official retraining class ``cifar_train/model.py:NetworkCIFAR`` for 10
#: classes, instantiated in PyTorch from the official files (auxiliary head excluded /
#: included); nasbook's builder and its analytic count must reproduce them exactly.
OFFICIAL_PARAMS = {"mg_darts": (2_290_716, 2_752_806), "mg_darts_small": (704_082, 1_143_644)}


def small_masks() -> MGASWeightMasks:
    text = resources.files("nasbook.zoo").joinpath("data/mg_darts_small_masks.json").read_text()
    return MGASWeightMasks.from_json(json.loads(text)["weight_masks"])


_PAPER = "MGAS / MG-DARTS (Liu, Saxena, Cao, Zhao, Ruan; arXiv:2310.15074, TNNLS)"
ENTRIES = {
    "mg_darts": (MGASGenotype(MG_DARTS, stem_C=44),
                 dict(paper=_PAPER + ", released large CIFAR-10 model (mask not available)", dataset="cifar10",
                      reported={}, recipe="mgas-cifar10", official_params=OFFICIAL_PARAMS["mg_darts"])),
    "mg_darts_small": (MGASGenotype(MG_DARTS_SMALL, stem_C=24, weight_masks=small_masks()),
                       dict(paper=_PAPER + ", released small CIFAR-10 model with its weight mask", dataset="cifar10",
                            reported={}, recipe="mgas-cifar10",
                            official_params=OFFICIAL_PARAMS["mg_darts_small"])),
}
