"""``nasbook search``."""
from __future__ import annotations

import dataclasses
import sys
import time


def _flag_overrides(extra: list[str]) -> dict:
    """``["--arch-lr", "6e-4", "--amp"]`` -> ``{"arch_lr": 6e-4, "amp": True}``."""
    import yaml

    out, i = {}, 0
    while i < len(extra):
        tok = extra[i]
        if not tok.startswith("--"):
            raise SystemExit(f"nasbook search: unexpected argument {tok!r}")
        key = tok[2:]
        if "=" in key:
            key, val = key.split("=", 1)
            i += 1
        elif i + 1 < len(extra) and not extra[i + 1].startswith("--"):
            val = extra[i + 1]
            i += 2
        else:
            val = "true"
            i += 1
        out[key.replace("-", "_")] = yaml.safe_load(val)
    return out


def _method_help(method: str) -> str:
    """Every config field of ``method`` with the value each preset gives it (``tiny``, the
    default preset, first; ``paper`` next), the built-in default last."""
    from ..config import preset_values, read_presets
    from ..methods import get_method
    from ..search import make_config

    cls = get_method(method)
    presets = list(read_presets(cls.key))
    shown = [p for p in ("tiny", "paper") if p in presets]
    values = {p: dataclasses.asdict(make_config(method, p)) for p in shown}
    set_by = {p: preset_values(cls.key, p) for p in shown}
    lines = [f"nasbook search {method}: {(cls.__doc__ or '').strip().splitlines()[0]}",
             f"presets: {', '.join(presets)} (--preset NAME; default tiny)", "",
             "config fields: flag, then the value of each preset (* = set by the preset, else the built-in "
             "default);", "any field is also --set key=value", "",
             f"  {'flag':28s}" + "".join(f"{p:>16s}" for p in shown)]
    for f in dataclasses.fields(cls.Config):
        cells = "".join(f"{(repr(values[p][f.name]) + ('*' if f.name in set_by[p] else ''))[:15]:>16s}"
                        for p in shown)
        lines.append(f"  --{f.name.replace('_', '-'):26s}{cells}")
    return "\n".join(lines)


def _methods_help() -> str:
    from ..methods import METHODS, get_method

    rows = [f"  {m:12s} {(get_method(m).__doc__ or '').strip().splitlines()[0]}" for m in METHODS]
    return "methods (nasbook search METHOD --help lists its config fields):\n" + "\n".join(rows)


def _preset_note(method: str, preset: str) -> str:
    """The comment block under ``preset:`` in the method's preset file when it starts "OURS"."""
    from importlib import resources

    from ..config import PRESET_DIR
    from ..methods import get_method

    try:
        lines = resources.files(PRESET_DIR).joinpath(f"{get_method(method).key}.yaml").read_text().splitlines()
        start = lines.index(f"{preset}:") + 1
    except (OSError, ValueError, KeyError):
        return ""
    block = []
    for ln in lines[start:]:
        if not ln.strip().startswith("#"):
            break
        block.append(ln.strip().lstrip("# "))
    text = " ".join(block)
    return text if text.startswith("OURS") else ""


def cmd_search(args, extra):
    from ..config import parse_overrides
    from ..search import search
    from ..viz import draw_arch

    if args.method is None:
        if not args.method_help:
            from ..methods import METHODS

            raise ValueError(f"name a method: {', '.join(METHODS)} (nasbook search --help describes them)")
        from . import build_parser

        print(build_parser()._subparsers._group_actions[0].choices["search"].format_usage().rstrip())
        print(_methods_help())
        return 0
    if args.method_help:
        print(_method_help(args.method))
        return 0
    overrides = _flag_overrides(extra)
    overrides.update(parse_overrides(args.set))
    for k in ("dataset", "epochs", "device", "seed", "data", "batch_size"):
        v = getattr(args, k)
        if v is not None:
            overrides[k] = v
    if args.download:
        overrides["download"] = True
    if args.amp:
        overrides["amp"] = True
    out = args.resume or args.out or f"runs/{args.method}-{time.strftime('%Y%m%d-%H%M%S')}"
    note = _preset_note(args.method, args.preset)
    if note:   # a preset that is our design, not the paper's, says so before it runs
        print(f"note: preset {args.preset!r} is ours, not the paper's: {note}", file=sys.stderr)
    res = search(args.method, args.preset, out, overrides, resume=bool(args.resume), draw=draw_arch,
                 force=args.force)
    rank, world = res.trainer.rank, res.trainer.world
    if world > 1:  # under torchrun every rank reports, so that agreement can be checked
        import hashlib

        import torch

        h = hashlib.sha256()
        model = res.method.model
        # parameters and boolean buffers (committed masks, e.g. MGAS'); BN running stats stay
        # per rank, as in plain DDP
        tensors = [*model.parameters(), *(b for b in model.buffers() if b.dtype == torch.bool)]
        for v in tensors:
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        print(f"rank {rank}/{world} derived: {res.arch}\nrank {rank}/{world} parameters sha256: {h.hexdigest()}", flush=True)
        return 0
    if res.run_dir is not None:
        print(f"derived architecture ({res.run_dir / 'arch.json'}):")
    print(res.arch if not hasattr(res.arch, "table") else res.arch.table())
    return 0


def register(sub) -> None:
    s = sub.add_parser("search", help="run an architecture search", add_help=False,
                       description="Run a search. Any config field is a flag too (see --help after METHOD).")
    s.add_argument("method", nargs="?", help="darts, entrannas, metakernels, mgas, fewshot_nl, spos, nse")
    s.add_argument("--help", "-h", dest="method_help", action="store_true", help="list this method's config fields")
    s.add_argument("--preset", default="tiny", help="tiny (CPU, default) or paper (published full scale) or another")
    s.add_argument("--dataset", help="digits (offline default), cifar10, cifar100, imagenet")
    s.add_argument("--data", help="dataset root (default $NASBOOK_DATA or ./data)")
    s.add_argument("--download", action="store_true", help="let torchvision download CIFAR if missing")
    s.add_argument("--out", help="run folder (default runs/METHOD-TIME)")
    s.add_argument("--resume", metavar="RUN", help="resume the run in this folder from its checkpoint")
    s.add_argument("--force", action="store_true",
                   help="with --resume: resume even when settings differ from the saved ones")
    s.add_argument("--epochs", type=int)
    s.add_argument("--batch-size", type=int)
    s.add_argument("--seed", type=int)
    s.add_argument("--device", help="auto (default), cpu, cuda, cuda:N, mps")
    s.add_argument("--amp", action="store_true", help="mixed precision on CUDA")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config field")
    s.set_defaults(func=cmd_search)
