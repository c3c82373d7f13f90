"""Shared helpers for benchmark scripts: device choice, table printing, JSON output."""
from __future__ import annotations

import argparse
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
