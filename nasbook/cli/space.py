"""``nasbook space``."""
from __future__ import annotations

import json


def cmd_space(args, extra):
    from ..spaces import darts as sd

    if args.name == "darts":
        one = sd.count_genotypes()
        info = {"space": "darts", "cells_per_type": one, "architectures": one * one,
                "ops": list(sd.PRIMITIVES), "edges_per_cell": 14, "intermediate_nodes": 4}
    elif args.name == "mbconv":
        from ..spaces.mbconv import space_summary
        info = space_summary()
    elif args.name == "nb201":
        from ..spaces.nb201 import space_summary
        from ..spaces.nb201_isomorphism import RULES, count_isomorphism_classes
        info = space_summary()
        info["isomorphism_classes"] = {rule: count_isomorphism_classes(rule) for rule in RULES}
    elif args.name == "mgas":
        from ..spaces.mgas import space_summary
        info = space_summary()
    elif args.name == "mgas_mobile":
        from ..spaces.mgas_mobile import space_summary
        info = space_summary()
    else:
        raise ValueError(f"unknown space {args.name!r} (known: darts, nb201, mbconv, mgas, mgas_mobile)")
    if args.json:
        print(json.dumps(info))
    else:
        for k, v in info.items():
            print(f"{k}: {v}")
    return 0


def register(sub) -> None:
    sp = sub.add_parser("space", help="size of a search space")
    sp.add_argument("name", help="darts, mbconv, nb201, mgas, mgas_mobile (ours, MGAS Sec. 2.3)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_space)
