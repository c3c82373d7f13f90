"""Memory of MGAS' multi-stage search against single-stage search (docs/methods/mgas.md).

For each setting (L, C, input) it measures one training step (forward + backward, the loss
with R_op and R_tau) of:

  (a) single-stage MGAS: the whole super-net, final-phase rules;
  (b) multi-stage MGAS: stage 1 on the fresh super-net, then stages 2 and 3 and the final
      phase after the earlier stages were pruned to about 30 % of their proxy and compacted;
  (c) a DARTS-style super-net of the same L, C and 7 ops, without gates;
  (d) MGAS at op level only (filter and weight gates off: the GOLD-NAS-like ablation);
  (e) multi-stage MGAS without re-evaluation: the earlier stages frozen.

On a CPU the measure is the bytes autograd saves for backward (``saved_tensor_bytes``), the
activation memory the claim is about; on CUDA also ``torch.cuda.max_memory_allocated`` (with
``cudnn.benchmark`` off), and an out-of-memory step is reported as such. Next to each
multi-stage ratio (b)/(a) it prints the analytic expectation of Sec. 6.1.

The earlier stages' pruning in (b) and (e) is EMULATED (a real search at these sizes does not
fit a CPU run): in each cell of an earlier stage a seeded random 30 % of each node's ops is
kept (at least one), and every gated layer keeps its first 60 % of filters, then the
official compaction runs. This stands in for "pruned to about 30 % of the proxy".

The MobileNet-like space (ours, Sec. 2.3) has its own settings, ``mobile-tiny`` (the tiny preset's
skeleton, 32 px) and ``mobile`` (the ``imagenet_mobilenet_like_nasbook`` super-net, 224 px): (a) and
(b) only, with the same emulated pruning per layer (30 % of the candidates kept, none required
where the layer has an identity path; 60 % of each candidate's hidden channels). Sec. 6.1's
expectation is for DARTS cells, so none is printed for them.

    python benchmarks/mgas_memory.py                 # tiny (3, 4) and mid (8, 16), CPU
    python benchmarks/mgas_memory.py --json
    python benchmarks/mgas_memory.py --settings mobile-tiny,mobile --batch 2
    python benchmarks/mgas_memory.py --device cuda --settings mid,large,mobile --batch 96
"""
from __future__ import annotations

import argparse
import json
import math
import sys

import torch
from torch.nn import functional as F

from nasbook.measure import peak_memory
from nasbook.methods.darts import CellSupernet
from nasbook.methods.mgas.compaction import compact
from nasbook.methods.mgas.gated_ops import GatedConvOp
from nasbook.methods.mgas.mobile import MobileSupernet
from nasbook.methods.mgas.rounds import remove_op
from nasbook.methods.mgas.size import proxy
from nasbook.methods.mgas.stages import FINAL, expected_peak_ratio, stage_activation_sums, stage_cells, stage_end
from nasbook.methods.mgas.supernet import NODE_EDGES, MgasSupernet
from nasbook.methods.mgas.units import PassState
from nasbook.spaces.mgas import PRIMITIVES
from nasbook.spaces.mgas_mobile import MobileSkeleton

SETTINGS = {
    "tiny": dict(layers=3, C=4, channels=1, resolution=8),     # the tiny preset's geometry (digits 8x8)
    "mid": dict(layers=8, C=16, channels=3, resolution=32),    # the code's HEAD default, CIFAR
    "large": dict(layers=14, C=44, channels=3, resolution=32), # the MG_DARTS search (GPU)
}
MOBILE_SETTINGS = {   # ours (Sec. 2.3): the tiny_mobilenet_like_nasbook and imagenet_mobilenet_like_nasbook super-nets
    "mobile-tiny": dict(skeleton=MobileSkeleton(8, 8, (8, 12, 16, 16, 24, 32), (2, 2, 2, 2, 2, 1), (2, 2, 2, 1, 2, 1), 64),
                        channels=1, resolution=32, classes=10),
    "mobile": dict(skeleton=MobileSkeleton(), channels=3, resolution=224, classes=1000),
}


