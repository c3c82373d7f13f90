"""Published DARTS-space genotypes, transcribed as data from their authors' files.

- DARTS V1 (first order) and V2 (second order): ``quark0/darts`` ``cnn/genotypes.py``
  (V2 as re-published in ``yuhuixu1993/PC-DARTS`` ``genotypes.py``).
- PC-DARTS CIFAR and ImageNet: ``yuhuixu1993/PC-DARTS`` ``genotypes.py``.
- ISTA-NAS two-stage, one-stage (CIFAR-10) and ImageNet (Yang et al., NeurIPS 2020, by the
  EnTranNAS authors): ``iboing/ISTA-NAS`` ``tools/genotypes.py``. EnTranNAS's own cells were
  published only as figures, so these are the closest published cells of its authors.
Reported figures: DARTS README / paper Table 1-2, PC-DARTS README (see docs/methods/entrannas.md,
"Fidelity notes").
"""
from ..spaces.darts import Genotype

_C = [2, 3, 4, 5]

DARTS_V1 = Genotype.from_flat(
    [("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
     ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)], _C,
    [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
     ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)], _C)

DARTS_V2 = Genotype.from_flat(
    [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
     ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)], _C,
    [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
     ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)], _C)

PC_DARTS_CIFAR = Genotype.from_flat(
    [("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 0), ("dil_conv_3x3", 1),
     ("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("avg_pool_3x3", 0), ("dil_conv_3x3", 1)], _C,
    [("sep_conv_5x5", 1), ("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 2),
     ("sep_conv_3x3", 0), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2)], _C)

PC_DARTS_IMAGENET = Genotype.from_flat(
    [("skip_connect", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 0), ("skip_connect", 1),
     ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("dil_conv_5x5", 4)], _C,
    [("sep_conv_3x3", 0), ("skip_connect", 1), ("dil_conv_5x5", 2), ("max_pool_3x3", 1),
     ("sep_conv_3x3", 2), ("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 3)], _C)

ISTA_TWOSTAGE = Genotype.from_flat(
    [("skip_connect", 0), ("dil_conv_3x3", 1), ("sep_conv_5x5", 0), ("dil_conv_3x3", 2),
     ("dil_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 2), ("skip_connect", 0)], _C,
    [("avg_pool_3x3", 0), ("sep_conv_5x5", 1), ("dil_conv_5x5", 2), ("max_pool_3x3", 1),
     ("dil_conv_5x5", 3), ("sep_conv_3x3", 1), ("dil_conv_5x5", 4), ("sep_conv_5x5", 1)], _C)

ISTA_ONESTAGE = Genotype.from_flat(
    [("skip_connect", 0), ("dil_conv_3x3", 1), ("sep_conv_3x3", 1), ("dil_conv_5x5", 2),
     ("avg_pool_3x3", 3), ("sep_conv_3x3", 1), ("sep_conv_5x5", 1), ("sep_conv_3x3", 2)], _C,
    [("avg_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 0), ("max_pool_3x3", 1),
     ("sep_conv_5x5", 1), ("avg_pool_3x3", 0), ("max_pool_3x3", 0), ("dil_conv_5x5", 2)], _C)

ISTA_IMAGENET = Genotype.from_flat(
    [("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("skip_connect", 2),
     ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("dil_conv_5x5", 4)], _C,
    [("skip_connect", 0), ("sep_conv_3x3", 1), ("dil_conv_5x5", 2), ("sep_conv_3x3", 0),
     ("sep_conv_3x3", 0), ("skip_connect", 2), ("sep_conv_3x3", 2), ("skip_connect", 3)], _C)

#: name -> (genotype, metadata). ``reported`` figures are the papers'; nasbook counts its own.
ENTRIES = {
    "darts_v1": (DARTS_V1, dict(paper="DARTS (Liu et al., ICLR 2019), first order", dataset="cifar10",
                                reported=dict(params_m=3.3, top1_err=3.00), recipe="darts-cifar10")),
    "darts_v2": (DARTS_V2, dict(paper="DARTS (Liu et al., ICLR 2019), second order", dataset="cifar10",
                                reported=dict(params_m=3.3, top1_err=2.76), recipe="darts-cifar10")),
    "pc_darts": (PC_DARTS_CIFAR, dict(paper="PC-DARTS (Xu et al., ICLR 2020), CIFAR-10 search", dataset="cifar10",
                                      reported=dict(params_m=3.6, top1_err=2.57), recipe="darts-cifar10")),
    "pc_darts_imagenet": (PC_DARTS_IMAGENET, dict(paper="PC-DARTS (Xu et al., ICLR 2020), ImageNet search",
                                                  dataset="imagenet", reported=dict(params_m=5.3, macs_m=597, top1_err=24.2),
                                                  recipe="darts-imagenet")),
    # ISTA-NAS: only the search cost of the two-stage search (0.05 GPU-day, its abstract) could be
    # verified; its tables were not read, so no accuracy or size is claimed here.
    "ista_nas_twostage": (ISTA_TWOSTAGE, dict(paper="ISTA-NAS (Yang et al., NeurIPS 2020), two-stage CIFAR-10 search",
                                              dataset="cifar10", reported=dict(search_gpu_days=0.05),
                                              recipe="darts-cifar10")),
    "ista_nas_onestage": (ISTA_ONESTAGE, dict(paper="ISTA-NAS (Yang et al., NeurIPS 2020), one-stage CIFAR-10 search",
                                              dataset="cifar10", reported={}, recipe="darts-cifar10")),
    "ista_nas_imagenet": (ISTA_IMAGENET, dict(paper="ISTA-NAS (Yang et al., NeurIPS 2020), ImageNet search",
                                              dataset="imagenet", reported={}, recipe="darts-imagenet")),
}
