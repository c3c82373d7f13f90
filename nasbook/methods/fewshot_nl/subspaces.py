"""Splitting a space into subspaces by nonlinearity count, and sampling inside them.

A *partition* is a list of disjoint sets of count values that together cover every count
that occurs (docs/methods/fewshot_nl.md, "Splitting the space"). Subspace k holds every
architecture whose count lies in set k; each architecture belongs to exactly one subspace. Named partitions, as data:

* NAS-Bench-201: K = 3 merges the rare counts 0 and 1 (development code [C], our default [O]);
  K = 4 is the literal one-subspace-per-count rule; K = 1 is the whole space (one-shot).
* MobileNet space: the development code's thresholds: a supernet per listed count plus one
  *remainder* supernet for every other count; K = 6 is the published six-supernet split [P, I].

Both adapters below offer the same interface to the method: the count and subspace of an
architecture, uniform sampling within a subspace or over the whole space, and the genes the
evolutionary search mutates.
"""
from __future__ import annotations

import math
import random
from typing import Sequence

import torch

from ...spaces.nb201 import EDGES, OPS, NB201Cell, all_cells
from .counting import nonlinearity_count

NB201_COUNTS = (0, 1, 2, 3)
#: Named partitions: space -> K -> groups of count values ("rest" = every count not listed).
NAMED_PARTITIONS: dict[str, dict[int, list]] = {
    "nb201": {1: [[0, 1, 2, 3]], 3: [[0, 1], [2], [3]], 4: [[0], [1], [2], [3]]},
    "mbconv": {1: ["rest"], 2: [[36], "rest"], 4: [[36], [38], [40], "rest"],
               6: [[34], [36], [38], [40], [42], "rest"]},
}


def make_partition(groups: int | Sequence, counts: Sequence[int], space: str) -> tuple[tuple[int, ...], ...]:
    """Groups of count values from a K (a named partition) or an explicit list of lists.

    An explicit list may end in ``"rest"``; the result must be disjoint and cover ``counts``.
    """
    if isinstance(groups, int) and not isinstance(groups, bool):
        named = NAMED_PARTITIONS.get(space, {})
        if groups not in named:
            raise ValueError(f"groups={groups}: no named partition with {groups} supernets for the {space} space "
                             f"(named: {sorted(named)}); give explicit groups, e.g. [[0, 1], [2], [3]]")
        groups = named[groups]
    if isinstance(groups, str) or not isinstance(groups, (list, tuple)) or not groups:
        raise ValueError(f"groups must be a number of supernets or a list of lists of counts, got {groups!r}")
    out, seen = [], set()
    for i, g in enumerate(groups):
        if g == "rest":
            if i != len(groups) - 1:
                raise ValueError("'rest' may only be the last group")
            g = [c for c in counts if c not in seen]
        if isinstance(g, (str, int)) or not isinstance(g, (list, tuple)) or not g:
            raise ValueError(f"group {i}: expected a non-empty list of counts, got {g!r}")
        for c in g:
            if c not in counts:
                raise ValueError(f"group {i}: count {c!r} does not occur in the {space} space (counts: {list(counts)})")
            if c in seen:
                raise ValueError(f"count {c} is in two groups; groups must be disjoint")
            seen.add(c)
        out.append(tuple(sorted(g)))
    missing = [c for c in counts if c not in seen]
    if missing:
        raise ValueError(f"counts {missing} are in no group; every count must belong to one "
                         f"(end the list with 'rest' to collect them)")
    return tuple(out)


def group_label(group: Sequence[int]) -> str:
    return "{" + ",".join(map(str, group)) + "}"


class NB201Subspaces:
    """NAS-Bench-201 split by ENN; sampling from the explicit member lists ([C]).

    With ``exclude_disconnected`` (default [O]) the 341 cells without a live path are never
    sampled for training or proposed by the search (they stay in ranking evaluation).
    """

    space = "nb201"
    counts = NB201_COUNTS

    def __init__(self, groups: int | Sequence = 3, exclude_disconnected: bool = True):
        self.groups = make_partition(groups, self.counts, self.space)
        self.exclude_disconnected = exclude_disconnected
        self._group_of_count = {c: k for k, g in enumerate(self.groups) for c in g}
        self.members: list[list[NB201Cell]] = [[] for _ in self.groups]
        for cell in all_cells():
            if cell.connected or not exclude_disconnected:
                self.members[self.group_of(cell)].append(cell)
        self.all_members = [c for m in self.members for c in m]

    def __len__(self) -> int:
        return len(self.groups)

    @property
    def labels(self) -> list[str]:
        return [group_label(g) for g in self.groups]

    def count(self, arch: NB201Cell) -> int:
        return arch.nonlinearity_count

    def group_of(self, arch: NB201Cell) -> int:
        return self._group_of_count[arch.nonlinearity_count]

    def sizes(self) -> list[int]:
        """Number of (trainable) architectures per subspace: 9105 / 5520 / 1000 for K = 3,
        minus the 341 disconnected cells in the first when they are excluded."""
        return [len(m) for m in self.members]

    def sample(self, k: int, gen: torch.Generator) -> NB201Cell:
        m = self.members[k]
        return m[int(torch.randint(len(m), (1,), generator=gen))]

    def sample_uniform(self, gen: torch.Generator) -> NB201Cell:
        m = self.all_members
        return m[int(torch.randint(len(m), (1,), generator=gen))]

    def allowed(self, arch: NB201Cell) -> bool:
        return arch.connected or not self.exclude_disconnected

    # -- genes for the evolutionary search: the op index of each edge ----------------------------
    def gene_choices(self) -> list[int]:
        return [len(OPS)] * len(EDGES)

    def genes(self, arch: NB201Cell) -> tuple[int, ...]:
        return tuple(OPS.index(o) for o in arch.ops)

    def from_genes(self, genes: Sequence[int]) -> NB201Cell:
        return NB201Cell(tuple(OPS[g] for g in genes))

    def random_genes(self, rng: random.Random) -> tuple[int, ...]:
        return tuple(rng.randrange(n) for n in self.gene_choices())


