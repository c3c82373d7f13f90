"""Drawings and plots (docs/architecture.md): graphviz cells, networkx graphs, matplotlib."""
from .cells import draw_genotype, genotype_dot, genotype_to_networkx  # noqa: F401
from .plots import plot_arch_weights  # noqa: F401
from .registry import DRAWERS, draw_arch, has_drawing, register  # noqa: F401
