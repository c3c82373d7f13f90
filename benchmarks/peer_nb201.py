"""NB201 SPOS super-net weight step, ours vs xautodl's TinyNetworkRANDOM; our DARTS search step alone.

Peer comparison, in one process, with interleaved timed steps (ours, xautodl, ours, xautodl ...
after each has had its warm-up steps); step time is the median of the timed steps.

* ``spos_ours``: ``nasbook.methods.fewshot_nl.build_bank(..., sharing="single")`` (one NB201
  super-net, batch-statistics BN without affine), the arch of step i from ``draw("uniform", ...)``
  (seed 0), forward + cross-entropy + backward + SGD step (the SPOS preset's optimiser: lr 0.025,
  momentum 0.9, Nesterov, weight decay 5e-4).
* ``spos_xautodl``: xautodl's ``TinyNetworkRANDOM(C, N, 4, classes, NAS_BENCH_201, affine=False,
  track_running_stats=False)`` as shipped (its stem, reduction and head BNs keep affine and
  running statistics), the same optimiser, a random arch every step. By default (``--archs
  paired``) step i runs the *same* random arch as ours (set through ``arch_cache``), so the
  medians compare implementations on equal architectures; ``--archs own`` uses xautodl's own
  ``random_genotype`` (Python ``random``, seeded; disconnected cells included).
* ``darts_first_order_ours``: ``DartsSearch`` (paper preset, first order) at the same C, with
  ``--darts-cells`` cells and the same batch: architecture step + weight step. No peer: NNI is
  not installed, so this row stands alone.

Memory: bytes autograd saves for backward in the step's forwards (``nasbook.measure.
saved_tensor_bytes``), measured in separate, untimed passes on the timed steps' archs (mean and
max). Ratios are ours / xautodl. ``--profile K`` adds a torch.profiler summary of K steps of our
SPOS and DARTS steps (top ops by self CPU time, and CPU time per part of the network, forward
and backward attributed to the module whose forward created the autograd node).

    python benchmarks/peer_nb201.py [--json] [--C 16] [--N 5] [--batch 64] [--steps 10] [--profile 3]
"""
from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from _common import BareStepContext, emit, parser  # noqa: E402
from nasbook.data import dataset_info  # noqa: E402
from nasbook.measure import count_params, saved_tensor_bytes  # noqa: E402
from nasbook.methods.darts import DartsSearch  # noqa: E402
from nasbook.methods.fewshot_nl import build_bank, draw  # noqa: E402
from nasbook.methods.fewshot_nl.subspaces import make_subspaces  # noqa: E402
from nasbook.search import make_config  # noqa: E402

CLASSES = 10
SGD = dict(lr=0.025, momentum=0.9, nesterov=True, weight_decay=5e-4)  # the spos preset's


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Arm:
    """One timed step function and the callables the memory and profile passes need."""

    def __init__(self, name, model, step, loss_for, params):
        self.name, self.model, self.step, self.loss_for, self.params = name, model, step, loss_for, params
        self.times: list[float] = []
        self.archs: list = []

    def timed(self, i, device):
        _sync(device)
        t = time.perf_counter()
        self.step(i)
        _sync(device)
        self.times.append(time.perf_counter() - t)


def spos_ours(args, x, y, archs):
    subspaces = make_subspaces("nb201", 1, True)
    torch.manual_seed(0)
    model = build_bank(subspaces, "single", CLASSES, 3, args.C, args.N).to(args.device)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], **SGD)

    def arch(i):
        if i not in archs:
            archs[i] = draw("uniform", subspaces, i, 0)[0][1]
        return archs[i]

    def loss_for(i):
        return nn.functional.cross_entropy(model(x, arch(i)), y)

    def step(i):
        opt.zero_grad(set_to_none=False)  # the preset's zero_grad_set_to_none: false
        loss_for(i).backward()
        opt.step()

    return Arm("spos_ours", model, step, loss_for, count_params(model))


