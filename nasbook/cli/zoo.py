"""``nasbook zoo``."""
from __future__ import annotations

import json


def cmd_zoo(args, extra):
    from ..zoo_listing import rows, table

    rs = rows(counted=not args.no_count)
    if args.json:
        print(json.dumps({"architectures": rs}))
        return 0
    print(table(rs))
    return 0


def register(sub) -> None:
    z = sub.add_parser("zoo", help="list published architectures")
    z.add_argument("--json", action="store_true", help="print one JSON object")
    z.add_argument("--count", action="store_true", help="(default) build and count each, on the meta device")
    z.add_argument("--no-count", action="store_true", help="metadata only")
    z.set_defaults(func=cmd_zoo)
