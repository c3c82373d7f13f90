"""``nasbook`` command line: thin shells over the library (``python -m nasbook`` is the same).

    nasbook demo                       a real tiny DARTS search on the offline digits, drawn
    nasbook search METHOD [...]        search (presets: tiny, paper, ...)
    nasbook derive RUN                 (re)derive the architecture of a run from its checkpoint
    nasbook draw ARCH                  draw an architecture (JSON file, run folder or zoo name)
    nasbook info ARCH [--json]         params and MACs at the space's standard resolution
    nasbook zoo [--json]               published architectures
    nasbook space NAME [--json]        size of a search space
    nasbook retrain ARCH --recipe R    train an architecture with a paper's recipe (nasbook recipes)
    nasbook export ARCH --weights W    TorchScript or ONNX of a trained network
    nasbook rank RUN                   supernet ranking against NAS-Bench-201
    nasbook nse measure|estimate       NSE latency tables
    nasbook course student|grade       handouts and grading
    nasbook figures                    regenerate figures/

One module of this package per command (``nasbook/cli/<command>.py``), each a thin shell
over the library with its ``register(subparsers)``.

Any config field of a method is also a flag of ``search``: ``--arch-lr 6e-4`` sets
``arch_lr``; ``nasbook search METHOD --help`` lists them with their ``paper`` values.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

#: one module of this package per command (or small family of commands), each with
#: ``register(subparsers)``; the order is the order of ``nasbook --help``
COMMANDS = ["demo", "search", "derive", "draw", "info", "zoo", "space", "retrain", "export", "rank",
            "nse_latency", "course", "figures"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nasbook", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error (also NASBOOK_DEBUG=1)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command. Bad input ends in one line on stderr and exit code 2; a run that
    cannot go on (a NaN loss) in one line and exit code 1; any other error in one line and
    exit code 1, with the traceback under ``--debug`` (or ``NASBOOK_DEBUG=1``)."""
    from ..engine import NonFiniteLoss

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


from .info import arch_info  # noqa: E402,F401  (the library-level helper behind `nasbook info`)
from .search import _flag_overrides, _preset_note  # noqa: E402,F401