def spos_xautodl(args, x, y, archs):
    """None (and the reason) when xautodl is not importable."""
    try:
        from xautodl.models.cell_operations import NAS_BENCH_201
        from xautodl.models.cell_searchs import CellStructure, TinyNetworkRANDOM
    except ImportError as e:  # noqa: BLE001 - any missing piece of the optional peer
        return None, f"xautodl not importable ({e}); pip install xautodl==1.0.0 --no-deps"
    torch.manual_seed(0)
    random.seed(0)
    model = TinyNetworkRANDOM(args.C, args.N, 4, CLASSES, list(NAS_BENCH_201), affine=False,
                              track_running_stats=False).to(args.device)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], **SGD)
    own: dict = {}

    def set_arch(i):
        if args.archs == "paired":
            model.arch_cache = CellStructure.str2structure(str(archs[i]))
        else:
            if i not in own:
                own[i] = model.random_genotype(False)
            model.arch_cache = own[i]

    def loss_for(i):
        set_arch(i)
        return nn.functional.cross_entropy(model(x)[1], y)

    def step(i):
        opt.zero_grad(set_to_none=False)
        loss_for(i).backward()
        opt.step()

    return Arm("spos_xautodl", model, step, loss_for, count_params(model)), None


def darts_ours(args):
    cfg = make_config("darts", "paper", {"order": "first", "C": args.C, "layers": args.darts_cells,
                                         "batch_size": args.batch})
    info = dataset_info("cifar10", args.resolution)
    torch.manual_seed(0)
    task = DartsSearch(cfg, info)
    task.model.to(args.device)
    task.optimizers()
    ctx = BareStepContext(task.model, args.device)
    g = torch.Generator().manual_seed(1)
    shape = (args.batch, 3, args.resolution, args.resolution)
    batches = {"train": (torch.randn(shape, generator=g), torch.randint(CLASSES, (args.batch,), generator=g)),
               "arch": (torch.randn(shape, generator=g), torch.randint(CLASSES, (args.batch,), generator=g))}
    arch = sum(p.numel() for p in task.model.arch_parameters())
    return Arm("darts_first_order_ours", task.model, lambda i: task.training_step(batches, ctx),
               None, count_params(task.model) - arch)


# -- profile ----------------------------------------------------------------------------------------
def _part_labels(model) -> dict:
    """module -> label of the network part it is (innermost label wins)."""
    from nasbook.methods.darts import CellSupernet
    from nasbook.ops.nb201_ops import NB201_OPS, ResidualReduction

    labels = {}
    if isinstance(model, CellSupernet):
        labels[model.stem] = "stem"
        for cell in model.cells:
            kind = "reduce" if cell.reduction else "normal"
            labels[cell.preprocess0] = labels[cell.preprocess1] = f"{kind}:preprocess"
            labels[cell] = f"{kind}: node sums + concat"
            for edge in cell.edges:
                labels[edge] = f"{kind}: alpha-weighted sum"
                for name, op in zip(model.primitives, edge.ops):
                    labels[op] = f"{kind}: {name}"
        labels[model.classifier] = labels[model.global_pooling] = "head"
        labels.setdefault(model, "other")
        return labels
    net = model.nets[0] if hasattr(model, "nets") else model
    labels[net.stem] = "stem"
    stage = 1
    for cell in net.cells:
        if isinstance(cell, ResidualReduction):
            labels[cell] = "reduction blocks"
            stage += 1
            continue
        labels[cell] = f"stage{stage}: node sums"
        for edge in cell.edges:
            for name, op in zip(NB201_OPS, edge):
                labels[op] = f"stage{stage}: {name}"
    for m in (net.lastact, net.global_pooling, net.classifier):
        labels[m] = "head"
    return labels


def profile(arm: Arm, steps: int, top: int = 8) -> dict:
    """Top ops by self CPU time and CPU time per network part (forward and backward) over ``steps``."""
    from torch.profiler import ProfilerActivity, record_function
    from torch.profiler import profile as tprofile

    labels, stack, handles = _part_labels(arm.model), [], []

    def pre(m, inp):
        rf = record_function(f"part::{labels[m]}")
        rf.__enter__()
        stack.append(rf)

    def post(m, inp, out):
        stack.pop().__exit__(None, None, None)

    for m in labels:
        handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    try:
        with tprofile(activities=[ProfilerActivity.CPU]) as prof:
            for i in range(steps):
                with record_function("step"):
                    arm.step(10 ** 6 + i)
    finally:
        for h in handles:
            h.remove()
    total = sum(e.self_cpu_time_total for e in prof.events())
    rows = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:top]
    ops = [{"op": e.key, "self_cpu_ms_per_step": e.self_cpu_time_total / 1e3 / steps,
            "share": e.self_cpu_time_total / total, "calls_per_step": e.count / steps} for e in rows]
    parts = _per_part(prof.events(), steps, total)
    return {"steps": steps, "cpu_ms_per_step": total / 1e3 / steps, "top_ops": ops, "parts": parts}


