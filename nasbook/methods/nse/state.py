"""The evolving search space: NSE's state between and within rounds (docs/methods/nse.md-4.3).

Per searchable layer l:

- ``subsets[l]``  S_l, the active subset the supernet trains this round;
- ``queues[l]``   Q_l, never-tried op ids in random order (an op leaves it once, for good);
- ``retained[l]`` P_l, the optimised subset of the previous round (protected from pruning);

plus the Pareto front F of the previous round. A round prunes S by alpha < tau, trains, picks
a front, sets P_l to the union of the front's ops in layer l and refills
``S_l = P_l + first max(0, K - |P_l|) ops of Q_l``. Ops pruned or dropped are gone for good.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np


def num_rounds(pool_size: int, K: int) -> int:
    """``floor((N - 1) / (K - 1))``: rounds to traverse the pool keeping one op a round."""
    return (pool_size - 1) // (K - 1)


@dataclass
class RoundState:
    """Everything NSE carries from one round to the next (JSON-serialisable)."""

    subsets: list[list[int]]
    queues: list[list[int]]
    retained: list[list[int]]
    front: list[dict] = field(default_factory=list)   # {"arch", "cost", "top1", "round"}
    round: int = 0          # global index of the next round to run
    stage: int = 0          # index of the current pool in cfg.pools
    stage_round: int = 0    # rounds already run in this stage
    steps_done: int = 0     # training steps of the completed rounds
    history: list[dict] = field(default_factory=list)  # one record per completed round

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RoundState":
        return cls(**d)

    def copy(self) -> "RoundState":
        return RoundState.from_dict(self.to_dict())


def _queues(op_ids: Sequence[int], num_layers: int, rng: np.random.Generator) -> list[list[int]]:
    ids = np.asarray(list(op_ids))
    return [ids[rng.permutation(len(ids))].tolist() for _ in range(num_layers)]


def refill(retained: Sequence[Sequence[int]], queues: list[list[int]], K: int) -> list[list[int]]:
    """``S_l = P_l + pop(Q_l, max(0, K - |P_l|))`` (Sec. 4.3 step 7). Pops from ``queues`` in
    place; a subset larger than K is not truncated (Sec. 10 #10)."""
    out = []
    for p, q in zip(retained, queues):
        n = min(max(0, K - len(p)), len(q))
        out.append(list(p) + q[:n])
        del q[:n]
    return out


def init_state(op_ids: Sequence[int], num_layers: int, K: int, seed: int,
               retained: Sequence[Sequence[int]] | None = None) -> RoundState:
    """Round-0 state (Sec. 4.2): per layer a random permutation of ``op_ids``, the first K
    active and the rest queued. With ``retained`` (the G-72 continuation, Sec. 4.6) the
    queue holds ``op_ids`` and the subsets start as ``retained`` refilled to K."""
    rng = np.random.default_rng(seed)
    queues = _queues(op_ids, num_layers, rng)
    if retained is None:
        retained = [[] for _ in range(num_layers)]
    retained = [sorted(int(o) for o in p) for p in retained]
    if len(retained) != num_layers:
        raise ValueError(f"retained subsets for {len(retained)} layers, the supernet has {num_layers}")
    return RoundState(refill(retained, queues, K), queues, retained)


def continue_with_pool(state: RoundState, new_ids: Sequence[int], K: int, seed: int, drop_front: bool = True) -> RoundState:
    """Start the next stage on a larger pool (Sec. 4.6): fresh queues of the *new* ops only,
    ``S_l = P_l`` refilled from them; the old pool's untried ops are not reconsidered. The
    authors' code drops the carried front in the new stage's first round (``drop_front``)."""
    rng = np.random.default_rng([seed, state.stage + 1])
    queues = _queues(new_ids, len(state.subsets), rng)
    out = state.copy()
    out.queues, out.subsets = queues, refill(state.retained, queues, K)
    out.stage, out.stage_round = state.stage + 1, 0
    if drop_front:
        out.front = []
    return out


def prune(subsets: list[list[int]], alpha: np.ndarray, retained: Sequence[Sequence[int]], kinds: Sequence[str],
          tau: float) -> list[list[int]]:
    """Threshold pruning (Sec. 4.3 step 2c), in place: drop ops with ``alpha < tau`` except
    retained ones; an R/E layer with exactly two ops is left alone, and (ours, Sec. 10 #9) an
    R/E layer is never emptied: its op with the largest alpha stays. Returns the removed ids."""
    removed = []
    for l, (s, p, kind) in enumerate(zip(subsets, retained, kinds)):
        if kind != "N" and len(s) == 2:
            removed.append([])
            continue
        drop = [o for o in s if alpha[l, o] < tau and o not in p]
        if kind != "N" and drop and len(drop) == len(s):
            best = max(s, key=lambda o: alpha[l, o])
            drop.remove(best)
        for o in drop:
            s.remove(o)
        removed.append(drop)
    return removed


def retained_from_front(front_archs: Sequence[Sequence[Sequence[int]]], num_layers: int) -> list[list[int]]:
    """``P_l = union over front architectures of their ops in layer l`` (Sec. 4.3 step 6)."""
    out = [set() for _ in range(num_layers)]
    for arch in front_archs:
        for l, ops in enumerate(arch):
            out[l].update(int(o) for o in ops)
    return [sorted(s) for s in out]