def emulate_pruning(model: MgasSupernet, stage: int, keep_ops: float = 0.3, keep_filters: float = 0.6,
                    seed: int = 0) -> None:
    """Prune the cells of ``stage`` as a search would (see the module docstring), then compact
    up to the next stage's end."""
    g = torch.Generator().manual_seed(seed + stage)
    for i in stage_cells(model.layers, stage):
        cell = model.cells[i]
        for edges in NODE_EDGES:
            ops = [(e, o) for e in edges for o in range(len(PRIMITIVES)) if bool(cell.op_mask[e, o])]
            n_keep = max(1, math.ceil(keep_ops * len(ops)))
            order = torch.randperm(len(ops), generator=g).tolist()
            for k in order[n_keep:]:
                remove_op(model, i, *ops[k])
        layers = list(cell.pre_gates) + [cell.ops[e][o].gates[-1] for e, o in cell.active()
                                         if isinstance(cell.ops[e][o], GatedConvOp)]
        for gate in layers:
            gate.mask[math.ceil(keep_filters * gate.channels):] = False
    end = stage_end(model.layers, stage + 1) if stage < 3 else model.layers - 1
    compact(model, end, pin_end=stage < 3)


def step_fn(model, x, y, stage=FINAL, levels=("op", "filter", "weight")):
    def run():
        logits, r_op, r_tau = model(x, stage, PassState(levels=levels), True)
        (F.cross_entropy(logits, y) + 1e-3 * (r_op + r_tau)).backward()
        model.zero_grad(set_to_none=True)
    return run


def darts_step(model, x, y):
    def run():
        F.cross_entropy(model(x), y).backward()
        model.zero_grad(set_to_none=True)
    return run


def measure(run, device) -> dict:
    try:
        return peak_memory(run, device)
    except torch.OutOfMemoryError:
        torch.cuda.empty_cache()
        return {"oom": True}


def freeze_before(model: MgasSupernet, first_cell: int) -> None:
    """(e): stem and cells before ``first_cell`` take no gradient (no re-evaluation)."""
    stems = [model.stem] if model.stem_kind == "cifar" else [model.stem0, model.stem1]
    for m in stems + list(model.cells[:first_cell]):
        for p in m.parameters():
            p.requires_grad_(False)


def run_setting(name: str, batch: int, device: str, seed: int = 0) -> dict:
    s = SETTINGS[name]
    L, C = s["layers"], s["C"]
    torch.manual_seed(seed)
    dev = torch.device(device)
    x = torch.randn(batch, s["channels"], s["resolution"], s["resolution"], device=dev)
    y = torch.randint(0, 10, (batch,), device=dev)

    def fresh():
        torch.manual_seed(seed)
        return MgasSupernet(C, 10, L, s["channels"], heads="gap" if s["resolution"] != 32 else "cifar").to(dev)

    out = {"setting": name, "layers": L, "C": C, "input": [batch, s["channels"], s["resolution"], s["resolution"]],
           "device": str(dev), "configs": {}}
    model = fresh()
    out["configs"]["a_single_stage"] = {"final": measure(step_fn(model, x, y), dev)}
    out["configs"]["d_op_level_only"] = {"final": measure(step_fn(model, x, y, levels=("op",)), dev)}
    del model
    darts = CellSupernet(C, 10, L, in_channels=s["channels"], primitives=PRIMITIVES).to(dev)
    out["configs"]["c_darts_supernet"] = {"final": measure(darts_step(darts, x, y), dev)}
    del darts
    for key, frozen in (("b_multi_stage", False), ("e_multi_stage_frozen", True)):
        model = fresh()
        phases = {"stage1": measure(step_fn(model, x, y, 1), dev)}
        for stage in (2, 3):
            emulate_pruning(model, stage - 1, seed=seed)
            if frozen:
                freeze_before(model, stage_end(L, stage - 1) + 1)
            phases[f"stage{stage}"] = measure(step_fn(model, x, y, stage), dev)
        emulate_pruning(model, 3, seed=seed)
        if frozen:
            freeze_before(model, L)   # nothing left to train: (e) has no final phase
        else:
            phases["final"] = measure(step_fn(model, x, y, FINAL), dev)
        phases["proxy_after_emulated_pruning"] = proxy(model)
        out["configs"][key] = phases
        del model
    single = out["configs"]["a_single_stage"]["final"]
    res = s["resolution"]
    ratios, expected = {}, {}
    for conv in ("out", "in"):
        e = expected_peak_ratio(L, C, res, conv)
        expected[conv] = {"stage1": stage_activation_sums(L, C, res, conv)["stage1_share"],
                          "stage2": e["stage2"], "stage3": e["stage3"], "peak": e["peak"]}
    for key in ("b_multi_stage", "e_multi_stage_frozen"):
        r = {}
        for ph, m in out["configs"][key].items():
            if isinstance(m, dict) and "saved_bytes" in m and "saved_bytes" in single:
                r[ph] = m["saved_bytes"] / single["saved_bytes"]
        stages = [v for k, v in r.items() if k.startswith("stage")]
        r["peak_over_stages"] = max(stages) if stages else float("nan")
        ratios[key] = r
    for key in ("c_darts_supernet", "d_op_level_only"):
        m = out["configs"][key]["final"]
        if "saved_bytes" in m and "saved_bytes" in single:
            ratios[key] = {"final": m["saved_bytes"] / single["saved_bytes"]}
    out["ratios_to_single_stage"] = ratios
    out["analytic_expectation"] = expected
    return out