def _per_part(events, steps, total) -> list[dict]:
    """Self CPU time per part: forward events by their innermost ``part::`` range, backward events by
    the part of the forward op that made their autograd node (matched on sequence number)."""
    def label_of(e):
        p = e.cpu_parent
        while p is not None:
            if p.name.startswith("part::"):
                return p.name[6:]
            if p.name.startswith("autograd::engine::evaluate_function"):
                return ("bwd", p)
            p = p.cpu_parent
        return None

    seq_part, fwd, bwd_nodes, other = {}, {}, [], 0.0
    for e in events:
        if e.name.startswith("part::") or e.name == "step":
            continue
        lab = label_of(e) if not e.name.startswith("autograd::engine::evaluate_function") else ("bwd", e)
        if isinstance(lab, tuple):
            bwd_nodes.append((lab[1], e.self_cpu_time_total))
        elif lab is None:
            other += e.self_cpu_time_total
        else:
            fwd[lab] = fwd.get(lab, 0.0) + e.self_cpu_time_total
            if getattr(e, "sequence_nr", -1) >= 0:
                seq_part.setdefault(e.sequence_nr, lab)
    bwd, bwd_other = {}, 0.0
    for node, t in bwd_nodes:
        lab = seq_part.get(getattr(node, "sequence_nr", -1))
        if lab is None:
            bwd_other += t
        else:
            bwd[lab] = bwd.get(lab, 0.0) + t
    out = [{"part": k, "fwd_ms_per_step": fwd.get(k, 0.0) / 1e3 / steps, "bwd_ms_per_step": bwd.get(k, 0.0) / 1e3 / steps,
            "share": (fwd.get(k, 0.0) + bwd.get(k, 0.0)) / total} for k in set(fwd) | set(bwd)]
    out.append({"part": "unattributed (loss, optimiser, backward of unlabelled ops)",
                "fwd_ms_per_step": other / 1e3 / steps, "bwd_ms_per_step": bwd_other / 1e3 / steps,
                "share": (other + bwd_other) / total})
    return sorted(out, key=lambda r: -r["share"])


def _print_profile(name, prof):
    print(f"\nprofile {name}: {prof['steps']} steps, {prof['cpu_ms_per_step']:.1f} ms CPU per step")
    print("  top ops by self CPU time (ms/step, share, calls/step):")
    for r in prof["top_ops"]:
        print(f"    {r['op']:<44} {r['self_cpu_ms_per_step']:9.1f}  {r['share']:6.1%}  {r['calls_per_step']:7.0f}")
    print("  per part (fwd ms/step, bwd ms/step, share):")
    for r in prof["parts"]:
        print(f"    {r['part']:<44} {r['fwd_ms_per_step']:9.1f}  {r['bwd_ms_per_step']:9.1f}  {r['share']:6.1%}")


