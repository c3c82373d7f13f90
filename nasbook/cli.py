"""``nasbook`` command line: thin shells over the library (``python -m nasbook`` is the same).

    nasbook demo                       a real tiny DARTS search on the offline digits, drawn
    nasbook search METHOD [...]        search (presets: tiny, paper, ...)
    nasbook derive RUN                 (re)derive the architecture of a run from its checkpoint
    nasbook draw ARCH                  draw an architecture (JSON file, run folder or zoo name)
    nasbook info ARCH [--json]         params and MACs at the space's standard resolution
    nasbook zoo [--json]               published architectures
    nasbook space NAME [--json]        size of a search space

Any config field of a method is also a flag of ``search``: ``--arch-lr 6e-4`` sets
``arch_lr``; ``nasbook search METHOD --help`` lists them with their ``paper`` values.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

#: Extra sub-commands contributed by other modules: name -> "module:function" where the
#: function is ``register(subparsers)`` adding a parser whose ``func`` runs it.
EXTRA_COMMANDS: list[str] = [
    "nasbook.methods.fewshot_nl.rank:register",
    "nasbook.methods.nse.latency:register",
    "nasbook.retrain:register",
    "nasbook.export:register",
    "nasbook.course:register",
    "nasbook.figures:register",
]


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
    from .config import preset_values, read_presets
    from .methods import get_method
    from .search import make_config

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
    from .methods import METHODS, get_method

    rows = [f"  {m:12s} {(get_method(m).__doc__ or '').strip().splitlines()[0]}" for m in METHODS]
    return "methods (nasbook search METHOD --help lists its config fields):\n" + "\n".join(rows)


def _preset_note(method: str, preset: str) -> str:
    """The comment block under ``preset:`` in the method's preset file when it starts "OURS"."""
    from importlib import resources

    from .config import PRESET_DIR
    from .methods import get_method

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
    from .config import parse_overrides
    from .search import search
    from .viz import draw_arch

    if args.method is None:
        if not args.method_help:
            from .methods import METHODS

            raise ValueError(f"name a method: {', '.join(METHODS)} (nasbook search --help describes them)")
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


def cmd_demo(args, extra):
    """The README's main job: a real first-order DARTS search at tiny scale, drawn."""
    from .measure import count_macs, count_params
    from .search import search
    from .spaces import get_space
    from .viz import draw_arch

    out = Path(args.out)
    t = time.perf_counter()
    print("nasbook demo: first-order DARTS on the offline digits (tiny preset, 2 CPU cores: ~1 minute)")
    res = search("darts", "tiny", out, {"epochs": args.epochs} if args.epochs else None, draw=draw_arch)
    last = [h for h in res.history if h.get("event") == "epoch"][-1]
    print(f"search finished in {time.perf_counter() - t:.0f} s; validation accuracy of the super-net "
          f"on the architecture half: {100 * last.get('val_top1', float('nan')):.1f}%")
    print("derived genotype:")
    print(res.arch)
    net = get_space("darts").build(res.arch, 10, 3, 32)   # CIFAR-10's classes, channels, resolution
    print(f"as a CIFAR-10 evaluation network (C=36, 20 cells): {count_params(net, ('auxiliary_head',)) / 1e6:.2f}M params, "
          f"{count_macs(net, (3, 32, 32)) / 1e6:.0f}M MACs")
    print(f"run folder: {out}  (arch.json, cells_normal.svg/png, cells_reduce.svg/png, metrics.jsonl)")
    return 0


def cmd_derive(args, extra):
    from .engine.checkpoint import load
    from .search import write_arch
    import yaml

    run = Path(args.run)
    if not (run / "config.yaml").exists():
        raise ValueError(f"{run} is not a run folder (it has no config.yaml)")
    saved = yaml.safe_load((run / "config.yaml").read_text())
    from .config import make_config
    from .data import dataset_info
    from .methods import get_method

    cls = get_method(saved["method"])
    cfg = make_config(cls.Config, saved["config"])
    task = cls(cfg, dataset_info(cfg.dataset, cfg.resolution))
    task.load_run(run)  # a broken checkpoint is a ValueError naming the file: one line from main()
    arch = task.derive()
    from .viz import draw_arch

    write_arch(run, arch, cls.key, saved.get("preset", "?"), task, draw=None if args.no_draw else draw_arch)
    print(arch)
    return 0


def cmd_draw(args, extra):
    from .spaces import space_of
    from .viz import draw_arch, has_drawing
    from .zoo import resolve

    arch = resolve(args.arch)
    if not has_drawing(space_of(arch)):
        raise SystemExit(f"nasbook draw: the {space_of(arch)} space has no drawing yet")
    stem = Path(args.out) if args.out else Path(Path(args.arch).stem if Path(args.arch).suffix else args.arch)
    for p in draw_arch(arch, stem, formats=args.format.split(",")):
        print(p)
    return 0