def emulate_mobile_pruning(model: MobileSupernet, stage: int, keep_ops: float = 0.3, keep_filters: float = 0.6,
                           seed: int = 0) -> None:
    """:func:`emulate_pruning` for the MobileNet-like super-net: per layer of ``stage`` a seeded
    random 30 % of its candidates is kept (at least one where there is no identity path), and
    each kept candidate keeps its first 60 % of hidden channels; then compaction."""
    g = torch.Generator().manual_seed(seed + stage)
    for i in model.stage_cells(stage):
        layer = model.cells[i]
        ops = layer.active()
        n_keep = max(0 if layer.residual else 1, math.ceil(keep_ops * len(ops)))
        for k in torch.randperm(len(ops), generator=g).tolist()[n_keep:]:
            remove_op(model, i, *ops[k])
        for _, o in layer.active():
            gate = layer.ops[0][o].gates[0]
            gate.mask[math.ceil(keep_filters * gate.channels):] = False
    compact(model, model.stage_end(stage + 1))


def run_mobile_setting(name: str, batch: int, device: str, seed: int = 0) -> dict:
    s = MOBILE_SETTINGS[name]
    dev = torch.device(device)
    torch.manual_seed(seed)
    x = torch.randn(batch, s["channels"], s["resolution"], s["resolution"], device=dev)
    y = torch.randint(0, s["classes"], (batch,), device=dev)

    def fresh():
        torch.manual_seed(seed)
        return MobileSupernet(s["skeleton"], s["classes"], s["channels"]).to(dev)

    model = fresh()
    out = {"setting": name, "layers": model.layers, "C": s["skeleton"].stem,
           "input": [batch, s["channels"], s["resolution"], s["resolution"]], "device": str(dev), "configs": {}}
    out["configs"]["a_single_stage"] = {"final": measure(step_fn(model, x, y), dev)}
    del model
    model = fresh()
    phases = {"stage1": measure(step_fn(model, x, y, 1), dev)}
    for stage in (2, 3):
        emulate_mobile_pruning(model, stage - 1, seed=seed)
        phases[f"stage{stage}"] = measure(step_fn(model, x, y, stage), dev)
    emulate_mobile_pruning(model, 3, seed=seed)
    phases["final"] = measure(step_fn(model, x, y, FINAL), dev)
    phases["proxy_after_emulated_pruning"] = proxy(model)
    out["configs"]["b_multi_stage"] = phases
    single = out["configs"]["a_single_stage"]["final"]
    r = {ph: m["saved_bytes"] / single["saved_bytes"] for ph, m in phases.items()
         if isinstance(m, dict) and "saved_bytes" in m and "saved_bytes" in single}
    stages = [v for k, v in r.items() if k.startswith("stage")]
    r["peak_over_stages"] = max(stages) if stages else float("nan")
    out["ratios_to_single_stage"] = {"b_multi_stage": r}
    out["analytic_expectation"] = None
    return out


