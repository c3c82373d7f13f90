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
    "nasbook.zoo.darts",
    "nasbook.zoo.nse",
    "nasbook.zoo.mbconv",
    "nasbook.zoo.mgas",
]


@dataclass(frozen=True)
class ZooEntry:
    name: str
    arch: Any
    space: str
    meta: dict = field(default_factory=dict)


def _load() -> dict[str, ZooEntry]:
    from ..spaces import space_of

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


def resolve(source: Any) -> Any:
    """An architecture value from a zoo name, or from anything
    :func:`nasbook.spaces.load_arch` reads (a JSON file or string, a dict, a run folder). A
    file or folder of that name wins over a zoo name, as before; a string that is neither
    names the zoo's architectures in its error. An architecture value passes through."""
    from pathlib import Path

    from ..spaces import load_arch

    if not isinstance(source, (str, Path, dict)):
        return source
    if isinstance(source, str) and not source.lstrip().startswith("{"):
        p = Path(source)
        if p.suffix != ".json" and not p.exists():
            try:
                return get(source).arch
            except KeyError as e:
                raise ValueError(e.args[0]) from None
    return load_arch(source)
