"""``nasbook info``."""
from __future__ import annotations

import json


def arch_info(source: str, dataset: str | None = None) -> dict:
    """Params and MACs of an architecture at its space's standard resolution (``info``)."""
    from .. import zoo
    from ..data import dataset_info
    from ..measure import complexity, masked_macs
    from ..spaces import arch_to_dict, get_space, space_of

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


def register(sub) -> None:
    i = sub.add_parser("info", help="params and MACs of an architecture")
    i.add_argument("arch", help="JSON file, run folder or zoo name")
    i.add_argument("--dataset", help="count for this dataset (default: the zoo entry's, else cifar10)")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(func=cmd_info)
