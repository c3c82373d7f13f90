"""``nasbook export``: the command line of :mod:`nasbook.export`."""
from __future__ import annotations

from pathlib import Path

from ..export import export, load_trained


def cmd_export(args, extra):
    from ..config import parse_overrides

    overrides = parse_overrides(args.set)
    if args.dataset:
        overrides["dataset"] = args.dataset
    net, shape = load_trained(args.arch, args.weights, args.recipe, overrides)
    suffix = ".pt" if args.format == "torchscript" else ".onnx"
    out = args.out or (Path(args.arch).stem if Path(args.arch).suffix else str(args.arch)) + suffix
    print(export(net, shape, out, args.format))
    return 0


def register(sub) -> None:
    e = sub.add_parser("export", help="write a trained network as TorchScript or ONNX")
    e.add_argument("arch", help="JSON file, run folder or zoo name")
    e.add_argument("--weights", help="checkpoint.pt of a retraining run, or a state dict")
    e.add_argument("--format", default="torchscript", choices=("torchscript", "onnx"))
    e.add_argument("--recipe", help="build as this recipe does (default: the run's config.yaml)")
    e.add_argument("--dataset", help="classes/channels/resolution of this dataset")
    e.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key")
    e.add_argument("--out", help="output file")
    e.set_defaults(func=cmd_export)
