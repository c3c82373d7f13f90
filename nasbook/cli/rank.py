"""``nasbook rank``: the command line of :mod:`nasbook.methods.fewshot_nl.rank`."""
from __future__ import annotations

import json

from ..methods.fewshot_nl.rank import rank_run


def cmd_rank(args, extra=None):
    report = rank_run(args.run, args.benchmark, args.sample, args.gt, args.split, args.device, args.seed,
                      progress=not args.json, plot=not args.no_plot)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"ranked {report['n']} NAS-Bench-201 cells with {report['method']} supernets on {report['images']}")
    print(f"  ground truth: {report['ground_truth']}")
    print(f"  Kendall tau-b {report['kendall_tau']:.4f}   Spearman rho {report['spearman_rho']:.4f}   "
          f"(nonlinearity count alone: tau {report['count_alone_tau']:.4f})")
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    print(f"  tau top 1% {fmt(report['tau_top1pct'])}, top 50% {fmt(report['tau_top50pct'])}, "
          f"bottom 50% {fmt(report['tau_bottom50pct'])}")
    print("  tau within subspace: " + ", ".join(f"{k} {fmt(v)}" for k, v in report["tau_within_subspace"].items()))
    if "found" in report:
        f = report["found"]
        print(f"found architecture {f['arch']}")
        print("  benchmark test accuracy: " + ", ".join(f"{k} {v:.2f}" for k, v in f["benchmark_accuracy"].items()))
    if "plot" in report:
        print(f"scatter plot: {report['plot']}")
    return 0


def register(subparsers) -> None:
    """``nasbook rank RUN --benchmark PATH``."""
    p = subparsers.add_parser("rank", help="rank NAS-Bench-201 cells with a run's supernets against the benchmark")
    p.add_argument("run", help="search run folder of fewshot-nl or spos on the nb201 space")
    p.add_argument("--benchmark", help="NAS-Bench-201 table folder (default $NASBOOK_NB201)")
    p.add_argument("--sample", type=int, help="score a seeded subset of N cells stratified by count (default: all 15,625)")
    p.add_argument("--gt", help="ground-truth column: cifar10, cifar100, ImageNet16-120 (default: the run's own "
                   "dataset; a run on another dataset, e.g. digits, needs it named and is reported as transfer)")
    p.add_argument("--split", default="test", choices=("test", "heldout"), help="images to score on (default test)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, auto")
    p.add_argument("--seed", type=int, default=0, help="seed of the stratified subset")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_rank)