class MBConvSubspaces:
    """The MobileNet space split by ENN = 2 x (non-Identity searchable layers) [C].

    Sampling within a subspace is exact [O] (instead of the code's rejection sampling):
    draw the number of Identity layers k with probability proportional to its class size
    C(Q, k) x m^(S - k), choose which k of the Q skippable layers are Identity, then each other
    searchable layer's op uniformly (m = 6 MBConvs, S = 21 searchable, Q = 15 skippable).
    """

    space = "mbconv"

    def __init__(self, groups: int | Sequence = 6, backbone: str = "proxyless"):
        from ...spaces.mbconv import BACKBONES, SKIP

        self.backbone = BACKBONES[backbone] if isinstance(backbone, str) else backbone
        self.specs = self.backbone.layers()
        self.searchable = [s for s in self.specs if s.searchable]
        self.skippable = [i for i, s in enumerate(self.searchable) if s.skippable]
        self.ops = [c for c in self.backbone.choices(self.searchable[0]) if c != SKIP]
        S, Q = len(self.searchable), len(self.skippable)
        self.counts = tuple(sorted(2 * (S - k) for k in range(Q + 1)))
        self.groups = make_partition(groups, self.counts, self.space)
        self._group_of_count = {c: g for g, grp in enumerate(self.groups) for c in grp}

    def __len__(self) -> int:
        return len(self.groups)

    @property
    def labels(self) -> list[str]:
        return [group_label(g) if len(g) <= 3 else f"<={max(g)}" for g in self.groups]

    def count(self, arch) -> int:
        return nonlinearity_count(arch)

    def group_of(self, arch) -> int:
        return self._group_of_count[self.count(arch)]

    def class_size(self, count: int) -> int:
        """Architectures with this count: C(Q, k) x m^(S - k), k = S - count / 2 Identities."""
        S, Q = len(self.searchable), len(self.skippable)
        k = S - count // 2
        return math.comb(Q, k) * len(self.ops) ** (S - k)

    def sizes(self) -> list[int]:
        return [sum(self.class_size(c) for c in g) for g in self.groups]

    def allowed(self, arch) -> bool:
        return True

    def _arch(self, searchable_choices):
        from ...spaces.mbconv import Choice, MBConvArch

        it = iter(searchable_choices)
        return MBConvArch(self.backbone, [Choice(*s.fixed) if not s.searchable else next(it) for s in self.specs])

    def sample(self, k: int, gen: torch.Generator):
        from ...spaces.mbconv import SKIP

        counts = self.groups[k]
        weights = torch.tensor([float(self.class_size(c)) for c in counts], dtype=torch.float64)
        count = counts[int(torch.multinomial(weights, 1, generator=gen))]
        n_skip = len(self.searchable) - count // 2
        order = torch.randperm(len(self.skippable), generator=gen)[:n_skip].tolist()
        skipped = {self.skippable[i] for i in order}
        picks = torch.randint(len(self.ops), (len(self.searchable),), generator=gen).tolist()
        return self._arch(SKIP if i in skipped else self.ops[p] for i, p in enumerate(picks))

    def sample_uniform(self, gen: torch.Generator):
        from ...spaces.mbconv import sample_arch

        return sample_arch(self.backbone, gen)

    # -- genes: the index of each searchable layer's choice in ``backbone.choices`` ----------------
    def gene_choices(self) -> list[int]:
        return [len(self.backbone.choices(s)) for s in self.searchable]

    def genes(self, arch) -> tuple[int, ...]:
        return tuple(self.backbone.choices(s).index(c) for s, c in zip(self.searchable, arch.searchable()))

    def from_genes(self, genes: Sequence[int]):
        return self._arch(self.backbone.choices(s)[g] for s, g in zip(self.searchable, genes))

    def random_genes(self, rng: random.Random) -> tuple[int, ...]:
        return tuple(rng.randrange(n) for n in self.gene_choices())


def make_subspaces(space: str, groups, exclude_disconnected: bool = True, backbone: str = "proxyless"):
    if space == "nb201":
        return NB201Subspaces(groups, exclude_disconnected)
    if space == "mbconv":
        return MBConvSubspaces(groups, backbone)
    raise ValueError(f"space must be 'nb201' or 'mbconv', got {space!r}")
