"""Exercises for the course notebooks, checked by :func:`check`.

Each notebook ``NN_name.ipynb`` (or ``method.ipynb``) has a module here that registers its
exercises with :func:`~nasbook.exercises.core.exercise`; ids are ``"<notebook>.<name>"``,
e.g. ``"01.nb201_size"``. In a notebook::

    from nasbook.exercises import check
    check("01.nb201_size", nb201_size)
"""
from __future__ import annotations

import importlib

from .core import Exercise, ExerciseFailed, all_exercises, check, exercise, fail, get

#: one module per notebook; each registers its exercises on import
_MODULES: list[str] = [
    "quickstart",
    "spaces",
    "supernet",
    "cells",
    "retraining",
    "metakernels",
    "entrannas",
    "mgas",
    "fewshot_nl",
    "nse",
    "compare",
]

_loaded = False


def _load_all() -> None:
    global _loaded
    if not _loaded:
        for name in _MODULES:
            importlib.import_module(f"{__name__}.{name}")
        _loaded = True


__all__ = ["Exercise", "ExerciseFailed", "all_exercises", "check", "exercise", "fail", "get"]
