"""Published architectures as values (``nasbook zoo``), with metadata for each.

Each space module contributes an ``ENTRIES`` dict ``name -> (arch value, metadata)``; this
module merges them. Metadata: ``paper``, ``dataset`` (the resolution and classes at which
``nasbook info`` counts it), ``reported`` (the paper's figures, when published) and
``recipe`` (the retraining recipe).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

#: Modules that hold zoo entries; a new space adds itself here.
_SOURCES = [
    "nasbook.spaces.darts_zoo",
    "nasbook.spaces.nse_zoo",
    "nasbook.spaces.mbconv_zoo",
    "nasbook.spaces.mgas_zoo",
]


@dataclass(frozen=True)
class ZooEntry:
    name: str
    arch: Any
    space: str
    meta: dict = field(default_factory=dict)


def _load() -> dict[str, ZooEntry]:
    from .spaces import space_of

    out: dict[str, ZooEntry] = {}
    for mod in _SOURCES:
        for name, (arch, meta) in importlib.import_module(mod).ENTRIES.items():
            if name in out:
                raise RuntimeError(f"zoo name {name!r} defined twice")
            out[name] = ZooEntry(name, arch, space_of(arch), dict(meta))
    return out


_CACHE: dict[str, ZooEntry] | None = None


def entries() -> dict[str, ZooEntry]:
    global _CACHE
    if _CACHE is None:
        _CACHE = _load()
    return _CACHE


def names() -> list[str]:
    return sorted(entries())


def get(name: str) -> ZooEntry:
    e = entries()
    if name not in e:
        raise KeyError(f"no zoo architecture named {name!r}; known: {', '.join(sorted(e))}")
    return e[name]
