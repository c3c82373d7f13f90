"""``nasbook zoo``: every published architecture with its metadata, counted our way.

Counting builds each network on PyTorch's ``meta`` device: shapes without storage, so the
flop counter sees every conv and matmul of a forward pass without computing it (an ImageNet
network at 224 counts in well under a second on a CPU).
"""
from __future__ import annotations

import torch

#: relative tolerance between our counts and a paper's printed figure. Papers print 2 or 3
#: significant digits and count slightly differently (e.g. MobileNetV2's 3.4M vs the 3.50M of
#: torchvision's identical network), so 5 % (ours) separates "same network" from "different".
TOLERANCE = 0.05


def count(name: str) -> dict:
    """``{"params", "macs", "params_m", "macs_m", "dataset"}`` of zoo entry ``name`` at its
    dataset's standard resolution (auxiliary head excluded, as papers report)."""
    from . import zoo
    from .data import dataset_info
    from .measure import complexity
    from .spaces import get_space

    e = zoo.get(name)
    ds = e.meta.get("dataset") or "cifar10"
    d = dataset_info(ds)
    space = get_space(e.space)
    with torch.device("meta"):
        net = space.build(e.arch, d.num_classes, d.in_channels, d.resolution)
        c = complexity(net, space.input_shape(d.in_channels, d.resolution))
    return {"dataset": ds, "params": c["params"], "macs": c["macs"],
            "params_m": round(c["params"] / 1e6, 3), "macs_m": round(c["macs"] / 1e6, 1)}


def within(ours: float, reported: float, tol: float = TOLERANCE) -> bool:
    return abs(ours - reported) <= tol * reported


def rows(counted: bool = True) -> list[dict]:
    """One dict per zoo entry: name, space, paper, dataset, reported, recipe (+ our counts and
    whether each reported figure is within :data:`TOLERANCE`)."""
    from . import zoo

    out = []
    for name in zoo.names():
        e = zoo.get(name)
        row = {"name": name, "space": e.space, "paper": e.meta.get("paper"), "dataset": e.meta.get("dataset"),
               "reported": e.meta.get("reported", {}), "recipe": e.meta.get("recipe")}
        if counted:
            c = count(name)
            row.update(params=c["params"], macs=c["macs"])
            rep = row["reported"]
            row["within_tolerance"] = {k: within(c[k], rep[k]) for k in ("params_m", "macs_m") if k in rep}
        out.append(row)
    return out


def table(rs: list[dict]) -> str:
    head = f"{'name':18s} {'space':7s} {'dataset':9s} {'params':>8s} {'MACs':>8s} {'paper params':>12s} {'paper MACs':>10s} {'acc':>12s}  recipe"
    lines = [head]
    for r in rs:
        rep = r["reported"]
        acc = f"top1 {rep['top1']}" if "top1" in rep else (f"err {rep['top1_err']}" if "top1_err" in rep else "")
        ours_p = f"{r['params'] / 1e6:.2f}M" if "params" in r else ""
        ours_m = f"{r['macs'] / 1e6:.0f}M" if "macs" in r else ""
        lines.append(f"{r['name']:18s} {r['space']:7s} {r['dataset'] or '':9s} {ours_p:>8s} {ours_m:>8s} "
                     f"{(str(rep['params_m']) + 'M') if 'params_m' in rep else '':>12s} "
                     f"{(str(rep['macs_m']) + 'M') if 'macs_m' in rep else '':>10s} {acc:>12s}  {r['recipe'] or ''}")
    return "\n".join(lines)
