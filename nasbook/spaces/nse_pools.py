"""The three NSE operation pools as data tables (docs/methods/nse.md; from the authors' code).

An op id is an index into a pool; published NSE architectures are lists of op ids per
layer, so the order of every table below is part of the method. Block types (Sec. 2.1):

- ``LB`` inverted ("linear") bottleneck: 1x1 expand (groups ``ge``) -> k x k depthwise
  (dilation ``d``) -> [SE] -> 1x1 project (groups ``gp``). The expansion conv is present even
  at t = 1.
- ``NC`` "normal conv": 1x1 expand -> dense 3x3 (strided) -> [SE] -> 1x1 project.
- ``DC`` "dual conv": 1x1 expand -> dense 3x3 -> dense 3x3 (strided) -> [SE] -> 1x1 project.
- ``SP`` spatially separable: 1x1 expand -> dense 1 x k -> dense k x 1 -> [SE] -> 1x1 project.
"""
from __future__ import annotations

from ..ops.nse_blocks import BLOCK_TYPES, OpSpec  # noqa: F401  (the op value type lives with its blocks)


def _lb(k, t, d=1, ge=1, gp=1):
    return OpSpec("LB", k, t, d, ge, gp)


#: Sec. 2.2, the latency (GPU) pool.
MB_19: tuple[OpSpec, ...] = (
    _lb(3, 1), _lb(3, 3), _lb(3, 6), _lb(5, 1), _lb(5, 3), _lb(5, 6), _lb(7, 1), _lb(7, 3), _lb(7, 6),  # 0-8
    OpSpec("NC", 3, 1), OpSpec("NC", 3, 2),                                                          # 9-10
    OpSpec("DC", 3, 1), OpSpec("DC", 3, 2),                                                          # 11-12
    OpSpec("SP", 5, 1), OpSpec("SP", 5, 2), OpSpec("SP", 5, 4),                                      # 13-15
    OpSpec("SP", 7, 1), OpSpec("SP", 7, 2), OpSpec("SP", 7, 4),                                      # 16-18
)

#: Sec. 2.3, the first FLOPs pool: k3 with dilations 1-3, k5..k11, then SP ops.
MAC_27: tuple[OpSpec, ...] = (
    tuple(_lb(3, t, d) for t in (1, 3, 6) for d in (1, 2, 3))                     # 0-8
    + tuple(_lb(k, t) for k in (5, 7, 9, 11) for t in (1, 3, 6))                  # 9-20
    + tuple(OpSpec("SP", k, t) for k in (5, 7) for t in (1, 2, 4))                # 21-26
)

G72_KERNELS = (3, 5, 7, 9, 11)
G72_EXPANSIONS = (1, 3, 6)
#: (ge, gp) of the three grouped variants v = 0, 1, 2 (Sec. 2.4).
G72_GROUPS = ((1, 2), (2, 1), (2, 2))


def g72_index(k: int, t: int, v: int) -> int:
    """The G-72 id of the grouped LB with kernel k, expansion t, variant v (Sec. 2.4):
    ``27 + 3 * (3 * ki + ti) + v``."""
    return 27 + 3 * (3 * G72_KERNELS.index(k) + G72_EXPANSIONS.index(t)) + v


#: Sec. 2.4: MAC-27 followed by 45 grouped LBs in g72_index order.
G_72: tuple[OpSpec, ...] = MAC_27 + tuple(
    _lb(k, t, 1, *G72_GROUPS[v]) for k in G72_KERNELS for t in G72_EXPANSIONS for v in range(3))

POOLS: dict[str, tuple[OpSpec, ...]] = {"MB-19": MB_19, "MAC-27": MAC_27, "G-72": G_72}


def get_pool(name: str) -> tuple[OpSpec, ...]:
    if name not in POOLS:
        raise ValueError(f"unknown NSE pool {name!r}; known: {', '.join(POOLS)}")
    return POOLS[name]


def describe_op(pool: str, op_id: int) -> str:
    """``"LB k3 t6 g2,1"`` for (G-72, 34)."""
    ops = get_pool(pool)
    if not 0 <= op_id < len(ops):
        raise ValueError(f"op id {op_id} is outside pool {pool} (0..{len(ops) - 1})")
    return str(ops[op_id])