def table(results: list[dict]) -> str:
    lines = []
    for r in results:
        what = f"{r['layers']} searchable layers" if r["setting"] in MOBILE_SETTINGS else f"(L, C) = ({r['layers']}, {r['C']})"
        lines.append(f"\n{r['setting']}: {what}, input {tuple(r['input'])}, {r['device']}")
        lines.append(f"  {'config':24s} {'phase':8s} {'saved MB':>9s} {'cuda peak MB':>13s} {'/ (a)':>7s}")
        single = r["configs"]["a_single_stage"]["final"].get("saved_bytes")
        for key, phases in r["configs"].items():
            for ph, m in phases.items():
                if not isinstance(m, dict):
                    continue
                if m.get("oom"):
                    lines.append(f"  {key:24s} {ph:8s} {'OOM':>9s}")
                    continue
                cuda = f"{m['cuda_peak_bytes'] / 2**20:13.1f}" if "cuda_peak_bytes" in m else f"{'-':>13s}"
                ratio = m["saved_bytes"] / single if single else float("nan")
                lines.append(f"  {key:24s} {ph:8s} {m['saved_bytes'] / 2**20:9.2f} {cuda} {ratio:7.3f}")
        ex = r["analytic_expectation"]
        b = r["ratios_to_single_stage"]["b_multi_stage"]
        if ex is None:   # the MobileNet-like space (ours): no Sec. 6.1 expectation
            lines.append(f"  (b) multi-stage / (a) single-stage, peak over the stages: {b['peak_over_stages']:.3f}"
                         " (MobileNet-like space, ours; no Sec. 6.1 expectation)")
            continue
        lines.append("  (b) multi-stage / (a) single-stage, measured vs Sec. 6.1 (reduction cells counted at their"
                     " output | input resolution; earlier stages kept at 30 %):")
        for ph in ("stage1", "stage2", "stage3"):
            lines.append(f"    {ph:22s} measured {b.get(ph, float('nan')):.3f}   expected "
                         f"{ex['out'][ph]:.3f} | {ex['in'][ph]:.3f}")
        lines.append(f"    {'peak over the stages':22s} measured {b['peak_over_stages']:.3f}   expected "
                     f"{ex['out']['peak']:.3f} | {ex['in']['peak']:.3f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--settings", default="tiny,mid",
                   help="comma list of tiny, mid, large, mobile-tiny, mobile (default tiny,mid)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default 4 on CPU, 96 on CUDA)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object with all figures")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            p.error("--device cuda: no CUDA device")
        torch.backends.cudnn.benchmark = False   # workspace allocations distort peaks (Sec. 6.2)
    batch = args.batch or (96 if args.device.startswith("cuda") else 4)
    names = [n.strip() for n in args.settings.split(",") if n.strip()]
    bad = [n for n in names if n not in SETTINGS and n not in MOBILE_SETTINGS]
    if bad:
        p.error(f"unknown setting(s) {bad}; known: {', '.join([*SETTINGS, *MOBILE_SETTINGS])}")
    results = [(run_mobile_setting if n in MOBILE_SETTINGS else run_setting)(n, batch, args.device, args.seed)
               for n in names]
    summary = {"benchmark": "mgas_memory", "torch": torch.__version__, "batch": batch, "results": results,
               "gpu": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None,
               "note": "earlier stages' pruning emulated (see the module docstring)"}
    if args.json:
        print(json.dumps(summary))
    else:
        print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
