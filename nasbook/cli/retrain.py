"""``nasbook retrain``: the command line of :mod:`nasbook.retrain`."""
from __future__ import annotations

import json
import time

from .. import config as C
from ..retrain import recipes, retrain


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


def cmd_retrain(args, extra):
    import hashlib

    overrides = C.parse_overrides(args.set)
    for k in ("dataset", "data", "epochs", "device", "seed"):
        if getattr(args, k) is not None:
            overrides[k] = getattr(args, k)
    out = args.resume or args.out or f"runs/retrain-{time.strftime('%Y%m%d-%H%M%S')}"
    res = retrain(args.arch, args.recipe, out, overrides, resume=bool(args.resume))
    t = res.trainer
    if t.world > 1:  # every rank reports, so that agreement can be checked
        h = hashlib.sha256()
        for v in res.task.model.parameters():
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        losses = [round(x["loss"], 7) for x in res.history if x.get("event") == "step"]
        print(f"rank {t.rank}/{t.world} losses: {json.dumps(losses)}\nrank {t.rank}/{t.world} parameters sha256: {h.hexdigest()}", flush=True)
        return 0
    print(json.dumps({k: v for k, v in res.summary.items() if k != "arch"}))
    return 0


def cmd_recipes(args, extra):
    rs = recipes()
    if args.json:
        print(json.dumps({"recipes": rs}))
        return 0
    for name, r in rs.items():
        print(f"{name:28s} {r['file']:24s} {r['source']}")
    print("(each also as NAME-tiny: offline digits, two steps on a CPU)")
    return 0


def register(sub) -> None:
    r = sub.add_parser("retrain", help="train an architecture with a paper's recipe (see `nasbook recipes`)")
    r.add_argument("arch", help="JSON file, run folder or zoo name")
    r.add_argument("--recipe", required=True, help="recipe name (nasbook recipes), or NAME-tiny")
    r.add_argument("--dataset", help="override the recipe's dataset")
    r.add_argument("--data", help="dataset root (default $NASBOOK_DATA or ./data)")
    r.add_argument("--out", help="run folder (default runs/retrain-TIME)")
    r.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its checkpoint")
    r.add_argument("--epochs", type=int)
    r.add_argument("--seed", type=int)
    r.add_argument("--device", help="auto (default), cpu, cuda, cuda:N, mps")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any recipe key")
    r.set_defaults(func=cmd_retrain)
    s = sub.add_parser("recipes", help="list the retraining recipes and their sources")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_recipes)
