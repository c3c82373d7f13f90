"""Shared helpers for benchmark scripts: device choice, table printing, JSON output."""
from __future__ import annotations

import argparse
import contextlib
import json
import platform

import torch


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", action="store_true", help="print one JSON object with all figures instead of a table")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda (default: cuda if present)")
    p.add_argument("--iters", type=int, default=3, help="timed iterations per configuration")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up iterations")
    return p


def machine() -> dict:
    d = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine()}
    if torch.cuda.is_available():
        d["gpu"] = torch.cuda.get_device_name()
    return d


def emit(args, title: str, columns: list[str], rows: list[dict], extra: dict | None = None) -> None:
    """Print a table (default) or one JSON object (``--json``)."""
    if args.json:
        print(json.dumps({"benchmark": title, "machine": machine(), "rows": rows, **(extra or {})}))
        return
    print(title)
    widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(columns, widths)))
    for k, v in (extra or {}).items():
        print(f"{k}: {_fmt(v)}")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


class BareStepContext:
    """The part of the engine's StepContext that a task's ``training_step`` uses, without the
    Trainer around it (no DDP, AMP or scaler), so that benchmarks time exactly one step. The
    epoch is past every warm-up so that architecture steps run."""

    epoch = 10**6

    def __init__(self, model, device):
        self.model, self.device = model, torch.device(device)

    def to_device(self, b):
        return b[0].to(self.device), b[1].to(self.device)

    def autocast(self):
        return contextlib.nullcontext()

    def backward(self, loss):
        loss.backward()

    def optimizer_step(self, opt, clip=None, clip_norm=None):
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(list(clip), clip_norm or 5.0)
        opt.step()
