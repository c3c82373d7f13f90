"""The NAS-Bench-201 operations (Dong & Yang, ICLR 2020, Sec. 2.1), built from the shared ops.

A cell edge of NAS-Bench-201 never changes width or resolution, so its five candidates are the
stride-1 versions of ops that :mod:`nasbook.ops.cell_ops` already defines:

* ``none``: :class:`~nasbook.ops.cell_ops.Zero`;
* ``skip_connect``: identity;
* ``nor_conv_1x1`` / ``nor_conv_3x3``: ReLU -> conv -> BN, i.e. :class:`~nasbook.ops.cell_ops.ReLUConvBN`;
* ``avg_pool_3x3``: 3x3 average pool, stride 1, padding 1, padding left out of the mean.

New here: the residual reduction block that sits between the three stages.
"""
from __future__ import annotations

from torch import nn

from .cell_ops import Identity, ReLUConvBN, Zero, make_op

#: The five candidates in the benchmark's own order (NAS-Bench-201 ``NAS_BENCH_201`` list).
NB201_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")

#: Ops that apply a nonlinearity (each ``nor_conv`` starts with a ReLU).
NONLINEAR_OPS = frozenset({"nor_conv_1x1", "nor_conv_3x3"})


def make_nb201_op(name: str, channels: int, affine: bool = True) -> nn.Module:
    """The NAS-Bench-201 op ``name`` on ``channels`` channels (stride 1, width kept)."""
    c = channels
    if name == "none":
        return Zero(1)
    if name == "skip_connect":
        return Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1, 1, 0, affine)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3, 1, 1, affine)
    if name == "avg_pool_3x3":
        return make_op("avg_pool_3x3", c, 1)  # count_include_pad=False, as in the benchmark
    raise ValueError(f"unknown NAS-Bench-201 op {name!r}; known: {', '.join(NB201_OPS)}")


class ResidualReduction(nn.Module):
    """The block between stages (NAS-Bench-201 ``ResNetBasicblock`` with stride 2).

    Main branch: ReLU-conv3x3(stride 2)-BN, then ReLU-conv3x3-BN. Shortcut: 2x2 average
    pool, then a 1x1 conv (no BN). Output = shortcut + main, at ``c_out`` channels.
    """

    def __init__(self, c_in: int, c_out: int, affine: bool = True):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1, affine)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, affine)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x):
        return self.shortcut(x) + self.conv_b(self.conv_a(x))

