"""Which subnets a training step trains (docs/methods/fewshot_nl.md, "Supernet-balanced
sampling").

* ``"sbs"``, supernet-balanced sampling: one subnet per subspace every step, drawn uniformly
  from it, all on the same minibatch, losses summed. After T steps every supernet has had
  exactly T updates, whatever the size of its subspace.
* ``"uniform"`` (SPOS): one subnet per step, uniform over the whole space; subspace k gets a
  share |S_k| / |S| of the updates: for K = 3 on NAS-Bench-201, 57.3 / 36.1 / 6.5 % without
  the 341 disconnected cells (the default), 58.3 / 35.3 / 6.4 % over all 15,625.
* ``"balanced_random"`` (the development code's NAS-Bench-201 "balanced" sampler): one subnet
  per step from a subspace chosen uniformly at random: balanced only in expectation.
* ``"balanced_roundrobin"`` [O]: one subnet per step from the subspace with the fewest draws
  so far, i.e. the subspaces in turn (the intended version of the code's ``tbs_sampling``).

Draws are a function of (seed, step) only, so a resumed run and every DDP rank draw the same
subnets as an uninterrupted single-process run (the code samples on rank 0 and broadcasts).
"""
from __future__ import annotations

import torch

MODES = ("sbs", "uniform", "balanced_random", "balanced_roundrobin")


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2 ** 63))


def draw(mode: str, subspaces, step: int, seed: int) -> list[tuple[int, object]]:
    """The (subspace, architecture) pairs to train at ``step``."""
    g = step_generator(seed, step)
    K = len(subspaces)
    if mode == "sbs":
        return [(k, subspaces.sample(k, g)) for k in range(K)]
    if mode == "uniform":
        a = subspaces.sample_uniform(g)
        return [(subspaces.group_of(a), a)]
    if mode == "balanced_random":
        k = int(torch.randint(K, (1,), generator=g))
        return [(k, subspaces.sample(k, g))]
    if mode == "balanced_roundrobin":
        k = step % K
        return [(k, subspaces.sample(k, g))]
    raise ValueError(f"sampling must be one of {MODES}, got {mode!r}")


def expected_updates(mode: str, sizes: list[int], steps: int) -> list[float]:
    """Expected number of updates of each subspace's supernet after ``steps`` steps (exact for
    ``sbs`` and ``balanced_roundrobin`` from step 0)."""
    K = len(sizes)
    if mode == "sbs":
        return [float(steps)] * K
    if mode == "uniform":
        return [steps * s / sum(sizes) for s in sizes]
    if mode == "balanced_random":
        return [steps / K] * K
    if mode == "balanced_roundrobin":
        return [float(steps // K + (k < steps % K)) for k in range(K)]
    raise ValueError(f"sampling must be one of {MODES}, got {mode!r}")
