"""The end of an NSE round (docs/methods/nse.md steps 3-7): sample candidates under the cost window,
score them and the carried front with the supernet, keep the Pareto front, set the optimised
subsets to the front's per-layer union and refill them from the queues.

When the lower-band competitors dominate every window candidate (possible with few
candidates, e.g. at tiny scale) the front would be empty; we then take the front of the
window candidates and carried members alone (ours; the record says ``front_fallback``).
"""
from __future__ import annotations

import itertools

import torch

from .candidates import sample_arch, sample_in_window
from .pareto import pareto_front
from .scoring import score
from .state import RoundState, refill, retained_from_front

#: Top-1 disadvantage of re-evaluated front members (the code's tie-break, Sec. 4.3 step 5).
CARRIED_TIE_BREAK = 1e-10


def end_of_round(model, state: RoundState, cost, cfg, target: float, loaders: dict, seed: int,
                 device=None, progress: bool = False) -> tuple[RoundState, dict]:
    """Steps 3-7 of a round. Returns the next round's state and this round's record
    (candidates with cost / top-1 / role, the front, P, the ops added)."""
    kinds = model.kinds
    subsets = [list(s) for s in state.subsets]
    p = model.probabilities().detach().cpu()
    gen = torch.Generator().manual_seed(seed)  # candidate draws do not touch the training RNG
    window = (target + cfg.window[0], target + cfg.window[1])
    new, lower = sample_in_window(lambda: sample_arch(p, subsets, kinds, gen, cfg.enumerate_max), cost.arch_cost,
                                  window, cfg.lower_band, cfg.num_candidates, cfg.num_lower, cfg.sample_tries)
    if not new:
        raise ValueError(f"round {state.round}: no architecture of the learned distribution costs within the window "
                         f"{window}; widen --window or move --target")
    carried = [tuple(tuple(a) for a in f["arch"]) for f in state.front]
    archs = new + lower + carried
    roles = ["window"] * len(new) + ["lower"] * len(lower) + ["carried"] * len(carried)
    costs = [cost.arch_cost(a) for a in archs]
    recal = loaders["recal"]
    recal.sampler.set_epoch(state.round)  # the same recalibration batches for every candidate of the round
    top1 = score(model, archs, lambda: itertools.islice(recal, cfg.bn_recal_batches), loaders["heldout"],
                 cfg.bn_recal_mode, device, progress)
    ranked = [t - CARRIED_TIE_BREAK if r == "carried" else t for t, r in zip(top1, roles)]
    front_idx = [i for i in pareto_front(costs, ranked) if roles[i] != "lower"]  # competitors never survive
    fallback = not front_idx
    if fallback:  # ours: the competitors dominated every candidate; take the front without them
        keep = [i for i, r in enumerate(roles) if r != "lower"]
        front_idx = [keep[j] for j in pareto_front([costs[i] for i in keep], [ranked[i] for i in keep])]
    front = [{"arch": [list(s) for s in archs[i]], "cost": costs[i], "top1": top1[i],
              "round": state.round if roles[i] != "carried" else state.front[i - len(new) - len(lower)]["round"]}
             for i in front_idx]
    nxt = state.copy()
    nxt.front = front
    nxt.retained = retained_from_front([f["arch"] for f in front], len(subsets))
    before = [list(q) for q in nxt.queues]
    nxt.subsets = refill(nxt.retained, nxt.queues, cfg.K)
    record = {"round": state.round, "stage": state.stage, "pool": cfg.pools[state.stage], "target": target,
              "window": list(window), "subsets_end": subsets, "front_fallback": fallback,
              "candidates": [[c, t, r] for c, t, r in zip(costs, top1, roles)],
              "front": front, "retained": nxt.retained,
              "added": [b[:len(b) - len(q)] for b, q in zip(before, nxt.queues)],
              "p": [[float(p[l, o]) for o in s] for l, s in enumerate(subsets)]}
    nxt.round, nxt.stage_round = state.round + 1, state.stage_round + 1
    return nxt, record
