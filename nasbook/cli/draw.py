"""``nasbook draw``."""
from __future__ import annotations

from pathlib import Path


def cmd_draw(args, extra):
    from ..spaces import space_of
    from ..viz import draw_arch, has_drawing
    from ..zoo import resolve

    arch = resolve(args.arch)
    if not has_drawing(space_of(arch)):
        raise ValueError(f"the {space_of(arch)} space has no drawing yet")
    stem = Path(args.out) if args.out else Path(Path(args.arch).stem if Path(args.arch).suffix else args.arch)
    for p in draw_arch(arch, stem, formats=args.format.split(",")):
        print(p)
    return 0


def register(sub) -> None:
    w = sub.add_parser("draw", help="draw an architecture (SVG and PNG)")
    w.add_argument("arch", help="JSON file, run folder or zoo name")
    w.add_argument("--out", help="output path stem (default: the name)")
    w.add_argument("--format", default="svg,png", help="comma-separated formats (default svg,png)")
    w.set_defaults(func=cmd_draw)
