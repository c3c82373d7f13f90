"""Published DARTS-space genotypes, transcribed as data from their authors' files.

- DARTS V1 (first order) and V2 (second order): ``quark0/darts`` ``cnn/genotypes.py``
  (V2 as re-published in ``yuhuixu1993/PC-DARTS`` ``genotypes.py``).
- PC-DARTS CIFAR and ImageNet: ``yuhuixu1993/PC-DARTS`` ``genotypes.py``.
Reported figures: DARTS README / paper Table 1-2, PC-DARTS README (see entrannas.md Sec. 5.2).
"""
from .darts import Genotype

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
}
