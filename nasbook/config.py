"""Configurations: dataclasses with named presets kept as YAML files in the package.

``paper`` is the published full-scale setting; ``tiny`` the same code path shrunk for a CPU.
A preset may ``inherit`` another. Unknown keys and values of the wrong type are errors
that name the key. Command-line ``--set key=value`` overrides are parsed as YAML scalars.
"""
from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .engine import EngineConfig

#: YAML 1.2's float syntax (PyYAML reads YAML 1.1, where ``6e-4`` without a dot is a string):
#: every flag, ``--set`` value and preset value of a float field goes through it.
_YAML12_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")

PRESET_DIR = "nasbook.methods.presets"


@dataclass
class SearchConfig:
    """Fields every search method shares. Method configs subclass this."""

    # data
    dataset: str = "digits"
    data: str | None = None          # dataset root (default $NASBOOK_DATA or ./data)
    download: bool = False
    skip_bad_images: bool = False    # an unreadable image: stop with its name (default) or skip it with a warning
    resolution: int | None = None    # None: the dataset's own
    train_portion: float = 0.5       # DARTS search split: half weights, half architecture
    batch_size: int = 64
    workers: int = 0
    # loop (see EngineConfig)
    epochs: int = 50
    seed: int = 2
    device: str = "auto"
    amp: bool = False
    amp_dtype: str = "bf16"
    channels_last: bool = False
    grad_clip: float | None = 5.0
    max_steps_per_epoch: int | None = None
    checkpoint_every: int = 0
    stop_after_steps: int | None = None
    log_every: int = 10
    progress: bool = True

    def engine(self) -> EngineConfig:
        names = {f.name for f in fields(EngineConfig)}
        return EngineConfig(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})


def _check_type(key: str, value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _check_type(key, value, a)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0] if errors else f"{key}: bad value {value!r}")
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{key}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str) and _YAML12_FLOAT.fullmatch(value.strip()):
            value = float(value.strip().replace(".inf", "inf").replace(".nan", "nan"))  # 6e-4, 1E+2: numbers
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{key}: expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{key}: expected a string, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{key}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ValueError(f"{key}: expected {len(args)} values, got {value!r}")
            return tuple(_check_type(f"{key}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args)))
        inner = args[0] if args else Any
        out = [_check_type(f"{key}[{i}]", v, inner) for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{key}: expected a mapping, got {value!r}")
        return value
    return value


#: the allowed range of fields that every configuration shares (search and retraining):
#: field -> (lowest, highest, what is allowed); None = no bound. Checked by :func:`make_config`
#: before anything is built, so a bad value is one message naming the field.
RANGES: dict[str, tuple] = {
    "epochs": (1, None, "an integer >= 1"),
    "layers": (1, None, "an integer >= 1"),
    "steps": (1, None, "an integer >= 1"),
    "C": (1, None, "an integer >= 1"),
    "N": (1, None, "an integer >= 1"),
    "batch_size": (1, None, "an integer >= 1"),
    "log_every": (1, None, "an integer >= 1"),
    "checkpoint_every": (0, None, "an integer >= 0 (0: at epoch ends only)"),
    "max_steps_per_epoch": (1, None, "an integer >= 1, or null for no cap"),
    "stop_after_steps": (1, None, "an integer >= 1, or null"),
    "resolution": (1, None, "an integer >= 1, or null for the dataset's own"),
    "workers": (0, None, "an integer >= 0"),
    "seed": (0, 2 ** 63 - 1, "an integer in 0 .. 2^63-1"),
    "lr": (0.0, None, "a number > 0"),
    "arch_lr": (0.0, None, "a number >= 0"),
    "grad_clip": (0.0, None, "a number > 0, or null for no clipping"),
    "weight_decay": (0.0, None, "a number >= 0"),
    "momentum": (0.0, 1.0, "a number in [0, 1]"),
    "label_smoothing": (0.0, 1.0, "a number in [0, 1)"),
}
_STRICT_LOW = {"lr", "grad_clip"}          # the bound itself is not allowed
_CHOICES = {"amp_dtype": ("bf16", "fp16")}


def check_ranges(cfg: Any) -> Any:
    """Refuse values outside :data:`RANGES` / ``_CHOICES`` and device names torch does not know."""
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        if v is None or isinstance(v, bool):
            continue
        if f.name in RANGES and isinstance(v, (int, float)):
            lo, hi, what = RANGES[f.name]
            if (lo is not None and (v < lo or (f.name in _STRICT_LOW and v == lo))) or (hi is not None and v > hi):
                raise ValueError(f"{f.name}: {v!r} is out of range: expected {what}")
        if f.name in _CHOICES and v not in _CHOICES[f.name]:
            raise ValueError(f"{f.name}: {v!r} is not one of {', '.join(_CHOICES[f.name])}")
        if f.name == "device" and isinstance(v, str) and v != "auto":
            import torch

            try:
                ok = torch.device(v).type in ("cpu", "cuda", "mps")
            except (RuntimeError, TypeError):
                ok = False
            if not ok:
                raise ValueError(f"device: {v!r} is not a device: expected auto, cpu, cuda, cuda:N or mps")
    return cfg


def make_config(cls: type, values: dict) -> Any:
    """Build ``cls`` from a mapping, checking every key, type and range."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown config key(s) for {cls.__name__}: {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(known))}")
    return check_ranges(cls(**{k: _check_type(k, v, hints[k]) for k, v in values.items()}))


def read_presets(method: str, path: str | Path | None = None) -> dict[str, dict]:
    if path is not None:
        text = Path(path).read_text()
    else:
        try:
            text = resources.files(PRESET_DIR).joinpath(f"{method}.yaml").read_text()
        except FileNotFoundError:
            raise ValueError(f"method {method!r} has no preset file") from None
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError(f"preset file for {method!r} must be a mapping of preset names")
    return data


def preset_values(method: str, preset: str, path: str | Path | None = None) -> dict:
    """The flattened values of ``preset`` (following ``inherit`` chains)."""
    presets = read_presets(method, path)
    if preset not in presets:
        raise ValueError(f"method {method!r} has no preset {preset!r}; presets: {', '.join(presets)}")
    chain, seen, name = [], set(), preset
    while name is not None:
        if name in seen:
            raise ValueError(f"preset inheritance loop at {name!r}")
        seen.add(name)
        if name not in presets:
            raise ValueError(f"preset {preset!r} inherits unknown preset {name!r}")
        entry = dict(presets[name] or {})
        name = entry.pop("inherit", None)
        chain.append(entry)
    values: dict = {}
    for entry in reversed(chain):
        values.update(entry)
    return values


def parse_overrides(items: list[str]) -> dict:
    """``["lr=0.1", "C=8"]`` -> ``{"lr": 0.1, "C": 8}`` (values read as YAML scalars)."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip().replace("-", "_")] = yaml.safe_load(v) if v.strip() else None
    return out


def load_config(cls: type, method: str, preset: str, overrides: dict | None = None) -> Any:
    values = preset_values(method, preset)
    values.update(overrides or {})
    return make_config(cls, values)


def config_to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)
