"""NSE's distribution over multi-branch layers (docs/methods/nse.md).

Each op o of a layer's active subset S is switched on independently with probability
``p_o = (1 - 2 eps) sigmoid(alpha_o) + eps`` (eps = 5e-4: p is kept away from 0 and 1). A set
A of on-ops has probability ``P(A) = prod_{o in S} (p_o if o in A else 1 - p_o)``. Normal
layers allow every set (the empty set skips the layer); R/E layers condition on A non-empty.

Sampling: with |S| <= 5 enumerate all allowed sets and draw from the categorical
distribution proportional to P(A); otherwise draw Bernoulli(p) per op and reject invalid
draws. Both give the same distribution. Sets are tuples of op ids in the order of S.
"""
from __future__ import annotations

import itertools
from typing import Sequence

import torch

Set = tuple[int, ...]


def effective_p(alpha: torch.Tensor, eps: float = 5e-4) -> torch.Tensor:
    """``(1 - 2 eps) sigmoid(alpha) + eps`` (the code's 0.999 sigmoid + 0.0005)."""
    return (1 - 2 * eps) * torch.sigmoid(alpha) + eps


def allowed_sets(ops: Sequence[int], kind: str) -> list[Set]:
    """Every allowed active set of a layer with subset ``ops`` (N: all 2^n; R/E: non-empty)."""
    ops = tuple(ops)
    out = [tuple(o for o, on in zip(ops, bits) if on) for bits in itertools.product((0, 1), repeat=len(ops))]
    return out if kind == "N" else [a for a in out if a]


def set_probability(p: torch.Tensor, ops: Sequence[int], active: Set) -> torch.Tensor:
    """``P(A)`` of one set, differentiable in ``p`` (``p[i]`` belongs to ``ops[i]``)."""
    on = torch.tensor([o in active for o in ops], device=p.device)
    return torch.where(on, p, 1 - p).prod()


def set_probabilities(p: torch.Tensor, ops: Sequence[int], sets: Sequence[Set]) -> torch.Tensor:
    """``P(A)`` of each set in ``sets`` (vectorised :func:`set_probability`)."""
    on = torch.tensor([[o in a for o in ops] for a in sets], device=p.device).reshape(len(sets), len(ops))
    return torch.where(on, p, 1 - p).prod(dim=1)


def is_deterministic(ops: Sequence[int], kind: str) -> bool:
    """A layer without a choice: empty subset (always skipped) or a single-op R/E layer."""
    return len(ops) == 0 or (len(ops) == 1 and kind != "N")


def _bernoulli_set(p: torch.Tensor, ops: Sequence[int], kind: str, generator) -> Set:
    while True:
        gate = torch.rand(len(ops), generator=generator, dtype=p.dtype) < p.detach().cpu()
        a = tuple(o for o, g in zip(ops, gate.tolist()) if g)
        if a or kind == "N":
            return a


def sample_set(p: torch.Tensor, ops: Sequence[int], kind: str, generator: torch.Generator | None = None,
               enumerate_max: int = 5) -> Set:
    """One draw from the layer's distribution (Sec. 5.1)."""
    ops = tuple(ops)
    if is_deterministic(ops, kind):
        return ops
    if len(ops) <= enumerate_max:
        sets = allowed_sets(ops, kind)
        probs = set_probabilities(p.detach().cpu(), ops, sets)
        return sets[int(torch.multinomial(probs, 1, generator=generator))]
    return _bernoulli_set(p, ops, kind, generator)


def sample_two(p: torch.Tensor, ops: Sequence[int], kind: str, generator: torch.Generator | None = None,
               enumerate_max: int = 5) -> tuple[Set, Set]:
    """Two *different* draws A+, A- for the architecture step (Sec. 5.2 step 1): two categorical
    draws without replacement over the enumerated sets, or Bernoulli draws rejecting invalid
    and identical sets. The layer must have a choice (not :func:`is_deterministic`)."""
    ops = tuple(ops)
    if is_deterministic(ops, kind):
        raise ValueError(f"layer with subset {ops} ({kind}) has a single allowed set")
    if len(ops) <= enumerate_max:
        sets = allowed_sets(ops, kind)
        probs = set_probabilities(p.detach().cpu(), ops, sets)
        i, j = torch.multinomial(probs, 2, replacement=False, generator=generator).tolist()
        return sets[i], sets[j]
    a = _bernoulli_set(p, ops, kind, generator)
    while True:
        b = _bernoulli_set(p, ops, kind, generator)
        if b != a:
            return a, b


def uniform_set(ops: Sequence[int], kind: str, rate: float = 0.5, generator: torch.Generator | None = None) -> Set:
    """The weight-step sample (Sec. 4.3 step 2a): each op on with probability ``rate``,
    R/E layers resampled until non-empty; a single-op R/E layer always uses its op."""
    ops = tuple(ops)
    if is_deterministic(ops, kind):
        return ops
    return _bernoulli_set(torch.full((len(ops),), float(rate)), ops, kind, generator)
