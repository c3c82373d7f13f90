"""Which drawing belongs to which search space.

The spaces (layer 1) know nothing of drawing: each viz module that draws the architectures of a
space registers its drawer here under the space's name, and :func:`draw_arch` picks the drawer
by :func:`nasbook.spaces.space_of`. A new drawing adds its module to :data:`_MODULES` and
calls :func:`register`.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Sequence

#: space name -> ``draw(arch, stem, formats) -> list[Path]`` (one file ``STEM.FMT`` or several
#: ``STEM_PART.FMT`` per format). Filled by the viz modules themselves, see :func:`register`.
DRAWERS: dict[str, Callable[..., list[Path]]] = {}

#: The viz modules that register a drawer; imported on the first look-up.
_MODULES = [
    "nasbook.viz.cells",
    "nasbook.viz.nb201",
    "nasbook.viz.nse",
    "nasbook.viz.mbconv",
    "nasbook.viz.mgas_cells",
    "nasbook.viz.mgas_mobile",
]


def register(space: str, draw: Callable[..., list[Path]]) -> Callable[..., list[Path]]:
    """Record ``draw`` as the drawing of ``space``'s architectures; returns ``draw``."""
    DRAWERS[space] = draw
    return draw


def drawers() -> dict[str, Callable[..., list[Path]]]:
    """Every registered drawer (after importing the viz modules that register one)."""
    for m in _MODULES:
        importlib.import_module(m)
    return DRAWERS


def has_drawing(space: str) -> bool:
    return space in drawers()


def draw_arch(arch: Any, out_stem: str | Path, formats: Sequence[str] = ("svg", "png")) -> list[Path]:
    """Draw ``arch`` with its space's drawer into ``out_stem`` + suffixes; returns the paths.

    Raises ``ValueError`` when the architecture's space has no drawing."""
    from ..spaces import space_of

    space = space_of(arch)
    draw = drawers().get(space)
    if draw is None:
        raise ValueError(f"the {space} space has no drawing (drawings exist for: {', '.join(sorted(DRAWERS))})")
    return draw(arch, out_stem, formats=tuple(formats))
