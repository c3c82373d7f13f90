"""Meta-kernel super-net vs the weighted-sum (multi-path) super-net of the same MBConv space.

One training step (forward, cross-entropy, backward, SGD step on the weights) of each
super-net, same backbone, candidates, batch, resolution, data, dtype, device and seed
(docs/methods/metakernels.md). Reported per super-net: the saved-for-backward bytes of the
forward (device independent), the CUDA allocator's peak on a GPU, and the mean step time;
then meta / weighted-sum ratios. Issue 4's targets: memory <= 0.35x, time <= 0.5x.

Default: a quick CPU setting (the ``mk-tiny`` space at 32x32, batch 16). The spec's GPU
setting is ``--backbone mk-b0 --resolution 224 --batch 64 --device cuda``. ``--sweep`` adds
the saved bytes of one searchable layer as the number of kernel candidates grows.

    python benchmarks/metakernels_vs_weighted_sum.py [--json] [--backbone mk-b0 --resolution 224 --batch 64]
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from _common import emit, parser  # noqa: E402
from nasbook.measure import peak_memory  # noqa: E402
from nasbook.methods.metakernels import ChainSupernet  # noqa: E402
from nasbook.methods.metakernels.step_cost import supernet_step_cost  # noqa: E402
from nasbook.spaces.mbconv import BACKBONES  # noqa: E402


def sweep(backbone, resolution: int, batch: int, device: str) -> list[dict]:
    """Saved bytes of a whole super-net as the kernel candidate set grows (expansions fixed)."""
    rows = []
    for kernels in [(3,), (3, 5), (3, 5, 7), (3, 5, 7, 9)]:
        bb = dataclasses.replace(backbone, kernels=kernels)
        row = {"kernels": list(kernels)}
        for kind in ("meta", "weighted_sum"):
            torch.manual_seed(0)
            model = ChainSupernet(bb, 10, 3, resolution, block=kind).to(device)
            x = torch.randn(batch, 3, resolution, resolution, device=device)
            row[f"{kind}_saved_MiB"] = peak_memory(lambda: model(x).sum(), device)["saved_bytes"] / 2**20
            del model
        rows.append(row)
    return rows


def main(argv=None):
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--backbone", default="mk-tiny", choices=sorted(BACKBONES), help="space (default mk-tiny)")
    p.add_argument("--resolution", type=int, default=None, help="input size (default: the backbone's)")
    p.add_argument("--batch", type=int, default=16, help="images per step (spec GPU setting: 64)")
    p.add_argument("--sweep", action="store_true", help="also sweep the number of kernel candidates")
    args = p.parse_args(argv)
    bb = BACKBONES[args.backbone]
    res = args.resolution or bb.resolution
    meta = supernet_step_cost("meta", bb, res, args.batch, args.device, args.iters, args.warmup)
    ws = supernet_step_cost("weighted_sum", bb, res, args.batch, args.device, args.iters, args.warmup)
    ratios = {"meta_over_ws_saved": meta["saved_MiB"] / ws["saved_MiB"],
              "meta_over_ws_time": meta["step_s"] / ws["step_s"]}
    if meta["cuda_peak_MiB"] and ws["cuda_peak_MiB"]:
        ratios["meta_over_ws_cuda_peak"] = meta["cuda_peak_MiB"] / ws["cuda_peak_MiB"]
    mem_ratio = ratios.get("meta_over_ws_cuda_peak", ratios["meta_over_ws_saved"])
    extra = {"ratios": ratios, "device": args.device,
             "targets": {"memory_max": 0.35, "time_max": 0.5,
                         "memory_met": mem_ratio <= 0.35, "time_met": ratios["meta_over_ws_time"] <= 0.5}}
    if args.sweep:
        extra["sweep"] = sweep(bb, res, args.batch, args.device)
    emit(args, "Meta-kernel vs weighted-sum super-net: one training step",
         ["supernet", "backbone", "batch", "input", "candidates_per_layer", "weights_M", "step_s", "step_std_s",
          "saved_MiB", "cuda_peak_MiB"], [meta, ws], extra)


if __name__ == "__main__":
    main()
