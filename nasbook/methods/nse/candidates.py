"""End-of-round candidate sampling under the cost window (docs/methods/nse.md step 3).

Draw M *distinct* architectures from the learned distribution (one set per layer, Sec. 5.1)
whose cost lies in the open window (lo, hi), then M_x further distinct ones in the lower band
(lo - delta_x, lo]: competitors that can knock window candidates off the Pareto front but never
survive on it. Drawing stops after ``tries * M`` draws (ours: small spaces may hold fewer than
M distinct architectures in the window).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from .distribution import sample_set

Arch = tuple[tuple[int, ...], ...]


def sample_arch(p: torch.Tensor, subsets: Sequence[Sequence[int]], kinds: Sequence[str],
                generator: torch.Generator | None = None, enumerate_max: int = 5) -> Arch:
    """One architecture: an independent draw per layer from its distribution."""
    return tuple(sample_set(p[l, list(s)] if len(s) else p[l, :0], s, k, generator, enumerate_max)
                 for l, (s, k) in enumerate(zip(subsets, kinds)))


def sample_in_window(draw: Callable[[], Arch], cost: Callable[[Arch], float], window: tuple[float, float],
                     lower_band: float, num: int, num_lower: int, tries: int = 200,
                     exclude: Sequence[Arch] = ()) -> tuple[list[Arch], list[Arch]]:
    """``(candidates, competitors)``: up to ``num`` distinct draws with cost in the open window
    and up to ``num_lower`` more in ``(lo - lower_band, lo]``."""
    lo, hi = window
    seen = set(exclude)
    out: list[Arch] = []
    for _ in range(max(1, tries) * max(num, 1)):
        if len(out) >= num:
            break
        a = draw()
        if a not in seen and lo < cost(a) < hi:
            seen.add(a)
            out.append(a)
    lower: list[Arch] = []
    for _ in range(max(1, tries) * max(num_lower, 1)):
        if len(lower) >= num_lower:
            break
        a = draw()
        if a not in seen and lo - lower_band < cost(a) <= lo:
            seen.add(a)
            lower.append(a)
    return out, lower