# -- main -------------------------------------------------------------------------------------------
def main(argv=None):
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", dest="iters", type=int, help="timed steps per arm (alias of --iters; default 10)")
    p.add_argument("--C", type=int, default=16, help="initial channels of both super-nets and DARTS (16)")
    p.add_argument("--N", type=int, default=5, help="NB201 cells per stage (5)")
    p.add_argument("--batch", type=int, default=64, help="batch size of every arm (64)")
    p.add_argument("--resolution", type=int, default=32, help="input side (32)")
    p.add_argument("--darts-cells", type=int, default=8, help="DARTS search cells (8)")
    p.add_argument("--archs", choices=("paired", "own"), default="paired",
                   help="xautodl archs: the same random arch as ours each step (paired) or its own random_genotype")
    p.add_argument("--darts-steps", type=int, default=None, help="timed DARTS steps (default: --steps)")
    p.add_argument("--skip-darts", action="store_true", help="NB201 peer comparison only")
    p.add_argument("--profile", type=int, default=0, metavar="K", help="also profile K steps of our SPOS and DARTS steps")
    p.add_argument("--smoke", action="store_true",
                   help="smallest setting (tests): C=4, N=1, batch 4, 3 DARTS cells, 1 timed step, no warm-up")
    p.set_defaults(iters=10, warmup=2)
    args = p.parse_args(argv)
    if args.smoke:
        args.C, args.N, args.batch, args.darts_cells, args.iters, args.warmup = 4, 1, 4, 3, 1, 0
        args.profile = min(args.profile, 1)
    args.device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 3, args.resolution, args.resolution, generator=g).to(args.device)
    y = torch.randint(CLASSES, (args.batch,), generator=g).to(args.device)

    archs: dict = {}
    ours = spos_ours(args, x, y, archs)
    peer, why = spos_xautodl(args, x, y, archs)
    pair = [ours] + ([peer] if peer else [])
    for i in range(args.warmup):  # warm-up: untimed, each arm in turn
        for arm in pair:
            arm.step(-1 - i)
    for i in range(args.iters):  # A, B, A, B ...
        for arm in pair:
            arm.timed(i, args.device)
    darts = None
    if not args.skip_darts:
        darts = darts_ours(args)
        for i in range(args.warmup):
            darts.step(i)
        for i in range(args.darts_steps or args.iters):
            darts.timed(i, args.device)

    rows = []
    for arm in pair:
        saved = [saved_tensor_bytes(lambda i=i: arm.loss_for(i)) for i in range(args.iters)]
        rows.append({"arm": arm.name, "C": args.C, "N": args.N, "batch": args.batch, "params": arm.params,
                     "steps": len(arm.times), "step_median_s": statistics.median(arm.times),
                     "step_min_s": min(arm.times), "step_max_s": max(arm.times),
                     "saved_mean_MiB": statistics.fmean(saved) / 2 ** 20, "saved_max_MiB": max(saved) / 2 ** 20})
    if darts is not None:
        saved = saved_tensor_bytes(lambda: darts.step(0))
        rows.append({"arm": darts.name, "C": args.C, "N": f"{args.darts_cells} cells", "batch": args.batch,
                     "params": darts.params, "steps": len(darts.times), "step_median_s": statistics.median(darts.times),
                     "step_min_s": min(darts.times), "step_max_s": max(darts.times),
                     "saved_mean_MiB": saved / 2 ** 20, "saved_max_MiB": saved / 2 ** 20})
    extra = {}
    if peer:
        a, b = rows[0], rows[1]
        extra["ratios_ours_over_xautodl"] = {
            "step_time_median": a["step_median_s"] / b["step_median_s"],
            "saved_bytes_mean": a["saved_mean_MiB"] / b["saved_mean_MiB"],
            "saved_bytes_max": a["saved_max_MiB"] / b["saved_max_MiB"],
            "params": a["params"] / b["params"]}
        extra["xautodl_archs"] = args.archs
    else:
        extra["xautodl"] = f"skipped: {why}"
    if darts is not None:
        extra["darts_peer"] = "none: NNI is not installed, the DARTS row has no peer (arch step + weight step, first order)"
    extra["settings"] = {"C": args.C, "N": args.N, "batch": args.batch, "resolution": args.resolution,
                         "darts_cells": None if darts is None else args.darts_cells, "warmup": args.warmup,
                         "timed_steps": args.iters,
                         "darts_timed_steps": None if darts is None else len(darts.times), "device": str(args.device), "threads": torch.get_num_threads(),
                         "timing": "interleaved ours/xautodl, median; DARTS timed after, alone"}
    profiles = {}
    if args.profile:
        profiles["spos_ours"] = profile(ours, args.profile)
        if darts is not None:
            profiles["darts_first_order_ours"] = profile(darts, args.profile)
    cols = ["arm", "C", "N", "batch", "params", "steps", "step_median_s", "step_min_s", "step_max_s",
            "saved_mean_MiB", "saved_max_MiB"]
    emit(args, "NB201 SPOS super-net weight step: ours vs xautodl TinyNetworkRANDOM (+ our DARTS search step)",
         cols, rows, {**extra, **({"profile": profiles} if args.json and profiles else {})})
    if not args.json:
        for name, prof in profiles.items():
            _print_profile(name, prof)


if __name__ == "__main__":
    main()
