"""Search methods (docs/architecture.md). Each plugs into the engine as a Task.

``METHODS`` maps a method key to ``module:Class``; modules are imported on first use so
that ``nasbook --help`` stays fast.
"""
from __future__ import annotations

import importlib

METHODS: dict[str, str] = {
    "darts": "nasbook.methods.darts:DartsSearch",
    "metakernels": "nasbook.methods.metakernels:MetaKernelsSearch",
    "fewshot_nl": "nasbook.methods.fewshot_nl:FewShotNLSearch",
    "spos": "nasbook.methods.fewshot_nl:SposSearch",
    "nse": "nasbook.methods.nse:NSESearch",
    "entrannas": "nasbook.methods.entrannas:EnTranNASSearch",
    "mgas": "nasbook.methods.mgas:MgasSearch",
}

#: Command-line spellings that differ from the key.
ALIASES = {"fewshot-nl": "fewshot_nl", "fewshot": "fewshot_nl"}


def get_method(name: str):
    key = ALIASES.get(name, name)
    if key not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {', '.join(sorted(METHODS))}")
    mod, cls = METHODS[key].split(":")
    return getattr(importlib.import_module(mod), cls)
