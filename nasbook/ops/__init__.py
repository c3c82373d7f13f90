"""Layers shared by standalone networks and super-nets: one definition of each op (docs/architecture.md)."""
from .cell_ops import (  # noqa: F401
    OP_NAMES,
    PARAMETER_FREE,
    PRIMITIVES,
    DilConv,
    FactorizedReduce,
    Identity,
    ReLUConvBN,
    SepConv,
    Zero,
    make_op,
)
