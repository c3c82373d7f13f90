"""The search after training: SPOS-style evolution over the whole space
(docs/methods/fewshot_nl.md, "Search after training").

Population 50, 20 generations. Each generation keeps the 10 best candidates seen so far,
makes 25 mutation children (a top-10 parent with each gene redrawn with probability 0.1)
and 25 crossover children (each gene from one of two top-10 parents), and refills the
population with random architectures. Each kind has its own quota (SPOS code; see
"Fidelity notes"): when mutation falls short, random architectures make up the difference,
not crossover. Duplicates and candidates that break the constraint (e.g. a FLOPs limit) are
rejected, and every evaluated candidate is cached: at most
50 + 20 x 50 = 1050 evaluations. Fitness is computed by the caller, with the supernet that
owns the candidate's count.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class EvolutionResult:
    best: object
    best_fitness: float
    fitness: dict = field(default_factory=dict)       # genes -> fitness of every evaluated candidate
    history: list = field(default_factory=list)       # per generation: best fitness and top-k so far

    @property
    def evaluated(self) -> int:
        return len(self.fitness)


def evolve(subspaces, fitness: Callable[[object], float], seed: int = 0, population: int = 50, generations: int = 20,
           topk: int = 10, mutation_children: int = 25, crossover_children: int = 25, mutation_prob: float = 0.1,
           constraint: Callable[[object], bool] | None = None, log: Callable[[str], None] | None = None) -> EvolutionResult:
    """Evolutionary search over ``subspaces`` (its genes); higher fitness is better."""
    rng = random.Random(seed)
    choices = subspaces.gene_choices()
    scores: dict[tuple, float] = {}
    rejected: set[tuple] = set()
    top: list[tuple] = []

    def legal(genes: tuple) -> bool:
        """New, allowed and within the constraint; evaluates and caches it."""
        if genes in scores or genes in rejected:
            return False
        arch = subspaces.from_genes(genes)
        if not subspaces.allowed(arch) or (constraint is not None and not constraint(arch)):
            rejected.add(genes)
            return False
        scores[genes] = fitness(arch)
        return True

    def fill(make, n: int, out: list, tries: int) -> list:
        while len(out) < n and tries > 0:
            tries -= 1
            g = make()
            if legal(g):
                out.append(g)
        return out

    def mutate():
        parent = rng.choice(top)
        return tuple(rng.randrange(n) if rng.random() < mutation_prob else g for g, n in zip(parent, choices))

    def cross():
        a, b = rng.choice(top), rng.choice(top)
        return tuple(rng.choice(pair) for pair in zip(a, b))

    def random_genes():
        return subspaces.random_genes(rng)

    history = []
    candidates = fill(random_genes, population, [], 1000 * population)
    for gen in range(generations):
        top = sorted(set(top) | set(candidates), key=lambda g: (-scores[g], g))[:topk]
        history.append({"generation": gen, "best": scores[top[0]], "evaluated": len(scores),
                        "top": [str(subspaces.from_genes(g)) for g in top]})
        if log:
            log(f"generation {gen}: best fitness {scores[top[0]]:.2f} ({len(scores)} evaluated)")
        # each kind has its own quota and its own 10x tries, as in the SPOS code
        # (get_mutation / get_crossover): a shortfall of one is made up by random candidates,
        # never by the other kind
        mutation = fill(mutate, mutation_children, [], 10 * mutation_children)
        crossover = fill(cross, crossover_children, [], 10 * crossover_children)
        candidates = fill(random_genes, population, mutation + crossover, 1000 * population)
    best = max(scores, key=lambda g: (scores[g], tuple(-x for x in g)))
    return EvolutionResult(subspaces.from_genes(best), scores[best], scores, history)
