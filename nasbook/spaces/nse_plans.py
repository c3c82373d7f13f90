"""NSE macro structure: the NER and NR layer plans and the width multiplier (docs/methods/nse.md).

Layer kinds (Sec. 3.1): ``N`` normal (stride 1, width kept, averaged with the identity, may
be empty = skipped), ``R`` reduction (stride 2, next stage's width), ``E`` expansion (stride
1, next stage's width). What a layer *does* follows its shape, as in the authors' cells: any
stride-1 layer with equal input and output width is a normal layer (:attr:`LayerSpec.role`).
A plan is a pattern of kinds with one count of N layers per stage:

- NER (FLOPs spaces): ``N^n0 R N^n1 R N^n2 R N^n3 E N^n4 R N^n5 E``, widths
  16, 24, 40, 80, 96, 192, 320; the search supernet uses counts (1, 3, 3, 3, 3, 3).
- NR (latency space): ``N^n0 R N^n1 R N^n2 R N^n3 R N^n4``, widths 16, 32, 64, 128, 256;
  the search supernet uses counts (1, 3, 3, 7, 3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

#: plan name -> (the pattern of layer kinds, each "N" standing for a group of N layers whose
#: size is one of the counts; base stage widths). The stage index grows at every R or E.
PLANS: dict[str, tuple[str, tuple[int, ...]]] = {
    "NER": ("NRNRNRNENRNE", (16, 24, 40, 80, 96, 192, 320)),
    "NR": ("NRNRNRNRN", (16, 32, 64, 128, 256)),
}

#: The counts of N layers of the search supernets (Sec. 3.2).
SEARCH_COUNTS = {"NER": (1, 3, 3, 3, 3, 3), "NR": (1, 3, 3, 7, 3)}


@dataclass(frozen=True)
class LayerSpec:
    """One searchable layer: its kind, input/output widths, stride and stage index."""

    kind: str
    c_in: int
    c_out: int
    stride: int
    stage: int

    @property
    def residual(self) -> bool:
        """Whether the layer averages its input with its ops (docs/methods/nse.md §2.2): stride 1 and
        ``c_in == c_out``, whatever its kind. The authors' cells test exactly this (not the
        plan's letter), so an E layer whose two stage widths are equal (e.g. 16 -> 16 in the
        tiny preset) behaves as a normal layer: identity path, may be empty (skipped), pruned
        and sampled like an N layer. With the paper's widths every E layer changes width."""
        return self.stride == 1 and self.c_in == self.c_out

    @property
    def role(self) -> str:
        """The kind the layer *behaves* as: ``"N"`` when :attr:`residual`, else :attr:`kind`
        (the plan's letter, which :func:`counts_of` and the layer plan keep)."""
        return "N" if self.residual else self.kind


def round8(v: float) -> int:
    """Channel rounding of the width multiplier (Sec. 3.2): to the nearest multiple of 8, at
    least 8, and never more than 10% below ``v``."""
    r = max(8, int(math.floor((v + 4) / 8)) * 8)
    if r < 0.9 * v:
        r += 8
    return r


def scale_widths(widths, width_mult: float) -> tuple[int, ...]:
    """Every stage width but the first becomes ``round8(w * c)``; the first (the stem's) stays."""
    widths = tuple(int(c) for c in widths)
    if width_mult == 1.0:
        return widths
    return (widths[0],) + tuple(round8(width_mult * c) for c in widths[1:])


def check_plan(plan: str, counts) -> tuple[int, ...]:
    if plan not in PLANS:
        raise ValueError(f"unknown NSE layer plan {plan!r}; known: {', '.join(PLANS)}")
    groups = PLANS[plan][0].count("N")
    counts = tuple(counts)
    if len(counts) != groups:
        raise ValueError(f"plan {plan} needs {groups} N-layer counts, got {len(counts)}: {counts}")
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in counts):
        raise ValueError(f"N-layer counts must be non-negative ints, got {counts}")
    return counts


def layer_specs(plan: str, counts, widths=None) -> list[LayerSpec]:
    """The searchable layers of ``plan`` with ``counts`` N layers per group, in order.

    ``widths`` defaults to the plan's base widths (one per stage, the first being the stem's).
    """
    counts = check_plan(plan, counts)
    pattern, base = PLANS[plan]
    widths = tuple(base if widths is None else widths)
    if len(widths) != len(base):
        raise ValueError(f"plan {plan} has {len(base)} stage widths, got {len(widths)}: {widths}")
    out, stage, group = [], 0, iter(counts)
    for kind in pattern:
        if kind == "N":
            out += [LayerSpec("N", widths[stage], widths[stage], 1, stage) for _ in range(next(group))]
        else:
            out.append(LayerSpec(kind, widths[stage], widths[stage + 1], 2 if kind == "R" else 1, stage + 1))
            stage += 1
    return out


def counts_of(plan: str, kinds) -> tuple[int, ...]:
    """The N-layer counts of a sequence of layer kinds that follows ``plan``'s pattern."""
    pattern = PLANS[plan][0]
    counts, i = [], 0
    kinds = list(kinds)
    for kind in pattern:
        if kind == "N":
            n = 0
            while i < len(kinds) and kinds[i] == "N":
                n, i = n + 1, i + 1
            counts.append(n)
        else:
            if i >= len(kinds) or kinds[i] != kind:
                raise ValueError(f"layer kinds {''.join(kinds)} do not follow plan {plan} ({pattern})")
            i += 1
    if i != len(kinds):
        raise ValueError(f"layer kinds {''.join(kinds)} do not follow plan {plan} ({pattern})")
    return tuple(counts)
