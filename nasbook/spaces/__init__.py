"""Search spaces as plain data (docs/architecture.md).

Each space module defines ``SPACE``, a :class:`SpaceInfo` naming its architecture type, how
to build the standalone network of one architecture, and the standard input for counting.
Architecture values serialise to JSON objects with a ``"space"`` key, which
:func:`load_arch` uses to pick the type.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from torch import nn

#: Modules defining ``SPACE``; a new space adds itself here.
_MODULES = [
    "nasbook.spaces.darts_space",
    "nasbook.spaces.nb201",
    "nasbook.spaces.nse",
    "nasbook.spaces.mbconv",
    "nasbook.spaces.mgas_space",
    "nasbook.spaces.mgas_mobile",
]


@dataclass(frozen=True)
class SpaceInfo:
    name: str
    arch_type: type
    #: ``build(arch, num_classes, in_channels, resolution, **overrides) -> nn.Module``: the
    #: standalone (evaluation) network for inputs of these sizes (a dataset's sizes come from
    #: the layers above, e.g. the data layer's ``dataset_info``; spaces know no dataset names).
    build: Callable[..., nn.Module]
    #: ``input_shape(in_channels, resolution) -> (C, H, W)``: where to count, the space's
    #: standard resolution for such inputs.
    input_shape: Callable[[int, int], tuple]
    #: ``from_dict(d) -> arch``: validated construction from a JSON object.
    from_dict: Callable[[dict], Any]
    #: ``describe(arch) -> str``: a readable multi-line description.
    describe: Callable[[Any], str] = str
    sizes: Callable[[Any, nn.Module], dict] | None = None  #: ``sizes(arch, net)``: extra size figures for ``nasbook info`` (e.g. non-zero params)


def spaces() -> dict[str, SpaceInfo]:
    out = {}
    for m in _MODULES:
        s = importlib.import_module(m).SPACE
        out[s.name] = s
    return out


def get_space(name: str) -> SpaceInfo:
    s = spaces()
    if name not in s:
        raise ValueError(f"unknown space {name!r}; known: {', '.join(sorted(s))}")
    return s[name]


def space_of(arch: Any) -> str:
    for s in spaces().values():
        if isinstance(arch, s.arch_type):
            return s.name
    raise TypeError(f"{type(arch).__name__} is not an architecture value of any known space")


def arch_to_dict(arch: Any) -> dict:
    d = arch.to_dict()
    d.setdefault("space", space_of(arch))
    return d


def load_arch(source: str | Path | dict) -> Any:
    """An architecture value from a JSON file, a JSON string, a dict or a run folder (its
    ``arch.json``). Files and values only: zoo names are resolved a layer up, by
    ``zoo.resolve`` (which falls back to this function)."""
    if isinstance(source, dict):
        d = source
    else:
        text = str(source)
        p = Path(text) if not text.lstrip().startswith("{") else Path("-")
        if p.is_dir():
            p = p / "arch.json"
            if not p.exists():
                raise ValueError(f"{source}: run folder has no arch.json (has the search finished? try `nasbook derive {source}`)")
        if text.lstrip().startswith("{"):
            pass
        elif p.suffix == ".json" or p.exists():
            if not p.exists():
                raise ValueError(f"{source}: no such file")
            text = p.read_text()
        else:
            raise ValueError(f"{source}: no such file or run folder (a zoo name? resolve it with zoo.resolve)")
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{source}: not valid JSON ({e})") from None
    if not isinstance(d, dict):
        raise ValueError("an architecture must be a JSON object")
    if "arch" in d and isinstance(d["arch"], dict):  # a run summary wraps the value
        d = d["arch"]
    name = d.get("space")
    if name is None:
        raise ValueError("architecture JSON has no 'space' field")
    return get_space(name).from_dict(d)