def arch_info(source: str, dataset: str | None = None) -> dict:
    """Params and MACs of an architecture at its space's standard resolution (``info``)."""
    from . import zoo
    from .data import dataset_info
    from .measure import complexity, masked_macs
    from .spaces import arch_to_dict, get_space, space_of

    arch = zoo.resolve(source)
    space = get_space(space_of(arch))
    meta = zoo.get(source).meta if source in zoo.names() else {}
    ds = dataset or meta.get("dataset") or "cifar10"
    d = dataset_info(ds)
    net = space.build(arch, d.num_classes, d.in_channels, d.resolution)
    shape = space.input_shape(d.in_channels, d.resolution)
    info = {"name": source, "space": space.name, "dataset": ds, **complexity(net, shape)}
    info["params_m"] = round(info["params"] / 1e6, 3)
    info["macs_m"] = round(info["macs"] / 1e6, 1)
    if space.sizes is not None: info["sizes"] = space.sizes(arch, net)
    if getattr(arch, "weight_masks", None) is not None:   # MGAS: the dense MACs are the "MACs" line
        info.setdefault("sizes", {})["macs_with_masks"] = masked_macs(net, shape)[1]
    if meta:
        info["paper"] = meta.get("paper")
        info["reported"] = meta.get("reported", {})
    info["arch"] = arch_to_dict(arch)
    return info


def cmd_info(args, extra):
    info = arch_info(args.arch, args.dataset)
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"{info['name']}  ({info['space']} space, counted on {info['dataset']} at {tuple(info['input_shape'])})")
    aux = ", auxiliary head excluded" if info["space"] in ("darts", "mgas") else ""   # the spaces that have one
    print(f"  params: {info['params']:,} ({info['params_m']:.2f}M{aux})")
    print(f"  MACs:   {info['macs']:,} ({info['macs_m']:.1f}M)")
    for k, v in info.get("sizes", {}).items(): print(f"  {k + ':':24s}{v:,}")
    if info.get("reported"):
        print(f"  paper:  {info['paper']}: " + ", ".join(f"{k}={v}" for k, v in info["reported"].items()))
    return 0


def cmd_zoo(args, extra):
    from .zoo_listing import rows, table

    rs = rows(counted=not args.no_count)
    if args.json:
        print(json.dumps({"architectures": rs}))
        return 0
    print(table(rs))
    return 0


def cmd_space(args, extra):
    from .spaces import darts as sd

    if args.name == "darts":
        one = sd.count_genotypes()
        info = {"space": "darts", "cells_per_type": one, "architectures": one * one,
                "ops": list(sd.PRIMITIVES), "edges_per_cell": 14, "intermediate_nodes": 4}
    elif args.name == "mbconv":
        from .spaces.mbconv import space_summary
        info = space_summary()
    elif args.name == "nb201":
        from .spaces.nb201 import space_summary
        from .spaces.nb201_isomorphism import RULES, count_isomorphism_classes
        info = space_summary()
        info["isomorphism_classes"] = {rule: count_isomorphism_classes(rule) for rule in RULES}
    elif args.name == "mgas":
        from .spaces.mgas import space_summary
        info = space_summary()
    elif args.name == "mgas_mobile":
        from .spaces.mgas_mobile import space_summary
        info = space_summary()
    else:
        raise SystemExit(f"nasbook space: unknown space {args.name!r} (known: darts, nb201, mbconv, mgas, mgas_mobile)")
    if args.json:
        print(json.dumps(info))
    else:
        for k, v in info.items():
            print(f"{k}: {v}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nasbook", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error (also NASBOOK_DEBUG=1)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    d = sub.add_parser("demo", help="the main job: a real tiny DARTS search on offline data, ending in drawn cells")
    d.add_argument("--out", default="runs/demo", help="run folder (default runs/demo)")
    d.add_argument("--epochs", type=int, help="override the tiny preset's epochs")
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("derive", help="derive the architecture of a run from its checkpoint")
    r.add_argument("run")
    r.add_argument("--no-draw", action="store_true")
    r.set_defaults(func=cmd_derive)

    w = sub.add_parser("draw", help="draw an architecture (SVG and PNG)")
    w.add_argument("arch", help="JSON file, run folder or zoo name")
    w.add_argument("--out", help="output path stem (default: the name)")
    w.add_argument("--format", default="svg,png", help="comma-separated formats (default svg,png)")
    w.set_defaults(func=cmd_draw)

    i = sub.add_parser("info", help="params and MACs of an architecture")
    i.add_argument("arch", help="JSON file, run folder or zoo name")
    i.add_argument("--dataset", help="count for this dataset (default: the zoo entry's, else cifar10)")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(func=cmd_info)

    z = sub.add_parser("zoo", help="list published architectures")
    z.add_argument("--json", action="store_true", help="print one JSON object")
    z.add_argument("--count", action="store_true", help="(default) build and count each, on the meta device")
    z.add_argument("--no-count", action="store_true", help="metadata only")
    z.set_defaults(func=cmd_zoo)

    sp = sub.add_parser("space", help="size of a search space")
    sp.add_argument("name", help="darts, mbconv, nb201, mgas, mgas_mobile (ours, MGAS Sec. 2.3)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_space)

    import importlib

    for ref in EXTRA_COMMANDS:
        mod, fn = ref.split(":")
        getattr(importlib.import_module(mod), fn)(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command. Bad input ends in one line on stderr and exit code 2; a run that
    cannot go on (a NaN loss) in one line and exit code 1; any other error in one line and
    exit code 1, with the traceback under ``--debug`` (or ``NASBOOK_DEBUG=1``)."""
    from .engine import NonFiniteLoss

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("NASBOOK_DEBUG") == "1"
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "search":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args, extra) or 0
    except (ValueError, FileNotFoundError, KeyError) as e:
        if debug:
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"nasbook {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except NonFiniteLoss as e:
        if debug:
            raise
        print(f"nasbook {args.command}: stopped: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - one line for the user; --debug shows the traceback
        if debug:
            raise
        print(f"nasbook {args.command}: error: {type(e).__name__}: {e} (run again with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
