"""``nasbook figures``: the command line of :mod:`nasbook.figures`."""
from __future__ import annotations


from ..figures import make_figures


def cmd_figures(args, extra=None) -> int:
    paths = make_figures(args.out, args.only.split(",") if args.only else None, args.benchmark, args.rerun_compare)
    print(f"wrote {len(paths)} figures under {args.out}/")
    return 0


def register(sub) -> None:
    f = sub.add_parser("figures", help="regenerate every figure in figures/ (deterministic SVG)")
    f.add_argument("--out", default="figures", help="folder (default: figures)")
    f.add_argument("--only", help="comma-separated groups: zoo, spaces, compare (default: all)")
    f.add_argument("--benchmark", help="NAS-Bench-201 table folder (default: $NASBOOK_NB201 or ../shared/...)")
    f.add_argument("--rerun-compare", action="store_true",
                   help="run the tiny comparison of all methods again first (minutes) and rewrite compare.json")
    f.set_defaults(func=cmd_figures)
