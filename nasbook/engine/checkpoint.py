"""Atomic checkpoints: write to a temporary file in the same folder, then rename, so a run
killed mid-write never leaves a truncated checkpoint.

Loading goes through :func:`load` only: ``torch.load(..., weights_only=True)``, so a file
that holds Python objects (code that would run on unpickling) is refused, and every failure
(missing, a folder, truncated, corrupt, refused) becomes one ``ValueError`` that names the
file and what is wrong."""
from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import torch


def save_atomic(obj, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: str | Path, map_location="cpu"):
    """The checkpoint at ``path`` (tensors and plain values only)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a checkpoint file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the checkpoint file is empty (a write that never finished?)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights only" in str(e).lower() or "weights_only" in str(e):
            raise ValueError(f"{path}: refused: it holds Python objects, not only tensors and numbers, and "
                             f"loading them could run code; nasbook checkpoints never do") from None
        raise ValueError(f"{path}: not a checkpoint (unreadable pickle data)") from None
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a damaged file
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: not a readable checkpoint (truncated or corrupt: {first})") from None
